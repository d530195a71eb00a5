// Native memory regions for the native backend's buffers (kernels/memory.cc): whole pages mapped from the
// operating system, wrapped once each in an ArrayBuffer, and given back explicitly (src/backends/native/buffers.ts).
#pragma once
#include <node_api.h>

namespace candor {

/** Adds mapRegion, unmapRegion, decommitRegion and pageSize to the addon's exports. */
void define_memory(napi_env env, napi_value exports);

}  // namespace candor
