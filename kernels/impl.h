// The kernels, written once against simd.h's Vec<T> and compiled once per instruction set: GEMM
// (packed, register- and cache-blocked, threaded over output tiles), elementwise ops, reductions over
// [outer, red, inner], softmax, and conv2d / its input gradient as im2col / col2im around the GEMM.
//
// Determinism: every output element is computed by one task with an order of operations fixed by the
// shapes alone (GEMM: k in blocks of KC, in order; elementwise: fixed-size chunks; reductions: one
// task per output element), so results are bit-identical whatever the thread count.
// Included by isa_*.cc after defining CANDOR_ISA_NS (and CANDOR_ISA_AVX512 / CANDOR_ISA_AVX2).
#pragma once
#include "common.h"
#include "simd.h"
#include "scalar_math.h"
#include "philox.h"

namespace candor {
namespace CANDOR_ISA_NS {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** A per-thread scratch buffer that only grows; slot separates buffers that are live at once. */
template <class T, int slot> T* scratch(int64_t elements) {
  static thread_local T* buf = nullptr;
  static thread_local int64_t cap = 0;
  if (elements > cap) {
    aligned_free(buf);
    buf = static_cast<T*>(aligned_calloc(elements * sizeof(T)));
    cap = buf ? elements : 0;
  }
  return buf;
}

// ============================================================================================ GEMM

/** Tile and block sizes. MR x NR is the register tile; KC the depth of one packed block (fixed per ISA,
 *  so it alone sets the summation order). The macro-kernel keeps one MR x KC panel of A in L1 while it
 *  streams the KC x NC panel of B from L2 (sizes tuned on Zen 4: 32 KiB L1d, 1 MiB L2). */
template <class T> struct Blocking {
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
  static constexpr int64_t NC = NR * (W == 1 ? 64 : 16);
};

/** C tile (mv x nv valid of MR x NR) = (or +=) packed A panel [kc][MR] x B panel [kc][NR] whose rows
 *  are ldb apart (NR when packed; B's own row stride when read in place). */
template <class T>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t ldb, T* c, int64_t ldc, bool accumulate, int64_t mv, int64_t nv) {
  using V = Vec<T>;
  using B = Blocking<T>;
  constexpr int MR = B::MR, NRV = B::NRV, W = B::W, NR = B::NR;
  typename V::R acc[MR][NRV];
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
template <class T> struct Strided {
  const T* p;
  int64_t rs, cs;
};

/** Packs rows [i0, i0+mc) x cols [k0, k0+kc) of A into MR-row panels laid out [panel][kc][MR], zero-padded. */
template <class T> void pack_a(Strided<T> a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t p = 0; p < mc; p += MR, dst += kc * MR) {
    int64_t rows = imin(MR, mc - p);
    const T* src = a.p + (i0 + p) * a.rs + k0 * a.cs;
    if (a.cs == 1) {
      int64_t k = 0;
#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
      // Full 8-row panels of a row-major float A: 8 x 8 block transposes.
      if constexpr (sizeof(T) == 4 && MR == 8)
        if (rows == MR)
          for (; k + 8 <= kc; k += 8) transpose8x8(src + k, a.rs, dst + k * MR, MR);
#endif
      for (int64_t r = 0; r < rows; r++) {
        const T* s = src + r * a.rs;
        for (int64_t kk = k; kk < kc; kk++) dst[kk * MR + r] = s[kk];
      }
    } else {
      for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < rows; r++) dst[k * MR + r] = src[k * a.cs + r];
    }
    for (int64_t r = rows; r < MR; r++)
      for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = 0;
  }
}

/** Packs the NR-column panels [q0, q1) of B's rows [k0, k0+kc) x cols [j0, j0+nc) into [panel][kc][NR]. */
template <class T> void pack_b(Strided<T> b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int64_t q0, int64_t q1, T* dst) {
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
template <class T> struct BPanels {
  const T* p;
  int64_t panelStride, ld;
  const T* packed;  // the packed buffer: every panel when p == packed, else only `tail`
  int64_t tail, kc;
  const T* at(int64_t q) const { return q == tail ? packed + q * kc * Blocking<T>::NR : p + q * panelStride; }
  int64_t ldOf(int64_t q) const { return q == tail ? Blocking<T>::NR : ld; }
};

/** The column panels [q0, q1) of C's rows [i0, i0+mc) against a packed A block. */
template <class T>
void macro_kernel(const T* ap, const BPanels<T>& bp, T* c, int64_t ldc, int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t kc,
                  int64_t q0, int64_t q1, bool accumulate) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  // B's micro-panel (kc x NR) stays in L1 while the A micro-panels stream past it from L2: A is the
  // operand read 4x less per FMA (one broadcast per MR rows against NR / W vector loads of B).
  for (int64_t q = q0; q < q1; q++) {
    int64_t jr = q * NR;
    for (int64_t ir = 0; ir < mc; ir += MR)
      micro_kernel<T>(kc, ap + ir * kc, bp.at(q), bp.ldOf(q), c + (i0 + ir) * ldc + j0 + jr, ldc, accumulate, imin(MR, mc - ir), imin(NR, nc - jr));
  }
}

/**
 * C = op(A) op(B) when A has one block of rows (M <= MC; the MLP's 32 x 784 x 128 and its gradients):
 * A is packed once for every k block, then one parallel pass in which each task owns a group of
 * column panels and sums every k block for it in order (one wake-up per product instead of two per
 * k block). Each B panel meets A once, so packing it would cost about as much as using it: a
 * row-major B is read in place, only a partial last panel packed.
 */
template <class T> void gemm_few_rows(Strided<T> a, Strided<T> b, T* c, int64_t M, int64_t N, int64_t K, int threads, int64_t kcStep) {
  using Bk = Blocking<T>;
  constexpr int64_t NC = Bk::NC;
  constexpr int NR = Bk::NR, MR = Bk::MR;
  const int64_t mPadded = ceil_div(M, MR) * MR, kBlocks = ceil_div(K, kcStep);
  T* aAll = scratch<T, 5>(mPadded * kBlocks * kcStep);
  for (int64_t kb = 0; kb < kBlocks; kb++) pack_a<T>(a, 0, M, kb * kcStep, imin(kcStep, K - kb * kcStep), aAll + kb * mPadded * kcStep);
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

/** One C = op(A) op(B) on up to `threads` threads. Tasks split C's rows into MC blocks and its columns
 *  into groups of NR panels; every task sums k in the same KC blocks, so the thread count never changes a bit. */
template <class T> void gemm_one(Strided<T> a, Strided<T> b, T* c, int64_t M, int64_t N, int64_t K, int threads) {
  using Bk = Blocking<T>;
  constexpr int64_t KC = Bk::KC, MC = Bk::MC, NC = Bk::NC;
  constexpr int NR = Bk::NR;
  if (K == 0) {
    for (int64_t i = 0; i < M * N; i++) c[i] = 0;
    return;
  }
  T* bp = scratch<T, 0>(KC * NC);
  int64_t mBlocks = ceil_div(M, MC);
  // K in equal blocks of at most KC (784 = 2 x 392, not 384 + 384 + 16); a function of K alone.
  const int64_t kcStep = ceil_div(K, ceil_div(K, KC));
  if (mBlocks == 1) return gemm_few_rows<T>(a, b, c, M, N, K, threads, kcStep);
  for (int64_t jc = 0; jc < N; jc += NC) {
    int64_t nc = imin(NC, N - jc), panels = ceil_div(nc, NR);
    // Column groups: enough tasks to keep every thread busy when C has few row blocks.
    int64_t groups = mBlocks >= 2 * threads ? 1 : imin(panels, ceil_div(2 * threads, mBlocks));
    int64_t perGroup = ceil_div(panels, groups);
    groups = ceil_div(panels, perGroup);
    for (int64_t pc = 0; pc < K; pc += kcStep) {
      int64_t kc = imin(kcStep, K - pc);
      bool accumulate = pc > 0;
      const BPanels<T> panelsOfB{bp, kc * NR, NR, bp, -1, kc};
      // A small block of B is packed by the caller: waking a helper would cost more.
      par(panels, threads_for(double(kc) * nc, 1 << 14), [&](int64_t q) { pack_b<T>(b, pc, kc, jc, nc, q, q + 1, bp); });
      par(mBlocks * groups, threads, [&](int64_t task) {
        int64_t ib = task / groups, g = task % groups;
        int64_t i0 = ib * MC, mc = imin(MC, M - i0);
        T* ap = scratch<T, 1>(MC * KC);
        pack_a<T>(a, i0, mc, pc, kc, ap);
        macro_kernel<T>(ap, panelsOfB, c, N, i0, mc, jc, nc, kc, g * perGroup, imin(panels, (g + 1) * perGroup), accumulate);
      });
    }
  }
}

template <class T> void gemm_t(const GemmArgs& g) {
  const T* A = static_cast<const T*>(g.a);
  const T* B = static_cast<const T*>(g.b);
  T* C = static_cast<T*>(g.c);
  const int64_t M = g.M, N = g.N, K = g.K;
  auto at = [&](int64_t t) { return Strided<T>{A + t * M * K, g.transA ? 1 : K, g.transA ? M : 1}; };
  auto bt = [&](int64_t t) { return Strided<T>{B + t * K * N, g.transB ? 1 : N, g.transB ? K : 1}; };
  double flops = 2.0 * M * N * K;
  int threads = threads_for(flops * g.batch, 1 << 21);
  if (g.batch > 1 && threads > 1 && flops < (1 << 23)) {
    // Many small products: one whole product per task.
    par(g.batch, threads, [&](int64_t t) { gemm_one<T>(at(t), bt(t), C + t * M * N, M, N, K, 1); });
    return;
  }
  threads = threads_for(flops, 1 << 21);
  for (int64_t t = 0; t < g.batch; t++) gemm_one<T>(at(t), bt(t), C + t * M * N, M, N, K, threads);
}

void gemm(DType dtype, const GemmArgs& g) {
  if (dtype == F32) gemm_t<float>(g);
  else gemm_t<double>(g);
}

// ===================================================================================== elementwise

/** Elements per task: a multiple of every vector width, and independent of the thread count. */
constexpr int64_t kChunk = 1 << 14;

/** Runs body(begin, end) over [0, n) in kChunk pieces, threaded when n is large. */
template <class F> void chunked(int64_t n, F&& body) {
  int64_t chunks = ceil_div(n, kChunk);
  int threads = threads_for(static_cast<double>(n), 4 * kChunk);
  if (threads <= 1) {
    body(0, n);
    return;
  }
  par(chunks, threads, [&](int64_t ch) { body(ch * kChunk, imin(n, (ch + 1) * kChunk)); });
}

/** out = f(x) lane-wise; the tail goes through a padded vector so every element sees the same code. */
template <class F> void vmap(const float* x, float* o, int64_t n, F f) {
  using V = Vec<float>;
  chunked(n, [&](int64_t b, int64_t e) {
    int64_t i = b;
    for (; i + V::W <= e; i += V::W) V::store(o + i, f(V::load(x + i)));
    if (i < e) {
      alignas(64) float t[V::W] = {};
      for (int64_t j = i; j < e; j++) t[j - i] = x[j];
      V::store(t, f(V::load(t)));
      for (int64_t j = i; j < e; j++) o[j] = t[j - i];
    }
  });
}

template <class T, class F> void map1(const T* x, T* o, int64_t n, F f) {
  chunked(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) o[i] = f(x[i]);
  });
}

/** Float ops in the precision of T; transcendental ones through double, as the reference computes them. */
template <class T> void unary_t(UnaryOp op, const T* x, T* o, int64_t n) {
  switch (op) {
    case op_neg: return map1(x, o, n, [](T v) { return -v; });
    case op_abs: return map1(x, o, n, [](T v) { return std::fabs(v); });
    case op_sign: return map1(x, o, n, [](T v) { return v > 0 ? T(1) : v < 0 ? T(-1) : v; });
    case op_exp: return map1(x, o, n, [](T v) { return T(std::exp(double(v))); });
    case op_expm1: return map1(x, o, n, [](T v) { return T(std::expm1(double(v))); });
    case op_log: return map1(x, o, n, [](T v) { return T(std::log(double(v))); });
    case op_log1p: return map1(x, o, n, [](T v) { return T(std::log1p(double(v))); });
    case op_sqrt: return map1(x, o, n, [](T v) { return std::sqrt(v); });
    case op_rsqrt: return map1(x, o, n, [](T v) { return T(1 / std::sqrt(double(v))); });
    case op_reciprocal: return map1(x, o, n, [](T v) { return T(1 / double(v)); });
    case op_sin: return map1(x, o, n, [](T v) { return T(std::sin(double(v))); });
    case op_cos: return map1(x, o, n, [](T v) { return T(std::cos(double(v))); });
    case op_tanh: return map1(x, o, n, [](T v) { return T(std::tanh(double(v))); });
    case op_sigmoid: return map1(x, o, n, [](T v) { return T(sigmoid_ref(double(v))); });
    case op_relu: return map1(x, o, n, [](T v) { return v < 0 ? T(0) : v; });  // keeps NaN, as the reference
    case op_erf: return map1(x, o, n, [](T v) { return T(std::erf(double(v))); });
    case op_floor: return map1(x, o, n, [](T v) { return std::floor(v); });
    case op_ceil: return map1(x, o, n, [](T v) { return std::ceil(v); });
    case op_round: return map1(x, o, n, [](T v) { return std::nearbyint(v); });  // half to even
    default: return;
  }
}

void unary(UnaryOp op, DType dtype, const void* x, void* out, int64_t n) {
  if (op == op_logicalNot) {
    return map1(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(out), n, [](uint8_t v) { return uint8_t(v ? 0 : 1); });
  }
  if (dtype == F32) {
    const float* xf = static_cast<const float*>(x);
    float* of = static_cast<float*>(out);
    // The float ops that training leans on get vector code; the rest compute through double.
    switch (op) {
      case op_exp: return vmap(xf, of, n, [](Vec<float>::R v) { return vexp(v); });
      case op_tanh: return vmap(xf, of, n, [](Vec<float>::R v) { return vtanh(v); });
      case op_sigmoid: return vmap(xf, of, n, [](Vec<float>::R v) { return vsigmoid(v); });
      default: return unary_t<float>(op, xf, of, n);
    }
  }
  unary_t<double>(op, static_cast<const double*>(x), static_cast<double*>(out), n);
}

/** z = f(x, y); an operand flagged in `scalars` (bit 0: a, bit 1: b) is one element, repeated. */
template <class T, class R, class F> void map2(const void* a, const void* b, void* o, int64_t n, int scalars, F f) {
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  R* z = static_cast<R*>(o);
  chunked(n, [&](int64_t s, int64_t e) {
    // Separate loops, so each compiles to straight vector code.
    if (scalars == 0) for (int64_t i = s; i < e; i++) z[i] = f(x[i], y[i]);
    else if (scalars == 1) { const T xv = x[0]; for (int64_t i = s; i < e; i++) z[i] = f(xv, y[i]); }
    else if (scalars == 2) { const T yv = y[0]; for (int64_t i = s; i < e; i++) z[i] = f(x[i], yv); }
    else { const R v = f(x[0], y[0]); for (int64_t i = s; i < e; i++) z[i] = v; }
  });
}

/** Arithmetic in T (int32 wraps like the reference's Int32Array stores), comparisons to uint8. */
template <class T> void binary_t(BinaryOp op, const void* a, const void* b, void* o, int64_t n, int scalars) {
  constexpr bool isInt = sizeof(T) == 4 && T(0.5) == 0;
  using U = uint32_t;
  switch (op) {
    case op_add:
      if constexpr (isInt) return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) + U(y)); });
      else return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x + y; });
    case op_sub:
      if constexpr (isInt) return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) - U(y)); });
      else return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x - y; });
    case op_mul:
      if constexpr (isInt) return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) * U(y)); });
      else return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x * y; });
    case op_div:
      if constexpr (isInt) return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(y == 0 ? 0 : to_int32(std::floor(double(x) / double(y)))); });
      else return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x / y; });
    case op_pow:
      if constexpr (isInt) return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(to_int32(js_pow(x, y))); });
      else return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(js_pow(x, y)); });
    // NaN propagates through maximum/minimum, as in NumPy.
    case op_maximum: return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x >= y ? x : y > x ? y : T(NAN); });
    case op_minimum: return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x <= y ? x : y < x ? y : T(NAN); });
    case op_equal: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x == y); });
    case op_notEqual: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x != y); });
    case op_less: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x < y); });
    case op_lessEqual: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x <= y); });
    case op_greater: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x > y); });
    case op_greaterEqual: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x >= y); });
    case op_logicalAnd: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x && y); });
    case op_logicalOr: return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x || y); });
    default: return;
  }
}

void binary(BinaryOp op, DType dtype, const void* a, const void* b, void* out, int64_t n, int scalars) {
  switch (dtype) {
    case F32: return binary_t<float>(op, a, b, out, n, scalars);
    case F64: return binary_t<double>(op, a, b, out, n, scalars);
    case I32: return binary_t<int32_t>(op, a, b, out, n, scalars);
    case U8: return binary_t<uint8_t>(op, a, b, out, n, scalars);
  }
}

// ====================================================================================== reductions

/** The reference's rule: an element replaces the running max (min) when larger (smaller) or NaN; NaN sticks. */
template <class T> inline T pick_max(T acc, T v) { return (v > acc || v != v) ? v : acc; }
template <class T> inline T pick_min(T acc, T v) { return (v < acc || v != v) ? v : acc; }

/** Reduces each contiguous run x[r*red .. (r+1)*red) in double (sum, prod) or in T (max, min). Eight
 *  interleaved accumulators, combined in a fixed order. */
template <class T> void reduce_runs(ReduceOp op, const T* x, T* o, int64_t rows, int64_t red) {
  constexpr int L = 8;
  int threads = threads_for(double(rows) * red, 4 * kChunk);
  par(rows, threads, [&](int64_t r) {
    const T* p = x + r * red;
    int64_t n8 = red - red % L;
    if (op == op_sum || op == op_prod) {
      double acc[L];
      for (int j = 0; j < L; j++) acc[j] = op == op_sum ? 0 : 1;
      if (op == op_sum) {
        for (int64_t i = 0; i < n8; i += L)
          for (int j = 0; j < L; j++) acc[j] += double(p[i + j]);
        for (int64_t i = n8; i < red; i++) acc[i - n8] += double(p[i]);
        o[r] = from_double<T>(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
      } else {
        for (int64_t i = 0; i < n8; i += L)
          for (int j = 0; j < L; j++) acc[j] *= double(p[i + j]);
        for (int64_t i = n8; i < red; i++) acc[i - n8] *= double(p[i]);
        o[r] = from_double<T>(((acc[0] * acc[1]) * (acc[2] * acc[3])) * ((acc[4] * acc[5]) * (acc[6] * acc[7])));
      }
      return;
    }
    bool isMax = op == op_max;
    T init = lowest_or_highest<T>(isMax);
    T acc[L];
    for (int j = 0; j < L; j++) acc[j] = init;
    if (isMax) {
      for (int64_t i = 0; i < n8; i += L)
        for (int j = 0; j < L; j++) acc[j] = pick_max(acc[j], p[i + j]);
      for (int64_t i = n8; i < red; i++) acc[i - n8] = pick_max(acc[i - n8], p[i]);
    } else {
      for (int64_t i = 0; i < n8; i += L)
        for (int j = 0; j < L; j++) acc[j] = pick_min(acc[j], p[i + j]);
      for (int64_t i = n8; i < red; i++) acc[i - n8] = pick_min(acc[i - n8], p[i]);
    }
    T best = acc[0];
    for (int j = 1; j < L; j++) best = isMax ? pick_max(best, acc[j]) : pick_min(best, acc[j]);
    o[r] = best;
  });
}

/** Reduces the middle axis of [outer, red, inner] (inner > 1): each output accumulates its red
 *  elements in order; tasks are blocks of contiguous outputs. */
template <class T> void reduce_strided(ReduceOp op, const T* x, T* o, int64_t outer, int64_t red, int64_t inner) {
  constexpr int64_t BLK = 512;
  int64_t blocks = ceil_div(inner, BLK);
  int threads = threads_for(double(outer) * red * inner, 4 * kChunk);
  par(outer * blocks, threads, [&](int64_t task) {
    int64_t p = task / blocks, q0 = (task % blocks) * BLK, q1 = imin(inner, q0 + BLK), w = q1 - q0;
    const T* base = x + p * red * inner + q0;
    T* out = o + p * inner + q0;
    if (op == op_sum || op == op_prod) {
      double acc[BLK];
      for (int64_t q = 0; q < w; q++) acc[q] = op == op_sum ? 0 : 1;
      for (int64_t r = 0; r < red; r++) {
        const T* row = base + r * inner;
        if (op == op_sum) for (int64_t q = 0; q < w; q++) acc[q] += double(row[q]);
        else for (int64_t q = 0; q < w; q++) acc[q] *= double(row[q]);
      }
      for (int64_t q = 0; q < w; q++) out[q] = from_double<T>(acc[q]);
      return;
    }
    bool isMax = op == op_max;
    for (int64_t q = 0; q < w; q++) out[q] = lowest_or_highest<T>(isMax);
    for (int64_t r = 0; r < red; r++) {
      const T* row = base + r * inner;
      if (isMax) for (int64_t q = 0; q < w; q++) out[q] = pick_max(out[q], row[q]);
      else for (int64_t q = 0; q < w; q++) out[q] = pick_min(out[q], row[q]);
    }
  });
}

template <class T> void reduce_t(ReduceOp op, const void* x, void* out, int64_t outer, int64_t red, int64_t inner) {
  if (inner == 1) reduce_runs<T>(op, static_cast<const T*>(x), static_cast<T*>(out), outer, red);
  else reduce_strided<T>(op, static_cast<const T*>(x), static_cast<T*>(out), outer, red, inner);
}

void reduce(ReduceOp op, DType dtype, const void* x, void* out, int64_t outer, int64_t red, int64_t inner) {
  switch (dtype) {
    case F32: return reduce_t<float>(op, x, out, outer, red, inner);
    case F64: return reduce_t<double>(op, x, out, outer, red, inner);
    case I32: return reduce_t<int32_t>(op, x, out, outer, red, inner);
    default: return;
  }
}

// ========================================================================================= softmax

/** softmax / log-softmax of one contiguous float row: vector max, vector exp, double sum, one pass out. */
void softmax_row(bool log, const float* x, float* o, int64_t n) {
  using V = Vec<float>;
  constexpr int W = V::W;
  int64_t nv = n - n % W;
  alignas(64) float tail[W];
  for (int j = 0; j < W; j++) tail[j] = -INFINITY;
  for (int64_t i = nv; i < n; i++) tail[i - nv] = x[i];
  // max ignores NaN (operand order); a NaN then poisons the sum, and so every output, as in the reference.
  V::R m = V::load(tail);
  for (int64_t i = 0; i < nv; i += W) m = V::max(V::load(x + i), m);
  float mx = V::hmax(m);
  // The exponentials go to o, then are summed in double (eight lanes, fixed order): log-softmax's
  // largest outputs are -log(sum) ~ -(sum - 1), which a float sum would get wrong in the leading digit.
  V::R vm = V::set1(mx);
  for (int64_t i = 0; i < nv; i += W) V::store(o + i, vexp(V::sub(V::load(x + i), vm)));
  V::R et = vexp(V::sub(V::load(tail), vm));
  V::store(tail, et);
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t n8 = nv - nv % 8;
  for (int64_t i = 0; i < n8; i += 8)
    for (int j = 0; j < 8; j++) lanes[j] += double(o[i + j]);
  for (int64_t i = n8; i < nv; i++) lanes[i - n8] += double(o[i]);
  for (int64_t i = nv; i < n; i++) lanes[(i - nv) & 7] += double(tail[i - nv]);
  double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  if (log) {
    // x - shift in double, as the reference: the largest outputs are tiny negatives that a float
    // subtraction would round to 0.
    double shift = double(mx) + std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i] = float(double(x[i]) - shift);
    return;
  }
  V::R inv = V::set1(float(1.0 / sum));
  for (int64_t i = 0; i < nv; i += W) V::store(o + i, V::mul(V::load(o + i), inv));
  V::store(tail, V::mul(et, inv));
  for (int64_t i = nv; i < n; i++) o[i] = tail[i - nv];
}

/** The double version follows the reference step by step (libm exp, sum in order, divide). */
void softmax_row(bool log, const double* x, double* o, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += std::exp(x[i] - mx);
  if (log) {
    double shift = mx + std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i] = x[i] - shift;
  } else {
    for (int64_t i = 0; i < n; i++) o[i] = std::exp(x[i] - mx) / sum;
  }
}

template <class T> void softmax_t(bool log, const T* x, T* o, int64_t outer, int64_t dim, int64_t inner) {
  int threads = threads_for(double(outer) * dim * inner, 2 * kChunk);
  par(outer * inner, threads, [&](int64_t r) {
    int64_t p = r / inner, q = r % inner;
    if (inner == 1) return softmax_row(log, x + p * dim, o + p * dim, dim);
    // A strided column: gather it into a contiguous row and back.
    T* row = scratch<T, 2>(2 * dim);
    const T* src = x + p * dim * inner + q;
    for (int64_t i = 0; i < dim; i++) row[i] = src[i * inner];
    softmax_row(log, row, row + dim, dim);
    T* dst = o + p * dim * inner + q;
    for (int64_t i = 0; i < dim; i++) dst[i * inner] = row[dim + i];
  });
}

void softmax(DType dtype, bool log, const void* x, void* out, int64_t outer, int64_t dim, int64_t inner) {
  if (dtype == F32) softmax_t<float>(log, static_cast<const float*>(x), static_cast<float*>(out), outer, dim, inner);
  else softmax_t<double>(log, static_cast<const double*>(x), static_cast<double*>(out), outer, dim, inner);
}

// ===================================================================================== convolution

/** Rows of the im2col matrix per GEMM: bounded scratch (about 4 MiB), independent of the thread count. */
template <class T> int64_t conv_chunk_rows(const ConvArgs& c) {
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
template <class T> void im2col_row(const ConvArgs& c, const T* x, int64_t row, T* dst) {
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

#include "conv_direct.h"

template <class T> void conv2d_t(const ConvArgs& c, const T* x, const T* f, T* out) {
  if (conv_is_shallow(c)) return conv2d_direct_t(c, x, f, out);
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout;
  const Strided<T> filter{f, N, 1};
  bool pointwise = c.kh == 1 && c.kw == 1 && c.strideH == 1 && c.strideW == 1 && c.padTop == 0 && c.padLeft == 0 && c.ho == c.h && c.wo == c.w;
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
template <class T> void conv2d_backprop_input_t(const ConvArgs& c, const T* dy, const T* f, T* dx) {
  const int64_t K = c.kh * c.kw * c.cin, M = c.n * c.ho * c.wo, N = c.cout, perImage = c.ho * c.wo;
  for (int64_t i = 0, total = c.n * c.h * c.w * c.cin; i < total; i++) dx[i] = 0;
  const int64_t chunk = conv_chunk_rows<T>(c);
  T* cols = scratch<T, 3>(chunk * K);
  for (int64_t r0 = 0; r0 < M; r0 += chunk) {
    int64_t rows = imin(chunk, M - r0);
    // cols [rows, K] = dy rows [rows, Cout] x filter^T, filter viewed as [K, Cout].
    gemm_one<T>(Strided<T>{dy + r0 * N, N, 1}, Strided<T>{f, 1, N}, cols, rows, K, N, threads_for(2.0 * rows * N * K, 1 << 21));
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
  if (dtype == F32) conv2d_t<float>(c, static_cast<const float*>(x), static_cast<const float*>(f), static_cast<float*>(out));
  else conv2d_t<double>(c, static_cast<const double*>(x), static_cast<const double*>(f), static_cast<double*>(out));
}

void conv2d_backprop_input(DType dtype, const ConvArgs& c, const void* dy, const void* f, void* dx) {
  if (dtype == F32) conv2d_backprop_input_t<float>(c, static_cast<const float*>(dy), static_cast<const float*>(f), static_cast<float*>(dx));
  else conv2d_backprop_input_t<double>(c, static_cast<const double*>(dy), static_cast<const double*>(f), static_cast<double*>(dx));
}

// Fused kernels of the training step.
#include "train_step.h"
// Convolution filter gradient and pooling.
#include "conv_grad.h"
#include "pooling.h"
// Sequence models: LSTM / GRU cells and attention.
#include "seq.h"

}  // namespace

extern const IsaTable table = {
    CANDOR_ISA_NAME, gemm, unary, binary, reduce, softmax, conv2d, conv2d_backprop_input,
    // Training-step fusions.
    bias_activation, activation_grad, sparse_softmax_ce, optimizer_step, dropout, layer_norm, layer_norm_grad,
    // Convolution filter gradient and pooling.
    conv2d_backprop_filter, pool2d, pool2d_backprop,
    // Sequence models.
    lstm_cell, gru_cell, attention,
};

}  // namespace CANDOR_ISA_NS
}  // namespace candor
