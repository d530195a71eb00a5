// scatterAdd for the native backend, included by addon.cc: out = x, then out[p, idx[i], q] += upd[p, i, q]
// over [outer, dim, inner] views. Indices are added in order, so repeated indices sum in a fixed order;
// tasks are whole `outer` slices (each writes its own part of out), so the thread count changes no bit.
#pragma once
#include <cstdint>
#include <cstring>
#include "common.h"

namespace candor {

template <class T>
void scatter_add_t(const T* upd, const int32_t* idx, int64_t n, T* out, int64_t outer, int64_t dim, int64_t inner) {
  par(outer, threads_for(double(outer) * n * inner, 1 << 16), [&](int64_t p) {
    for (int64_t i = 0; i < n; i++) {
      const int64_t at = idx[i] < 0 ? idx[i] + dim : idx[i];
      T* d = out + (p * dim + at) * inner;
      const T* s = upd + (p * n + i) * inner;
      for (int64_t q = 0; q < inner; q++) d[q] = T(d[q] + s[q]);  // uint8 (bool) wraps, as the reference's typed array
    }
  });
}

/** Returns -1, or the position in idx of the first index out of range (nothing is written then). */
inline int64_t scatter_add(DType dtype, const void* x, const int32_t* idx, int64_t n, const void* upd, void* out,
                           int64_t outer, int64_t dim, int64_t inner) {
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < -dim || idx[i] >= dim) return i;
  const int64_t bytes = dtype == F64 ? 8 : dtype == U8 || dtype == I8 ? 1 : 4;
  if (outer * dim * inner > 0) std::memcpy(out, x, size_t(outer * dim * inner * bytes));
  switch (dtype) {
    case F32:
      scatter_add_t(static_cast<const float*>(upd), idx, n, static_cast<float*>(out), outer, dim, inner);
      break;
    case F64:
      scatter_add_t(static_cast<const double*>(upd), idx, n, static_cast<double*>(out), outer, dim, inner);
      break;
    case I32:
      scatter_add_t(static_cast<const int32_t*>(upd), idx, n, static_cast<int32_t*>(out), outer, dim, inner);
      break;
    case U8:
      scatter_add_t(static_cast<const uint8_t*>(upd), idx, n, static_cast<uint8_t*>(out), outer, dim, inner);
      break;
    case I8:  // int8 is a storage dtype: the op specs refuse arithmetic on it
      break;
  }
  return -1;
}

}  // namespace candor
