// The filter gradient of conv2d: df [kh, kw, Cin, Cout] = im2col(x)^T x dy, included by impl.h inside
// its per-ISA namespace (it uses im2col_row, gemm_one, scratch and par from there).
//
// The output pixels (GEMM depth) are cut into chunks whose size depends on the shapes alone; each chunk
// is one task (im2col into the task's own scratch, then a one-thread GEMM into its own partial [K, Cout]),
// and the partials are added in chunk order. So the sums have a fixed order and the result is
// bit-identical for any thread count.
#pragma once

/** Output pixels per chunk: about 32 chunks, each im2col block between 256 rows and ~1 MiB. */
template <class T>
int64_t filter_grad_chunk_rows(int64_t M, int64_t K) {
  int64_t most = (int64_t(1) << 20) / int64_t(sizeof(T) * K);
  if (most < 256) most = 256;
  int64_t rows = ceil_div(M, 32);
  if (rows < 256) rows = 256;
  return rows > most ? most : rows;
}

/** out [K, N] = cols^T [K, rows] x dy rows [rows, N] for a compile-time K small enough that a column of
 *  out stays in K registers while the rows stream past (a 3x3 window on one channel: the GEMM would
 *  pad K = 9 to two 8-row panels). Sums run over rows in order. */
template <class T, int K>
void filter_grad_registers(const T* cols, const T* dy, int64_t rows, int64_t N, T* out) {
  using V = Vec<T>;
  constexpr int W = V::W;
  int64_t co = 0;
  for (; co + W <= N; co += W) {
    typename V::R acc[K];
    for (int k = 0; k < K; k++) acc[k] = V::zero();
    for (int64_t r = 0; r < rows; r++) {
      typename V::R g = V::load(dy + r * N + co);
      for (int k = 0; k < K; k++) acc[k] = V::fma(V::set1(cols[r * K + k]), g, acc[k]);
    }
    for (int k = 0; k < K; k++) V::store(out + k * N + co, acc[k]);
  }
  for (; co < N; co++)
    for (int k = 0; k < K; k++) {
      T acc = 0;
      for (int64_t r = 0; r < rows; r++) acc += cols[r * K + k] * dy[r * N + co];
      out[k * N + co] = acc;
    }
}

template <class T>
void conv2d_backprop_filter_t(const ConvArgs& c, const T* x, const T* dy, T* df) {
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout;
  if (M == 0) {
    for (int64_t i = 0; i < K * N; i++) df[i] = 0;
    return;
  }
  const bool pointwise = c.kh == 1 && c.kw == 1 && c.strideH == 1 && c.strideW == 1 && c.padTop == 0 &&
                         c.padLeft == 0 && c.ho == c.h && c.wo == c.w;
  const int64_t rows = filter_grad_chunk_rows<T>(M, K), chunks = ceil_div(M, rows);
  // Chunk 0 writes df itself; the others write partials [chunks - 1][K, N], added afterwards in order.
  T* partials = chunks > 1 ? scratch<T, 4>((chunks - 1) * K * N) : nullptr;
  par(chunks, threads_for(2.0 * M * N * K, 1 << 21), [&](int64_t t) {
    const int64_t r0 = t * rows, count = imin(rows, M - r0);
    T* out = t == 0 ? df : partials + (t - 1) * K * N;
    const T* cols = x + r0 * K;
    if (!pointwise) {
      T* buf = scratch<T, 3>(rows * K);
      for (int64_t r = 0; r < count; r++) im2col_row(c, x, r0 + r, buf + r * K);
      cols = buf;
    }
    // out [K, N] = cols^T [K, count] x dy rows [count, N].
    if (K == 9) return filter_grad_registers<T, 9>(cols, dy + r0 * N, count, N, out);
    gemm_one<T>(Strided<T>{cols, 1, K}, Strided<T>{dy + r0 * N, N, 1}, out, K, N, count, 1);
  });
  if (chunks == 1) return;
  const int64_t total = K * N;
  par(ceil_div(total, kChunk), threads_for(double(total) * (chunks - 1), 2 * kChunk), [&](int64_t b) {
    const int64_t from = b * kChunk, to = imin(total, from + kChunk);
    for (int64_t t = 0; t < chunks - 1; t++) {
      const T* p = partials + t * total;
      for (int64_t i = from; i < to; i++) df[i] += p[i];
    }
  });
}

void conv2d_backprop_filter(DType dtype, const ConvArgs& c, const void* x, const void* dy, void* df) {
  if (dtype == F32)
    conv2d_backprop_filter_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(dy),
                                    static_cast<float*>(df));
  else
    conv2d_backprop_filter_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(dy),
                                     static_cast<double*>(df));
}
