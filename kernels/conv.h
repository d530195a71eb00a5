// conv2d and its input gradient: the implicit-GEMM kernels of conv_implicit.h where they apply (windows of up to
// 64 taps; the input gradient at stride 1), else im2col / col2im around the GEMM. Included by impl.h (inside
// the per-ISA namespace).
#pragma once

// ===================================================================================== convolution

/** Rows of the im2col matrix per GEMM: bounded scratch (about 4 MiB), independent of the thread count. */
template <class T>
int64_t conv_chunk_rows(const ConvArgs& c) {
  int64_t K = c.kh * c.kw * c.cin;
  int64_t rows = (int64_t(4) << 20) / int64_t(sizeof(T) * (K > c.cout ? K : c.cout));
  rows -= rows % Blocking<T>::MC;
  return rows < Blocking<T>::MC ? Blocking<T>::MC : rows;
}

/** The input pixel (n, ih, iw) that tap (i, j) of output pixel `row` reads, or false in the padding. */
inline bool tap_source(const ConvArgs& c, int64_t row, int64_t i, int64_t j, int64_t* pixel) {
  int64_t ow = row % c.wo, oh = (row / c.wo) % c.ho, n = row / (c.wo * c.ho);
  int64_t ih = oh * c.strideH + i * c.dilH - c.padTop, iw = ow * c.strideW + j * c.dilW - c.padLeft;
  if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) return false;
  *pixel = (n * c.h + ih) * c.w + iw;
  return true;
}

/** Row `row` of the im2col matrix: the kh * kw * cin inputs output pixel `row` reads (0 in the padding). */
template <class T>
void im2col_row(const ConvArgs& c, const T* x, int64_t row, T* dst) {
  for (int64_t i = 0; i < c.kh; i++)
    for (int64_t j = 0; j < c.kw; j++, dst += c.cin) {
      int64_t pixel;
      if (tap_source(c, row, i, j, &pixel)) {
        const T* src = x + pixel * c.cin;
        for (int64_t ch = 0; ch < c.cin; ch++) dst[ch] = src[ch];
      } else {
        for (int64_t ch = 0; ch < c.cin; ch++) dst[ch] = 0;
      }
    }
}

/** The input pixel of each kh * kw tap of output pixel (n, oh, ow), -1 in the padding (as tap_source,
 *  without its divisions: this runs once per output pixel; depthwise.h uses it). */
inline void tap_pixels(const ConvArgs& c, int64_t n, int64_t oh, int64_t ow, int64_t* pixels) {
  for (int64_t i = 0, t = 0; i < c.kh; i++) {
    const int64_t ih = oh * c.strideH + i * c.dilH - c.padTop;
    for (int64_t j = 0; j < c.kw; j++, t++) {
      const int64_t iw = ow * c.strideW + j * c.dilW - c.padLeft;
      pixels[t] = ih < 0 || ih >= c.h || iw < 0 || iw >= c.w ? -1 : (n * c.h + ih) * c.w + iw;
    }
  }
}

#include "conv_implicit.h"

template <class T>
void conv2d_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  if (conv_implicit_fits(c)) return conv2d_implicit_t(c, x, f, out);
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout;
  const Strided<T> filter{f, N, 1};
  bool pointwise = c.kh == 1 && c.kw == 1 && c.strideH == 1 && c.strideW == 1 && c.padTop == 0 && c.padLeft == 0 &&
                   c.ho == c.h && c.wo == c.w;
  int gemmThreads = threads_for(2.0 * M * N * K, 1 << 21);
  if (pointwise) return gemm_one<T>(Strided<T>{x, K, 1}, filter, out, M, N, K, gemmThreads);
  const int64_t chunk = conv_chunk_rows<T>(c);
  T* cols = scratch<T, 3>(chunk * K);
  for (int64_t r0 = 0; r0 < M; r0 += chunk) {
    int64_t rows = imin(chunk, M - r0);
    par(rows, threads_for(double(rows) * K, 2 * kChunk), [&](int64_t r) { im2col_row(c, x, r0 + r, cols + r * K); });
    gemm_one<T>(Strided<T>{cols, K, 1}, filter, out + r0 * N, rows, N, K, threads_for(2.0 * rows * N * K, 1 << 21));
  }
}

/** dx = col2im(dy x filter^T): each chunk of output pixels gets its column gradients from one GEMM, then
 *  scatters them into dx. Scatter tasks are whole images (an image's dx is touched by its rows only) and
 *  run their rows in order, so the sums are in a fixed order. */
template <class T>
void conv2d_backprop_input_t(const ConvArgs& c, const T* dy, const T* f, T* dx) {
  if (c.strideH == 1 && c.strideW == 1 && conv_implicit_fits(backprop_input_as_forward(c)))
    return conv2d_backprop_input_implicit_t(c, dy, f, dx);
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout, perImage = c.ho * c.wo;
  for (int64_t i = 0, total = c.n * c.h * c.w * c.cin; i < total; i++) dx[i] = 0;
  const int64_t chunk = conv_chunk_rows<T>(c);
  T* cols = scratch<T, 3>(chunk * K);
  for (int64_t r0 = 0; r0 < M; r0 += chunk) {
    int64_t rows = imin(chunk, M - r0);
    // cols [rows, K] = dy rows [rows, Cout] x filter^T, filter viewed as [K, Cout].
    gemm_one<T>(Strided<T>{dy + r0 * N, N, 1}, Strided<T>{f, 1, N}, cols, rows, K, N,
                threads_for(2.0 * rows * N * K, 1 << 21));
    int64_t firstImage = r0 / perImage, lastImage = (r0 + rows - 1) / perImage;
    par(lastImage - firstImage + 1, threads_for(double(rows) * K, 2 * kChunk), [&](int64_t t) {
      int64_t img = firstImage + t;
      int64_t from = img * perImage > r0 ? img * perImage : r0, to = imin(r0 + rows, (img + 1) * perImage);
      for (int64_t row = from; row < to; row++) {
        const T* src = cols + (row - r0) * K;
        for (int64_t i = 0; i < c.kh; i++)
          for (int64_t j = 0; j < c.kw; j++, src += c.cin) {
            int64_t pixel;
            if (!tap_source(c, row, i, j, &pixel)) continue;
            T* d = dx + pixel * c.cin;
            for (int64_t ch = 0; ch < c.cin; ch++) d[ch] += src[ch];
          }
      }
    });
  }
}

void conv2d(DType dtype, const ConvArgs& c, const void* x, const void* f, void* out) {
  if (dtype == F32)
    conv2d_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(f), static_cast<float*>(out));
  else
    conv2d_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(f), static_cast<double*>(out));
}

void conv2d_backprop_input(DType dtype, const ConvArgs& c, const void* dy, const void* f, void* dx) {
  if (dtype == F32)
    conv2d_backprop_input_t<float>(c, static_cast<const float*>(dy), static_cast<const float*>(f),
                                   static_cast<float*>(dx));
  else
    conv2d_backprop_input_t<double>(c, static_cast<const double*>(dy), static_cast<const double*>(f),
                                    static_cast<double*>(dx));
}
