// The N-API entry points of the convolution and pooling families. Included by addon.cc inside its anonymous
// namespace, after its argument helpers and macros; CANDOR_CONV_ENTRIES lists each JS name and function once.
#pragma once

/** p = Float64Array [n, h, w, cin, cout, kh, kw, ho, wo, strideH, strideW, dilH, dilW, padTop, padLeft] */
bool conv_args(napi_env env, const Arr& p, ConvArgs* a, const char* FN) {
  if (p.dtype != F64 || p.length < 15) {
    fail(env, std::string(FN) + ": params must be a Float64Array of 15 numbers");
    return false;
  }
  const double* d = reinterpret_cast<const double*>(p.data);
  auto at = [&](int i) { return static_cast<int64_t>(d[i]); };
  *a = ConvArgs{at(0), at(1), at(2),  at(3),  at(4),  at(5),  at(6), at(7),
                at(8), at(9), at(10), at(11), at(12), at(13), at(14)};
  // Reads of x are bounds-checked per tap (tap_source); these keep every product and loop well-formed.
  for (int i = 0; i < 15; i++)
    if (d[i] < (i >= 9 && i < 13 ? 1 : 0) || d[i] > 2147483647.0) {
      fail(env, std::string(FN) + ": params[" + std::to_string(i) + "] = " + std::to_string(d[i]) + " is out of range");
      return false;
    }
  return true;
}

enum class ConvMode { forward, backpropInput, backpropFilter };

/** conv2d(x, xOff, f, fOff, out, params), conv2dBackpropInput(dy, dyOff, f, fOff, dx, params) and
 *  conv2dBackpropFilter(x, xOff, dy, dyOff, df, params); with `depthwise`, the depthwiseConv2d* entries, whose
 *  params are conv2d's with cout = C * M (filter [kh, kw, C, M]) */
napi_value conv_entry(napi_env env, napi_callback_info info, ConvMode mode, bool depthwise) {
  static const char* const kNames[2][3] = {
      {"conv2d", "conv2dBackpropInput", "conv2dBackpropFilter"},
      {"depthwiseConv2d", "depthwiseConv2dBackpropInput", "depthwiseConv2dBackpropFilter"}};
  const char* FN = kNames[depthwise ? 1 : 0][static_cast<int>(mode)];
  Call c(env, info);
  NEED(6);
  ARR(a0, 0, "first input");
  I64(off0, 1);
  ARR(a1, 2, "second input");
  I64(off1, 3);
  ARR(o, 4, "out");
  ARR(p, 5, "params");
  ConvArgs a;
  if (!conv_args(env, p, &a, FN)) return nullptr;
  CHECK(a0.dtype == a1.dtype && a0.dtype == o.dtype && (a0.dtype == F32 || a0.dtype == F64),
        "needs matching float32 or float64 arrays");
  if (depthwise) CHECK(a.cin > 0 && a.cout % a.cin == 0, "output channels must be a multiple of the input channels");
  const int64_t inSize = a.n * a.h * a.w * a.cin, outSize = a.n * a.ho * a.wo * a.cout,
                filterSize = a.kh * a.kw * a.cout * (depthwise ? 1 : a.cin);
  if (mode == ConvMode::backpropFilter) {
    SPAN(px, a0, off0, inSize, "input");
    SPAN(pdy, a1, off1, outSize, "dy");
    SPAN(po, o, 0, filterSize, "out");
    (depthwise ? active->depthwiseConv2dBackpropFilter : active->conv2dBackpropFilter)(a0.dtype, a, px, pdy, po);
    return undefined(env);
  }
  const bool backprop = mode == ConvMode::backpropInput;
  SPAN(pf, a1, off1, filterSize, "filter");
  SPAN(px, a0, off0, backprop ? outSize : inSize, backprop ? "dy" : "input");
  SPAN(po, o, 0, backprop ? inSize : outSize, "out");
  if (backprop)
    (depthwise ? active->depthwiseConv2dBackpropInput : active->conv2dBackpropInput)(a0.dtype, a, px, pf, po);
  else
    (depthwise ? active->depthwiseConv2d : active->conv2d)(a0.dtype, a, px, pf, po);
  return undefined(env);
}

#define CANDOR_CONV_ENTRY(name, mode, depthwise) \
  napi_value name(napi_env env, napi_callback_info info) { return conv_entry(env, info, ConvMode::mode, depthwise); }
CANDOR_CONV_ENTRY(Conv2d, forward, false)
CANDOR_CONV_ENTRY(Conv2dBackpropInput, backpropInput, false)
CANDOR_CONV_ENTRY(Conv2dBackpropFilter, backpropFilter, false)
CANDOR_CONV_ENTRY(DepthwiseConv2d, forward, true)
CANDOR_CONV_ENTRY(DepthwiseConv2dBackpropInput, backpropInput, true)
CANDOR_CONV_ENTRY(DepthwiseConv2dBackpropFilter, backpropFilter, true)
#undef CANDOR_CONV_ENTRY

// ---- pooling ----

/** p = Float64Array [n, h, w, c, ho, wo, kh, kw, strideH, strideW, padTop, padLeft]. Reads of x are
 *  bounds-checked per tap (pool_tap); these keep every product and loop well-formed. */
bool pool_args(napi_env env, const Arr& p, PoolArgs* a, const char* FN) {
  if (p.dtype != F64 || p.length < 12) {
    fail(env, std::string(FN) + ": params must be a Float64Array of 12 numbers");
    return false;
  }
  const double* d = reinterpret_cast<const double*>(p.data);
  for (int i = 0; i < 12; i++)
    if (d[i] < (i >= 6 && i < 10 ? 1 : 0) || d[i] > 2147483647.0) {
      fail(env, std::string(FN) + ": params[" + std::to_string(i) + "] = " + std::to_string(d[i]) + " is out of range");
      return false;
    }
  auto at = [&](int i) { return static_cast<int64_t>(d[i]); };
  *a = PoolArgs{at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11)};
  return true;
}

/** pool2d(isMax, x, xOff, out, params) */
napi_value Pool2d(napi_env env, napi_callback_info info) {
  const char* FN = "pool2d";
  Call c(env, info);
  NEED(5);
  bool isMax = false;
  get_bool(env, c.argv[0], &isMax);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(o, 3, "out");
  ARR(p, 4, "params");
  PoolArgs a;
  if (!pool_args(env, p, &a, FN)) return nullptr;
  CHECK(x.dtype == o.dtype && (x.dtype == F32 || x.dtype == F64), "needs matching float32 or float64 arrays");
  SPAN(px, x, xOff, a.n * a.h * a.w * a.c, "x");
  SPAN(po, o, 0, a.n * a.ho * a.wo * a.c, "out");
  active->pool2d(x.dtype, isMax, a, px, po);
  return undefined(env);
}

/** pool2dBackprop(isMax, x, xOff, dy, dyOff, dx, params): x is read by max only (avg may pass dy) */
napi_value Pool2dBackprop(napi_env env, napi_callback_info info) {
  const char* FN = "pool2dBackprop";
  Call c(env, info);
  NEED(7);
  bool isMax = false;
  get_bool(env, c.argv[0], &isMax);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(dy, 3, "dy");
  I64(dyOff, 4);
  ARR(o, 5, "dx");
  ARR(p, 6, "params");
  PoolArgs a;
  if (!pool_args(env, p, &a, FN)) return nullptr;
  CHECK(x.dtype == o.dtype && dy.dtype == o.dtype && (o.dtype == F32 || o.dtype == F64),
        "needs matching float32 or float64 arrays");
  const int64_t inSize = a.n * a.h * a.w * a.c;
  SPAN(px, x, xOff, isMax ? inSize : 0, "x");
  SPAN(pdy, dy, dyOff, a.n * a.ho * a.wo * a.c, "dy");
  SPAN(po, o, 0, inSize, "dx");
  active->pool2dBackprop(o.dtype, isMax, a, px, pdy, po);
  return undefined(env);
}

#define CANDOR_CONV_ENTRIES(X)                                          \
  X(conv2d, Conv2d)                                                     \
  X(conv2dBackpropInput, Conv2dBackpropInput)                           \
  X(conv2dBackpropFilter, Conv2dBackpropFilter)                         \
  X(pool2d, Pool2d)                                                     \
  X(pool2dBackprop, Pool2dBackprop) X(depthwiseConv2d, DepthwiseConv2d) \
      X(depthwiseConv2dBackpropInput, DepthwiseConv2dBackpropInput)     \
          X(depthwiseConv2dBackpropFilter, DepthwiseConv2dBackpropFilter)
