// Sequence-model kernels (included by impl.h, so compiled once per instruction set): the LSTM and GRU
// cell steps and their backward passes (one pass over the gates per batch row), and scaled dot-product
// attention with Keras' masked softmax, forward and backward, one query row at a time.
//
// Attention never holds more than one row of S scores per thread (the composite materialises
// [B, H, T, S] several times over); the backward recomputes each row's probabilities from q and k,
// as flash attention does. Determinism: a batch row (cells) or a query row (attention forward) or a
// whole (batch, head) pair (attention backward, whose dk and dv sum over query rows) is one task, with
// a fixed order of operations, so results do not depend on the thread count.
// Included inside impl.h's per-ISA anonymous namespace, after the helpers it uses.
#pragma once

// ------------------------------------------------------------------------------ lane-wise helpers

/** In place over a contiguous run: sigmoid (sig) or tanh; float lanes vectorised, the tail padded. */
inline void squash(bool sig, float* p, int64_t n) {
  using V = Vec<float>;
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(p + i, sig ? vsigmoid(V::load(p + i)) : vtanh(V::load(p + i)));
  if (i < n) {
    alignas(64) float t[V::W] = {};
    for (int64_t j = i; j < n; j++) t[j - i] = p[j];
    V::store(t, sig ? vsigmoid(V::load(t)) : vtanh(V::load(t)));
    for (int64_t j = i; j < n; j++) p[j] = t[j - i];
  }
}

/** The double version computes as the reference (two-branch sigmoid, libm tanh). */
inline void squash(bool sig, double* p, int64_t n) {
  for (int64_t i = 0; i < n; i++) p[i] = sig ? sigmoid_ref(p[i]) : std::tanh(p[i]);
}

/** Rows of a batch as tasks, threaded when there is enough work (`perRow` elementwise operations). */
template <class F> void over_rows(int64_t rows, double perRow, F&& body) {
  par(rows, threads_for(double(rows) * perRow, 4 * kChunk), [&](int64_t r) { body(r); });
}

// ---------------------------------------------------------------------------------------------- LSTM

/** The gates i, f, g, o [4u] of one row (Keras order) and the next cell state cn [u]. */
template <class T> void lstm_gates(int64_t u, const T* xw, const T* hu, const T* c, T* z, T* cn) {
  for (int64_t j = 0; j < 4 * u; j++) z[j] = xw[j] + hu[j];
  squash(true, z, 2 * u);
  squash(false, z + 2 * u, u);
  squash(true, z + 3 * u, u);
  const T *i = z, *f = z + u, *g = z + 2 * u;
  for (int64_t j = 0; j < u; j++) cn[j] = f[j] * c[j] + i[j] * g[j];
}

/** out [2, b, u] = next h, next c. */
template <class T> void lstm_cell_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* c, T* out) {
  over_rows(b, 16.0 * u, [&](int64_t r) {
    T* z = scratch<T, 3>(4 * u);
    T* h = out + r * u;
    T* cn = out + (b + r) * u;
    lstm_gates(u, xw + r * 4 * u, hu + r * 4 * u, c + r * u, z, cn);
    for (int64_t j = 0; j < u; j++) h[j] = cn[j];
    squash(false, h, u);
    const T* o = z + 3 * u;
    for (int64_t j = 0; j < u; j++) h[j] = o[j] * h[j];
  });
}

/** out (flat) = dz [b, 4u] then dc [b, u], for the next states' gradients dhs, dcs [b, u]. */
template <class T> void lstm_cell_grad_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* c, const T* dhs, const T* dcs, T* out) {
  over_rows(b, 40.0 * u, [&](int64_t r) {
    T* z = scratch<T, 3>(5 * u);
    T* tc = z + 4 * u;
    const T* cr = c + r * u;
    lstm_gates(u, xw + r * 4 * u, hu + r * 4 * u, cr, z, tc);
    squash(false, tc, u);
    const T *i = z, *f = z + u, *g = z + 2 * u, *o = z + 3 * u;
    const T* dh = dhs + r * u;
    const T* dc = dcs + r * u;
    T* dz = out + r * 4 * u;
    T* dcPrev = out + b * 4 * u + r * u;
    for (int64_t j = 0; j < u; j++) {
      T dct = dc[j] + (dh[j] * o[j]) * (T(1) - tc[j] * tc[j]);
      dz[j] = (dct * g[j]) * (i[j] * (T(1) - i[j]));
      dz[u + j] = (dct * cr[j]) * (f[j] * (T(1) - f[j]));
      dz[2 * u + j] = (dct * i[j]) * (T(1) - g[j] * g[j]);
      dz[3 * u + j] = (dh[j] * tc[j]) * (o[j] * (T(1) - o[j]));
      dcPrev[j] = dct * f[j];
    }
  });
}

// ----------------------------------------------------------------------------------------------- GRU

/** z | r [2u] into zr, candidate hh [u], and the recurrent candidate term ih [u] of one row. */
template <class T> void gru_gates(int64_t u, const T* xw, const T* hu, const T* bias, T* zr, T* hh, T* ih) {
  for (int64_t j = 0; j < 2 * u; j++) zr[j] = xw[j] + (bias ? hu[j] + bias[j] : hu[j]);
  squash(true, zr, 2 * u);
  for (int64_t j = 0; j < u; j++) ih[j] = bias ? hu[2 * u + j] + bias[2 * u + j] : hu[2 * u + j];
  const T* r = zr + u;
  for (int64_t j = 0; j < u; j++) hh[j] = xw[2 * u + j] + r[j] * ih[j];
  squash(false, hh, u);
}

/** out [b, u] = hh + z (h - hh). */
template <class T> void gru_cell_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* h, const T* bias, T* out) {
  over_rows(b, 14.0 * u, [&](int64_t r) {
    T* zr = scratch<T, 3>(4 * u);
    T *hh = zr + 2 * u, *ih = zr + 3 * u;
    gru_gates(u, xw + r * 3 * u, hu + r * 3 * u, bias, zr, hh, ih);
    const T* hr = h + r * u;
    T* o = out + r * u;
    for (int64_t j = 0; j < u; j++) o[j] = hh[j] + zr[j] * (hr[j] - hh[j]);
  });
}

/** out (flat) = dxw [b, 3u], dhu [b, 3u], dh [b, u] for dy [b, u]. */
template <class T> void gru_cell_grad_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* h, const T* dy, const T* bias, T* out) {
  over_rows(b, 30.0 * u, [&](int64_t r) {
    T* zr = scratch<T, 3>(4 * u);
    T *hh = zr + 2 * u, *ih = zr + 3 * u;
    gru_gates(u, xw + r * 3 * u, hu + r * 3 * u, bias, zr, hh, ih);
    const T *z = zr, *rg = zr + u, *hr = h + r * u, *g = dy + r * u;
    T* dxw = out + r * 3 * u;
    T* dhu = out + b * 3 * u + r * 3 * u;
    T* dh = out + b * 6 * u + r * u;
    for (int64_t j = 0; j < u; j++) {
      T dzz = (g[j] * (hr[j] - hh[j])) * (z[j] * (T(1) - z[j]));
      T da = (g[j] * (T(1) - z[j])) * (T(1) - hh[j] * hh[j]);
      T dzr = (da * ih[j]) * (rg[j] * (T(1) - rg[j]));
      dxw[j] = dhu[j] = dzz;
      dxw[u + j] = dhu[u + j] = dzr;
      dxw[2 * u + j] = da;
      dhu[2 * u + j] = da * rg[j];
      dh[j] = g[j] * z[j];
    }
  });
}

// ----------------------------------------------------------------------------------------- attention

/** sum_d a[d] b[d]: float in W lanes combined in a fixed order, double in order (as the reference). */
inline float dot(const float* a, const float* b, int64_t n) {
  using V = Vec<float>;
  int64_t i = 0;
  float s = 0;
  if (n >= V::W) {
    V::R acc = V::zero();
    for (; i + V::W <= n; i += V::W) acc = V::fma(V::load(a + i), V::load(b + i), acc);
    s = V::sum(acc);
  }
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
inline double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/** y[d] += a x[d]. */
template <class T> inline void axpy(T a, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/**
 * The probabilities p [s] of query row i of (batch bi, head hd), from the scaled query qs [dk]. Masked
 * keys get exactly 0 (as the composite's exp underflow and mask product give). Returns false when the
 * whole row is masked (the composite's probabilities are then all zero).
 */
template <class T> bool attention_row(const AttnArgs& a, const T* k, const uint8_t* mask, int64_t bi, int64_t hd, int64_t i, const T* qs, T* p) {
  const int64_t ks = a.h * a.dk;
  const T* kb = k + bi * a.s * ks + hd * a.dk;
  const uint8_t* m = mask ? mask + bi * a.maskB + i * a.maskT : nullptr;
  const int64_t last = a.causal ? imin(a.s, a.offset + i + 1) : a.s;
  T mx = -INFINITY;
  bool any = false;
  for (int64_t j = 0; j < a.s; j++) {
    if (j >= last || (m && !m[j])) {
      p[j] = -INFINITY;
      continue;
    }
    p[j] = dot(qs, kb + j * ks, a.dk);
    // NaN wins, so a NaN logit poisons the row as it does the reference's softmax.
    if (!(p[j] <= mx)) mx = p[j];
    any = true;
  }
  if (!any) {
    for (int64_t j = 0; j < a.s; j++) p[j] = 0;
    return false;
  }
  double sum = 0;
  for (int64_t j = 0; j < a.s; j++) {
    p[j] = p[j] == -INFINITY ? T(0) : T(std::exp(double(p[j] - mx)));
    sum += double(p[j]);
  }
  if constexpr (sizeof(T) == 4) {
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < a.s; j++) p[j] *= inv;
  } else {
    for (int64_t j = 0; j < a.s; j++) p[j] /= sum;
  }
  return true;
}

/** The query row scaled as the composite scales it (q * scale, rounded to T). */
template <class T> void scaled_query(const AttnArgs& a, const T* q, int64_t bi, int64_t i, int64_t hd, T* qs) {
  const T* src = q + ((bi * a.t + i) * a.h + hd) * a.dk;
  const T scale = T(a.scale);
  for (int64_t d = 0; d < a.dk; d++) qs[d] = src[d] * scale;
}

/** out [b, t, h, dv]: one task per query row. */
template <class T> void attention_t(const AttnArgs& a, const T* q, const T* k, const T* v, const uint8_t* mask, T* out) {
  const int64_t rows = a.b * a.h * a.t;
  const int threads = threads_for(2.0 * rows * a.s * (a.dk + a.dv), 1 << 20);
  const int64_t vs = a.h * a.dv;
  par(rows, threads, [&](int64_t task) {
    const int64_t bi = task / (a.h * a.t), hd = (task / a.t) % a.h, i = task % a.t;
    T* qs = scratch<T, 3>(a.dk + a.s);
    T* p = qs + a.dk;
    scaled_query(a, q, bi, i, hd, qs);
    T* o = out + ((bi * a.t + i) * a.h + hd) * a.dv;
    for (int64_t d = 0; d < a.dv; d++) o[d] = 0;
    if (!attention_row(a, k, mask, bi, hd, i, qs, p)) return;
    const T* vb = v + bi * a.s * vs + hd * a.dv;
    for (int64_t j = 0; j < a.s; j++)
      if (p[j] != 0) axpy(p[j], vb + j * vs, o, a.dv);
  });
}

/**
 * out (flat) = dq [b, t, h, dk], dk [b, s, h, dk], dv [b, s, h, dv] for dy [b, t, h, dv]: one task per
 * (batch, head), its query rows in order. dS = P (dP - rowsum(P dP)), dP = dy v^T.
 */
template <class T> void attention_grad_t(const AttnArgs& a, const T* q, const T* k, const T* v, const T* dy, const uint8_t* mask, T* out) {
  const int64_t ks = a.h * a.dk, vs = a.h * a.dv;
  T* dq = out;
  T* dk = out + a.b * a.t * ks;
  T* dv = dk + a.b * a.s * ks;
  const int threads = threads_for(4.0 * a.b * a.h * a.t * a.s * (a.dk + a.dv), 1 << 20);
  par(a.b * a.h, threads, [&](int64_t task) {
    const int64_t bi = task / a.h, hd = task % a.h;
    T* qs = scratch<T, 3>(a.dk + 2 * a.s);
    T* p = qs + a.dk;
    T* ds = p + a.s;
    const T* kb = k + bi * a.s * ks + hd * a.dk;
    const T* vb = v + bi * a.s * vs + hd * a.dv;
    T* dkb = dk + bi * a.s * ks + hd * a.dk;
    T* dvb = dv + bi * a.s * vs + hd * a.dv;
    for (int64_t j = 0; j < a.s; j++) {
      for (int64_t d = 0; d < a.dk; d++) dkb[j * ks + d] = 0;
      for (int64_t d = 0; d < a.dv; d++) dvb[j * vs + d] = 0;
    }
    for (int64_t i = 0; i < a.t; i++) {
      T* dqi = dq + ((bi * a.t + i) * a.h + hd) * a.dk;
      for (int64_t d = 0; d < a.dk; d++) dqi[d] = 0;
      scaled_query(a, q, bi, i, hd, qs);
      if (!attention_row(a, k, mask, bi, hd, i, qs, p)) continue;
      const T* g = dy + ((bi * a.t + i) * a.h + hd) * a.dv;
      double rowDot = 0;
      for (int64_t j = 0; j < a.s; j++) {
        ds[j] = p[j] != 0 ? dot(g, vb + j * vs, a.dv) : T(0);
        rowDot += double(ds[j] * p[j]);
      }
      const T D = T(rowDot);
      for (int64_t j = 0; j < a.s; j++) {
        if (p[j] == 0) continue;
        const T dsj = p[j] * (ds[j] - D);
        axpy(dsj, kb + j * ks, dqi, a.dk);
        axpy(dsj, qs, dkb + j * ks, a.dk);
        axpy(p[j], g, dvb + j * vs, a.dv);
      }
      const T scale = T(a.scale);
      for (int64_t d = 0; d < a.dk; d++) dqi[d] *= scale;
    }
  });
}

void lstm_cell(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* c, const void* dh, const void* dc, void* out) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    if (grad) lstm_cell_grad_t<float>(b, u, f(xw), f(hu), f(c), f(dh), f(dc), static_cast<float*>(out));
    else lstm_cell_t<float>(b, u, f(xw), f(hu), f(c), static_cast<float*>(out));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    if (grad) lstm_cell_grad_t<double>(b, u, f(xw), f(hu), f(c), f(dh), f(dc), static_cast<double*>(out));
    else lstm_cell_t<double>(b, u, f(xw), f(hu), f(c), static_cast<double*>(out));
  }
}

void gru_cell(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* h, const void* dy, const void* bias, void* out) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    if (grad) gru_cell_grad_t<float>(b, u, f(xw), f(hu), f(h), f(dy), f(bias), static_cast<float*>(out));
    else gru_cell_t<float>(b, u, f(xw), f(hu), f(h), f(bias), static_cast<float*>(out));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    if (grad) gru_cell_grad_t<double>(b, u, f(xw), f(hu), f(h), f(dy), f(bias), static_cast<double*>(out));
    else gru_cell_t<double>(b, u, f(xw), f(hu), f(h), f(bias), static_cast<double*>(out));
  }
}

void attention(DType dtype, const AttnArgs& a, const void* q, const void* k, const void* v, const void* dy, const uint8_t* mask, void* out) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    if (dy) attention_grad_t<float>(a, f(q), f(k), f(v), f(dy), mask, static_cast<float*>(out));
    else attention_t<float>(a, f(q), f(k), f(v), mask, static_cast<float*>(out));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    if (dy) attention_grad_t<double>(a, f(q), f(k), f(v), f(dy), mask, static_cast<double*>(out));
    else attention_t<double>(a, f(q), f(k), f(v), mask, static_cast<double*>(out));
  }
}
