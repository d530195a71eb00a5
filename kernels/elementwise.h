// Elementwise kernels: unary and binary maps over fixed-size chunks (vectorized where simd.h has the op).
// Included by impl.h (inside the per-ISA namespace).
#pragma once

// ===================================================================================== elementwise

/** Elements per task: a multiple of every vector width, and independent of the thread count. */
constexpr int64_t kChunk = 1 << 14;

/** Runs body(begin, end) over [0, n) in kChunk pieces, threaded when n is large. */
template <class F>
void chunked(int64_t n, F&& body) {
  int64_t chunks = ceil_div(n, kChunk);
  int threads = threads_for(static_cast<double>(n), 4 * kChunk);
  if (threads <= 1) {
    body(0, n);
    return;
  }
  par(chunks, threads, [&](int64_t ch) { body(ch * kChunk, imin(n, (ch + 1) * kChunk)); });
}

/** out = f(x) lane-wise; the tail goes through a padded vector so every element sees the same code. */
template <class F>
void vmap(const float* x, float* o, int64_t n, F f) {
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

template <class T, class F>
void map1(const T* x, T* o, int64_t n, F f) {
  chunked(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) o[i] = f(x[i]);
  });
}

/** Float ops in the precision of T; transcendental ones through double, as the reference computes them. */
template <class T>
void unary_t(UnaryOp op, const T* x, T* o, int64_t n) {
  switch (op) {
    case op_neg:
      return map1(x, o, n, [](T v) { return -v; });
    case op_abs:
      return map1(x, o, n, [](T v) { return std::fabs(v); });
    case op_sign:
      return map1(x, o, n, [](T v) { return v > 0 ? T(1) : v < 0 ? T(-1) : v; });
    case op_exp:
      return map1(x, o, n, [](T v) { return T(std::exp(double(v))); });
    case op_expm1:
      return map1(x, o, n, [](T v) { return T(std::expm1(double(v))); });
    case op_log:
      return map1(x, o, n, [](T v) { return T(std::log(double(v))); });
    case op_log1p:
      return map1(x, o, n, [](T v) { return T(std::log1p(double(v))); });
    case op_sqrt:
      return map1(x, o, n, [](T v) { return std::sqrt(v); });
    case op_rsqrt:
      return map1(x, o, n, [](T v) { return T(1 / std::sqrt(double(v))); });
    case op_reciprocal:
      return map1(x, o, n, [](T v) { return T(1 / double(v)); });
    case op_sin:
      return map1(x, o, n, [](T v) { return T(std::sin(double(v))); });
    case op_cos:
      return map1(x, o, n, [](T v) { return T(std::cos(double(v))); });
    case op_tanh:
      return map1(x, o, n, [](T v) { return T(std::tanh(double(v))); });
    case op_sigmoid:
      return map1(x, o, n, [](T v) { return T(sigmoid_ref(double(v))); });
    case op_relu:
      return map1(x, o, n, [](T v) { return v < 0 ? T(0) : v; });  // keeps NaN, as the reference
    case op_erf:
      return map1(x, o, n, [](T v) { return T(std::erf(double(v))); });
    case op_atan:
      return map1(x, o, n, [](T v) { return T(std::atan(double(v))); });
    case op_floor:
      return map1(x, o, n, [](T v) { return std::floor(v); });
    case op_ceil:
      return map1(x, o, n, [](T v) { return std::ceil(v); });
    case op_round:
      return map1(x, o, n, [](T v) { return std::nearbyint(v); });  // half to even
    default:
      return;
  }
}

void unary(UnaryOp op, DType dtype, const void* x, void* out, int64_t n) {
  if (op == op_logicalNot) {
    return map1(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(out), n,
                [](uint8_t v) { return uint8_t(v ? 0 : 1); });
  }
  if (dtype == F32) {
    const float* xf = static_cast<const float*>(x);
    float* of = static_cast<float*>(out);
    // The float ops that training leans on get vector code; the rest compute through double.
    switch (op) {
      case op_exp:
        return vmap(xf, of, n, [](Vec<float>::R v) { return vexp(v); });
      case op_tanh:
        return vmap(xf, of, n, [](Vec<float>::R v) { return vtanh(v); });
      case op_sigmoid:
        return vmap(xf, of, n, [](Vec<float>::R v) { return vsigmoid(v); });
      default:
        return unary_t<float>(op, xf, of, n);
    }
  }
  unary_t<double>(op, static_cast<const double*>(x), static_cast<double*>(out), n);
}

/** z = f(x, y); an operand flagged in `scalars` (bit 0: a, bit 1: b) is one element, repeated. */
template <class T, class R, class F>
void map2(const void* a, const void* b, void* o, int64_t n, int scalars, F f) {
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  R* z = static_cast<R*>(o);
  chunked(n, [&](int64_t s, int64_t e) {
    // Separate loops, so each compiles to straight vector code.
    if (scalars == 0)
      for (int64_t i = s; i < e; i++) z[i] = f(x[i], y[i]);
    else if (scalars == 1) {
      const T xv = x[0];
      for (int64_t i = s; i < e; i++) z[i] = f(xv, y[i]);
    } else if (scalars == 2) {
      const T yv = y[0];
      for (int64_t i = s; i < e; i++) z[i] = f(x[i], yv);
    } else {
      const R v = f(x[0], y[0]);
      for (int64_t i = s; i < e; i++) z[i] = v;
    }
  });
}

/** Arithmetic in T (int32 wraps like the reference's Int32Array stores), comparisons to uint8. */
template <class T>
void binary_t(BinaryOp op, const void* a, const void* b, void* o, int64_t n, int scalars) {
  constexpr bool isInt = sizeof(T) == 4 && T(0.5) == 0;
  using U = uint32_t;
  switch (op) {
    case op_add:
      if constexpr (isInt)
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) + U(y)); });
      else
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x + y; });
    case op_sub:
      if constexpr (isInt)
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) - U(y)); });
      else
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x - y; });
    case op_mul:
      if constexpr (isInt)
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(U(x) * U(y)); });
      else
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x * y; });
    case op_div:
      if constexpr (isInt)
        return map2<T, T>(a, b, o, n, scalars,
                          [](T x, T y) { return T(y == 0 ? 0 : to_int32(std::floor(double(x) / double(y)))); });
      else
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x / y; });
    case op_pow:
      if constexpr (isInt)
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(to_int32(js_pow(x, y))); });
      else
        return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return T(js_pow(x, y)); });
    // NaN propagates through maximum/minimum, as in NumPy.
    case op_maximum:
      return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x >= y ? x : y > x ? y : T(NAN); });
    case op_minimum:
      return map2<T, T>(a, b, o, n, scalars, [](T x, T y) { return x <= y ? x : y < x ? y : T(NAN); });
    case op_equal:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x == y); });
    case op_notEqual:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x != y); });
    case op_less:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x < y); });
    case op_lessEqual:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x <= y); });
    case op_greater:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x > y); });
    case op_greaterEqual:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x >= y); });
    case op_logicalAnd:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x && y); });
    case op_logicalOr:
      return map2<T, uint8_t>(a, b, o, n, scalars, [](T x, T y) { return uint8_t(x || y); });
    default:
      return;
  }
}

void binary(BinaryOp op, DType dtype, const void* a, const void* b, void* out, int64_t n, int scalars) {
  switch (dtype) {
    case F32:
      return binary_t<float>(op, a, b, out, n, scalars);
    case F64:
      return binary_t<double>(op, a, b, out, n, scalars);
    case I32:
      return binary_t<int32_t>(op, a, b, out, n, scalars);
    case U8:
      return binary_t<uint8_t>(op, a, b, out, n, scalars);
    case I8:  // int8 is a storage dtype: the op specs refuse arithmetic on it
      return;
  }
}
