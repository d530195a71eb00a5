// Reductions over [outer, red, inner] (sum, prod, max, min): one task per output element.
// Included by impl.h (inside the per-ISA namespace).
#pragma once

// ====================================================================================== reductions

/** The reference's rule: an element replaces the running max (min) when larger (smaller) or NaN; NaN sticks. */
template <class T>
inline T pick_max(T acc, T v) {
  return (v > acc || v != v) ? v : acc;
}
template <class T>
inline T pick_min(T acc, T v) {
  return (v < acc || v != v) ? v : acc;
}

/** Reduces each contiguous run x[r*red .. (r+1)*red) in double (sum, prod) or in T (max, min). Eight
 *  interleaved accumulators, combined in a fixed order. */
template <class T>
void reduce_runs(ReduceOp op, const T* x, T* o, int64_t rows, int64_t red) {
  constexpr int L = 8;
  int threads = threads_for(double(rows) * red, 4 * kChunk);
  par(rows, threads, [&](int64_t r) {
    const T* p = x + r * red;
    int64_t n8 = red - red % L;
    if (op == op_sum || op == op_prod) {
      double acc[L];
      for (int j = 0; j < L; j++) acc[j] = op == op_sum ? 0 : 1;
      if (op == op_sum) {
        for (int64_t i = 0; i < n8; i += L)
          for (int j = 0; j < L; j++) acc[j] += double(p[i + j]);
        for (int64_t i = n8; i < red; i++) acc[i - n8] += double(p[i]);
        o[r] = from_double<T>(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
      } else {
        for (int64_t i = 0; i < n8; i += L)
          for (int j = 0; j < L; j++) acc[j] *= double(p[i + j]);
        for (int64_t i = n8; i < red; i++) acc[i - n8] *= double(p[i]);
        o[r] = from_double<T>(((acc[0] * acc[1]) * (acc[2] * acc[3])) * ((acc[4] * acc[5]) * (acc[6] * acc[7])));
      }
      return;
    }
    bool isMax = op == op_max;
    T init = lowest_or_highest<T>(isMax);
    T acc[L];
    for (int j = 0; j < L; j++) acc[j] = init;
    if (isMax) {
      for (int64_t i = 0; i < n8; i += L)
        for (int j = 0; j < L; j++) acc[j] = pick_max(acc[j], p[i + j]);
      for (int64_t i = n8; i < red; i++) acc[i - n8] = pick_max(acc[i - n8], p[i]);
    } else {
      for (int64_t i = 0; i < n8; i += L)
        for (int j = 0; j < L; j++) acc[j] = pick_min(acc[j], p[i + j]);
      for (int64_t i = n8; i < red; i++) acc[i - n8] = pick_min(acc[i - n8], p[i]);
    }
    T best = acc[0];
    for (int j = 1; j < L; j++) best = isMax ? pick_max(best, acc[j]) : pick_min(best, acc[j]);
    o[r] = best;
  });
}

/** Reduces the middle axis of [outer, red, inner] (inner > 1): each output accumulates its red
 *  elements in order; tasks are blocks of contiguous outputs. */
template <class T>
void reduce_strided(ReduceOp op, const T* x, T* o, int64_t outer, int64_t red, int64_t inner) {
  constexpr int64_t BLK = 512;
  int64_t blocks = ceil_div(inner, BLK);
  int threads = threads_for(double(outer) * red * inner, 4 * kChunk);
  par(outer * blocks, threads, [&](int64_t task) {
    int64_t p = task / blocks, q0 = (task % blocks) * BLK, q1 = imin(inner, q0 + BLK), w = q1 - q0;
    const T* base = x + p * red * inner + q0;
    T* out = o + p * inner + q0;
    if (op == op_sum || op == op_prod) {
      double acc[BLK];
      for (int64_t q = 0; q < w; q++) acc[q] = op == op_sum ? 0 : 1;
      for (int64_t r = 0; r < red; r++) {
        const T* row = base + r * inner;
        if (op == op_sum)
          for (int64_t q = 0; q < w; q++) acc[q] += double(row[q]);
        else
          for (int64_t q = 0; q < w; q++) acc[q] *= double(row[q]);
      }
      for (int64_t q = 0; q < w; q++) out[q] = from_double<T>(acc[q]);
      return;
    }
    bool isMax = op == op_max;
    for (int64_t q = 0; q < w; q++) out[q] = lowest_or_highest<T>(isMax);
    for (int64_t r = 0; r < red; r++) {
      const T* row = base + r * inner;
      if (isMax)
        for (int64_t q = 0; q < w; q++) out[q] = pick_max(out[q], row[q]);
      else
        for (int64_t q = 0; q < w; q++) out[q] = pick_min(out[q], row[q]);
    }
  });
}

template <class T>
void reduce_t(ReduceOp op, const void* x, void* out, int64_t outer, int64_t red, int64_t inner) {
  if (inner == 1)
    reduce_runs<T>(op, static_cast<const T*>(x), static_cast<T*>(out), outer, red);
  else
    reduce_strided<T>(op, static_cast<const T*>(x), static_cast<T*>(out), outer, red, inner);
}

void reduce(ReduceOp op, DType dtype, const void* x, void* out, int64_t outer, int64_t red, int64_t inner) {
  switch (dtype) {
    case F32:
      return reduce_t<float>(op, x, out, outer, red, inner);
    case F64:
      return reduce_t<double>(op, x, out, outer, red, inner);
    case I32:
      return reduce_t<int32_t>(op, x, out, outer, red, inner);
    default:
      return;
  }
}
