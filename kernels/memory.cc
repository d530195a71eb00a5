// Native memory regions: pages mapped from the operating system (mmap / VirtualAlloc) and given back to it
// explicitly (munmap, or madvise for pages that stay mapped), never through a finalizer or the garbage
// collector. Each region is wrapped once in an external ArrayBuffer that JS carves into typed-array views
// (src/backends/native/buffers.ts), so a training step that reuses regions creates no external buffers: the
// bookkeeping Node keeps per external buffer, which it frees only on an event-loop turn, does not pile up.
#include "memory.h"
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace candor {
namespace {

// A mapped region; `base` is nullptr once unmapped. The ArrayBuffer's finalizer unmaps a region JS dropped
// without unmapping (a safety net only: buffers.ts unmaps every region it gives up).
struct Region {
  void* base;
  size_t bytes;
};
// Regions by base address, so unmapRegion finds the Region its ArrayBuffer wraps. JS thread only.
std::unordered_map<void*, Region*> regions;

size_t page_bytes() {
#ifdef _WIN32
  SYSTEM_INFO info;
  GetSystemInfo(&info);
  return info.dwPageSize;
#else
  return static_cast<size_t>(sysconf(_SC_PAGESIZE));
#endif
}

/** Regions at least this large ask for transparent huge pages. */
constexpr size_t kHugeRegionBytes = size_t(4) << 20;

/** Zero-filled pages, or nullptr when the system refuses (no MAP_NORESERVE: an impossible size fails here). */
void* os_map(size_t bytes) {
#ifdef _WIN32
  return VirtualAlloc(nullptr, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
#else
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Large regions (a data set, a big activation) in 2 MiB pages where the system allows them (THP 'madvise'):
  // a first touch then faults once per 2 MiB, not per 4 KiB, which on a virtual machine costs about 0.5 s per
  // 200 MB. Best effort: a refusal leaves ordinary pages.
  if (bytes >= kHugeRegionBytes) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
#endif
}

void os_unmap(void* p, size_t bytes) {
#ifdef _WIN32
  (void)bytes;
  VirtualFree(p, 0, MEM_RELEASE);
#else
  munmap(p, bytes);
#endif
}

/** Gives whole pages' memory back while keeping them mapped; true when they read as zero afterwards. */
bool os_decommit(void* p, size_t bytes) {
#if defined(_WIN32)
  VirtualAlloc(p, bytes, MEM_RESET, PAGE_READWRITE);
  return false;
#elif defined(__linux__)
  // Private anonymous pages: dropped now, and zero-filled on the next touch.
  return madvise(p, bytes, MADV_DONTNEED) == 0;
#elif defined(MADV_FREE)
  madvise(p, bytes, MADV_FREE);
  return false;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void adjust_external(napi_env env, int64_t bytes) {
  int64_t ignored;
  napi_adjust_external_memory(env, bytes, &ignored);
}

void finalize_region(napi_env env, void*, void* hint) {
  Region* r = static_cast<Region*>(hint);
  if (r->base) {
    regions.erase(r->base);
    os_unmap(r->base, r->bytes);
    adjust_external(env, -static_cast<int64_t>(r->bytes));
  }
  delete r;
}

napi_value throw_error(napi_env env, const char* code, const std::string& msg) {
  napi_throw_error(env, code, msg.c_str());
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

bool get_count(napi_env env, napi_value v, size_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 ||
      d != static_cast<double>(static_cast<uint64_t>(d)))
    return false;
  *out = static_cast<size_t>(d);
  return true;
}

/** The region an ArrayBuffer from mapRegion wraps, or nullptr (and a thrown error). */
Region* region_of(napi_env env, napi_value buffer, const char* fn) {
  void* data = nullptr;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, buffer, &data, &len) != napi_ok || !data) {
    throw_error(env, "CANDOR_NATIVE", std::string(fn) + ": expected an ArrayBuffer from mapRegion");
    return nullptr;
  }
  auto it = regions.find(data);
  if (it == regions.end()) {
    throw_error(env, "CANDOR_NATIVE", std::string(fn) + ": the ArrayBuffer is not a mapped region");
    return nullptr;
  }
  return it->second;
}

/** mapRegion(bytes) -> an ArrayBuffer over `bytes` (> 0) of fresh zero pages, counted as V8 external memory.
 *  Throws with code CANDOR_OUT_OF_MEMORY when the system refuses. */
napi_value MapRegion(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t bytes;
  if (argc < 1 || !get_count(env, argv[0], &bytes) || bytes == 0)
    return throw_error(env, "CANDOR_NATIVE", "mapRegion: expected a positive integer byte count");
  void* base = os_map(bytes);
  if (!base)
    return throw_error(env, "CANDOR_OUT_OF_MEMORY",
                       "the system refused to map " + std::to_string(bytes) + " bytes (" + std::strerror(errno) + ")");
  Region* r = new Region{base, bytes};
  napi_value ab;
  if (napi_create_external_arraybuffer(env, base, bytes, finalize_region, r, &ab) != napi_ok) {
    os_unmap(base, bytes);
    delete r;
    return throw_error(env, "CANDOR_NATIVE", "mapRegion: could not wrap native memory in an ArrayBuffer");
  }
  regions[base] = r;
  adjust_external(env, static_cast<int64_t>(bytes));
  return ab;
}

/** unmapRegion(buffer): returns the region's pages to the system now and detaches the ArrayBuffer, so
 *  every view of it reads as empty. */
napi_value UnmapRegion(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool detached = false;
  if (argc < 1) return throw_error(env, "CANDOR_NATIVE", "unmapRegion: expected an ArrayBuffer");
  if (napi_is_detached_arraybuffer(env, argv[0], &detached) == napi_ok && detached) return undefined(env);
  Region* r = region_of(env, argv[0], "unmapRegion");
  if (!r) return nullptr;
  // Unmap before detaching: if detaching runs the finalizer at once, it finds base == nullptr.
  regions.erase(r->base);
  os_unmap(r->base, r->bytes);
  adjust_external(env, -static_cast<int64_t>(r->bytes));
  r->base = nullptr;
  napi_detach_arraybuffer(env, argv[0]);
  return undefined(env);
}

/** decommitRegion(buffer, byteOffset, bytes) -> whether the pages now read as zero. Gives back the memory
 *  of the whole pages inside [byteOffset, byteOffset + bytes) of the region; they stay mapped for reuse. */
napi_value DecommitRegion(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 3) return throw_error(env, "CANDOR_NATIVE", "decommitRegion: expected 3 arguments");
  Region* r = region_of(env, argv[0], "decommitRegion");
  if (!r) return nullptr;
  size_t offset, bytes;
  if (!get_count(env, argv[1], &offset) || !get_count(env, argv[2], &bytes) || offset > r->bytes ||
      bytes > r->bytes - offset)
    return throw_error(env, "CANDOR_NATIVE",
                       "decommitRegion: range out of the region's " + std::to_string(r->bytes) + " bytes");
  const size_t page = page_bytes();
  const uintptr_t begin = reinterpret_cast<uintptr_t>(r->base) + offset;
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + bytes) / page * page;
  bool zeroed = false;
  if (last > first) zeroed = os_decommit(reinterpret_cast<void*>(first), last - first);
  napi_value result;
  napi_get_boolean(env, zeroed, &result);
  return result;
}

}  // namespace

void define_memory(napi_env env, napi_value exports) {
  napi_value page;
  napi_create_double(env, static_cast<double>(page_bytes()), &page);
  napi_property_descriptor props[] = {
      {"mapRegion", nullptr, MapRegion, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unmapRegion", nullptr, UnmapRegion, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"decommitRegion", nullptr, DecommitRegion, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pageSize", nullptr, nullptr, nullptr, nullptr, page, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace candor
