// Small helpers every per-ISA translation unit's kernels use (integer min/max, per-thread scratch buffers).
// Included inside the per-ISA anonymous namespace by impl.h and isa_avx512vnni.cc.
#pragma once

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** A per-thread scratch buffer that only grows; slot separates buffers that are live at once. */
template <class T, int slot>
T* scratch(int64_t elements) {
  static thread_local T* buf = nullptr;
  static thread_local int64_t cap = 0;
  if (elements > cap) {
    aligned_free(buf);
    buf = static_cast<T*>(aligned_calloc(elements * sizeof(T)));
    cap = buf ? elements : 0;
  }
  return buf;
}
