// The vector abstraction impl.h is written against: Vec<float> and Vec<double> for the instruction set
// this translation unit is compiled for (CANDOR_ISA_AVX512, CANDOR_ISA_AVX2, or neither: scalar, one
// lane). Every kernel is written once in terms of these few operations.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
#include <immintrin.h>
#endif

namespace candor {
namespace CANDOR_ISA_NS {

template <class T>
struct Vec;

#if defined(CANDOR_ISA_AVX512)
template <>
struct Vec<float> {
  using T = float;
  using R = __m512;
  using M = __mmask16;
  using I = __m512i;
  static constexpr int W = 16;
  static R load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, R v) { _mm512_storeu_ps(p, v); }
  static R set1(T x) { return _mm512_set1_ps(x); }
  static R zero() { return _mm512_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  // min/max return the second operand when either is NaN (x86 semantics); callers rely on that.
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static R round(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M gt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M isnan(R a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return a | b; }
  static R select(M m, R a, R b) { return _mm512_mask_blend_ps(m, b, a); }
  /** 2^n for integral-valued n in the normal exponent range. */
  static R pow2(R n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  static T sum(R a) { return _mm512_reduce_add_ps(a); }
  static T hmax(R a) { return _mm512_reduce_max_ps(a); }
};
template <>
struct Vec<double> {
  using T = double;
  using R = __m512d;
  using M = __mmask8;
  static constexpr int W = 8;
  static R load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, R v) { _mm512_storeu_pd(p, v); }
  static R set1(T x) { return _mm512_set1_pd(x); }
  static R zero() { return _mm512_setzero_pd(); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R max(R a, R b) { return _mm512_max_pd(a, b); }
  static M lt(R a, R b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
  static M gt(R a, R b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
  static M isnan(R a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return a | b; }
  static R select(M m, R a, R b) { return _mm512_mask_blend_pd(m, b, a); }
  static T sum(R a) { return _mm512_reduce_add_pd(a); }
  static T hmax(R a) { return _mm512_reduce_max_pd(a); }
};
#elif defined(CANDOR_ISA_AVX2)
template <>
struct Vec<float> {
  using T = float;
  using R = __m256;
  using M = __m256;
  static constexpr int W = 8;
  static R load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, R v) { _mm256_storeu_ps(p, v); }
  static R set1(T x) { return _mm256_set1_ps(x); }
  static R zero() { return _mm256_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static R round(R a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M gt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M isnan(R a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static R select(M m, R a, R b) { return _mm256_blendv_ps(b, a, m); }
  static R pow2(R n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static T sum(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static T hmax(R a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
template <>
struct Vec<double> {
  using T = double;
  using R = __m256d;
  using M = __m256d;
  static constexpr int W = 4;
  static R load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, R v) { _mm256_storeu_pd(p, v); }
  static R set1(T x) { return _mm256_set1_pd(x); }
  static R zero() { return _mm256_setzero_pd(); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R max(R a, R b) { return _mm256_max_pd(a, b); }
  static M lt(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  static M gt(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  static M isnan(R a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return _mm256_or_pd(a, b); }
  static R select(M m, R a, R b) { return _mm256_blendv_pd(b, a, m); }
  static T sum(R a) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
  static T hmax(R a) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
#else
/** One lane; the operations mirror the x86 ones, NaN behaviour of min/max included. */
template <class Tp>
struct ScalarVec {
  using T = Tp;
  using R = Tp;
  using M = bool;
  static constexpr int W = 1;
  static R load(const T* p) { return *p; }
  static void store(T* p, R v) { *p = v; }
  static R set1(T x) { return x; }
  static R zero() { return 0; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R max(R a, R b) { return a > b ? a : b; }
  static R min(R a, R b) { return a < b ? a : b; }
  static R abs(R a) { return std::fabs(a); }
  static R round(R a) { return std::nearbyint(a); }
  static M lt(R a, R b) { return a < b; }
  static M gt(R a, R b) { return a > b; }
  static M ge(R a, R b) { return a >= b; }
  static M isnan(R a) { return a != a; }
  static M mor(M a, M b) { return a || b; }
  static R select(M m, R a, R b) { return m ? a : b; }
  static R pow2(R n) { return std::ldexp(T(1), static_cast<int>(n)); }
  static T sum(R a) { return a; }
  static T hmax(R a) { return a; }
};
template <>
struct Vec<float> : ScalarVec<float> {};
template <>
struct Vec<double> : ScalarVec<double> {};
#endif

#if defined(CANDOR_ISA_AVX512) || defined(CANDOR_ISA_AVX2)
/** dst[c * dstStride + r] = src[r * srcStride + c] for an 8 x 8 block of floats (the GEMM's packing). */
inline void transpose8x8(const float* src, int64_t srcStride, float* dst, int64_t dstStride) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * srcStride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int h = 0; h < 8; h += 4) {
    u[h + 0] = _mm256_shuffle_ps(t[h + 0], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[h + 1] = _mm256_shuffle_ps(t[h + 0], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(dst + i * dstStride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dstStride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}
#endif

/**
 * exp(x) for float lanes to ~1 ulp (Cephes expf): x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6
 * polynomial, scaled by 2^n. Overflow gives +inf, underflow 0, NaN stays NaN.
 */
inline Vec<float>::R vexp(Vec<float>::R x) {
  using V = Vec<float>;
  // Past hi the result overflows to inf, below lo it is 0; between, 2^n is applied as two factors so
  // that both stay normal numbers and subnormal results round once, as the reference's do.
  const V::R hi = V::set1(88.72283935546875f), lo = V::set1(-103.972084045410f);
  V::R xc = V::max(lo, V::min(hi, x));  // operand order keeps NaN
  V::R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  V::R r = V::fma(n, V::set1(-0.693359375f), xc);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  V::R p = V::set1(1.9875691500E-4f);
  p = V::fma(p, r, V::set1(1.3981999507E-3f));
  p = V::fma(p, r, V::set1(8.3334519073E-3f));
  p = V::fma(p, r, V::set1(4.1665795894E-2f));
  p = V::fma(p, r, V::set1(1.6666665459E-1f));
  p = V::fma(p, r, V::set1(5.0000001201E-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  V::R n1 = V::round(V::mul(n, V::set1(0.5f)));
  V::R y = V::mul(V::mul(p, V::pow2(n1)), V::pow2(V::sub(n, n1)));
  y = V::select(V::gt(x, hi), V::set1(INFINITY), y);
  y = V::select(V::lt(x, lo), V::zero(), y);
  return V::select(V::isnan(x), x, y);
}

/** tanh(x): odd polynomial below |x| = 0.625 (no cancellation near 0), 1 - 2/(e^{2|x|} + 1) above. */
inline Vec<float>::R vtanh(Vec<float>::R x) {
  using V = Vec<float>;
  V::R a = V::abs(x);
  V::R z = V::mul(x, x);
  V::R p = V::set1(-5.70498872745E-3f);
  p = V::fma(p, z, V::set1(2.06390887954E-2f));
  p = V::fma(p, z, V::set1(-5.37397155531E-2f));
  p = V::fma(p, z, V::set1(1.33314422036E-1f));
  p = V::fma(p, z, V::set1(-3.33332819422E-1f));
  V::R small = V::fma(V::mul(p, z), x, x);
  V::R e = vexp(V::add(a, a));
  V::R big = V::sub(V::set1(1.0f), V::div(V::set1(2.0f), V::add(e, V::set1(1.0f))));
  big = V::select(V::lt(x, V::zero()), V::sub(V::zero(), big), big);
  return V::select(V::lt(a, V::set1(0.625f)), small, big);
}

/** sigmoid(x) = 1/(1+e^-|x|), mirrored for x < 0 as e^x/(1+e^x) so it never divides inf by inf. */
inline Vec<float>::R vsigmoid(Vec<float>::R x) {
  using V = Vec<float>;
  V::R e = vexp(V::sub(V::zero(), V::abs(x)));
  V::R s = V::div(V::set1(1.0f), V::add(V::set1(1.0f), e));
  return V::select(V::ge(x, V::zero()), s, V::mul(e, s));
}

}  // namespace CANDOR_ISA_NS
}  // namespace candor
