// The N-API entry points of the int8 family (kernels/quantized.h). Included by addon.cc inside its anonymous
// namespace, after its argument helpers and macros and conv_args (napi_conv.h); CANDOR_QUANTIZED_ENTRIES lists
// each JS name and function once.
#pragma once

/** Whether the CPU runs the avx512 table and VNNI. */
bool cpu_has_vnni() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return cpu_supports(&avx512::table) && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

/** The int8 kernels this CPU can run, best first. */
std::vector<const QuantizedKernels*> quantized_available() {
  std::vector<const QuantizedKernels*> list;
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_vnni()) list.push_back(&avx512vnni::quantized);
#endif
  for (const IsaTable* t : kTables)
    if (cpu_supports(t)) list.push_back(&t->quantized);
  return list;
}

/** The best int8 kernels for the active table (called whenever it changes). */
void select_quantized() {
#if defined(__x86_64__) || defined(__i386__)
  if (active == &avx512::table && cpu_has_vnni()) {
    activeQuantized = &avx512vnni::quantized;
    return;
  }
#endif
  activeQuantized = &active->quantized;
}

/** The int8 kernels the addon runs: avx512vnni's where the CPU has VNNI and the avx512 table is active, else the
 *  active table's; quantizedIsa(name) overrides that until the table changes (tests compare every one). */
const QuantizedKernels* quantized_kernels() {
  if (!activeQuantized) select_quantized();
  return activeQuantized;
}

/** The float quantisation and epilogue parameters at p[at], p[at + 1], p[at + 2]: inverseScale (a float32
 *  value), zeroPoint in [0, 255], relu (0 or 1). */
bool quantized_args(napi_env env, const Arr& p, size_t at, QuantizedArgs* q, const char* FN) {
  if (p.dtype != F64 || p.length < at + 3) {
    fail(env, std::string(FN) + ": params must be a Float64Array of " + std::to_string(at + 3) + " numbers");
    return false;
  }
  const double* d = reinterpret_cast<const double*>(p.data) + at;
  const float inverse = static_cast<float>(d[0]);
  if (!(inverse > 0 && std::isfinite(inverse)) || d[1] < 0 || d[1] > 255 || d[1] != static_cast<int>(d[1]) ||
      (d[2] != 0 && d[2] != 1)) {
    fail(env, std::string(FN) + ": bad quantisation parameters (inverse scale " + std::to_string(d[0]) +
                  ", zero point " + std::to_string(d[1]) + ", relu " + std::to_string(d[2]) + ")");
    return false;
  }
  *q = QuantizedArgs{inverse, static_cast<int32_t>(d[1]), d[2] == 1};
  return true;
}

/** The per-output-channel scale and bias (args 4..7), float32, n each. */
#define QUANTIZED_CHANNELS(n)                                                          \
  ARR(scale, 4, "scale");                                                              \
  I64(scaleOff, 5);                                                                    \
  ARR(bias, 6, "bias");                                                                \
  I64(biasOff, 7);                                                                     \
  CHECK(scale.dtype == F32 && bias.dtype == F32, "scale and bias must be float32");    \
  SPAN(ps, scale, scaleOff, n, "scale");                                               \
  SPAN(pb, bias, biasOff, n, "bias")

/** quantizedMatmul(x, xOff, w, wOff, scale, scaleOff, bias, biasOff, out, params) -> whether x held a NaN (out is
 *  then unwritten): x float32 [m, k], w int8 [k, n]; params = Float64Array [m, k, n, inverseScale, zeroPoint, relu]. */
napi_value QuantizedMatmul(napi_env env, napi_callback_info info) {
  const char* FN = "quantizedMatmul";
  Call c(env, info);
  NEED(10);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(w, 2, "w");
  I64(wOff, 3);
  ARR(o, 8, "out");
  ARR(p, 9, "params");
  QuantizedArgs q;
  if (!quantized_args(env, p, 3, &q, FN)) return nullptr;
  const double* d = reinterpret_cast<const double*>(p.data);
  for (int i = 0; i < 3; i++) CHECK(d[i] >= 0 && d[i] <= 2147483647.0 && d[i] == int64_t(d[i]), "bad m, k or n");
  const int64_t m = int64_t(d[0]), k = int64_t(d[1]), n = int64_t(d[2]);
  CHECK(x.dtype == F32 && w.dtype == I8 && o.dtype == F32, "needs float32 x, int8 w and a float32 out");
  QUANTIZED_CHANNELS(n);
  SPAN(px, x, xOff, m * k, "x");
  SPAN(pw, w, wOff, k * n, "w");
  SPAN(po, o, 0, m * n, "out");
  const bool nan = quantized_kernels()->matmul(q, m, k, n, reinterpret_cast<const float*>(px),
                                               reinterpret_cast<const int8_t*>(pw), reinterpret_cast<const float*>(ps),
                                               reinterpret_cast<const float*>(pb), reinterpret_cast<float*>(po));
  napi_value result;
  napi_get_boolean(env, nan, &result);
  return result;
}

/** quantizedConv2d(x, xOff, w, wOff, scale, scaleOff, bias, biasOff, out, params) -> whether x held a NaN (out is
 *  then unwritten): x float32 [n, h, w, cin], w int8 [kh, kw, cin, cout]; params = conv2d's 15 then inverseScale,
 *  zeroPoint, relu. */
napi_value QuantizedConv2d(napi_env env, napi_callback_info info) {
  const char* FN = "quantizedConv2d";
  Call c(env, info);
  NEED(10);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(w, 2, "w");
  I64(wOff, 3);
  ARR(o, 8, "out");
  ARR(p, 9, "params");
  ConvArgs a;
  QuantizedArgs q;
  if (!conv_args(env, p, &a, FN) || !quantized_args(env, p, 15, &q, FN)) return nullptr;
  CHECK(x.dtype == F32 && w.dtype == I8 && o.dtype == F32, "needs float32 x, int8 w and a float32 out");
  // Every read is of the image the kernel writes out with its padding, so any window extent is in bounds.
  QUANTIZED_CHANNELS(a.cout);
  SPAN(px, x, xOff, a.n * a.h * a.w * a.cin, "x");
  SPAN(pw, w, wOff, a.kh * a.kw * a.cin * a.cout, "w");
  SPAN(po, o, 0, a.n * a.ho * a.wo * a.cout, "out");
  const bool nan = quantized_kernels()->conv2d(q, a, reinterpret_cast<const float*>(px),
                                               reinterpret_cast<const int8_t*>(pw), reinterpret_cast<const float*>(ps),
                                               reinterpret_cast<const float*>(pb), reinterpret_cast<float*>(po));
  napi_value result;
  napi_get_boolean(env, nan, &result);
  return result;
}
#undef QUANTIZED_CHANNELS

/** quantizedIsa(name?) -> { isa, available }: the int8 kernels' instruction set; a name selects one this CPU runs
 *  ('' = the best for the active table) and throws for any other. */
napi_value QuantizedIsa(napi_env env, napi_callback_info info) {
  const char* FN = "quantizedIsa";
  Call c(env, info);
  const std::vector<const QuantizedKernels*> list = quantized_available();
  napi_valuetype type = napi_undefined;
  if (c.argc >= 1) napi_typeof(env, c.argv[0], &type);
  if (type == napi_string) {
    char name[32] = {0};
    size_t len;
    napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len);
    if (!*name) {
      select_quantized();
    } else {
      const QuantizedKernels* found = nullptr;
      for (const QuantizedKernels* k : list)
        if (std::strcmp(k->name, name) == 0) found = k;
      CHECK(found, std::string("instruction set '") + name + "' is unknown or not supported by this CPU");
      activeQuantized = found;
    }
  }
  napi_value o, names;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "isa", make_string(env, quantized_kernels()->name));
  napi_create_array(env, &names);
  for (uint32_t i = 0; i < list.size(); i++) napi_set_element(env, names, i, make_string(env, list[i]->name));
  napi_set_named_property(env, o, "available", names);
  return o;
}

#define CANDOR_QUANTIZED_ENTRIES(X) \
  X(quantizedMatmul, QuantizedMatmul) X(quantizedConv2d, QuantizedConv2d) X(quantizedIsa, QuantizedIsa)
