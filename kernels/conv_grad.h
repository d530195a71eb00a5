// The filter gradient of conv2d: df [kh, kw, Cin, Cout] = im2col(x)^T x dy, included by impl.h inside
// its per-ISA namespace (after conv_implicit.h, whose tile sizes it shares).
//
// The output pixels are cut into chunks whose size depends on the shapes alone; each chunk is one task, and
// the partials are added in chunk order. Within a chunk, blocks of P pixels are written out as im2col rows
// into an L1-sized buffer, and register tiles of df (MR rows x NB vectors of columns) sum them pixel after
// pixel, carrying on from the previous block's sums. So the sums have a fixed order and the result is
// bit-identical for any thread count.
#pragma once

/** Output pixels per chunk: at most 16 chunks, each at least 512 pixels, a whole number of row blocks. */
inline int64_t filter_grad_chunk_rows(int64_t M, int64_t block) {
  return ceil_div(imax(ceil_div(M, 16), 512), block) * block;
}

inline void copy_run(float* __restrict d, const float* __restrict s, int64_t n) {
  for (int64_t e = 0; e < n; e++) d[e] = s[e];
}
inline void copy_run(double* __restrict d, const double* __restrict s, int64_t n) {
  for (int64_t e = 0; e < n; e++) d[e] = s[e];
}

/** Rows [row, row + P) of the im2col matrix into cols [P][ldc]: each output pixel's kh * kw * cin inputs (0 in
 *  the padding), then zeros up to ldc. A window inside the image is copied as kh runs of kw * cin inputs when
 *  its columns are adjacent (dilW = 1). */
template <class T>
void im2col_block(const ConvArgs& c, const T* x, int64_t row, int64_t P, T* cols, int64_t ldc) {
  const int64_t K = c.kh * c.kw * c.cin, hExtent = (c.kh - 1) * c.dilH, wExtent = (c.kw - 1) * c.dilW;
  const int64_t run = c.kw * c.cin;
  int64_t n = row / (c.wo * c.ho), oh = (row / c.wo) % c.ho, ow = row % c.wo;
  for (int64_t r = 0; r < P; r++) {
    T* dst = cols + r * ldc;
    const int64_t ih0 = oh * c.strideH - c.padTop, iw0 = ow * c.strideW - c.padLeft;
    if (c.dilW == 1 && ih0 >= 0 && ih0 + hExtent < c.h && iw0 >= 0 && iw0 + wExtent < c.w) {
      const T* src = x + ((n * c.h + ih0) * c.w + iw0) * c.cin;
      for (int64_t i = 0; i < c.kh; i++) copy_run(dst + i * run, src + i * c.dilH * c.w * c.cin, run);
    } else {
      for (int64_t i = 0; i < c.kh; i++) {
        const int64_t ih = ih0 + i * c.dilH;
        for (int64_t j = 0; j < c.kw; j++) {
          const int64_t iw = iw0 + j * c.dilW;
          T* d = dst + (i * c.kw + j) * c.cin;
          if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w)
            for (int64_t ch = 0; ch < c.cin; ch++) d[ch] = 0;
          else
            copy_run(d, x + ((n * c.h + ih) * c.w + iw) * c.cin, c.cin);
        }
      }
    }
    for (int64_t k = K; k < ldc; k++) dst[k] = 0;
    if (++ow == c.wo) {
      ow = 0;
      if (++oh == c.ho) oh = 0, n++;
    }
  }
}

/** o (mv x nv valid of MR x NB * W, rows ldo apart) = (or +=) cols^T dy over P pixels: MR consecutive columns of
 *  cols [P][ldc] broadcast against NB vectors of dy [P][ldd]. Sums run over the pixels in order. */
template <class T, int MR, int NB>
inline void grad_tile(const T* cols, int64_t ldc, const T* dy, int64_t ldd, int64_t P, T* o, int64_t ldo,
                      bool accumulate, int64_t mv, int64_t nv) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R acc[MR][NB];
  alignas(64) T tile[MR * NB * W];
  const bool whole = mv == MR && nv == NB * W;
  if (!accumulate) {
#pragma GCC unroll 24
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) acc[i][b] = V::zero();
  } else if (whole) {
#pragma GCC unroll 24
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) acc[i][b] = V::load(o + i * ldo + b * W);
  } else {
    for (int64_t i = 0; i < MR; i++)
      for (int64_t j = 0; j < NB * W; j++) tile[i * NB * W + j] = i < mv && j < nv ? o[i * ldo + j] : T(0);
    for (int i = 0; i < MR; i++)
      for (int b = 0; b < NB; b++) acc[i][b] = V::load(tile + (i * NB + b) * W);
  }
  for (int64_t r = 0; r < P; r++, cols += ldc, dy += ldd) {
    typename V::R g[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) g[b] = V::load(dy + b * W);
#pragma GCC unroll 24
    for (int i = 0; i < MR; i++) {
      const typename V::R a = V::set1(cols[i]);
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) acc[i][b] = V::fma(a, g[b], acc[i][b]);
    }
  }
  store_tile<T, MR, NB>(acc, o, ldo, mv, nv);
}

/** df [K, N] = im2col(x)^T dy with register tiles of MR rows of df x NB vectors of its columns. */
template <class T, int MR, int NB>
void conv_filter_grad_run(const ConvArgs& c, const T* x, const T* dy, T* df) {
  constexpr int64_t TW = NB * Vec<T>::W;
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout;
  const int64_t ldc = ceil_div(K, MR) * MR, ldd = ceil_div(N, TW) * TW;
  // Pixels per block: at most 256, its dy rows (64 KiB) and im2col rows (256 KiB) in L2 while every tile of df
  // passes over them (long blocks amortise loading and storing the tiles; 16 KiB of dy measured 15% slower).
  const int64_t P = imax(16, imin(imin(256, (int64_t(64) << 10) / int64_t(sizeof(T) * ldd)),
                                  (int64_t(256) << 10) / int64_t(sizeof(T) * ldc)));
  const int64_t rows = filter_grad_chunk_rows(M, P), chunks = ceil_div(M, rows);
  // Chunk 0 writes df itself; the others write partials [chunks - 1][K, N], added afterwards in order.
  T* partials = chunks > 1 ? scratch<T, 4>((chunks - 1) * K * N) : nullptr;
  par(chunks, threads_for(2.0 * M * ldd * ldc, kConvGrain), [&](int64_t t) {
    const int64_t r0 = t * rows, r1 = imin(M, r0 + rows);
    T* out = t == 0 ? df : partials + (t - 1) * K * N;
    T* cols = scratch<T, 3>(P * ldc);
    T* dyPadded = ldd != N ? scratch<T, 2>(P * ldd) : nullptr;
    for (int64_t row = r0; row < r1; row += P) {
      const int64_t count = imin(P, r1 - row);
      im2col_block(c, x, row, count, cols, ldc);
      const T* g = dy + row * N;
      if (dyPadded) {
        for (int64_t r = 0; r < count; r++)
          for (int64_t j = 0; j < ldd; j++) dyPadded[r * ldd + j] = j < N ? g[r * N + j] : T(0);
        g = dyPadded;
      }
      for (int64_t co = 0; co < N; co += TW)
        for (int64_t k = 0; k < K; k += MR)
          grad_tile<T, MR, NB>(cols + k, ldc, g + co, dyPadded ? ldd : N, count, out + k * N + co, N, row > r0,
                               imin(MR, K - k), imin(TW, N - co));
    }
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

template <class T>
void conv2d_backprop_filter_t(const ConvArgs& c, const T* x, const T* dy, T* df) {
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo;
  if (M == 0) {
    for (int64_t i = 0; i < K * c.cout; i++) df[i] = 0;
    return;
  }
  const int64_t vectors = ceil_div(c.cout, Vec<T>::W);
  if constexpr (kConvMaxNB >= 4) {
    if (vectors >= 4) return conv_filter_grad_run<T, kConvAcc / 4, 4>(c, x, dy, df);
    if (vectors == 3) return conv_filter_grad_run<T, kConvAcc / 3, 3>(c, x, dy, df);
  }
  if (vectors >= 2) return conv_filter_grad_run<T, kConvAcc / 2, 2>(c, x, dy, df);
  conv_filter_grad_run<T, kConvAcc, 1>(c, x, dy, df);
}

void conv2d_backprop_filter(DType dtype, const ConvArgs& c, const void* x, const void* dy, void* df) {
  if (dtype == F32)
    conv2d_backprop_filter_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(dy),
                                    static_cast<float*>(df));
  else
    conv2d_backprop_filter_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(dy),
                                     static_cast<double*>(df));
}
