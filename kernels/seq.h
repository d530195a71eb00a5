// Sequence-model kernels (included by impl.h, so compiled once per instruction set): the LSTM and GRU
// cell steps and their backward passes (one pass over the gates per batch row), and scaled dot-product
// attention with Keras' masked softmax, forward and backward, in blocks of query rows of one head.
//
// Attention holds at most kRowBlock x S scores per thread (the composite materialises [B, H, T, S]
// several times over); the products are the GEMM's (single-threaded per task), the softmax is
// softmax_row's; the backward recomputes each block's probabilities from q and k, as flash attention
// does. Determinism: a batch row (cells), a (batch, head, row block) (attention forward) or a whole
// (batch, head) pair (attention backward, whose dk and dv sum over row blocks in order) is one task,
// with a fixed order of operations, so results do not depend on the thread count.
//
// Included inside impl.h's per-ISA anonymous namespace, after the helpers it uses (GEMM, softmax_row).
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
template <class F>
void over_rows(int64_t rows, double perRow, F&& body) {
  par(rows, threads_for(double(rows) * perRow, 4 * kChunk), [&](int64_t r) { body(r); });
}

// ---------------------------------------------------------------------------------------------- LSTM

/** The gates i, f, g, o [4u] of one row (Keras order) and the next cell state cn [u]. */
template <class T>
void lstm_gates(int64_t u, const T* xw, const T* hu, const T* c, T* z, T* cn) {
  for (int64_t j = 0; j < 4 * u; j++) z[j] = xw[j] + hu[j];
  squash(true, z, 2 * u);
  squash(false, z + 2 * u, u);
  squash(true, z + 3 * u, u);
  const T *i = z, *f = z + u, *g = z + 2 * u;
  for (int64_t j = 0; j < u; j++) cn[j] = f[j] * c[j] + i[j] * g[j];
}

/** hOut, cOut [b, u] = next h, next c. */
template <class T>
void lstm_cell_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* c, T* hOut, T* cOut) {
  over_rows(b, 16.0 * u, [&](int64_t r) {
    T* z = scratch<T, 3>(4 * u);
    T* h = hOut + r * u;
    T* cn = cOut + r * u;
    lstm_gates(u, xw + r * 4 * u, hu + r * 4 * u, c + r * u, z, cn);
    for (int64_t j = 0; j < u; j++) h[j] = cn[j];
    squash(false, h, u);
    const T* o = z + 3 * u;
    for (int64_t j = 0; j < u; j++) h[j] = o[j] * h[j];
  });
}

/** dzOut [b, 4u] and dcOut [b, u] for the next states' gradients dhs, dcs [b, u]. */
template <class T>
void lstm_cell_grad_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* c, const T* dhs, const T* dcs, T* dzOut,
                      T* dcOut) {
  over_rows(b, 40.0 * u, [&](int64_t r) {
    T* z = scratch<T, 3>(5 * u);
    T* tc = z + 4 * u;
    const T* cr = c + r * u;
    lstm_gates(u, xw + r * 4 * u, hu + r * 4 * u, cr, z, tc);
    squash(false, tc, u);
    const T *i = z, *f = z + u, *g = z + 2 * u, *o = z + 3 * u;
    const T* dh = dhs + r * u;
    const T* dc = dcs + r * u;
    T* dz = dzOut + r * 4 * u;
    T* dcPrev = dcOut + r * u;
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
template <class T>
void gru_gates(int64_t u, const T* xw, const T* hu, const T* bias, T* zr, T* hh, T* ih) {
  for (int64_t j = 0; j < 2 * u; j++) zr[j] = xw[j] + (bias ? hu[j] + bias[j] : hu[j]);
  squash(true, zr, 2 * u);
  for (int64_t j = 0; j < u; j++) ih[j] = bias ? hu[2 * u + j] + bias[2 * u + j] : hu[2 * u + j];
  const T* r = zr + u;
  for (int64_t j = 0; j < u; j++) hh[j] = xw[2 * u + j] + r[j] * ih[j];
  squash(false, hh, u);
}

/** out [b, u] = hh + z (h - hh). */
template <class T>
void gru_cell_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* h, const T* bias, T* out) {
  over_rows(b, 14.0 * u, [&](int64_t r) {
    T* zr = scratch<T, 3>(4 * u);
    T *hh = zr + 2 * u, *ih = zr + 3 * u;
    gru_gates(u, xw + r * 3 * u, hu + r * 3 * u, bias, zr, hh, ih);
    const T* hr = h + r * u;
    T* o = out + r * u;
    for (int64_t j = 0; j < u; j++) o[j] = hh[j] + zr[j] * (hr[j] - hh[j]);
  });
}

/** dxwOut [b, 3u], dhuOut [b, 3u], dhOut [b, u] for dy [b, u]. */
template <class T>
void gru_cell_grad_t(int64_t b, int64_t u, const T* xw, const T* hu, const T* h, const T* dy, const T* bias, T* dxwOut,
                     T* dhuOut, T* dhOut) {
  over_rows(b, 30.0 * u, [&](int64_t r) {
    T* zr = scratch<T, 3>(4 * u);
    T *hh = zr + 2 * u, *ih = zr + 3 * u;
    gru_gates(u, xw + r * 3 * u, hu + r * 3 * u, bias, zr, hh, ih);
    const T *z = zr, *rg = zr + u, *hr = h + r * u, *g = dy + r * u;
    T* dxw = dxwOut + r * 3 * u;
    T* dhu = dhuOut + r * 3 * u;
    T* dh = dhOut + r * u;
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

/** Query rows per block: the scores held at once are kRowBlock x S per thread. */
constexpr int64_t kRowBlock = 128;

/** One (batch, head) pair's view of q, k, v (rows H * d apart) and its block of query rows. */
template <class T>
struct Head {
  const AttnArgs& a;
  int64_t bi, hd;
  const T* q(int64_t i) const { return qBase + ((bi * a.t + i) * a.h + hd) * a.dk; }
  Strided<T> k() const { return {kBase + bi * a.s * a.h * a.dk + hd * a.dk, a.h * a.dk, 1}; }
  Strided<T> v() const { return {vBase + bi * a.s * a.h * a.dv + hd * a.dv, a.h * a.dv, 1}; }
  const T *qBase, *kBase, *vBase;
};

/** Keys a row block needs: all S, or with causality those up to offset + its last row. */
inline int64_t keys_for(const AttnArgs& a, int64_t i0, int64_t rows) {
  return a.causal ? imin(a.s, a.offset + i0 + rows) : a.s;
}

/**
 * The probabilities p [rows, n] of query rows i0 .. i0 + rows (row stride n) of one head, and the scaled
 * queries qs [rows, dk]: scores = qs k^T by the GEMM, plus an additive mask (of T) or with the keys a bool
 * mask (uint8) or causality excludes set to -inf, then each row's softmax (excluded keys get exactly 0,
 * as the composite's exp underflow and mask product give; a row with no key allowed is all zeros, as
 * the composite's is).
 */
template <class T>
void probabilities(const Head<T>& hd, const void* mask, int64_t i0, int64_t rows, int64_t n, T* qs, T* p) {
  const AttnArgs& a = hd.a;
  const T scale = T(a.scale);
  for (int64_t r = 0; r < rows; r++) {
    const T* src = hd.q(i0 + r);
    for (int64_t d = 0; d < a.dk; d++) qs[r * a.dk + d] = src[d] * scale;
  }
  // scores = qs [rows, dk] x k^T [dk, n] (k's row j is key j).
  Strided<T> kt = hd.k();
  gemm_one<T>(Strided<T>{qs, a.dk, 1}, Strided<T>{kt.p, 1, kt.rs}, p, rows, n, a.dk, 1);
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = i0 + r;
    T* row = p + r * n;
    const int64_t at = hd.bi * a.maskB + i * a.maskT;
    const uint8_t* m = mask && !a.additive ? static_cast<const uint8_t*>(mask) + at : nullptr;
    const T* add = mask && a.additive ? static_cast<const T*>(mask) + at : nullptr;
    const int64_t last = a.causal ? imin(n, a.offset + i + 1) : n;
    bool any = false;
    for (int64_t j = 0; j < n; j++) {
      if (j >= last || (m && !m[j])) {
        row[j] = -INFINITY;
        continue;
      }
      if (add) row[j] += add[j];
      any = true;
    }
    if (!any) {
      for (int64_t j = 0; j < n; j++) row[j] = 0;
      continue;
    }
    softmax_row(false, row, row, n);
  }
}

/** Copies rows x cols of dense src into dst rows ldd apart (or adds them). */
template <class T>
void put_rows(const T* src, int64_t rows, int64_t cols, T* dst, int64_t ldd, bool add) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++)
      dst[r * ldd + j] = add ? dst[r * ldd + j] + src[r * cols + j] : src[r * cols + j];
}

/** out [b, t, h, dv]: one task per (batch, head, block of query rows). */
template <class T>
void attention_t(const AttnArgs& a, const T* q, const T* k, const T* v, const void* mask, T* out) {
  const int64_t blocks = ceil_div(a.t, kRowBlock);
  const int threads = threads_for(2.0 * a.b * a.h * a.t * a.s * (a.dk + a.dv), 1 << 20);
  par(a.b * a.h * blocks, threads, [&](int64_t task) {
    const Head<T> hd{a, task / (a.h * blocks), (task / blocks) % a.h, q, k, v};
    const int64_t i0 = (task % blocks) * kRowBlock, rows = imin(kRowBlock, a.t - i0), n = keys_for(a, i0, rows);
    T* qs = scratch<T, 3>(rows * (a.dk + n + a.dv));
    T* p = qs + rows * a.dk;
    T* o = p + rows * n;
    probabilities(hd, mask, i0, rows, n, qs, p);
    gemm_one<T>(Strided<T>{p, n, 1}, hd.v(), o, rows, a.dv, n, 1);
    put_rows(o, rows, a.dv, out + ((hd.bi * a.t + i0) * a.h + hd.hd) * a.dv, a.h * a.dv, false);
  });
}

/**
 * dq [b, t, h, dk], dk [b, s, h, dk], dv [b, s, h, dv] for dy [b, t, h, dv]: one task per
 * (batch, head), which owns that head's dk and dv and adds its row blocks' parts in order. Per block the
 * probabilities P are recomputed, dP = dy v^T, dS = P (dP - rowsum(P dP)), dq = scale dS k,
 * dk += dS^T qs, dv += P^T dy.
 */
template <class T>
void attention_grad_t(const AttnArgs& a, const T* q, const T* k, const T* v, const T* dy, const void* mask, T* dq,
                      T* dk, T* dv) {
  const int64_t ks = a.h * a.dk, vs = a.h * a.dv;
  const int threads = threads_for(4.0 * a.b * a.h * a.t * a.s * (a.dk + a.dv), 1 << 20);
  par(a.b * a.h, threads, [&](int64_t task) {
    const Head<T> hd{a, task / a.h, task % a.h, q, k, v};
    T* dkb = dk + hd.bi * a.s * ks + hd.hd * a.dk;
    T* dvb = dv + hd.bi * a.s * vs + hd.hd * a.dv;
    for (int64_t j = 0; j < a.s; j++) {
      for (int64_t d = 0; d < a.dk; d++) dkb[j * ks + d] = 0;
      for (int64_t d = 0; d < a.dv; d++) dvb[j * vs + d] = 0;
    }
    const int64_t maxRows = imin(kRowBlock, a.t), dmax = a.dk > a.dv ? a.dk : a.dv;
    T* qs = scratch<T, 3>(maxRows * (a.dk + 2 * a.s) + (a.s + maxRows) * dmax);
    for (int64_t i0 = 0; i0 < a.t; i0 += kRowBlock) {
      const int64_t rows = imin(kRowBlock, a.t - i0), n = keys_for(a, i0, rows);
      T* p = qs + rows * a.dk;
      T* ds = p + rows * n;
      T* tmp = ds + rows * n;
      probabilities(hd, mask, i0, rows, n, qs, p);
      const T* g = dy + ((hd.bi * a.t + i0) * a.h + hd.hd) * a.dv;
      // dP = dy [rows, dv] x v^T [dv, n].
      Strided<T> vv = hd.v();
      gemm_one<T>(Strided<T>{g, vs, 1}, Strided<T>{vv.p, 1, vv.rs}, ds, rows, n, a.dv, 1);
      for (int64_t r = 0; r < rows; r++) {
        T* pr = p + r * n;
        T* dr = ds + r * n;
        double rowDot = 0;
        for (int64_t j = 0; j < n; j++) rowDot += double(dr[j] * pr[j]);
        const T D = T(rowDot);
        for (int64_t j = 0; j < n; j++) dr[j] = pr[j] * (dr[j] - D);
      }
      // dq = (dS [rows, n] x k [n, dk]) * scale.
      gemm_one<T>(Strided<T>{ds, n, 1}, hd.k(), tmp, rows, a.dk, n, 1);
      const T scale = T(a.scale);
      for (int64_t r = 0; r < rows; r++) {
        T* dst = dq + ((hd.bi * a.t + i0 + r) * a.h + hd.hd) * a.dk;
        for (int64_t d = 0; d < a.dk; d++) dst[d] = tmp[r * a.dk + d] * scale;
      }
      // dk[:n] += dS^T [n, rows] x qs [rows, dk]; dv[:n] += P^T [n, rows] x dy [rows, dv].
      gemm_one<T>(Strided<T>{ds, 1, n}, Strided<T>{qs, a.dk, 1}, tmp, n, a.dk, rows, 1);
      put_rows(tmp, n, a.dk, dkb, ks, true);
      gemm_one<T>(Strided<T>{p, 1, n}, Strided<T>{g, vs, 1}, tmp, n, a.dv, rows, 1);
      put_rows(tmp, n, a.dv, dvb, vs, true);
    }
  });
}

void lstm_cell(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* c,
               const void* dh, const void* dc, void* const* outs) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    auto o = [&](int i) { return static_cast<float*>(outs[i]); };
    if (grad)
      lstm_cell_grad_t<float>(b, u, f(xw), f(hu), f(c), f(dh), f(dc), o(0), o(1));
    else
      lstm_cell_t<float>(b, u, f(xw), f(hu), f(c), o(0), o(1));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    auto o = [&](int i) { return static_cast<double*>(outs[i]); };
    if (grad)
      lstm_cell_grad_t<double>(b, u, f(xw), f(hu), f(c), f(dh), f(dc), o(0), o(1));
    else
      lstm_cell_t<double>(b, u, f(xw), f(hu), f(c), o(0), o(1));
  }
}

void gru_cell(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* h,
              const void* dy, const void* bias, void* const* outs) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    auto o = [&](int i) { return static_cast<float*>(outs[i]); };
    if (grad)
      gru_cell_grad_t<float>(b, u, f(xw), f(hu), f(h), f(dy), f(bias), o(0), o(1), o(2));
    else
      gru_cell_t<float>(b, u, f(xw), f(hu), f(h), f(bias), o(0));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    auto o = [&](int i) { return static_cast<double*>(outs[i]); };
    if (grad)
      gru_cell_grad_t<double>(b, u, f(xw), f(hu), f(h), f(dy), f(bias), o(0), o(1), o(2));
    else
      gru_cell_t<double>(b, u, f(xw), f(hu), f(h), f(bias), o(0));
  }
}

void attention(DType dtype, const AttnArgs& a, const void* q, const void* k, const void* v, const void* dy,
               const void* mask, void* const* outs) {
  if (dtype == F32) {
    auto f = [](const void* p) { return static_cast<const float*>(p); };
    auto o = [&](int i) { return static_cast<float*>(outs[i]); };
    if (dy)
      attention_grad_t<float>(a, f(q), f(k), f(v), f(dy), mask, o(0), o(1), o(2));
    else
      attention_t<float>(a, f(q), f(k), f(v), mask, o(0));
  } else {
    auto f = [](const void* p) { return static_cast<const double*>(p); };
    auto o = [&](int i) { return static_cast<double*>(outs[i]); };
    if (dy)
      attention_grad_t<double>(a, f(q), f(k), f(v), f(dy), mask, o(0), o(1), o(2));
    else
      attention_t<double>(a, f(q), f(k), f(v), mask, o(0));
  }
}
