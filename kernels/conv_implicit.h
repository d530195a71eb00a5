// Implicit-GEMM convolution (no im2col matrix): the forward pass and, through it, the stride-1 input gradient.
// Included by conv.h inside the per-ISA namespace, after tap_source.
//
// A tile is MR consecutive output pixels (flattened over n, oh, ow) x NB vectors of output channels, held in
// registers for the whole depth: per tap, each pixel's cin inputs are read in place from x (a pointer per pixel
// and tap; a run of zeros in the padding) and broadcast against the filter's rows. Taps that every pixel of the
// tile has in the padding are skipped. Each output element is summed by one tile over taps (i, then j), then
// input channels, in that order: the thread count changes no bit.
#pragma once

/** Accumulator registers of a tile: AVX-512 has 32 vector registers, AVX2 and the scalar build 16. */
#if defined(CANDOR_ISA_AVX512)
constexpr int kConvAcc = 24, kConvMaxNB = 4;
#elif defined(CANDOR_ISA_AVX2)
constexpr int kConvAcc = 12, kConvMaxNB = 2;
#else
constexpr int kConvAcc = 12, kConvMaxNB = 4;
#endif
/** Pixels of a forward tile of NB vectors (at most 12: each needs a pointer register in the inner loop). */
constexpr int conv_mr(int nb) { return kConvAcc / nb > 12 ? 12 : kConvAcc / nb; }
/** The windows the implicit kernels take (their per-tile tap pointers live on the stack). */
constexpr int64_t kImplicitMaxTaps = 64;
/** Work (flops) per thread below which a convolution runs on the calling thread alone. */
constexpr double kConvGrain = 1 << 22;

/** A run of at least `n` zeros (the inputs a tap in the padding reads). Slot 9 is never written. */
template <class T>
const T* conv_zeros(int64_t n) {
  return scratch<T, 9>(n);
}

/** Where MR consecutive output pixels read their inputs. When every tap of every pixel is inside the image
 *  (`interior`), pixel p's tap t reads base[p] + tapOffset[t] and tap[t] = t; otherwise src[t * MR + p] lists
 *  the pointers (zeros in the padding and past the last pixel) of the taps kept in tap[]: those some pixel
 *  reads inside the image. */
template <class T, int MR>
struct TileSources {
  bool interior;
  int64_t count;
  const T* base[MR];
  const int64_t* tapOffset;
  const T* src[kImplicitMaxTaps * MR];
  int64_t tap[kImplicitMaxTaps];
  const T* at(int64_t t, int p) const { return interior ? base[p] + tapOffset[t] : src[t * MR + p]; }
  int64_t tapOf(int64_t t) const { return interior ? t : tap[t]; }
};

/** The window's geometry for the tiles: each tap's offset from a pixel's first input, in elements. */
struct ConvWindow {
  int64_t tapOffset[kImplicitMaxTaps];
  int64_t taps, hExtent, wExtent;
  explicit ConvWindow(const ConvArgs& c) : taps(c.kh * c.kw) {
    hExtent = (c.kh - 1) * c.dilH;
    wExtent = (c.kw - 1) * c.dilW;
    for (int64_t i = 0, t = 0; i < c.kh; i++)
      for (int64_t j = 0; j < c.kw; j++, t++) tapOffset[t] = (i * c.dilH * c.w + j * c.dilW) * c.cin;
  }
};

/** Fills `s` for the MR output pixels from `row` (M pixels in all). */
template <class T, int MR>
void tile_sources(const ConvArgs& c, const ConvWindow& win, const T* x, const T* zeros, int64_t row, int64_t M,
                  TileSources<T, MR>& s) {
  int64_t n = row / (c.wo * c.ho), oh = (row / c.wo) % c.ho, ow = row % c.wo;
  int64_t ih0[MR], iw0[MR];
  bool valid[MR];
  s.interior = row + MR <= M;
  for (int p = 0; p < MR; p++) {
    valid[p] = row + p < M;
    ih0[p] = oh * c.strideH - c.padTop;
    iw0[p] = ow * c.strideW - c.padLeft;
    s.interior &= ih0[p] >= 0 && ih0[p] + win.hExtent < c.h && iw0[p] >= 0 && iw0[p] + win.wExtent < c.w;
    s.base[p] = x + ((n * c.h + ih0[p]) * c.w + iw0[p]) * c.cin;
    if (++ow == c.wo) {
      ow = 0;
      if (++oh == c.ho) oh = 0, n++;
    }
  }
  s.tapOffset = win.tapOffset;
  if (s.interior) {
    s.count = win.taps;
    return;
  }
  s.count = 0;
  for (int64_t i = 0, t = 0; i < c.kh; i++)
    for (int64_t j = 0; j < c.kw; j++, t++) {
      bool any = false;
      const T** src = s.src + s.count * MR;
      for (int p = 0; p < MR; p++) {
        const int64_t ih = ih0[p] + i * c.dilH, iw = iw0[p] + j * c.dilW;
        const bool inside = valid[p] && ih >= 0 && ih < c.h && iw >= 0 && iw < c.w;
        src[p] = inside ? s.base[p] + win.tapOffset[t] : zeros;
        any |= inside;
      }
      if (any) s.tap[s.count++] = t;
    }
}

/** out tile (mv x nv valid of MR x NB * W, rows ldo apart) = the tile's sum; f points at column co of the
 *  filter [K][ldf] (zero-padded to whole tiles). */
template <class T, int MR, int NB>
inline void implicit_tile(const TileSources<T, MR>& s, int64_t cin, const T* f, int64_t ldf, T* o, int64_t ldo,
                          int64_t mv, int64_t nv) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R acc[MR][NB];
#pragma GCC unroll 12
  for (int p = 0; p < MR; p++)
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) acc[p][b] = V::zero();
  for (int64_t ti = 0; ti < s.count; ti++) {
    const T* frow = f + s.tapOf(ti) * cin * ldf;
    const T* sp[MR];
#pragma GCC unroll 12
    for (int p = 0; p < MR; p++) sp[p] = s.at(ti, p);
    for (int64_t ci = 0; ci < cin; ci++, frow += ldf) {
      typename V::R fv[NB];
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) fv[b] = V::load(frow + b * W);
#pragma GCC unroll 12
      for (int p = 0; p < MR; p++) {
        const typename V::R a = V::set1(sp[p][ci]);
#pragma GCC unroll 4
        for (int b = 0; b < NB; b++) acc[p][b] = V::fma(a, fv[b], acc[p][b]);
      }
    }
  }
  if (mv == MR && nv == NB * W) {
#pragma GCC unroll 12
    for (int p = 0; p < MR; p++)
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) V::store(o + p * ldo + b * W, acc[p][b]);
    return;
  }
  alignas(64) T tile[MR * NB * W];
  for (int p = 0; p < MR; p++)
    for (int b = 0; b < NB; b++) V::store(tile + (p * NB + b) * W, acc[p][b]);
  for (int64_t p = 0; p < mv; p++)
    for (int64_t j = 0; j < nv; j++) o[p * ldo + j] = tile[p * NB * W + j];
}

/** out [M, N] for a filter f [K, N]: tiles of MR pixels x NB vectors, tasks of whole pixel tiles. */
template <class T, int MR, int NB>
void conv_implicit_run(const ConvArgs& c, const T* x, const T* f, T* out) {
  constexpr int64_t TW = NB * Vec<T>::W;
  const int64_t M = c.n * c.ho * c.wo, N = c.cout, K = c.kh * c.kw * c.cin, ldf = ceil_div(N, TW) * TW;
  // The filter padded to whole tiles of columns (so every load of a row is in bounds and the padding is zero).
  const T* fp = f;
  if (ldf != N) {
    T* padded = scratch<T, 10>(K * ldf);
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < ldf; j++) padded[k * ldf + j] = j < N ? f[k * N + j] : T(0);
    fp = padded;
  }
  const T* zeros = conv_zeros<T>(c.cin);
  const int64_t tiles = ceil_div(M, MR), perTask = 8, tasks = ceil_div(tiles, perTask);
  const ConvWindow win(c);
  par(tasks, threads_for(2.0 * M * ldf * K, kConvGrain), [&](int64_t task) {
    TileSources<T, MR> s;
    for (int64_t tile = task * perTask, end = imin(tiles, tile + perTask); tile < end; tile++) {
      const int64_t row = tile * MR, mv = imin(MR, M - row);
      tile_sources<T, MR>(c, win, x, zeros, row, M, s);
      for (int64_t co = 0; co < N; co += TW)
        implicit_tile<T, MR, NB>(s, c.cin, fp + co, ldf, out + row * N + co, N, mv, imin(TW, N - co));
    }
  });
}

/** out[p, n] for an output narrower than a vector (N < W) and at least a vector of input channels: the sums run
 *  along the input channels instead, MR pixels at a time, each reduced across its lanes at the end. fT is the
 *  filter transposed to [N][K]. */
template <class T, int MR>
void conv_narrow_run(const ConvArgs& c, const T* x, const T* f, T* out) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t M = c.n * c.ho * c.wo, N = c.cout, K = c.kh * c.kw * c.cin, cin = c.cin, vecEnd = cin / W * W;
  T* fT = scratch<T, 10>(N * K);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) fT[j * K + k] = f[k * N + j];
  const T* zeros = conv_zeros<T>(cin);
  const int64_t tiles = ceil_div(M, MR), perTask = 8, tasks = ceil_div(tiles, perTask);
  const ConvWindow win(c);
  par(tasks, threads_for(2.0 * M * N * K, kConvGrain), [&](int64_t task) {
    TileSources<T, MR> s;
    for (int64_t tile = task * perTask, end = imin(tiles, tile + perTask); tile < end; tile++) {
      const int64_t row = tile * MR, mv = imin(MR, M - row);
      tile_sources<T, MR>(c, win, x, zeros, row, M, s);
      for (int64_t j = 0; j < N; j++) {
        typename V::R acc[MR];
        T tail[MR];
        for (int p = 0; p < MR; p++) acc[p] = V::zero(), tail[p] = 0;
        for (int64_t ti = 0; ti < s.count; ti++) {
          const T* fk = fT + j * K + s.tapOf(ti) * cin;
          const T* sp[MR];
          for (int p = 0; p < MR; p++) sp[p] = s.at(ti, p);
          for (int64_t ci = 0; ci < vecEnd; ci += W) {
            const typename V::R fv = V::load(fk + ci);
#pragma GCC unroll 12
            for (int p = 0; p < MR; p++) acc[p] = V::fma(V::load(sp[p] + ci), fv, acc[p]);
          }
          for (int64_t ci = vecEnd; ci < cin; ci++)
            for (int p = 0; p < MR; p++) tail[p] += sp[p][ci] * fk[ci];
        }
        for (int64_t p = 0; p < mv; p++) out[(row + p) * N + j] = V::sum(acc[p]) + tail[p];
      }
    }
  });
}

/** Whether the implicit kernels take this convolution (the others go through im2col + GEMM). */
inline bool conv_implicit_fits(const ConvArgs& c) { return c.kh * c.kw <= kImplicitMaxTaps && c.cin > 0; }

/** out = conv2d(x, f) through the implicit kernels; conv_implicit_fits(c) must hold. */
template <class T>
void conv2d_implicit_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  constexpr int W = Vec<T>::W;
  if (c.cout < W && c.cin >= W) return conv_narrow_run<T, 8>(c, x, f, out);
  const int64_t vectors = ceil_div(c.cout, W);
  if constexpr (kConvMaxNB >= 4) {
    if (vectors >= 4) return conv_implicit_run<T, conv_mr(4), 4>(c, x, f, out);
    if (vectors == 3) return conv_implicit_run<T, conv_mr(3), 3>(c, x, f, out);
  }
  if (vectors >= 2) return conv_implicit_run<T, conv_mr(2), 2>(c, x, f, out);
  conv_implicit_run<T, conv_mr(1), 1>(c, x, f, out);
}

/** dx = the input gradient of a stride-1 convolution, as the forward convolution of dy (padded by the window's
 *  extent less the forward padding) with the filter flipped in space and its channels swapped. */
template <class T>
void conv2d_backprop_input_implicit_t(const ConvArgs& c, const T* dy, const T* f, T* dx) {
  const ConvArgs t{c.n,    c.ho,   c.wo,   c.cout, c.cin,
                   c.kh,   c.kw,   c.h,    c.w,    1,
                   1,      c.dilH, c.dilW, (c.kh - 1) * c.dilH - c.padTop, (c.kw - 1) * c.dilW - c.padLeft};
  // g[i, j, co, ci] = f[kh-1-i, kw-1-j, ci, co]; slot 11 (conv_implicit_run pads into slot 10).
  T* g = scratch<T, 11>(c.kh * c.kw * c.cin * c.cout);
  for (int64_t i = 0; i < c.kh; i++)
    for (int64_t j = 0; j < c.kw; j++) {
      const T* src = f + ((c.kh - 1 - i) * c.kw + (c.kw - 1 - j)) * c.cin * c.cout;
      T* dst = g + (i * c.kw + j) * c.cout * c.cin;
      for (int64_t ci = 0; ci < c.cin; ci++)
        for (int64_t co = 0; co < c.cout; co++) dst[co * c.cin + ci] = src[ci * c.cout + co];
    }
  conv2d_implicit_t<T>(t, dy, g, dx);
}
