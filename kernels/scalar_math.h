// Scalar helpers that reproduce the JS reference's semantics where C++'s differ: Int32Array stores
// (ToInt32), Math.pow's NaN cases, the two-branch sigmoid. Internal linkage (anonymous namespace), so
// each translation unit keeps its own copy compiled with its own instruction-set flags.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace candor {
namespace {

/** ECMAScript ToInt32: NaN and infinities give 0; others truncate and wrap modulo 2^32. */
/** The reference's cast to int8: truncate toward zero and saturate to [-128, 127] (NaN -> 0). */
inline int8_t to_int8(double d) {
  if (std::isnan(d)) return 0;
  d = std::trunc(d);
  return static_cast<int8_t>(d < -128.0 ? -128.0 : d > 127.0 ? 127.0 : d);
}

inline int32_t to_int32(double d) {
  if (!std::isfinite(d)) return 0;
  d = std::trunc(d);
  if (d >= -2147483648.0 && d < 2147483648.0) return static_cast<int32_t>(d);
  double m = std::fmod(d, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

/** Math.pow: unlike C's pow, pow(x, NaN) is NaN even for x = 1, and pow(+-1, +-inf) is NaN. */
inline double js_pow(double a, double b) {
  if (std::isnan(b)) return NAN;
  if (std::fabs(a) == 1 && std::isinf(b)) return NAN;
  return std::pow(a, b);
}

/** The reference's sigmoid: two branches so exp never overflows. */
inline double sigmoid_ref(double v) {
  if (v >= 0) return 1 / (1 + std::exp(-v));
  double e = std::exp(v);
  return e / (1 + e);
}

/** A double accumulator stored as T the way a typed-array store would. */
template <class T>
inline T from_double(double v) {
  if constexpr (std::numeric_limits<T>::is_integer)
    return static_cast<T>(to_int32(v));
  else
    return static_cast<T>(v);
}

/** The identity of max (-inf) or min (+inf); for int32, what the reference stores for it: 0. */
template <class T>
inline T lowest_or_highest(bool forMax) {
  if constexpr (std::numeric_limits<T>::is_integer)
    return forMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  else
    return forMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
}

}  // namespace
}  // namespace candor
