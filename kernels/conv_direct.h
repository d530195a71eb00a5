// Direct (no im2col) forward convolution for shallow windows, included by impl.h inside its per-ISA
// namespace after tap_source. When kh * kw * cin is small (a first layer on 1 or 3 input channels: 9 or
// 27), the GEMM's depth is too short to pay for packing and for writing and re-reading the im2col
// matrix, so the output is computed directly, vectorised over output channels and blocked over 4 output
// pixels. (The filter gradient keeps im2col + GEMM: a direct loop measured slower there, its sums
// running through memory.) Sums run over taps (i, then j), then input channels, in that fixed order;
// each output element is written by one task, so results do not depend on the thread count.
#pragma once

/** Window depth (kh * kw * cin) up to which the direct loops beat im2col + GEMM. */
constexpr int64_t kDirectDepth = 32;

inline bool conv_is_shallow(const ConvArgs& c) { return c.kh * c.kw * c.cin <= kDirectDepth; }

/** The input pixel of each kh * kw tap of output pixel (n, oh, ow), -1 in the padding (as tap_source,
 *  without its divisions: this runs once per output pixel). */
inline void tap_pixels(const ConvArgs& c, int64_t n, int64_t oh, int64_t ow, int64_t* pixels) {
  for (int64_t i = 0, t = 0; i < c.kh; i++) {
    const int64_t ih = oh * c.strideH + i * c.dilH - c.padTop;
    for (int64_t j = 0; j < c.kw; j++, t++) {
      const int64_t iw = ow * c.strideW + j * c.dilW - c.padLeft;
      pixels[t] = ih < 0 || ih >= c.h || iw < 0 || iw >= c.w ? -1 : (n * c.h + ih) * c.w + iw;
    }
  }
}

/** Output channels [co, co + NB * W) of PX consecutive output pixels (their tap pixels `pixels[p * taps + t]`,
 *  outputs PX rows of o, N apart): PX * NB independent accumulators, so the FMAs' latency is hidden. */
template <class T, int PX, int NB>
inline void direct_block(const T* __restrict x, const T* __restrict f, const int64_t* pixels, int64_t taps, int64_t cin,
                         int64_t N, int64_t co, T* __restrict o) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R acc[PX][NB];
  for (int p = 0; p < PX; p++)
    for (int b = 0; b < NB; b++) acc[p][b] = V::zero();
  for (int64_t t = 0; t < taps; t++) {
    const T* frow = f + t * cin * N + co;
    for (int64_t ci = 0; ci < cin; ci++, frow += N) {
      typename V::R fv[NB];
      for (int b = 0; b < NB; b++) fv[b] = V::load(frow + b * W);
      for (int p = 0; p < PX; p++) {
        const int64_t px = pixels[p * taps + t];
        if (px < 0) continue;
        typename V::R xv = V::set1(x[px * cin + ci]);
        for (int b = 0; b < NB; b++) acc[p][b] = V::fma(xv, fv[b], acc[p][b]);
      }
    }
  }
  for (int p = 0; p < PX; p++)
    for (int b = 0; b < NB; b++) V::store(o + p * N + co + b * W, acc[p][b]);
}

/** Every output channel of PX consecutive output pixels starting at row. */
template <class T, int PX>
inline void direct_pixels(const T* x, const T* f, const int64_t* pixels, int64_t taps, int64_t cin, int64_t N, T* o) {
  constexpr int W = Vec<T>::W;
  int64_t co = 0;
  for (; co + 2 * W <= N; co += 2 * W) direct_block<T, PX, 2>(x, f, pixels, taps, cin, N, co, o);
  if (co + W <= N) direct_block<T, PX, 1>(x, f, pixels, taps, cin, N, co, o), co += W;
  for (; co < N; co++)
    for (int p = 0; p < PX; p++) {
      T acc = 0;
      for (int64_t t = 0; t < taps; t++) {
        const int64_t px = pixels[p * taps + t];
        if (px < 0) continue;
        for (int64_t ci = 0; ci < cin; ci++) acc += x[px * cin + ci] * f[(t * cin + ci) * N + co];
      }
      o[p * N + co] = acc;
    }
}

/** The direct loops over every output row, PX output pixels at a time. */
template <class T, int PX>
void conv2d_direct_px(const ConvArgs& c, const T* x, const T* f, T* out) {
  const int64_t N = c.cout, taps = c.kh * c.kw, cin = c.cin;
  const double work = 2.0 * c.n * c.ho * c.wo * N * taps * cin;
  par(c.n * c.ho, threads_for(work, 1 << 21), [&](int64_t task) {
    int64_t pixels[PX * kDirectDepth];
    const int64_t n = task / c.ho, oh = task % c.ho;
    int64_t ow = 0;
    for (; ow + PX <= c.wo; ow += PX) {
      for (int p = 0; p < PX; p++) tap_pixels(c, n, oh, ow + p, pixels + p * taps);
      direct_pixels<T, PX>(x, f, pixels, taps, cin, N, out + (task * c.wo + ow) * N);
    }
    for (; ow < c.wo; ow++) {
      tap_pixels(c, n, oh, ow, pixels);
      direct_pixels<T, 1>(x, f, pixels, taps, cin, N, out + (task * c.wo + ow) * N);
    }
  });
}

/** Eight independent accumulators hide the FMA latency: 4 pixels x 2 vectors of channels, or 8 pixels x 1 when the
 *  output has fewer than two vectors of channels (16 filters of float32). Each output's sum order is the same. */
template <class T>
void conv2d_direct_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  if (c.cout < 2 * Vec<T>::W)
    conv2d_direct_px<T, 8>(c, x, f, out);
  else
    conv2d_direct_px<T, 4>(c, x, f, out);
}
