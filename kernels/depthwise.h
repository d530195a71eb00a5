// Depthwise convolution, its input gradient and its filter gradient (NHWC, filter [kh, kw, C, M], output
// channel j = c * M + m reads input channel c = j / M), included by impl.h inside its per-ISA namespace after
// conv.h (ConvArgs with cin = C, cout = C * M; tap_pixels from conv.h).
//
// There is no GEMM to hand this to: each output element is a kh * kw dot product, so the loops run
// directly, vectorised over channels (contiguous in NHWC) with several channel blocks in flight to hide
// the FMAs' latency. depthMultiplier 1 (MobileNet's case) is the vector path; M > 1 vectorises over m
// when M fills a vector and runs scalar otherwise.
//
// Determinism: forward and input gradient write each output element from one task, summing taps in
// row-major order. The filter gradient cuts the output pixels into chunks fixed by the shapes, one task
// each, into its own partial; partials are added in chunk order. So results do not depend on the
// thread count.
#pragma once

/** Output pixels per filter-gradient chunk: about 32 chunks, at least 128 pixels each. */
inline int64_t depthwise_chunk_pixels(int64_t pixels) {
  const int64_t rows = ceil_div(pixels, 32);
  return rows < 128 ? 128 : rows;
}

/** out[j] (+)= sum over taps t with src[t] >= 0 of a[src[t] * CM + j ...] * b[t * CM + j], for j in [j0, j0 + NB W):
 *  NB independent vector accumulators. `a` rows are CM apart; for M == 1 only (a's channel is j). */
template <class T, int NB, bool ACC>
inline void dw_vec(const T* __restrict a, const T* __restrict b, const int64_t* src, const int64_t* tapOf, int64_t n,
                   int64_t CM, int64_t j0, T* __restrict out) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R acc[NB];
  for (int k = 0; k < NB; k++) acc[k] = ACC ? V::load(out + j0 + k * W) : V::zero();
  for (int64_t s = 0; s < n; s++) {
    const T* ar = a + src[s] * CM + j0;
    const T* br = b + tapOf[s] * CM + j0;
    for (int k = 0; k < NB; k++) acc[k] = V::fma(V::load(ar + k * W), V::load(br + k * W), acc[k]);
  }
  for (int k = 0; k < NB; k++) V::store(out + j0 + k * W, acc[k]);
}

/** out[j] = sum_s x[src[s] * C + j / M] * f[tapOf[s] * CM + j] for every j < CM = C * M: one output pixel of the
 *  forward pass, from its n in-bounds taps. */
template <class T>
inline void dw_pixel_forward(const T* x, const T* f, const int64_t* src, const int64_t* tapOf, int64_t n, int64_t C,
                             int64_t M, T* out) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t CM = C * M;
  if (M == 1) {
    int64_t j = 0;
    for (; j + 4 * W <= CM; j += 4 * W) dw_vec<T, 4, false>(x, f, src, tapOf, n, CM, j, out);
    for (; j + W <= CM; j += W) dw_vec<T, 1, false>(x, f, src, tapOf, n, CM, j, out);
    for (; j < CM; j++) {
      T acc = 0;
      for (int64_t s = 0; s < n; s++) acc += x[src[s] * CM + j] * f[tapOf[s] * CM + j];
      out[j] = acc;
    }
    return;
  }
  for (int64_t c = 0; c < C; c++) {
    int64_t m = 0;
    for (; m + W <= M; m += W) {
      typename V::R acc = V::zero();
      for (int64_t s = 0; s < n; s++)
        acc = V::fma(V::set1(x[src[s] * C + c]), V::load(f + tapOf[s] * CM + c * M + m), acc);
      V::store(out + c * M + m, acc);
    }
    for (; m < M; m++) {
      T acc = 0;
      for (int64_t s = 0; s < n; s++) acc += x[src[s] * C + c] * f[tapOf[s] * CM + c * M + m];
      out[c * M + m] = acc;
    }
  }
}

/** The in-bounds taps of output pixel (n, oh, ow): input pixels src[] and tap indices tapOf[]; returns their count. */
inline int64_t dw_forward_taps(const ConvArgs& c, int64_t n, int64_t oh, int64_t ow, int64_t* src, int64_t* tapOf) {
  int64_t count = 0;
  for (int64_t i = 0, t = 0; i < c.kh; i++) {
    const int64_t ih = oh * c.strideH + i * c.dilH - c.padTop;
    for (int64_t j = 0; j < c.kw; j++, t++) {
      const int64_t iw = ow * c.strideW + j * c.dilW - c.padLeft;
      if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
      src[count] = (n * c.h + ih) * c.w + iw;
      tapOf[count++] = t;
    }
  }
  return count;
}

/** The output pixels that read input pixel (n, ih, iw), and through which tap, in tap order; returns their count. */
inline int64_t dw_input_taps(const ConvArgs& c, int64_t n, int64_t ih, int64_t iw, int64_t* src, int64_t* tapOf) {
  int64_t count = 0;
  for (int64_t i = 0, t = 0; i < c.kh; i++) {
    const int64_t rh = ih + c.padTop - i * c.dilH;
    const bool rowOk = rh >= 0 && rh % c.strideH == 0 && rh / c.strideH < c.ho;
    for (int64_t j = 0; j < c.kw; j++, t++) {
      const int64_t rw = iw + c.padLeft - j * c.dilW;
      if (!rowOk || rw < 0 || rw % c.strideW != 0 || rw / c.strideW >= c.wo) continue;
      src[count] = (n * c.ho + rh / c.strideH) * c.wo + rw / c.strideW;
      tapOf[count++] = t;
    }
  }
  return count;
}

template <class T>
void depthwise_conv2d_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  const int64_t taps = c.kh * c.kw, M = c.cout / c.cin;
  const double work = 2.0 * c.n * c.ho * c.wo * c.cout * taps;
  par(c.n * c.ho, threads_for(work, 1 << 20), [&](int64_t task) {
    int64_t* idx = scratch<int64_t, 8>(2 * taps);
    const int64_t n = task / c.ho, oh = task % c.ho;
    for (int64_t ow = 0; ow < c.wo; ow++) {
      const int64_t count = dw_forward_taps(c, n, oh, ow, idx, idx + taps);
      dw_pixel_forward(x, f, idx, idx + taps, count, c.cin, M, out + (task * c.wo + ow) * c.cout);
    }
  });
}

/** dx[n, ih, iw, ch] = sum over the (output pixel, tap) pairs that read it of sum_m dy[.., ch * M + m] * f[tap, ch, m].
 */
template <class T>
void depthwise_backprop_input_t(const ConvArgs& c, const T* dy, const T* f, T* dx) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t taps = c.kh * c.kw, C = c.cin, M = c.cout / c.cin, CM = c.cout;
  const double work = 2.0 * c.n * c.ho * c.wo * c.cout * taps;
  par(c.n * c.h, threads_for(work, 1 << 20), [&](int64_t task) {
    int64_t* idx = scratch<int64_t, 8>(2 * taps);
    const int64_t n = task / c.h, ih = task % c.h;
    for (int64_t iw = 0; iw < c.w; iw++) {
      const int64_t count = dw_input_taps(c, n, ih, iw, idx, idx + taps);
      T* o = dx + (task * c.w + iw) * C;
      if (M == 1) {
        int64_t j = 0;
        for (; j + 4 * W <= C; j += 4 * W) dw_vec<T, 4, false>(dy, f, idx, idx + taps, count, CM, j, o);
        for (; j + W <= C; j += W) dw_vec<T, 1, false>(dy, f, idx, idx + taps, count, CM, j, o);
        for (; j < C; j++) {
          T acc = 0;
          for (int64_t s = 0; s < count; s++) acc += dy[idx[s] * CM + j] * f[idx[taps + s] * CM + j];
          o[j] = acc;
        }
        continue;
      }
      for (int64_t ch = 0; ch < C; ch++) {
        T acc = 0;
        for (int64_t s = 0; s < count; s++) {
          const T* d = dy + idx[s] * CM + ch * M;
          const T* fr = f + idx[taps + s] * CM + ch * M;
          for (int64_t m = 0; m < M; m++) acc += d[m] * fr[m];
        }
        o[ch] = acc;
      }
    }
  });
}

/** part [taps, CM] += over output pixels [p0, p1): x at each in-bounds tap times dy (the filter gradient's terms). */
template <class T>
void depthwise_filter_chunk(const ConvArgs& c, const T* x, const T* dy, int64_t p0, int64_t p1, T* part, int64_t* idx) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t taps = c.kh * c.kw, C = c.cin, M = c.cout / c.cin, CM = c.cout;
  for (int64_t i = 0; i < taps * CM; i++) part[i] = 0;
  for (int64_t p = p0; p < p1; p++) {
    const int64_t ow = p % c.wo, oh = (p / c.wo) % c.ho, n = p / (c.wo * c.ho);
    const int64_t count = dw_forward_taps(c, n, oh, ow, idx, idx + taps);
    const T* g = dy + p * CM;
    for (int64_t s = 0; s < count; s++) {
      const T* xr = x + idx[s] * C;
      T* d = part + idx[taps + s] * CM;
      if (M == 1) {
        int64_t j = 0;
        for (; j + W <= CM; j += W) V::store(d + j, V::fma(V::load(xr + j), V::load(g + j), V::load(d + j)));
        for (; j < CM; j++) d[j] += xr[j] * g[j];
        continue;
      }
      for (int64_t ch = 0; ch < C; ch++) {
        const T xv = xr[ch];
        for (int64_t m = 0; m < M; m++) d[ch * M + m] += xv * g[ch * M + m];
      }
    }
  }
}

template <class T>
void depthwise_backprop_filter_t(const ConvArgs& c, const T* x, const T* dy, T* df) {
  const int64_t taps = c.kh * c.kw, total = taps * c.cout, P = c.n * c.ho * c.wo;
  const int64_t rows = depthwise_chunk_pixels(P), chunks = P == 0 ? 1 : ceil_div(P, rows);
  // Chunk 0 writes df itself; the others write partials [chunks - 1][taps, CM], added afterwards in order.
  T* partials = chunks > 1 ? scratch<T, 4>((chunks - 1) * total) : nullptr;
  par(chunks, threads_for(2.0 * P * c.cout * taps, 1 << 20), [&](int64_t t) {
    int64_t* idx = scratch<int64_t, 8>(2 * taps);
    T* out = t == 0 ? df : partials + (t - 1) * total;
    depthwise_filter_chunk(c, x, dy, t * rows, imin(P, (t + 1) * rows), out, idx);
  });
  for (int64_t t = 0; t < chunks - 1; t++) {
    const T* p = partials + t * total;
    for (int64_t i = 0; i < total; i++) df[i] += p[i];
  }
}

void depthwise_conv2d(DType dtype, const ConvArgs& c, const void* x, const void* f, void* out) {
  if (dtype == F32)
    depthwise_conv2d_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(f), static_cast<float*>(out));
  else
    depthwise_conv2d_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(f),
                               static_cast<double*>(out));
}

void depthwise_backprop_input(DType dtype, const ConvArgs& c, const void* dy, const void* f, void* dx) {
  if (dtype == F32)
    depthwise_backprop_input_t<float>(c, static_cast<const float*>(dy), static_cast<const float*>(f),
                                      static_cast<float*>(dx));
  else
    depthwise_backprop_input_t<double>(c, static_cast<const double*>(dy), static_cast<const double*>(f),
                                       static_cast<double*>(dx));
}

void depthwise_backprop_filter(DType dtype, const ConvArgs& c, const void* x, const void* dy, void* df) {
  if (dtype == F32)
    depthwise_backprop_filter_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(dy),
                                       static_cast<float*>(df));
  else
    depthwise_backprop_filter_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(dy),
                                        static_cast<double*>(df));
}
