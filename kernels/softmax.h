// Softmax and log-softmax along the middle axis of [outer, dim, inner].
// Included by impl.h (inside the per-ISA namespace).
#pragma once

// ========================================================================================= softmax

/** softmax / log-softmax of one contiguous float row: vector max, vector exp, double sum, one pass out. */
void softmax_row(bool log, const float* x, float* o, int64_t n) {
  using V = Vec<float>;
  constexpr int W = V::W;
  int64_t nv = n - n % W;
  alignas(64) float tail[W];
  for (int j = 0; j < W; j++) tail[j] = -INFINITY;
  for (int64_t i = nv; i < n; i++) tail[i - nv] = x[i];
  // max ignores NaN (operand order); a NaN then poisons the sum, and so every output, as in the reference.
  V::R m = V::load(tail);
  for (int64_t i = 0; i < nv; i += W) m = V::max(V::load(x + i), m);
  float mx = V::hmax(m);
  // The exponentials go to o, then are summed in double (eight lanes, fixed order): log-softmax's
  // largest outputs are -log(sum) ~ -(sum - 1), which a float sum would get wrong in the leading digit.
  V::R vm = V::set1(mx);
  for (int64_t i = 0; i < nv; i += W) V::store(o + i, vexp(V::sub(V::load(x + i), vm)));
  V::R et = vexp(V::sub(V::load(tail), vm));
  V::store(tail, et);
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t n8 = nv - nv % 8;
  for (int64_t i = 0; i < n8; i += 8)
    for (int j = 0; j < 8; j++) lanes[j] += double(o[i + j]);
  for (int64_t i = n8; i < nv; i++) lanes[i - n8] += double(o[i]);
  for (int64_t i = nv; i < n; i++) lanes[(i - nv) & 7] += double(tail[i - nv]);
  double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  if (log) {
    // x - shift in double, as the reference: the largest outputs are tiny negatives that a float
    // subtraction would round to 0.
    double shift = double(mx) + std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i] = float(double(x[i]) - shift);
    return;
  }
  V::R inv = V::set1(float(1.0 / sum));
  for (int64_t i = 0; i < nv; i += W) V::store(o + i, V::mul(V::load(o + i), inv));
  V::store(tail, V::mul(et, inv));
  for (int64_t i = nv; i < n; i++) o[i] = tail[i - nv];
}

/** The double version follows the reference step by step (libm exp, sum in order, divide). */
void softmax_row(bool log, const double* x, double* o, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > mx) mx = x[i];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += std::exp(x[i] - mx);
  if (log) {
    double shift = mx + std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i] = x[i] - shift;
  } else {
    for (int64_t i = 0; i < n; i++) o[i] = std::exp(x[i] - mx) / sum;
  }
}

template <class T>
void softmax_t(bool log, const T* x, T* o, int64_t outer, int64_t dim, int64_t inner) {
  int threads = threads_for(double(outer) * dim * inner, 2 * kChunk);
  par(outer * inner, threads, [&](int64_t r) {
    int64_t p = r / inner, q = r % inner;
    if (inner == 1) return softmax_row(log, x + p * dim, o + p * dim, dim);
    // A strided column: gather it into a contiguous row and back.
    T* row = scratch<T, 2>(2 * dim);
    const T* src = x + p * dim * inner + q;
    for (int64_t i = 0; i < dim; i++) row[i] = src[i * inner];
    softmax_row(log, row, row + dim, dim);
    T* dst = o + p * dim * inner + q;
    for (int64_t i = 0; i < dim; i++) dst[i * inner] = row[dim + i];
  });
}

void softmax(DType dtype, bool log, const void* x, void* out, int64_t outer, int64_t dim, int64_t inner) {
  if (dtype == F32)
    softmax_t<float>(log, static_cast<const float*>(x), static_cast<float*>(out), outer, dim, inner);
  else
    softmax_t<double>(log, static_cast<const double*>(x), static_cast<double*>(out), outer, dim, inner);
}
