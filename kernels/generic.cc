// The kernels with no arithmetic worth vectorising by hand, compiled once for the baseline target:
// strided copy (the one kernel that reads views), cast, where and argmax/argmin.
#include "common.h"
#include "scalar_math.h"
#include <cstring>

namespace candor {
namespace {

constexpr int64_t kRowsGrain = 1 << 15;  // elements per task, at least

template <class E>
void copy_t(const E* base, int rank, const int64_t* shape, const int64_t* strides, E* out, int64_t n) {
  if (n == 0) return;
  if (rank == 0) {
    out[0] = base[0];
    return;
  }
  const int64_t inner = shape[rank - 1], step = strides[rank - 1], rows = n / inner;
  const int64_t rowsPerTask = kRowsGrain / inner + 1, tasks = (rows + rowsPerTask - 1) / rowsPerTask;
  par(tasks, threads_for(double(n), 4.0 * kRowsGrain), [&](int64_t t) {
    int64_t r0 = t * rowsPerTask, r1 = r0 + rowsPerTask < rows ? r0 + rowsPerTask : rows;
    // The multi-index of row r0 over the outer dimensions, then an odometer.
    int64_t index[64], off = 0, r = r0;
    for (int d = rank - 2; d >= 0; d--) {
      index[d] = r % shape[d];
      r /= shape[d];
      off += index[d] * strides[d];
    }
    for (r = r0; r < r1; r++) {
      E* o = out + r * inner;
      const E* src = base + off;
      if (step == 1)
        std::memcpy(o, src, inner * sizeof(E));
      else
        for (int64_t j = 0; j < inner; j++) o[j] = src[j * step];
      for (int d = rank - 2; d >= 0; d--) {
        off += strides[d];
        if (++index[d] < shape[d]) break;
        off -= strides[d] * shape[d];
        index[d] = 0;
      }
    }
  });
}

template <class From, class To>
void cast_t(const void* x, void* out, int64_t n, DType to) {
  const From* s = static_cast<const From*>(x);
  To* d = static_cast<To*>(out);
  if (to == U8)
    for (int64_t i = 0; i < n; i++) d[i] = To(s[i] != 0);  // NaN != 0: true, as in the reference
  else if (to == I32)
    for (int64_t i = 0; i < n; i++) d[i] = To(to_int32(double(s[i])));
  else if (to == I8)
    for (int64_t i = 0; i < n; i++) d[i] = To(to_int8(double(s[i])));
  else
    for (int64_t i = 0; i < n; i++) d[i] = To(s[i]);
}

template <class From>
void cast_from(DType to, const void* x, void* out, int64_t n) {
  switch (to) {
    case F32:
      return cast_t<From, float>(x, out, n, to);
    case F64:
      return cast_t<From, double>(x, out, n, to);
    case I32:
      return cast_t<From, int32_t>(x, out, n, to);
    case U8:
      return cast_t<From, uint8_t>(x, out, n, to);
    case I8:
      return cast_t<From, int8_t>(x, out, n, to);
  }
}

template <class E>
void where_t(const uint8_t* c, const E* a, const E* b, E* o, int64_t n, int scalars) {
  const int64_t sc = scalars & 1 ? 0 : 1, sa = scalars & 2 ? 0 : 1, sb = scalars & 4 ? 0 : 1;
  for (int64_t i = 0; i < n; i++) o[i] = c[i * sc] ? a[i * sa] : b[i * sb];
}

template <class T>
void arg_t(bool isMin, const T* x, int32_t* out, int64_t outer, int64_t red, int64_t inner) {
  par(outer, threads_for(double(outer) * red * inner, 4.0 * kRowsGrain), [&](int64_t p) {
    for (int64_t q = 0; q < inner; q++) {
      const T* s = x + p * red * inner + q;
      T best = s[0];
      int32_t at = 0;
      for (int64_t i = 1; i < red && best == best; i++) {
        T v = s[i * inner];
        if ((isMin ? v < best : v > best) || v != v) {
          best = v;
          at = int32_t(i);
        }
      }
      out[p * inner + q] = at;
    }
  });
}

}  // namespace

/** How many rows ahead gather prefetches, and the row size from which it does (a short row is one or two lines). */
constexpr int64_t kGatherAhead = 4;
constexpr size_t kGatherPrefetchMin = 256;

int64_t gather(int elemBytes, const void* x, const int32_t* idx, int64_t n, void* out, int64_t outer, int64_t dim,
               int64_t inner) {
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < -dim || idx[i] >= dim) return i;
  const size_t run = size_t(inner) * elemBytes;
  const char* src = static_cast<const char*>(x);
  char* dst = static_cast<char*>(out);
  auto row = [&](int64_t p, int64_t i) { return src + (p * dim + (idx[i] < 0 ? idx[i] + dim : idx[i])) * run; };
  par(outer, threads_for(double(outer) * n * inner, 4.0 * kRowsGrain), [&](int64_t p) {
    for (int64_t i = 0; i < n; i++) {
      // Rows picked at random from a large array (a shuffled batch) come from memory, not cache: the rows a few
      // ahead are requested while this one is copied, so their latencies overlap instead of adding up.
      if (i + kGatherAhead < n && run >= kGatherPrefetchMin) {
        const char* ahead = row(p, i + kGatherAhead);
        for (size_t b = 0; b < run; b += 64) __builtin_prefetch(ahead + b);
      }
      std::memcpy(dst + (p * n + i) * run, row(p, i), run);
    }
  });
  return -1;
}

void copy_strided(int elemBytes, const void* base, int rank, const int64_t* shape, const int64_t* strides, void* out,
                  int64_t n) {
  switch (elemBytes) {
    case 1:
      return copy_t(static_cast<const uint8_t*>(base), rank, shape, strides, static_cast<uint8_t*>(out), n);
    case 4:
      return copy_t(static_cast<const uint32_t*>(base), rank, shape, strides, static_cast<uint32_t*>(out), n);
    default:
      return copy_t(static_cast<const uint64_t*>(base), rank, shape, strides, static_cast<uint64_t*>(out), n);
  }
}

void cast(DType from, DType to, const void* x, void* out, int64_t n) {
  switch (from) {
    case F32:
      return cast_from<float>(to, x, out, n);
    case F64:
      return cast_from<double>(to, x, out, n);
    case I32:
      return cast_from<int32_t>(to, x, out, n);
    case U8:
      return cast_from<uint8_t>(to, x, out, n);
    case I8:
      return cast_from<int8_t>(to, x, out, n);
  }
}

void where(int elemBytes, const uint8_t* cond, const void* a, const void* b, void* out, int64_t n, int scalars) {
  switch (elemBytes) {
    case 1:
      return where_t(cond, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), static_cast<uint8_t*>(out),
                     n, scalars);
    case 4:
      return where_t(cond, static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b),
                     static_cast<uint32_t*>(out), n, scalars);
    default:
      return where_t(cond, static_cast<const uint64_t*>(a), static_cast<const uint64_t*>(b),
                     static_cast<uint64_t*>(out), n, scalars);
  }
}

void arg_reduce(bool isMin, DType dtype, const void* x, int32_t* out, int64_t outer, int64_t red, int64_t inner) {
  switch (dtype) {
    case F32:
      return arg_t(isMin, static_cast<const float*>(x), out, outer, red, inner);
    case F64:
      return arg_t(isMin, static_cast<const double*>(x), out, outer, red, inner);
    case I32:
      return arg_t(isMin, static_cast<const int32_t*>(x), out, outer, red, inner);
    case U8:
      return arg_t(isMin, static_cast<const uint8_t*>(x), out, outer, red, inner);
    case I8:
      return arg_t(isMin, static_cast<const int8_t*>(x), out, outer, red, inner);
  }
}

}  // namespace candor
