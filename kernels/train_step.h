// Fused kernels of the training step: bias + activation and its gradient, sparse softmax cross-entropy
// and its gradient, and the optimizer updates (Adam/AdamW, SGD with momentum) over every parameter in
// one call. Each follows its composite in src/ops/families/train-step.ts operation by operation, so results
// agree to rounding. Included by impl.h (inside the per-ISA namespace).
#pragma once

/** act(z + bias): z [rows, C], bias [C]. Sigmoid and tanh reuse the vector unary kernels in place. */
template <class T>
void bias_activation_t(Activation act, const T* z, const T* bias, T* out, int64_t rows, int64_t C) {
  int threads = threads_for(double(rows) * C, 4 * kChunk);
  int64_t rowsPer = imin(rows, imax(1, kChunk / imax(C, 1)));
  par(ceil_div(rows, rowsPer), threads, [&](int64_t task) {
    int64_t r1 = imin(rows, (task + 1) * rowsPer);
    for (int64_t r = task * rowsPer; r < r1; r++) {
      const T* zr = z + r * C;
      T* o = out + r * C;
      if (act == act_relu)
        for (int64_t c = 0; c < C; c++) {
          T v = zr[c] + bias[c];
          o[c] = v < 0 ? T(0) : v;
        }
      else
        for (int64_t c = 0; c < C; c++) o[c] = zr[c] + bias[c];
    }
  });
  if (act == act_sigmoid || act == act_tanh)
    unary(act == act_sigmoid ? op_sigmoid : op_tanh, sizeof(T) == 4 ? F32 : F64, out, out, rows * C);
}

void bias_activation(DType dtype, Activation act, const void* z, const void* bias, void* out, int64_t rows, int64_t C) {
  if (dtype == F32)
    bias_activation_t<float>(act, static_cast<const float*>(z), static_cast<const float*>(bias),
                             static_cast<float*>(out), rows, C);
  else
    bias_activation_t<double>(act, static_cast<const double*>(z), static_cast<const double*>(bias),
                              static_cast<double*>(out), rows, C);
}

/** dz = dy * act'(y), written from the activation's output y (relu: y > 0, sigmoid: y(1 - y), tanh: 1 - y^2). */
template <class T>
void activation_grad_t(Activation act, const T* dy, const T* y, T* dz, int64_t n) {
  chunked(n, [&](int64_t b, int64_t e) {
    switch (act) {
      case act_relu:
        for (int64_t i = b; i < e; i++) dz[i] = dy[i] * (y[i] > 0 ? T(1) : T(0));
        break;
      case act_sigmoid:
        for (int64_t i = b; i < e; i++) dz[i] = dy[i] * (y[i] * (T(1) - y[i]));
        break;
      case act_tanh:
        for (int64_t i = b; i < e; i++) dz[i] = dy[i] * (T(1) - y[i] * y[i]);
        break;
      default:
        for (int64_t i = b; i < e; i++) dz[i] = dy[i];
    }
  });
}

void activation_grad(DType dtype, Activation act, const void* dy, const void* y, void* dz, int64_t n) {
  if (dtype == F32)
    activation_grad_t<float>(act, static_cast<const float*>(dy), static_cast<const float*>(y), static_cast<float*>(dz),
                             n);
  else
    activation_grad_t<double>(act, static_cast<const double*>(dy), static_cast<const double*>(y),
                              static_cast<double*>(dz), n);
}

/** Per row r of logits [rows, C]: loss[r] = logsumexp(row) - row[label[r]] (log-softmax as softmax_row
 *  computes it), or with dy: dlogits[r] = (softmax(row) - onehot(label[r])) * dy[r]. Labels are checked
 *  by the caller. */
template <class T>
void sparse_softmax_ce_t(const T* logits, const int32_t* labels, const T* dy, T* out, int64_t rows, int64_t C) {
  int threads = threads_for(double(rows) * C, 2 * kChunk);
  par(rows, threads, [&](int64_t r) {
    const T* x = logits + r * C;
    if (dy) {
      T* o = out + r * C;
      softmax_row(false, x, o, C);
      o[labels[r]] -= T(1);
      for (int64_t c = 0; c < C; c++) o[c] *= dy[r];
    } else {
      T* logp = scratch<T, 2>(C);
      softmax_row(true, x, logp, C);
      out[r] = -logp[labels[r]];
    }
  });
}

void sparse_softmax_ce(DType dtype, const void* logits, const int32_t* labels, const void* dy, void* out, int64_t rows,
                       int64_t C) {
  if (dtype == F32)
    sparse_softmax_ce_t<float>(static_cast<const float*>(logits), labels, static_cast<const float*>(dy),
                               static_cast<float*>(out), rows, C);
  else
    sparse_softmax_ce_t<double>(static_cast<const double*>(logits), labels, static_cast<const double*>(dy),
                                static_cast<double*>(out), rows, C);
}

/** Adam over n elements; restrict-qualified and branch-free so the loop vectorizes (7 streams). */
template <class T, bool kDecay>
void adam_run(int64_t n, const T* __restrict p, const T* __restrict g, const T* __restrict m, const T* __restrict v,
              T* __restrict pOut, T* __restrict mOut, T* __restrict vOut, T c1, T c2, T alpha, T eps, T negLr,
              T decay) {
  for (int64_t k = 0; k < n; k++) {
    T mk = m[k] + (g[k] - m[k]) * c1;
    T vk = v[k] + (g[k] * g[k] - v[k]) * c2;
    T u = ((mk * alpha) / (std::sqrt(vk) + eps)) * negLr;
    if (kDecay) u = u + p[k] * decay;
    pOut[k] = p[k] + u;
    mOut[k] = mk;
    vOut[k] = vk;
  }
}

/** SGD over n elements: u = -lr g, then momentum (Nesterov), decay; writes p' and the velocity. */
template <class T, bool kMomentum, bool kNesterov, bool kDecay>
void sgd_run(int64_t n, const T* __restrict p, const T* __restrict g, const T* __restrict velocity, T* __restrict pOut,
             T* __restrict vOut, T mu, T negLr, T decay) {
  for (int64_t k = 0; k < n; k++) {
    T u = g[k] * negLr;
    if (kMomentum) {
      T t = velocity[k] * mu + u;
      vOut[k] = t;
      u = kNesterov ? t * mu + u : t;
    }
    if (kDecay) u = u + p[k] * decay;
    pOut[k] = p[k] + u;
  }
}

/** One optimizer update of elements [b, e) of tensor i; constants are rounded to T as the composite's
 *  scalar operands are. Writes p', then the state: Adam m', v'; SGD with momentum the velocity. */
template <class T>
void optimizer_chunk(const OptimizerStep& s, int64_t i, int64_t b, int64_t e, T* pOut, T* s1Out, T* s2Out) {
  const T* p = static_cast<const T*>(s.params[i]) + b;
  const T* g = static_cast<const T*>(s.grads[i]) + b;
  const T negLr = T(-s.lr), decay = T(-s.lr * s.weightDecay);
  const int64_t n = e - b;
  pOut += b, s1Out += b, s2Out += b;
  if (s.kind == opt_adam) {
    const T* m = static_cast<const T*>(s.slots1[i]) + b;
    const T* v = static_cast<const T*>(s.slots2[i]) + b;
    const T c1 = T(1 - s.beta1), c2 = T(1 - s.beta2), alpha = T(s.alpha), eps = T(s.epsilon);
    if (s.weightDecay != 0)
      adam_run<T, true>(n, p, g, m, v, pOut, s1Out, s2Out, c1, c2, alpha, eps, negLr, decay);
    else
      adam_run<T, false>(n, p, g, m, v, pOut, s1Out, s2Out, c1, c2, alpha, eps, negLr, decay);
    return;
  }
  const T* velocity = s.momentum != 0 ? static_cast<const T*>(s.slots1[i]) + b : nullptr;
  const T mu = T(s.momentum);
  const bool decays = s.weightDecay != 0;
  if (!velocity) {
    if (decays)
      sgd_run<T, false, false, true>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
    else
      sgd_run<T, false, false, false>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
  } else if (s.nesterov) {
    if (decays)
      sgd_run<T, true, true, true>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
    else
      sgd_run<T, true, true, false>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
  } else {
    if (decays)
      sgd_run<T, true, false, true>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
    else
      sgd_run<T, true, false, false>(n, p, g, velocity, pOut, s1Out, mu, negLr, decay);
  }
}

/** Every tensor in kChunk pieces (tasks never span tensors); outs = [p'..., slots1'..., slots2'...]. */
template <class T>
void optimizer_step_t(const OptimizerStep& s) {
  int64_t total = 0, tasks = 0;
  for (int64_t i = 0; i < s.count; i++) total += s.sizes[i], tasks += ceil_div(s.sizes[i], kChunk);
  int64_t* taskTensor = scratch<int64_t, 3>(2 * tasks + 1);
  for (int64_t i = 0, t = 0; i < s.count; i++) {
    for (int64_t b = 0; b < s.sizes[i]; b += kChunk, t++) taskTensor[2 * t] = i, taskTensor[2 * t + 1] = b;
  }
  // The update streams 7 arrays once and is bound by memory, not arithmetic: on the 2-core Zen 4 VMs a second
  // thread made it slower up to about 2M parameters (Adam over 0.1M: 37 us on one thread, 54 us on two; 1.6M:
  // 767 vs 975 us), faster only beyond (6.4M: 7.5 vs 3.5 ms). Results do not depend on the thread count.
  int threads = threads_for(double(total), double(int64_t(1) << 21));
  const int slots = s.kind == opt_adam ? 2 : s.momentum != 0 ? 1 : 0;
  par(tasks, threads, [&](int64_t t) {
    int64_t i = taskTensor[2 * t], b = taskTensor[2 * t + 1], e = imin(s.sizes[i], b + kChunk);
    T* pOut = static_cast<T*>(s.outs[i]);
    // A slot the kind has none of is never written: point it at pOut rather than at nothing.
    T* s1Out = slots >= 1 ? static_cast<T*>(s.outs[s.count + i]) : pOut;
    T* s2Out = slots >= 2 ? static_cast<T*>(s.outs[2 * s.count + i]) : pOut;
    optimizer_chunk<T>(s, i, b, e, pOut, s1Out, s2Out);
  });
}

void optimizer_step(DType dtype, const OptimizerStep& s) {
  if (dtype == F32)
    optimizer_step_t<float>(s);
  else
    optimizer_step_t<double>(s);
}

/** philox_block16 with explicit 256-bit vectors where the instruction set has them (AVX2, and the
 *  AVX-512 build for float64): each lane's high and low halves of the 32 x 32-bit products come from two
 *  even-lane multiplies (vpmuludq) blended by lane. */
inline void philox16(uint32_t w[4][kPhiloxLanes], uint32_t k0, uint32_t k1) {
#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
  const __m256i m0 = _mm256_set1_epi32(int(0xd2511f53u)), m1 = _mm256_set1_epi32(int(0xcd9e8d57u));
  auto mulhi = [](__m256i a, __m256i b) {
    const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a, b), 32);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
    return _mm256_blend_epi32(even, odd, 0xAA);
  };
  auto at = [&](int word, int half) { return reinterpret_cast<__m256i*>(w[word] + half); };
  for (int half = 0; half < kPhiloxLanes; half += 8) {
    __m256i c0 = _mm256_load_si256(at(0, half)), c1 = _mm256_load_si256(at(1, half)),
            c2 = _mm256_load_si256(at(2, half)), c3 = _mm256_load_si256(at(3, half));
    uint32_t a = k0, b = k1;
    for (int round = 0; round < 10; round++) {
      const __m256i hi0 = mulhi(m0, c0), lo0 = _mm256_mullo_epi32(m0, c0), hi1 = mulhi(m1, c2),
                    lo1 = _mm256_mullo_epi32(m1, c2);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(a)));
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(b)));
      c1 = lo1;
      c3 = lo0;
      a += 0x9e3779b9u;
      b += 0xbb67ae85u;
    }
    _mm256_store_si256(at(0, half), c0), _mm256_store_si256(at(1, half), c1), _mm256_store_si256(at(2, half), c2),
        _mm256_store_si256(at(3, half), c3);
  }
#else
  philox_block16(w, k0, k1);
#endif
}

#if defined(CANDOR_ISA_AVX512)
/** Float dropout over the whole 64-element groups of [b, e) on AVX-512: four 16-lane Philox blocks in
 *  flight (the rounds are latency-bound), counters and the keep test in vector integers. Returns where
 *  it stopped; the rest goes through the generic lanes. Bit-identical to them. */
inline int64_t dropout_f32_avx512(const float* x, float* out, int64_t b, int64_t e, uint64_t counter, uint32_t k0,
                                  uint32_t k1, uint64_t threshold, float scale) {
  constexpr int G = 4, L = 16;
  const __m512i m0 = _mm512_set1_epi32(int(0xd2511f53u)), m1 = _mm512_set1_epi32(int(0xcd9e8d57u));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i thr = _mm512_set1_epi64(int64_t(threshold));
  const __m512 s = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
  auto mulhi = [](__m512i a, __m512i c) {
    const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a, c), 32);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(c, 32));
    return _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, odd);
  };
  int64_t i = b;
  for (; i + G * L <= e; i += G * L) {
    __m512i c0[G], c1[G], c2[G], c3[G];
    for (int g = 0; g < G; g++) {
      const uint64_t first = counter + uint64_t(i + g * L);
      const __m512i lo = _mm512_set1_epi32(int(uint32_t(first))), hi = _mm512_set1_epi32(int(uint32_t(first >> 32)));
      c0[g] = _mm512_add_epi32(lo, iota);
      // A lane whose low word wrapped past 2^32 carries one into the high word.
      c1[g] = _mm512_mask_add_epi32(hi, _mm512_cmplt_epu32_mask(c0[g], lo), hi, _mm512_set1_epi32(1));
      c2[g] = c3[g] = _mm512_setzero_si512();
    }
    uint32_t a = k0, bb = k1;
    for (int round = 0; round < 10; round++) {
      const __m512i ka = _mm512_set1_epi32(int(a)), kb = _mm512_set1_epi32(int(bb));
      for (int g = 0; g < G; g++) {
        const __m512i hi0 = mulhi(m0, c0[g]), lo0 = _mm512_mullo_epi32(m0, c0[g]), hi1 = mulhi(m1, c2[g]),
                      lo1 = _mm512_mullo_epi32(m1, c2[g]);
        c0[g] = _mm512_ternarylogic_epi32(hi1, c1[g], ka, 0x96);
        c2[g] = _mm512_ternarylogic_epi32(hi0, c3[g], kb, 0x96);
        c1[g] = lo1;
        c3[g] = lo0;
      }
      a += 0x9e3779b9u;
      bb += 0xbb67ae85u;
    }
    for (int g = 0; g < G; g++) {
      // v = (w0 >> 5) << 26 | (w1 >> 6) in 64-bit lanes, eight at a time.
      const __m512i w0 = _mm512_srli_epi32(c0[g], 5), w1 = _mm512_srli_epi32(c1[g], 6);
      const __m512i vLo = _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(w0)), 26),
                                          _mm512_cvtepu32_epi64(_mm512_castsi512_si256(w1)));
      const __m512i vHi =
          _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(w0, 1)), 26),
                          _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(w1, 1)));
      const __mmask16 keep = __mmask16(_mm512_cmplt_epu64_mask(vLo, thr) | (_mm512_cmplt_epu64_mask(vHi, thr) << 8));
      const int64_t at = i + g * L;
      _mm512_storeu_ps(out + at, _mm512_mul_ps(_mm512_loadu_ps(x + at), _mm512_mask_blend_ps(keep, zero, s)));
    }
  }
  return i;
}
#endif

/** out[i] = x[i] * (keep_i ? scale : 0), keep_i = uniform53(Philox(counter + i, attempt 0; seed)) < keepProb:
 *  the reference's bernoulli draw, bit for bit, so both backends drop the same elements. */
template <class T>
void dropout_t(const T* x, T* out, int64_t n, uint64_t seed, uint64_t counter, double keepProb, double scale) {
  const uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  const T s = T(scale);
  // u = v / 2^53 with v = (w0 >> 5) 2^26 + (w1 >> 6) an integer below 2^53, so u < keepProb exactly when
  // v < ceil(keepProb 2^53): the reference's double comparison, done on integers.
  const uint64_t threshold = uint64_t(std::ceil(keepProb * 9007199254740992.0));
  chunked(n, [&](int64_t b, int64_t e) {
#if defined(CANDOR_ISA_AVX512)
    if constexpr (sizeof(T) == 4) b = dropout_f32_avx512(x, out, b, e, counter, k0, k1, threshold, s);
#endif
    constexpr int L = kPhiloxLanes;
    alignas(64) uint32_t w[4][L];
    alignas(64) T mask[L];
    for (int64_t i = b; i < e; i += L) {
      const int64_t m = imin(L, e - i);
      const uint64_t first = counter + uint64_t(i);
      for (int j = 0; j < L; j++) {
        const uint64_t ci = first + uint64_t(j);
        w[0][j] = uint32_t(ci), w[1][j] = uint32_t(ci >> 32), w[2][j] = 0, w[3][j] = 0;
      }
      philox16(w, k0, k1);
      for (int j = 0; j < L; j++) mask[j] = ((uint64_t(w[0][j] >> 5) << 26) | (w[1][j] >> 6)) < threshold ? s : T(0);
      for (int64_t j = 0; j < m; j++) out[i + j] = x[i + j] * mask[j];
    }
  });
}

void dropout(DType dtype, const void* x, void* out, int64_t n, uint64_t seed, uint64_t counter, double keepProb,
             double scale) {
  if (dtype == F32)
    dropout_t<float>(static_cast<const float*>(x), static_cast<float*>(out), n, seed, counter, keepProb, scale);
  else
    dropout_t<double>(static_cast<const double*>(x), static_cast<double*>(out), n, seed, counter, keepProb, scale);
}

/** Mean and 1 / sqrt(var + eps) of a row, two passes in double (var = mean((x - mean)^2), as the composite). */
template <class T>
inline void row_moments(const T* x, int64_t C, double eps, double* mean, double* rstd) {
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += double(x[c]);
  const double m = s / double(C);
  double v = 0;
  for (int64_t c = 0; c < C; c++) v += (double(x[c]) - m) * (double(x[c]) - m);
  *mean = m;
  *rstd = 1 / std::sqrt(v / double(C) + eps);
}

/** y = (x - mean) * rstd * gamma + beta per row of x [rows, C]. */
template <class T>
void layer_norm_t(const T* x, const T* gamma, const T* beta, T* y, int64_t rows, int64_t C, double eps) {
  int threads = threads_for(double(rows) * C, 2 * kChunk);
  par(rows, threads, [&](int64_t r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    double m, rstd;
    row_moments(xr, C, eps, &m, &rstd);
    const T mt = T(m), rt = T(rstd);
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mt) * rt * gamma[c] + beta[c];
  });
}

/** dx [rows, C] and dgamma [C]: dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, per row; dgamma[c] =
 *  sum over rows of dy xhat, accumulated in double in row order (columns split across tasks). */
template <class T>
void layer_norm_grad_t(const T* x, const T* gamma, const T* dy, T* dxOut, T* dgamma, int64_t rows, int64_t C,
                       double eps) {
  double* stats = scratch<double, 6>(2 * rows);
  int threads = threads_for(double(rows) * C, 2 * kChunk);
  par(rows, threads, [&](int64_t r) {
    const T* xr = x + r * C;
    const T* dr = dy + r * C;
    double m, rstd;
    row_moments(xr, C, eps, &m, &rstd);
    stats[2 * r] = m, stats[2 * r + 1] = rstd;
    double sg = 0, sgx = 0;
    for (int64_t c = 0; c < C; c++) {
      const double g = double(dr[c]) * double(gamma[c]), xhat = (double(xr[c]) - m) * rstd;
      sg += g, sgx += g * xhat;
    }
    const double mg = sg / double(C), mgx = sgx / double(C);
    T* dx = dxOut + r * C;
    for (int64_t c = 0; c < C; c++) {
      const double g = double(dr[c]) * double(gamma[c]), xhat = (double(xr[c]) - m) * rstd;
      dx[c] = T(rstd * (g - mg - xhat * mgx));
    }
  });
  constexpr int64_t BLK = 256;
  par(ceil_div(C, BLK), threads_for(double(rows) * C, 4 * kChunk), [&](int64_t b) {
    const int64_t c0 = b * BLK, c1 = imin(C, c0 + BLK);
    double acc[BLK] = {};
    for (int64_t r = 0; r < rows; r++) {
      const T* xr = x + r * C;
      const T* dr = dy + r * C;
      const double m = stats[2 * r], rstd = stats[2 * r + 1];
      for (int64_t c = c0; c < c1; c++) acc[c - c0] += double(dr[c]) * ((double(xr[c]) - m) * rstd);
    }
    for (int64_t c = c0; c < c1; c++) dgamma[c] = T(acc[c - c0]);
  });
}

void layer_norm(DType dtype, const void* x, const void* gamma, const void* beta, void* y, int64_t rows, int64_t C,
                double eps) {
  if (dtype == F32)
    layer_norm_t<float>(static_cast<const float*>(x), static_cast<const float*>(gamma), static_cast<const float*>(beta),
                        static_cast<float*>(y), rows, C, eps);
  else
    layer_norm_t<double>(static_cast<const double*>(x), static_cast<const double*>(gamma),
                         static_cast<const double*>(beta), static_cast<double*>(y), rows, C, eps);
}

void layer_norm_grad(DType dtype, const void* x, const void* gamma, const void* dy, void* dx, void* dgamma,
                     int64_t rows, int64_t C, double eps) {
  if (dtype == F32)
    layer_norm_grad_t<float>(static_cast<const float*>(x), static_cast<const float*>(gamma),
                             static_cast<const float*>(dy), static_cast<float*>(dx), static_cast<float*>(dgamma), rows,
                             C, eps);
  else
    layer_norm_grad_t<double>(static_cast<const double*>(x), static_cast<const double*>(gamma),
                              static_cast<const double*>(dy), static_cast<double*>(dx), static_cast<double*>(dgamma),
                              rows, C, eps);
}
