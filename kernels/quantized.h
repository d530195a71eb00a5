// The int8 family's kernels: quantizedMatmul and quantizedConv2d (src/ops/families/quantized.ts states the exact
// arithmetic, which every path here follows bit for bit). Included by impl.h (avx512, avx2, scalar) and by
// isa_avx512vnni.cc (CANDOR_ISA_VNNI), inside the per-ISA namespace.
//
// Two passes. (1) The float input is quantised once into a source buffer: the rows of x for a matmul, the image
// with its padding (code = zero point, real 0) written out for a convolution, so no read needs a bounds check.
// (2) An implicit GEMM: output row r reads S segments of L consecutive codes at base(r) + off[s] (a matmul: one
// segment of K; a convolution: one per kernel row (kw * cin codes) when the dilation across is 1, else one per
// tap), so no im2col matrix is written. Each row block of 48 rows is one task; every output element is one exact
// integer sum followed by the fused epilogue y = act(fround(fround(float(acc) * scale[j]) + bias[j])), so results
// are bit-identical on every path and at any thread count.
//
// Engines, by instruction set:
//  - VNNI (AVX-512 VNNI): uint8 codes q times int8 weights with vpdpbusd, 4 k per lane, weights packed
//    [groups of 16 columns][k / 4][16][4]; acc = sum q * w - zeroPoint * colsum(w) (colsum made while packing).
//  - int16 (AVX2, and AVX-512 without VNNI): codes q - zeroPoint in int16 times int16 weights with vpmaddwd,
//    2 k per lane, packed [groups of 16][k / 2][16][2]. (vpmaddubsw is not used: its int16 sum of two u8 x s8
//    products saturates at 255 * 127 * 2.)
//  - scalar: int16 codes against the int8 weights as given, int32 sums (int64 past kQuantizedMaxDepth).
// The SIMD engines keep the last few packed weights per thread, keyed by the weights' bytes (compared in full,
// so a changed or reused buffer is never served stale packing).
// NaN: uint8 cannot represent it, so the quantise pass notes whether it saw one (one compare per value) and the
// entry points return true without computing y; the caller raises the error (as the composite does).
// Needs <cstring> and <vector>, included by the translation unit before its namespaces.
#pragma once

/** The largest depth K for which every exact sum of (q - zeroPoint) * w fits int32: K * 255 * 128 < 2^31. Deeper
 *  products run the scalar engine with int64 sums. */
constexpr int64_t kQuantizedMaxDepth = 65793;

/** Keeps the compiler from contracting v * s + b into an FMA: the reference rounds the product first. */
template <class V>
inline void q_no_contract(V& v) {
#if defined(__x86_64__) || defined(__i386__)
#if defined(CANDOR_ISA_AVX512)
  asm("" : "+v"(v));
#else
  asm("" : "+x"(v));
#endif
#elif defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile V t = v;
  v = t;
#endif
}

/** The uint8 code of x: clamp(roundHalfEven(fround(x * inverse)) + zeroPoint, 0, 255); NaN gives 0 (the
 *  quantise passes report NaN, so that code is never used). */
inline int q_code(float x, float inverse, int zp) {
  float v = std::nearbyint(x * inverse) + static_cast<float>(zp);
  v = v >= 0.f ? v : 0.f;
  v = v <= 255.f ? v : 255.f;
  return static_cast<int>(v);
}

/** The fused epilogue of one output: act(fround(fround(acc * scale) + bias)), relu as x < 0 ? 0 : x. */
inline float q_requantize(float acc, float scale, float bias, bool relu) {
  float p = acc * scale;
  q_no_contract(p);
  const float v = p + bias;
  return relu && v < 0.f ? 0.f : v;
}

/** What follows each exact sum: per output column scale and bias, relu; corr[j] is subtracted first (VNNI). */
struct QEpilogue {
  const int32_t* corr;
  const float* scale;
  const float* bias;
  int64_t N;
  bool relu;
};

/** Where row r's K codes lie in the source: S segments of L, k = s * L + l at base(r) + off[s] + l. */
struct QLayout {
  int64_t S, L;
  const int64_t* off;
};

/** Rows per task: a multiple of every engine's tile height (6, 8, 12). */
constexpr int64_t kQRowBlock = 48;

// ------------------------------------------------------------------------------------------- scalar engine

/** Int16 codes (q - zeroPoint) against the int8 weights [K, N] as given; Acc is int32 or (deep products) int64. */
template <class Acc>
struct QScalarEngine {
  using A = int16_t;
  static constexpr int KG = 1;
  static A code(int q, int zp) { return static_cast<A>(q - zp); }
  static A pad(int) { return 0; }
  /** Writes the codes of x[0, n); returns whether x held a NaN. */
  static bool quantize(const float* x, int64_t n, float inverse, int zp, A* out) {
    bool nan = false;
    for (int64_t i = 0; i < n; i++) {
      nan |= x[i] != x[i];
      out[i] = code(q_code(x[i], inverse, zp), zp);
    }
    return nan;
  }
  struct Packed {
    const int8_t* w;
  };
  static Packed pack(const int8_t* w, const QLayout&, int64_t, int) { return {w}; }
  /** Rows `rows[0..count)` (source pointers), outputs y rows from y, N apart. */
  static void run(const A* const* rows, int64_t count, const QLayout& lay, const Packed& p, const QEpilogue& e,
                  float* y) {
    const int64_t N = e.N;
    Acc* acc = scratch<Acc, 11>(N);
    for (int64_t r = 0; r < count; r++) {
      for (int64_t j = 0; j < N; j++) acc[j] = 0;
      for (int64_t s = 0; s < lay.S; s++) {
        const A* a = rows[r] + lay.off[s];
        const int8_t* w = p.w + s * lay.L * N;
        for (int64_t l = 0; l < lay.L; l++, w += N) {
          const Acc v = a[l];
          for (int64_t j = 0; j < N; j++) acc[j] += v * static_cast<Acc>(w[j]);
        }
      }
      float* yr = y + r * N;
      for (int64_t j = 0; j < N; j++)
        yr[j] = q_requantize(static_cast<float>(acc[j]), e.scale[j], e.bias[j], e.relu);
    }
  }
};

// ------------------------------------------------------------------------------- packed weights, cached

/** Packed weights of one layout, with the weights' bytes they were made from (the cache key). */
struct QPackEntry {
  std::vector<int8_t> key;
  int64_t S = 0, L = 0, N = 0;
  int zp = 0;
  std::vector<int8_t> packed;
  std::vector<int32_t> corr;
};

/** The packed form of w for this layout, from the calling thread's cache or made by `make(entry)`; weights
 *  over 4 MiB are packed into a one-off entry each call. */
template <class Make>
const QPackEntry& q_packed(const int8_t* w, const QLayout& lay, int64_t N, int zp, Make make) {
  static thread_local std::vector<QPackEntry> cache;
  static thread_local size_t next = 0;
  static thread_local QPackEntry oneOff;
  const size_t bytes = static_cast<size_t>(lay.S * lay.L * N);
  for (QPackEntry& c : cache)
    if (c.S == lay.S && c.L == lay.L && c.N == N && c.zp == zp && c.key.size() == bytes &&
        std::memcmp(c.key.data(), w, bytes) == 0)
      return c;
  constexpr size_t kEntries = 8, kMaxBytes = size_t(1) << 22;
  QPackEntry* e = &oneOff;
  if (bytes <= kMaxBytes) {
    cache.reserve(kEntries);
    if (cache.size() < kEntries) cache.emplace_back();
    e = &cache[next % cache.size()];
    next++;
    e->key.assign(w, w + bytes);
  }
  e->S = lay.S, e->L = lay.L, e->N = N, e->zp = zp;
  make(*e);
  return *e;
}

/** Packs w [S * L, N] into [ceil(N / 16)][S][Lp / G][16][G] elements of E (Lp = L rounded up to G), zeros in the
 *  padding; returns the column sums times zp per padded column in corr. */
template <class E, int G>
void q_pack(const int8_t* w, int64_t S, int64_t L, int64_t N, int zp, std::vector<E>& packed,
            std::vector<int32_t>& corr) {
  const int64_t groups = ceil_div(N, 16), lp = ceil_div(L, G) * G, perGroup = S * lp * 16;
  packed.assign(static_cast<size_t>(groups * perGroup), 0);
  corr.assign(static_cast<size_t>(groups * 16), 0);
  for (int64_t s = 0; s < S; s++)
    for (int64_t l = 0; l < L; l++) {
      const int8_t* wr = w + (s * L + l) * N;
      E* base = packed.data() + (s * lp + (l / G) * G) * 16 + l % G;
      for (int64_t j = 0; j < N; j++) {
        base[(j / 16) * perGroup + (j % 16) * G] = static_cast<E>(wr[j]);
        corr[j] += zp * wr[j];
      }
    }
}

// --------------------------------------------------------------------------------------------- VNNI engine
#if defined(CANDOR_ISA_VNNI)

struct QEngine {
  using A = uint8_t;
  static constexpr int KG = 4;
  static A code(int q, int) { return static_cast<A>(q); }
  static A pad(int zp) { return static_cast<A>(zp); }
  static bool quantize(const float* x, int64_t n, float inverse, int zp, A* out) {
    const __m512 inv = _mm512_set1_ps(inverse), z = _mm512_set1_ps(static_cast<float>(zp)),
                 lo = _mm512_setzero_ps(), hi = _mm512_set1_ps(255.f);
    __mmask16 nan = 0;
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
      // x * inverse (finite, > 0) is NaN exactly where x is; masked-off lanes load 0.
      nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
      // max(v, 0) gives 0 for NaN (the second operand), as q_code.
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      const __m512i codes = _mm512_cvttps_epi32(v);
      if (m == 0xffff)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(codes));
      else
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m, codes);
    }
    return nan != 0;
  }
  struct Packed {
    const int8_t* w;
    const int32_t* corr;
    int64_t groupStride;  // bytes per group of 16 columns
  };
  static Packed pack(const int8_t* w, const QLayout& lay, int64_t N, int zp) {
    const QPackEntry& e =
        q_packed(w, lay, N, zp, [&](QPackEntry& c) { q_pack<int8_t, 4>(w, lay.S, lay.L, N, zp, c.packed, c.corr); });
    return {e.packed.data(), e.corr.data(), lay.S * ceil_div(lay.L, 4) * 64};
  }

  template <int MR, int NB>
  static void tile(const A* const* rows, int valid, const QLayout& lay, const int8_t* b, int64_t gs,
                   const QEpilogue& e, int64_t col0, float* y) {
    __m512i acc[MR][NB];
    for (int r = 0; r < MR; r++)
      for (int g = 0; g < NB; g++) acc[r][g] = _mm512_setzero_si512();
    const int64_t k4 = ceil_div(lay.L, 4);
    for (int64_t s = 0; s < lay.S; s++) {
      const A* p[MR];
      for (int r = 0; r < MR; r++) p[r] = rows[r] + lay.off[s];
      for (int64_t k = 0; k < k4; k++, b += 64) {
        __m512i wv[NB];
        for (int g = 0; g < NB; g++) wv[g] = _mm512_loadu_si512(b + g * gs);
        for (int r = 0; r < MR; r++) {
          int32_t quad;
          std::memcpy(&quad, p[r] + 4 * k, 4);
          const __m512i av = _mm512_set1_epi32(quad);
          for (int g = 0; g < NB; g++) acc[r][g] = _mm512_dpbusd_epi32(acc[r][g], av, wv[g]);
        }
      }
    }
    for (int g = 0; g < NB; g++) {
      const int64_t col = col0 + 16 * g;
      if (col >= e.N) break;
      const __mmask16 m = e.N - col >= 16 ? __mmask16(0xffff) : __mmask16((1u << (e.N - col)) - 1);
      const __m512i corr = _mm512_loadu_si512(e.corr + col);
      const __m512 sv = _mm512_maskz_loadu_ps(m, e.scale + col), bv = _mm512_maskz_loadu_ps(m, e.bias + col);
      for (int r = 0; r < MR; r++) {
        if (r >= valid) break;
        __m512 prod = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][g], corr)), sv);
        q_no_contract(prod);
        __m512 v = _mm512_add_ps(prod, bv);
        // max(0, v) is v < 0 ? 0 : v (NaN and -0 kept), as the relu primitive.
        if (e.relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);
        // Masked stores are slow on some CPUs (3x on this Zen 4's first CNN layer): only a partial group uses one.
        if (m == 0xffff)
          _mm512_storeu_ps(y + r * e.N + col, v);
        else
          _mm512_mask_storeu_ps(y + r * e.N + col, m, v);
      }
    }
  }

  template <int MR, int NB>
  static void tiles(const A* const* rows, int64_t count, const QLayout& lay, const int8_t* b, int64_t gs,
                    const QEpilogue& e, int64_t col0, float* y) {
    for (int64_t r = 0; r < count; r += MR)
      tile<MR, NB>(rows + r, static_cast<int>(imin(MR, count - r)), lay, b, gs, e, col0, y + r * e.N);
  }

  /** rows: kQRowBlock pointers (those past count repeat a valid row). */
  static void run(const A* const* rows, int64_t count, const QLayout& lay, const Packed& p, const QEpilogue& e,
                  float* y) {
    const int64_t groups = ceil_div(e.N, 16);
    const QEpilogue ec{p.corr, e.scale, e.bias, e.N, e.relu};
    for (int64_t g = 0; g < groups; g += 4) {
      const int8_t* b = p.w + g * p.groupStride;
      switch (imin(4, groups - g)) {
        case 4: tiles<6, 4>(rows, count, lay, b, p.groupStride, ec, 16 * g, y); break;
        case 3: tiles<8, 3>(rows, count, lay, b, p.groupStride, ec, 16 * g, y); break;
        case 2: tiles<12, 2>(rows, count, lay, b, p.groupStride, ec, 16 * g, y); break;
        default: tiles<12, 1>(rows, count, lay, b, p.groupStride, ec, 16 * g, y); break;
      }
    }
  }
};

// ------------------------------------------------------------------------------------ int16 engine (AVX2)
#elif defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)

struct QEngine {
  using A = int16_t;
  static constexpr int KG = 2;
  static A code(int q, int zp) { return static_cast<A>(q - zp); }
  static A pad(int) { return 0; }
  static bool quantize(const float* x, int64_t n, float inverse, int zp, A* out) {
    const __m256 inv = _mm256_set1_ps(inverse), z = _mm256_set1_ps(static_cast<float>(zp)),
                 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.f);
    const __m256i zi = _mm256_set1_epi32(zp);
    __m256 nan = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
      // x * inverse (finite, > 0) is NaN exactly where x is.
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      v = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
      // max(v, 0) gives 0 for NaN (the second operand), as q_code.
      v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      const __m256i c = _mm256_sub_epi32(_mm256_cvttps_epi32(v), zi);
      const __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
    }
    bool tail = false;
    for (; i < n; i++) {
      tail |= x[i] != x[i];
      out[i] = code(q_code(x[i], inverse, zp), zp);
    }
    return tail || _mm256_movemask_ps(nan) != 0;
  }
  struct Packed {
    const int16_t* w;
    int64_t groupStride;  // elements per group of 16 columns
  };
  static Packed pack(const int8_t* w, const QLayout& lay, int64_t N, int) {
    // Codes are centred (q - zeroPoint), so the packing does not depend on the zero point.
    const QPackEntry& e = q_packed(w, lay, N, 0, [&](QPackEntry& c) {
      std::vector<int16_t> wide;
      q_pack<int16_t, 2>(w, lay.S, lay.L, N, 0, wide, c.corr);
      c.packed.resize(wide.size() * 2);
      std::memcpy(c.packed.data(), wide.data(), wide.size() * 2);
    });
    return {reinterpret_cast<const int16_t*>(e.packed.data()), lay.S * ceil_div(lay.L, 2) * 32};
  }

  /** MR rows x 16 columns: two 8-lane int32 accumulators per row. */
  template <int MR>
  static void tile(const A* const* rows, int valid, const QLayout& lay, const int16_t* b, const QEpilogue& e,
                   int64_t col0, float* y) {
    __m256i acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int64_t k2 = ceil_div(lay.L, 2);
    for (int64_t s = 0; s < lay.S; s++) {
      const A* p[MR];
      for (int r = 0; r < MR; r++) p[r] = rows[r] + lay.off[s];
      for (int64_t k = 0; k < k2; k++, b += 32) {
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
        for (int r = 0; r < MR; r++) {
          int32_t pair;
          std::memcpy(&pair, p[r] + 2 * k, 4);
          const __m256i av = _mm256_set1_epi32(pair);
          acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, w0));
          acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, w1));
        }
      }
    }
    for (int h = 0; h < 2; h++) {
      const int64_t col = col0 + 8 * h;
      if (col >= e.N) break;
      const int64_t n = imin(8, e.N - col);
      alignas(32) float sc[8] = {0}, bi[8] = {0}, out[8];
      for (int64_t j = 0; j < n; j++) sc[j] = e.scale[col + j], bi[j] = e.bias[col + j];
      const __m256 sv = _mm256_load_ps(sc), bv = _mm256_load_ps(bi);
      for (int r = 0; r < MR; r++) {
        if (r >= valid) break;
        __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][h]), sv);
        q_no_contract(prod);
        __m256 v = _mm256_add_ps(prod, bv);
        // max(0, v) is v < 0 ? 0 : v (NaN and -0 kept), as the relu primitive.
        if (e.relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
        if (n == 8) {
          _mm256_storeu_ps(y + r * e.N + col, v);
        } else {
          _mm256_store_ps(out, v);
          for (int64_t j = 0; j < n; j++) y[r * e.N + col + j] = out[j];
        }
      }
    }
  }

  static void run(const A* const* rows, int64_t count, const QLayout& lay, const Packed& p, const QEpilogue& e,
                  float* y) {
    constexpr int MR = 6;
    for (int64_t g = 0, groups = ceil_div(e.N, 16); g < groups; g++)
      for (int64_t r = 0; r < count; r += MR)
        tile<MR>(rows + r, static_cast<int>(imin(MR, count - r)), lay, p.w + g * p.groupStride, e, 16 * g,
                 y + r * e.N);
  }
};

#else
using QEngine = QScalarEngine<int32_t>;
#endif

// ------------------------------------------------------------------------------------------------- driver

/** Pass 2: y [M, N] from the quantised source; bases(r0, count, out) writes rows r0.. first codes' offsets. */
template <class E, class Bases>
void q_gemm(const typename E::A* src, Bases bases, int64_t M, const QLayout& lay, const int8_t* w, int zp,
            const QEpilogue& e, float* y) {
  const typename E::Packed packed = E::pack(w, lay, e.N, zp);
  const double work = double(M) * e.N * lay.S * lay.L;
  par(ceil_div(M, kQRowBlock), threads_for(work, 1 << 22), [&](int64_t task) {
    const int64_t r0 = task * kQRowBlock, count = imin(kQRowBlock, M - r0);
    int64_t offsets[kQRowBlock];
    bases(r0, count, offsets);
    const typename E::A* rows[kQRowBlock];
    for (int64_t r = 0; r < kQRowBlock; r++) rows[r] = src + offsets[r < count ? r : 0];
    E::run(rows, count, lay, packed, e, y + r0 * e.N);
  });
}

/** Whether x[0, n) holds a NaN (for values no quantise pass reads). */
inline bool q_has_nan(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] != x[i]) return true;
  return false;
}

/** Whether any of flags is set (one per quantise task: tasks write their own, so no two threads share one). */
inline bool q_any(const std::vector<char>& flags) {
  for (char f : flags)
    if (f) return true;
  return false;
}

/** x [m, k] float32 -> quantised rows of ceil(k / KG) * KG codes (padding 0: its weights are 0), then q_gemm.
 *  Returns true, without writing y, when x holds a NaN. */
template <class E>
bool q_matmul(const QuantizedArgs& q, int64_t m, int64_t k, int64_t n, const float* x, const int8_t* w,
              const float* scale, const float* bias, float* y) {
  using A = typename E::A;
  const int64_t lda = ceil_div(k, E::KG) * E::KG;
  A* src = scratch<A, 12>(m * lda + 64);
  std::vector<char> nan(static_cast<size_t>(m), 0);
  par(m, threads_for(double(m) * k, 1 << 16), [&](int64_t r) {
    nan[static_cast<size_t>(r)] = E::quantize(x + r * k, k, q.inverseScale, q.zeroPoint, src + r * lda);
    for (int64_t i = k; i < lda; i++) src[r * lda + i] = 0;
  });
  if (q_any(nan)) return true;
  const int64_t off = 0;
  const QLayout lay{1, k, &off};
  const QEpilogue e{nullptr, scale, bias, n, q.relu};
  auto bases = [lda](int64_t r0, int64_t count, int64_t* out) {
    for (int64_t r = 0; r < count; r++) out[r] = (r0 + r) * lda;
  };
  q_gemm<E>(src, bases, m, lay, w, q.zeroPoint, e, y);
  return false;
}

/** x [n, h, w, cin] -> the image rows the windows read, padding written as the zero point's code, then q_gemm.
 *  Returns true, without writing y, when x holds a NaN (pixels no window reads are checked too). */
template <class E>
bool q_conv2d(const QuantizedArgs& q, const ConvArgs& c, const float* x, const int8_t* w, const float* scale,
              const float* bias, float* y) {
  using A = typename E::A;
  const int64_t hp = (c.ho - 1) * c.strideH + (c.kh - 1) * c.dilH + 1;
  const int64_t wp = (c.wo - 1) * c.strideW + (c.kw - 1) * c.dilW + 1;
  const int64_t cin = c.cin, rowLen = wp * cin;
  A* src = scratch<A, 12>(c.n * hp * rowLen + 64);
  const A padCode = E::pad(q.zeroPoint);
  // Padded columns [lo, hi) hold input columns [lo - padLeft, hi - padLeft).
  const int64_t lo = imin(c.padLeft, wp), hi = imax(lo, imin(wp, c.padLeft + c.w));
  if (c.padTop + c.h > hp || lo != c.padLeft || hi != c.padLeft + c.w) {
    // Some pixels are never quantised (the windows stop short of them): look at all of x once.
    if (q_has_nan(x, c.n * c.h * c.w * cin)) return true;
  }
  std::vector<char> nan(static_cast<size_t>(c.n * hp), 0);
  par(c.n * hp, threads_for(double(c.n) * hp * rowLen, 1 << 16), [&](int64_t task) {
    const int64_t img = task / hp, ih = task % hp - c.padTop;
    A* d = src + task * rowLen;
    if (ih < 0 || ih >= c.h || hi == lo) {
      for (int64_t i = 0; i < rowLen; i++) d[i] = padCode;
      return;
    }
    for (int64_t i = 0; i < lo * cin; i++) d[i] = padCode;
    nan[static_cast<size_t>(task)] = E::quantize(x + ((img * c.h + ih) * c.w + (lo - c.padLeft)) * cin,
                                                 (hi - lo) * cin, q.inverseScale, q.zeroPoint, d + lo * cin);
    for (int64_t i = hi * cin; i < rowLen; i++) d[i] = padCode;
  });
  if (q_any(nan)) return true;
  for (int64_t i = 0; i < 64; i++) src[c.n * hp * rowLen + i] = 0;
  // One segment per kernel row when taps across are adjacent, else one per tap.
  const bool rowsOfTaps = c.dilW == 1;
  const int64_t S = rowsOfTaps ? c.kh : c.kh * c.kw;
  std::vector<int64_t> off(static_cast<size_t>(S));
  for (int64_t i = 0; i < c.kh; i++)
    for (int64_t j = 0; j < (rowsOfTaps ? 1 : c.kw); j++)
      off[static_cast<size_t>(rowsOfTaps ? i : i * c.kw + j)] = i * c.dilH * rowLen + j * c.dilW * cin;
  const QLayout lay{S, rowsOfTaps ? c.kw * cin : cin, off.data()};
  const QEpilogue e{nullptr, scale, bias, c.cout, q.relu};
  const int64_t perImage = c.ho * c.wo;
  // Output pixel (img, oh, ow) reads from padded row oh * strideH of its image, column ow * strideW; the divisions
  // run once per task, then the pixel steps along the row.
  auto bases = [&](int64_t r0, int64_t count, int64_t* out) {
    int64_t img = r0 / perImage, oh = (r0 % perImage) / c.wo, ow = r0 % c.wo;
    for (int64_t r = 0; r < count; r++) {
      out[r] = (img * hp + oh * c.strideH) * rowLen + ow * c.strideW * cin;
      if (++ow == c.wo) {
        ow = 0;
        if (++oh == c.ho) oh = 0, img++;
      }
    }
  };
  q_gemm<E>(src, bases, c.n * perImage, lay, w, q.zeroPoint, e, y);
  return false;
}

bool quantized_matmul(const QuantizedArgs& q, int64_t m, int64_t k, int64_t n, const float* x, const int8_t* w,
                      const float* scale, const float* bias, float* y) {
  if (m == 0 || n == 0) return q_has_nan(x, m * k);
  if (k > kQuantizedMaxDepth) return q_matmul<QScalarEngine<int64_t>>(q, m, k, n, x, w, scale, bias, y);
  return q_matmul<QEngine>(q, m, k, n, x, w, scale, bias, y);
}

bool quantized_conv2d(const QuantizedArgs& q, const ConvArgs& c, const float* x, const int8_t* w,
                      const float* scale, const float* bias, float* y) {
  if (c.n * c.ho * c.wo == 0 || c.cout == 0) return q_has_nan(x, c.n * c.h * c.w * c.cin);
  if (c.kh * c.kw * c.cin > kQuantizedMaxDepth) return q_conv2d<QScalarEngine<int64_t>>(q, c, x, w, scale, bias, y);
  return q_conv2d<QEngine>(q, c, x, w, scale, bias, y);
}
