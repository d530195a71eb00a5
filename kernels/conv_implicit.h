// Implicit-GEMM convolution (no im2col matrix): the forward pass and, through it, the stride-1 input gradient.
// Included by conv.h inside the per-ISA namespace.
//
// A tile is MR consecutive output pixels (flattened over n, oh, ow) x NB vectors of output channels, held in
// registers for the whole depth: per tap, each pixel's cin inputs are read in place from x and broadcast
// against the filter's rows. Every tap a tile reads is inside its image: a convolution whose windows reach into
// the padding runs image by image on a copy of the image with its padding written out (zeros), in a per-thread
// buffer that stays in cache, and a tile skips the taps that read only padding for all its pixels (adding
// nothing: the input gradient's windows, over dy padded by the window's extent, are up to half padding). Each
// output element is summed by one tile over taps (i, then j), then input channels, in that order: the thread
// count changes no bit.
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
/** The windows the implicit kernels take (a tile's tap offsets live on the stack). */
constexpr int64_t kImplicitMaxTaps = 64;
/** The deepest window (kh * kw * cin) the implicit kernels take: a tile streams a column block of the filter
 *  (K rows of 64 floats or 32 doubles, 256 bytes) for every MR pixels, which must stay in L2 (512 KiB). Deeper
 *  windows go through im2col and the GEMM, which blocks K. */
constexpr int64_t kImplicitMaxDepth = 2048;
/** The largest padded image the implicit kernels copy per thread (bytes). */
constexpr int64_t kImplicitMaxStage = int64_t(64) << 20;
/** Work (flops) per thread below which a convolution runs on the calling thread alone (batch-1 predict's second
 *  convolution, 4.5 MFLOP, took 21-23 us on one thread and on two). */
constexpr double kConvGrain = 1 << 22;

/** Input channels up to which a tile runs over the window's inputs as one flat loop (implicit_tile). */
constexpr int64_t kShallowChannels = 4;

/** The window's geometry for the tiles: each tap's offset from a pixel's first input, in elements; for a shallow
 *  window (cin <= kShallowChannels) also each input's (k = t * cin + ci) offset and tap. */
struct ConvWindow {
  int64_t tapOffset[kImplicitMaxTaps];
  int64_t inputOffset[kImplicitMaxTaps * kShallowChannels];
  int64_t inputTap[kImplicitMaxTaps * kShallowChannels];
  int64_t taps;
  explicit ConvWindow(const ConvArgs& c) : taps(c.kh * c.kw) {
    for (int64_t i = 0, t = 0; i < c.kh; i++)
      for (int64_t j = 0; j < c.kw; j++, t++) {
        tapOffset[t] = (i * c.dilH * c.w + j * c.dilW) * c.cin;
        for (int64_t ci = 0; c.cin <= kShallowChannels && ci < c.cin; ci++) {
          inputOffset[t * c.cin + ci] = tapOffset[t] + ci;
          inputTap[t * c.cin + ci] = t;
        }
      }
  }
};

/** The output pixel (n, oh, ow) a walk over the flattened pixels stands at: the tiles advance it, so that only its
 *  start takes divisions. */
struct PixelWalk {
  int64_t row, n, oh, ow;
  PixelWalk(const ConvArgs& c, int64_t r) : row(r), n(r / (c.wo * c.ho)), oh((r / c.wo) % c.ho), ow(r % c.wo) {}
};

/** The first input of each of MR consecutive output pixels from w (which moves on past them); pixels past the
 *  last (M - 1) repeat it, so that every read is in bounds (their sums are not stored). */
template <class T, int MR>
void tile_bases(const ConvArgs& c, const T* x, PixelWalk& w, int64_t M, const T** base) {
  for (int p = 0; p < MR; p++) {
    base[p] = x + ((w.n * c.h + w.oh * c.strideH) * c.w + w.ow * c.strideW) * c.cin;
    if (w.row + 1 >= M) continue;
    w.row++;
    if (++w.ow == c.wo) {
      w.ow = 0;
      if (++w.oh == c.ho) w.oh = 0, w.n++;
    }
  }
}

/** Stores the mv x nv valid part of an MR x NB-vector register tile at o (rows ldo apart). */
template <class T, int MR, int NB>
inline void store_tile(const typename Vec<T>::R (&acc)[MR][NB], T* o, int64_t ldo, int64_t mv, int64_t nv) {
  using V = Vec<T>;
  constexpr int W = V::W;
  if (mv == MR && nv == NB * W) {
#pragma GCC unroll 24
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

/** One input of a tile: acc[p] += src[p][off] x the NB vectors of the filter row at frow. */
template <class T, int MR, int NB>
inline void tile_step(typename Vec<T>::R (&acc)[MR][NB], const T* const* src, int64_t off, const T* frow) {
  using V = Vec<T>;
  typename V::R fv[NB];
#pragma GCC unroll 4
  for (int b = 0; b < NB; b++) fv[b] = V::load(frow + b * V::W);
#pragma GCC unroll 12
  for (int p = 0; p < MR; p++) {
    const typename V::R a = V::set1(src[p][off]);
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) acc[p][b] = V::fma(a, fv[b], acc[p][b]);
  }
}

/** out tile (mv x nv valid of MR x NB * W, rows ldo apart) = the tile's sum; f points at column co of the
 *  filter [K][ldf] (zero-padded to whole tiles). A shallow window (cin <= kShallowChannels: a first layer on 1 or
 *  3 channels) runs one flat loop over its K inputs, which a loop per tap would spend on setting up a few FMAs;
 *  the order of the sums is the same. */
template <class T, int MR, int NB>
inline void implicit_tile(const T* const* base, const ConvWindow& win, uint64_t taps, int64_t cin, const T* f,
                          int64_t ldf, T* o, int64_t ldo, int64_t mv, int64_t nv) {
  using V = Vec<T>;
  typename V::R acc[MR][NB];
#pragma GCC unroll 12
  for (int p = 0; p < MR; p++)
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) acc[p][b] = V::zero();
  if (cin <= kShallowChannels) {
    for (int64_t k = 0, K = win.taps * cin; k < K; k++)
      if (taps >> win.inputTap[k] & 1) tile_step<T, MR, NB>(acc, base, win.inputOffset[k], f + k * ldf);
  } else {
    for (int64_t t = 0; t < win.taps; t++) {
      if (!(taps >> t & 1)) continue;
      const T* frow = f + t * cin * ldf;
      const T* sp[MR];
#pragma GCC unroll 12
      for (int p = 0; p < MR; p++) sp[p] = base[p] + win.tapOffset[t];
      for (int64_t ci = 0; ci < cin; ci++, frow += ldf) tile_step<T, MR, NB>(acc, sp, ci, frow);
    }
  }
  store_tile<T, MR, NB>(acc, o, ldo, mv, nv);
}

/** out[p, n] of MR pixels for an output narrower than a vector (N < W) and at least a vector of input channels:
 *  the sums run along the input channels, each pixel's lanes added at the end. fT is the filter as [N][K]. */
template <class T, int MR>
inline void narrow_tile(const T* const* base, const ConvWindow& win, uint64_t taps, int64_t cin, const T* fT,
                        int64_t K, int64_t N, T* o, int64_t mv) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t vecEnd = cin / W * W;
  for (int64_t j = 0; j < N; j++) {
    typename V::R acc[MR];
    T tail[MR];
    for (int p = 0; p < MR; p++) acc[p] = V::zero(), tail[p] = 0;
    for (int64_t t = 0; t < win.taps; t++) {
      if (!(taps >> t & 1)) continue;
      const T* fk = fT + j * K + t * cin;
      const T* sp[MR];
#pragma GCC unroll 12
      for (int p = 0; p < MR; p++) sp[p] = base[p] + win.tapOffset[t];
      for (int64_t ci = 0; ci < vecEnd; ci += W) {
        const typename V::R fv = V::load(fk + ci);
#pragma GCC unroll 12
        for (int p = 0; p < MR; p++) acc[p] = V::fma(V::load(sp[p] + ci), fv, acc[p]);
      }
      for (int64_t ci = vecEnd; ci < cin; ci++)
        for (int p = 0; p < MR; p++) tail[p] += sp[p][ci] * fk[ci];
    }
    for (int64_t p = 0; p < mv; p++) o[p * N + j] = V::sum(acc[p]) + tail[p];
  }
}

/** Whether every window of c lies inside its image (no padding read). */
inline bool conv_inside(const ConvArgs& c) {
  return c.padTop == 0 && c.padLeft == 0 && (c.ho - 1) * c.strideH + (c.kh - 1) * c.dilH < c.h &&
         (c.wo - 1) * c.strideW + (c.kw - 1) * c.dilW < c.w;
}

/** The rows and columns of an image with its padding written out: those the windows span. */
inline int64_t staged_rows(const ConvArgs& c) { return (c.ho - 1) * c.strideH + (c.kh - 1) * c.dilH + 1; }
inline int64_t staged_cols(const ConvArgs& c) { return (c.wo - 1) * c.strideW + (c.kw - 1) * c.dilW + 1; }

/** Whether the implicit kernels take this convolution (the others go through im2col + GEMM): windows of at most
 *  64 taps and 2048 inputs, whose padded image (if any) fits the staging buffer. */
inline bool conv_implicit_fits(const ConvArgs& c) {
  return c.kh * c.kw <= kImplicitMaxTaps && c.cin > 0 && c.kh * c.kw * c.cin <= kImplicitMaxDepth &&
         (conv_inside(c) || staged_rows(c) * staged_cols(c) * c.cin * 8 <= kImplicitMaxStage);
}

/** Image `img` of x with its padding written out into buf [staged_rows][staged_cols][cin]: row r is input row
 *  r - padTop (zeros outside the image), column q input column q - padLeft. */
template <class T>
void stage_image(const ConvArgs& c, const T* x, int64_t img, T* buf) {
  const int64_t hs = staged_rows(c), ws = staged_cols(c), cin = c.cin;
  for (int64_t r = 0; r < hs; r++) {
    const int64_t ih = r - c.padTop;
    T* d = buf + r * ws * cin;
    if (ih < 0 || ih >= c.h) {
      std::fill(d, d + ws * cin, T(0));
      continue;
    }
    const int64_t q0 = imax(0, c.padLeft), q1 = imin(ws, c.padLeft + c.w);  // columns inside the image
    std::fill(d, d + q0 * cin, T(0));
    const T* src = x + ((img * c.h + ih) * c.w + (q0 - c.padLeft)) * cin;
    if (q1 > q0) std::memcpy(d + q0 * cin, src, (q1 - q0) * cin * sizeof(T));
    std::fill(d + imax(q0, q1) * cin, d + ws * cin, T(0));
  }
}

/** For each output pixel (oh, ow) of an image, the taps (bit t: tap t) it reads inside the image (c: the
 *  convolution before staging), into masks [ho * wo]. A tile skips the taps none of its pixels reads inside:
 *  those read only padding (zeros). */
inline void pixel_taps(const ConvArgs& c, uint64_t* masks) {
  for (int64_t oh = 0; oh < c.ho; oh++)
    for (int64_t ow = 0; ow < c.wo; ow++) {
      uint64_t taps = 0, cols = 0;  // cols, bit j: tap column j is inside
      for (int64_t j = 0; j < c.kw; j++) {
        const int64_t iw = ow * c.strideW + j * c.dilW - c.padLeft;
        if (iw >= 0 && iw < c.w) cols |= uint64_t(1) << j;
      }
      for (int64_t i = 0; i < c.kh; i++) {
        const int64_t ih = oh * c.strideH + i * c.dilH - c.padTop;
        if (ih >= 0 && ih < c.h) taps |= cols << (i * c.kw);
      }
      masks[oh * c.wo + ow] = taps;
    }
}

/** Calls tile(base, win, taps, o, mv) for every MR-pixel tile of out [M, N] (o: its first output row), in tasks
 *  of whole tiles: over the whole batch when no window reaches the padding, else image by image on a staged copy
 *  (conv_implicit_fits(c) holds). */
template <class T, int MR, class Tile>
void implicit_tiles(const ConvArgs& c, const T* x, T* out, double flops, Tile&& tile) {
  const int64_t N = c.cout;
  const int threads = threads_for(flops, kConvGrain);
  if (conv_inside(c)) {
    const ConvWindow win(c);
    // Tasks of up to 8 tiles, at least 4 per thread (each tile is computed alone: the split changes no bit).
    const int64_t M = c.n * c.ho * c.wo, tiles = ceil_div(M, MR), perTask = imax(1, tiles / (4 * threads));
    par(ceil_div(tiles, perTask), threads, [&](int64_t task) {
      const T* base[MR];
      PixelWalk w(c, task * perTask * MR);
      for (int64_t t = task * perTask, end = imin(tiles, t + perTask); t < end; t++) {
        tile_bases<T, MR>(c, x, w, M, base);
        tile(base, win, ~uint64_t(0), out + t * MR * N, imin(MR, M - t * MR));
      }
    });
    return;
  }
  // The staged image is the input of a convolution without padding, one image at a time.
  const ConvArgs s{1, staged_rows(c), staged_cols(c), c.cin, c.cout, c.kh, c.kw, c.ho, c.wo, c.strideH, c.strideW,
                   c.dilH, c.dilW, 0, 0};
  const ConvWindow win(s);
  const int64_t M = c.ho * c.wo, tiles = ceil_div(M, MR);
  uint64_t* masks = scratch<uint64_t, 13>(M);
  pixel_taps(c, masks);
  par(c.n, threads, [&](int64_t img) {
    T* buf = scratch<T, 12>(s.h * s.w * s.cin);
    stage_image(c, x, img, buf);
    const T* base[MR];
    PixelWalk w(s, 0);
    for (int64_t t = 0; t < tiles; t++) {
      const int64_t mv = imin(MR, M - t * MR);
      uint64_t taps = 0;
      for (int64_t p = 0; p < mv; p++) taps |= masks[t * MR + p];
      tile_bases<T, MR>(s, buf, w, M, base);
      tile(base, win, taps, out + (img * M + t * MR) * N, mv);
    }
  });
}

/** out [M, N] for a filter f [K, N]: tiles of MR pixels x NB vectors. */
template <class T, int MR, int NB>
void conv_implicit_run(const ConvArgs& c, const T* x, const T* f, T* out) {
  constexpr int64_t TW = NB * Vec<T>::W;
  const int64_t N = c.cout, K = c.kh * c.kw * c.cin, ldf = ceil_div(N, TW) * TW;
  // The filter padded to whole tiles of columns (so every load of a row is in bounds and the padding is zero).
  const T* fp = f;
  if (ldf != N) {
    T* padded = scratch<T, 10>(K * ldf);
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < ldf; j++) padded[k * ldf + j] = j < N ? f[k * N + j] : T(0);
    fp = padded;
  }
  const double flops = 2.0 * c.n * c.ho * c.wo * ldf * K;
  implicit_tiles<T, MR>(
      c, x, out, flops, [&](const T* const* base, const ConvWindow& win, uint64_t taps, T* o, int64_t mv) {
        for (int64_t co = 0; co < N; co += TW)
          implicit_tile<T, MR, NB>(base, win, taps, c.cin, fp + co, ldf, o + co, N, mv, imin(TW, N - co));
      });
}

/** out [M, N] for N < W through narrow_tile, MR pixels at a time. */
template <class T, int MR>
void conv_narrow_run(const ConvArgs& c, const T* x, const T* f, T* out) {
  const int64_t N = c.cout, K = c.kh * c.kw * c.cin;
  T* fT = scratch<T, 10>(N * K);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) fT[j * K + k] = f[k * N + j];
  const double flops = 2.0 * c.n * c.ho * c.wo * N * K;
  implicit_tiles<T, MR>(
      c, x, out, flops, [&](const T* const* base, const ConvWindow& win, uint64_t taps, T* o, int64_t mv) {
        narrow_tile<T, MR>(base, win, taps, c.cin, fT, K, N, o, mv);
      });
}

/** out = conv2d(x, f) through the implicit kernels; conv_implicit_fits(c) must hold. */
template <class T>
void conv2d_implicit_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  constexpr int W = Vec<T>::W;
  if (c.n * c.ho * c.wo == 0 || c.cout == 0) return;
  if (c.cout < W && c.cin >= W) return conv_narrow_run<T, 8>(c, x, f, out);
  const int64_t vectors = ceil_div(c.cout, W);
  if constexpr (kConvMaxNB >= 4) {
    if (vectors >= 4) return conv_implicit_run<T, conv_mr(4), 4>(c, x, f, out);
    if (vectors == 3) return conv_implicit_run<T, conv_mr(3), 3>(c, x, f, out);
  }
  if (vectors >= 2) return conv_implicit_run<T, conv_mr(2), 2>(c, x, f, out);
  conv_implicit_run<T, conv_mr(1), 1>(c, x, f, out);
}

/** The forward convolution whose output is the input gradient of a stride-1 c: over dy, padded by the window's
 *  extent less c's padding, with the filter flipped in space and its channels swapped. */
inline ConvArgs backprop_input_as_forward(const ConvArgs& c) {
  return ConvArgs{c.n,  c.ho, c.wo, c.cout, c.cin,  c.kh,   c.kw,
                  c.h,  c.w,  1,    1,      c.dilH, c.dilW, (c.kh - 1) * c.dilH - c.padTop,
                  (c.kw - 1) * c.dilW - c.padLeft};
}

/** dx = the input gradient of a stride-1 convolution through the implicit kernels (conv_implicit_fits must hold
 *  for backprop_input_as_forward(c)). */
template <class T>
void conv2d_backprop_input_implicit_t(const ConvArgs& c, const T* dy, const T* f, T* dx) {
  // g[i, j, co, ci] = f[kh-1-i, kw-1-j, ci, co]; slot 11 (the runs pad or transpose it into slot 10).
  T* g = scratch<T, 11>(c.kh * c.kw * c.cin * c.cout);
  for (int64_t i = 0; i < c.kh; i++)
    for (int64_t j = 0; j < c.kw; j++) {
      const T* src = f + ((c.kh - 1 - i) * c.kw + (c.kw - 1 - j)) * c.cin * c.cout;
      T* dst = g + (i * c.kw + j) * c.cout * c.cin;
      for (int64_t ci = 0; ci < c.cin; ci++)
        for (int64_t co = 0; co < c.cout; co++) dst[co * c.cin + ci] = src[ci * c.cout + co];
    }
  conv2d_implicit_t<T>(backprop_input_as_forward(c), dy, g, dx);
}
