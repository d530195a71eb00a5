// GEMM: packed, register- and cache-blocked, threaded over bands of C's rows (over column panels when C has one
// block of rows); k is summed in blocks of KC, in order, so results do not depend on the thread count.
// Included by impl.h (inside the per-ISA namespace).
#pragma once

// ============================================================================================ GEMM

/** Tile and block sizes. MR x NR is the register tile; KC the depth of one packed block (fixed per ISA,
 *  so it alone sets the summation order). Per thread, an MC x KC block of A (256 KiB in float) stays in L2
 *  while the macro-kernel takes B's KC x NR micro-panels in turn, each against every MR-row panel of A.
 *  Tuned on the 2-core Zen 5 VMs (48 KiB L1d, 1 MiB L2 per core, no cache shared by the two cores): a KC x NC
 *  block of B of 1024 columns re-packs A half as often as 512 did (+4% on one thread at 1024 and 2048);
 *  KC = 256, MR = 12 or 14 and software prefetch of the A and B streams measured no better. */
template <class T>
struct Blocking {
  static constexpr int W = Vec<T>::W;
#if defined(CANDOR_ISA_AVX512)
  static constexpr int MR = 8, NRV = 2;
#elif defined(CANDOR_ISA_AVX2)
  static constexpr int MR = 6, NRV = 2;
#else
  static constexpr int MR = 4, NRV = 4;
#endif
  static constexpr int NR = NRV * W;
  static constexpr int64_t KC = sizeof(T) == 4 ? 512 : 256;
  static constexpr int64_t MC = MR * 16;
  static constexpr int64_t NC = NR * (W == 1 ? 64 : 32);
};

/** C tile (mv x nv valid of MR x NR) = (or +=) packed A panel [kc][MR] x B panel [kc][NR] whose rows
 *  are ldb apart (NR when packed; B's own row stride when read in place). */
template <class T>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t ldb, T* c, int64_t ldc,
                  bool accumulate, int64_t mv, int64_t nv) {
  using V = Vec<T>;
  using B = Blocking<T>;
  constexpr int MR = B::MR, NRV = B::NRV, W = B::W, NR = B::NR;
  typename V::R acc[MR][NRV];
  // A C tile to add to is read only after the k loop: fetching it now hides its misses behind kc steps of FMAs
  // (a tile only written is not fetched: +1-3% on one thread against fetching it too).
  if (accumulate)
    for (int64_t i = 0; i < mv; i++) {
      __builtin_prefetch(c + i * ldc, 1);
      if (NR * sizeof(T) > 64) __builtin_prefetch(c + i * ldc + NR - 1, 1);
    }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NRV; j++) acc[i][j] = V::zero();
  for (int64_t k = 0; k < kc; k++) {
    typename V::R bv[NRV];
#pragma GCC unroll 4
    for (int j = 0; j < NRV; j++) bv[j] = V::load(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      typename V::R av = V::set1(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NRV; j++) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
    a += MR;
    b += ldb;
  }
  if (mv == MR && nv == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int j = 0; j < NRV; j++) {
        T* p = c + i * ldc + j * W;
        V::store(p, accumulate ? V::add(V::load(p), acc[i][j]) : acc[i][j]);
      }
    return;
  }
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NRV; j++) V::store(tile + i * NR + j * W, acc[i][j]);
  for (int64_t i = 0; i < mv; i++)
    for (int64_t j = 0; j < nv; j++) {
      T* p = c + i * ldc + j;
      *p = accumulate ? *p + tile[i * NR + j] : tile[i * NR + j];
    }
}

/** Element (i, k) of a matrix stored with row stride rs and column stride cs (one of them 1). */
template <class T>
struct Strided {
  const T* p;
  int64_t rs, cs;
};

/** Packs rows [i0, i0+mc) x cols [k0, k0+kc) of A into MR-row panels laid out [panel][kc][MR], zero-padded. */
template <class T>
void pack_a(Strided<T> a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t p = 0; p < mc; p += MR, dst += kc * MR) {
    int64_t rows = imin(MR, mc - p);
    const T* src = a.p + (i0 + p) * a.rs + k0 * a.cs;
    if (a.cs == 1) {
      // Rows [0, tr) of a full panel go by 8 x 8 block transposes for k < k8; the rest one element at a time.
      int64_t tr = 0, k8 = 0;
#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
      if constexpr (sizeof(T) == 4 && MR >= 8)
        if (rows == MR) {
          tr = MR / 8 * 8, k8 = kc / 8 * 8;
          for (int64_t r = 0; r < tr; r += 8)
            for (int64_t k = 0; k < k8; k += 8) transpose8x8(src + r * a.rs + k, a.rs, dst + k * MR + r, MR);
        }
#endif
      for (int64_t r = 0; r < rows; r++) {
        const T* s = src + r * a.rs;
        for (int64_t kk = r < tr ? k8 : 0; kk < kc; kk++) dst[kk * MR + r] = s[kk];
      }
    } else if (rows == MR) {
      // A transposed (its columns contiguous): each k's MR values are one contiguous run.
      for (int64_t k = 0; k < kc; k++)
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) dst[k * MR + r] = src[k * a.cs + r];
    } else {
      for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < rows; r++) dst[k * MR + r] = src[k * a.cs + r];
    }
    for (int64_t r = rows; r < MR; r++)
      for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = 0;
  }
}

/** Packs the NR-column panels [q0, q1) of B's rows [k0, k0+kc) x cols [j0, j0+nc) into [panel][kc][NR]. */
template <class T>
void pack_b(Strided<T> b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t q0, int64_t q1, T* dst) {
  constexpr int NR = Blocking<T>::NR;
  for (int64_t q = q0; q < q1; q++) {
    T* d = dst + q * kc * NR;
    int64_t cols = imin(NR, nc - q * NR);
    const T* src = b.p + k0 * b.rs + (j0 + q * NR) * b.cs;
    if (b.cs == 1) {
      for (int64_t k = 0; k < kc; k++) {
        const T* s = src + k * b.rs;
        for (int64_t j = 0; j < cols; j++) d[k * NR + j] = s[j];
        for (int64_t j = cols; j < NR; j++) d[k * NR + j] = 0;
      }
    } else {
      int64_t k = 0;
#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
      // A transposed float B (rows of K contiguous): 8 x 8 block transposes.
      if constexpr (sizeof(T) == 4 && NR % 8 == 0)
        if (cols == NR)
          for (; k + 8 <= kc; k += 8)
            for (int64_t j = 0; j < NR; j += 8) transpose8x8(src + j * b.cs + k, b.cs, d + k * NR + j, NR);
#endif
      for (int64_t j = 0; j < cols; j++) {
        const T* s = src + j * b.cs;
        for (int64_t kk = k; kk < kc; kk++) d[kk * NR + j] = s[kk];
      }
      for (int64_t j = cols; j < NR; j++)
        for (int64_t kk = 0; kk < kc; kk++) d[kk * NR + j] = 0;
    }
  }
}

/** Where the NR-column panels of the current KC x NC block of B are: packed ([panel][kc][NR]), or read
 *  in place from a row-major B (panel q at p + q * NR, rows ld apart) with only a partial last panel
 *  packed, so that no read goes past B's last column. */
template <class T>
struct BPanels {
  const T* p;
  int64_t panelStride, ld;
  const T* packed;  // the packed buffer: every panel when p == packed, else only `tail`
  int64_t tail, kc;
  const T* at(int64_t q) const { return q == tail ? packed + q * kc * Blocking<T>::NR : p + q * panelStride; }
  int64_t ldOf(int64_t q) const { return q == tail ? Blocking<T>::NR : ld; }
};

/** The column panels [q0, q1) of C's rows [i0, i0+mc) against a packed A block. */
template <class T>
void macro_kernel(const T* ap, const BPanels<T>& bp, T* c, int64_t ldc, int64_t i0, int64_t mc, int64_t j0, int64_t nc,
                  int64_t kc, int64_t q0, int64_t q1, bool accumulate) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  // B's micro-panel (kc x NR) stays in L1 while the A micro-panels stream past it from L2: A is the
  // operand read 4x less per FMA (one broadcast per MR rows against NR / W vector loads of B).
  for (int64_t q = q0; q < q1; q++) {
    int64_t jr = q * NR;
    for (int64_t ir = 0; ir < mc; ir += MR)
      micro_kernel<T>(kc, ap + ir * kc, bp.at(q), bp.ldOf(q), c + (i0 + ir) * ldc + j0 + jr, ldc, accumulate,
                      imin(MR, mc - ir), imin(NR, nc - jr));
  }
}

/**
 * C = op(A) op(B) when A has one block of rows (M <= MC; the MLP's 32 x 784 x 128 and its gradients):
 * A is packed once for every k block, then one parallel pass in which each task owns a group of
 * column panels and sums every k block for it in order (one wake-up per product instead of two per
 * k block). Each B panel meets A once, so packing it would cost about as much as using it: a
 * row-major B is read in place, only a partial last panel packed.
 */
template <class T>
void gemm_few_rows(Strided<T> a, Strided<T> b, T* c, int64_t M, int64_t N, int64_t K, int threads, int64_t kcStep) {
  using Bk = Blocking<T>;
  constexpr int64_t NC = Bk::NC;
  constexpr int NR = Bk::NR, MR = Bk::MR;
  const int64_t mPadded = ceil_div(M, MR) * MR, kBlocks = ceil_div(K, kcStep);
  T* aAll = scratch<T, 5>(mPadded * kBlocks * kcStep);
  for (int64_t kb = 0; kb < kBlocks; kb++)
    pack_a<T>(a, 0, M, kb * kcStep, imin(kcStep, K - kb * kcStep), aAll + kb * mPadded * kcStep);
  T* bp = scratch<T, 0>(Bk::KC * NC);
  const bool inPlace = b.cs == 1;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = imin(NC, N - jc), panels = ceil_div(nc, NR);
    const int64_t perGroup = ceil_div(panels, imin(panels, 2 * threads)), groups = ceil_div(panels, perGroup);
    const int64_t tail = inPlace && nc % NR ? panels - 1 : -1;
    par(groups, threads, [&](int64_t g) {
      const int64_t q0 = g * perGroup, q1 = imin(panels, q0 + perGroup);
      for (int64_t kb = 0, pc = 0; pc < K; kb++, pc += kcStep) {
        const int64_t kc = imin(kcStep, K - pc);
        // Each task packs only its own panels, into their own places in bp: no two tasks share bytes.
        BPanels<T> panelsOfB{bp, kc * NR, NR, bp, -1, kc};
        if (inPlace) {
          panelsOfB = BPanels<T>{b.p + pc * b.rs + jc, NR, b.rs, bp, tail, kc};
          if (tail >= q0 && tail < q1) pack_b<T>(b, pc, kc, jc, nc, tail, tail + 1, bp);
        } else {
          pack_b<T>(b, pc, kc, jc, nc, q0, q1, bp);
        }
        macro_kernel<T>(aAll + kb * mPadded * kcStep, panelsOfB, c, N, 0, M, jc, nc, kc, q0, q1, pc > 0);
      }
    });
  }
}

/** C's rows [i0, i1) = op(A) op(B) on the calling thread alone, blocked for its own caches: a KC x NC block of B
 *  packed once per (jc, pc), an MC x KC block of A once per (jc, pc, ic); k summed in the blocks of kcStep. */
template <class T>
void gemm_rows(Strided<T> a, Strided<T> b, T* c, int64_t i0, int64_t i1, int64_t N, int64_t K, int64_t kcStep) {
  using Bk = Blocking<T>;
  constexpr int64_t MC = Bk::MC, NC = Bk::NC;
  constexpr int NR = Bk::NR;
  T* bp = scratch<T, 0>(Bk::KC * NC);
  T* ap = scratch<T, 1>(MC * Bk::KC);
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = imin(NC, N - jc), panels = ceil_div(nc, NR);
    for (int64_t pc = 0; pc < K; pc += kcStep) {
      const int64_t kc = imin(kcStep, K - pc);
      pack_b<T>(b, pc, kc, jc, nc, 0, panels, bp);
      const BPanels<T> panelsOfB{bp, kc * NR, NR, bp, -1, kc};
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = imin(MC, i1 - ic);
        pack_a<T>(a, ic, mc, pc, kc, ap);
        macro_kernel<T>(ap, panelsOfB, c, N, ic, mc, jc, nc, kc, 0, panels, pc > 0);
      }
    }
  }
}

/** One C = op(A) op(B) on up to `threads` threads. The cores of the machines this is tuned on share no cache, so
 *  the threads share no packed block either: C's rows are cut into one band per task (a multiple of MR rows) and
 *  each task packs its own B and A, with no barrier until the end. Every task sums k in the same blocks of
 *  kcStep (a function of K alone), so the thread count never changes a bit. */
template <class T>
void gemm_one(Strided<T> a, Strided<T> b, T* c, int64_t M, int64_t N, int64_t K, int threads) {
  using Bk = Blocking<T>;
  constexpr int64_t KC = Bk::KC, MC = Bk::MC;
  constexpr int MR = Bk::MR;
  if (K == 0) {
    for (int64_t i = 0; i < M * N; i++) c[i] = 0;
    return;
  }
  // K in equal blocks of at most KC (784 = 2 x 392, not 384 + 384 + 16); a function of K alone.
  const int64_t kcStep = ceil_div(K, ceil_div(K, KC));
  if (M <= MC) return gemm_few_rows<T>(a, b, c, M, N, K, threads, kcStep);
  const int64_t microRows = ceil_div(M, MR);
  const int64_t bands = threads <= 1 ? 1 : imin(microRows, int64_t(threads));
  const int64_t bandRows = ceil_div(microRows, bands) * MR;
  par(ceil_div(M, bandRows), threads, [&](int64_t t) {
    gemm_rows<T>(a, b, c, t * bandRows, imin(M, (t + 1) * bandRows), N, K, kcStep);
  });
}

/**
 * C = op(A) B for a row-major B narrower than a register tile (a classifier's 10 outputs; its weight gradient x^T dy):
 * rows of C are summed over k in order, RB rows at once so that their FMA chains overlap, with B read in place as
 * whole vectors. Packing B into NR-wide panels would cost more than such a product (the MNIST CNN's 1600 x 10 dense
 * layer packed 1600 x 32 floats on every call, even at batch 1). Each row is one task's, so threads change no bit.
 */
template <class T>
void gemm_narrow(Strided<T> a, const T* b, T* c, int64_t M, int64_t N, int64_t K, int threads) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int RB = 4, W = V::W, NV = Blocking<T>::NRV;
  constexpr int64_t NR = Blocking<T>::NR;
  // Whole vectors of row k run NR - N elements into the next rows (lanes that are never stored); the last rows,
  // where they would run past B's end, are copied into a zero-padded row first.
  const int64_t direct = K - ceil_div(NR, N);
  par(ceil_div(M, RB), threads, [&](int64_t block) {
    const int64_t i0 = block * RB, rows = imin(RB, M - i0);
    R acc[RB][NV];
    for (int r = 0; r < RB; r++)
      for (int v = 0; v < NV; v++) acc[r][v] = V::zero();
    alignas(64) T row[NR] = {};
    for (int64_t k = 0; k < K; k++) {
      const T* bk = b + k * N;
      if (k >= direct) {
        for (int64_t j = 0; j < N; j++) row[j] = bk[j];
        bk = row;
      }
      R bv[NV];
      for (int v = 0; v < NV; v++) bv[v] = V::load(bk + v * W);
      for (int r = 0; r < RB; r++) {
        const R av = V::set1(r < rows ? a.p[(i0 + r) * a.rs + k * a.cs] : T(0));
        for (int v = 0; v < NV; v++) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
      }
    }
    alignas(64) T out[NR];
    for (int64_t r = 0; r < rows; r++) {
      for (int v = 0; v < NV; v++) V::store(out + v * W, acc[r][v]);
      for (int64_t j = 0; j < N; j++) c[(i0 + r) * N + j] = out[j];
    }
  });
}

template <class T>
void gemm_t(const GemmArgs& g) {
  const T* A = static_cast<const T*>(g.a);
  const T* B = static_cast<const T*>(g.b);
  T* C = static_cast<T*>(g.c);
  const int64_t M = g.M, N = g.N, K = g.K;
  // An empty product writes nothing; K = 0 gives zeros (the blocked paths assume every extent is positive).
  if (g.batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(C, C + g.batch * M * N, T(0));
    return;
  }
  auto at = [&](int64_t t) { return Strided<T>{A + t * M * K, g.transA ? 1 : K, g.transA ? M : 1}; };
  auto bt = [&](int64_t t) { return Strided<T>{B + t * K * N, g.transB ? 1 : N, g.transB ? K : 1}; };
  double flops = 2.0 * M * N * K;
  if (!g.transB && N < Blocking<T>::NR) {
    const int threads = threads_for(flops * g.batch, 1 << 24);
    for (int64_t t = 0; t < g.batch; t++) gemm_narrow<T>(at(t), B + t * K * N, C + t * M * N, M, N, K, threads);
    return;
  }
  // A second thread pays for itself from about 16 MFLOP: below that, handing A's packed panel and C's rows across
  // cores (on the 2-core Zen 4 VMs, cores that share no cache) costs more than the work it takes over. The MLP's
  // 32 x 784 x 128 (6.4 MFLOP) took 44 us on one thread and 65 us on two inside a training step; 256^3 gained
  // nothing from the second thread (53.6 vs 51.6 GFLOP/s), 512^3 nearly doubled (59 vs 101).
  int threads = threads_for(flops * g.batch, 1 << 24);
  if (g.batch > 1 && threads > 1 && flops < (1 << 23)) {
    // Many small products: one whole product per task.
    par(g.batch, threads, [&](int64_t t) { gemm_one<T>(at(t), bt(t), C + t * M * N, M, N, K, 1); });
    return;
  }
  threads = threads_for(flops, 1 << 24);
  for (int64_t t = 0; t < g.batch; t++) gemm_one<T>(at(t), bt(t), C + t * M * N, M, N, K, threads);
}

void gemm(DType dtype, const GemmArgs& g) {
  if (dtype == F32)
    gemm_t<float>(g);
  else
    gemm_t<double>(g);
}
