// The N-API entry points of the training-step families (bias activation, cross-entropy, optimizer steps,
// dropout, layer normalization). Included by addon.cc inside its anonymous namespace, after its argument
// helpers and macros; CANDOR_TRAIN_STEP_ENTRIES lists each JS name and function once.
#pragma once

// ------------------------------------------------------------------------- training-step fusions

bool get_activation(napi_env env, napi_value v, Activation* act, const char* fn) {
  int64_t code;
  if (!get_i64(env, v, &code, fn)) return false;
  if (code >= ACTIVATION_COUNT) {
    fail(env, std::string(fn) + ": unknown activation code " + std::to_string(code));
    return false;
  }
  *act = static_cast<Activation>(code);
  return true;
}

bool is_float(const Arr& a) { return a.dtype == F32 || a.dtype == F64; }

/** biasActivation(act, z, zOff, bias, biasOff, out, rows, C) */
napi_value BiasActivation(napi_env env, napi_callback_info info) {
  const char* FN = "biasActivation";
  Call c(env, info);
  NEED(8);
  Activation act;
  if (!get_activation(env, c.argv[0], &act, FN)) return nullptr;
  ARR(z, 1, "z");
  I64(zOff, 2);
  ARR(b, 3, "bias");
  I64(bOff, 4);
  ARR(o, 5, "out");
  I64(rows, 6);
  I64(C, 7);
  CHECK(is_float(z) && z.dtype == b.dtype && z.dtype == o.dtype, "needs matching float32 or float64 arrays");
  SPAN(pz, z, zOff, rows * C, "z");
  SPAN(pb, b, bOff, C, "bias");
  SPAN(po, o, 0, rows * C, "out");
  active->biasActivation(z.dtype, act, pz, pb, po, rows, C);
  return undefined(env);
}

/** activationGrad(act, dy, dyOff, y, yOff, out) */
napi_value ActivationGrad(napi_env env, napi_callback_info info) {
  const char* FN = "activationGrad";
  Call c(env, info);
  NEED(6);
  Activation act;
  if (!get_activation(env, c.argv[0], &act, FN)) return nullptr;
  ARR(dy, 1, "dy");
  I64(dyOff, 2);
  ARR(y, 3, "y");
  I64(yOff, 4);
  ARR(o, 5, "out");
  CHECK(is_float(dy) && dy.dtype == y.dtype && dy.dtype == o.dtype, "needs matching float32 or float64 arrays");
  int64_t n = static_cast<int64_t>(o.length);
  SPAN(pdy, dy, dyOff, n, "dy");
  SPAN(py, y, yOff, n, "y");
  active->activationGrad(dy.dtype, act, pdy, py, o.data, n);
  return undefined(env);
}

/** sparseSoftmaxCrossEntropy(logits, off, labels, labelsOff, dy | null, dyOff, out, rows, C): returns -1,
 *  or the first row whose label is outside [0, C) (nothing written then). */
napi_value SparseSoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  const char* FN = "sparseSoftmaxCrossEntropy";
  Call c(env, info);
  NEED(9);
  ARR(x, 0, "logits");
  I64(xOff, 1);
  ARR(lab, 2, "labels");
  I64(labOff, 3);
  I64(dyOff, 5);
  ARR(o, 6, "out");
  I64(rows, 7);
  I64(C, 8);
  napi_valuetype dyType;
  napi_typeof(env, c.argv[4], &dyType);
  const bool backward = dyType != napi_null && dyType != napi_undefined;
  CHECK(is_float(x) && x.dtype == o.dtype && lab.dtype == I32, "needs float32 or float64 logits and out, int32 labels");
  CHECK(C > 0, "needs at least one class");
  SPAN(px, x, xOff, rows * C, "logits");
  SPAN(pl, lab, labOff, rows, "labels");
  SPAN(po, o, 0, backward ? rows * C : rows, "out");
  char* pdy = nullptr;
  if (backward) {
    ARR(dy, 4, "dy");
    CHECK(dy.dtype == x.dtype, "dy must have the logits' dtype");
    if (!span(env, dy, dyOff, rows, FN, "dy", &pdy)) return nullptr;
  }
  const int32_t* labels = reinterpret_cast<const int32_t*>(pl);
  for (int64_t r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= C) return make_number(env, static_cast<double>(r));
  active->sparseSoftmaxCrossEntropy(x.dtype, px, labels, pdy, po, rows, C);
  return make_number(env, -1);
}

/** optimizerStep(kind, arrays, offsets, sizes, outs, hyper): arrays = [params..., grads..., slots1...,
 *  slots2...] (slots as the kind needs), offsets one per array (Float64Array), sizes one per tensor, outs =
 *  [params'..., slots1'..., slots2'...] (one typed array per tensor, of the arrays' dtype),
 *  hyper = Float64Array [lr, weightDecay, beta1, beta2, epsilon, alpha, momentum, nesterov]. */
napi_value OptimizerStepEntry(napi_env env, napi_callback_info info) {
  const char* FN = "optimizerStep";
  Call c(env, info);
  NEED(6);
  I64(kind, 0);
  ARR(offs, 2, "offsets");
  ARR(sizes, 3, "sizes");
  ARR(hyper, 5, "hyper");
  CHECK(kind == opt_adam || kind == opt_sgd, "unknown optimizer kind");
  CHECK(offs.dtype == F64 && sizes.dtype == F64 && hyper.dtype == F64 && hyper.length >= 8,
        "offsets, sizes and hyper must be Float64Arrays");
  const double* h = reinterpret_cast<const double*>(hyper.data);
  OptimizerStep s{};
  s.kind = static_cast<OptimizerKind>(kind);
  s.lr = h[0];
  s.weightDecay = h[1];
  s.beta1 = h[2];
  s.beta2 = h[3];
  s.epsilon = h[4];
  s.alpha = h[5];
  s.momentum = h[6];
  s.nesterov = h[7] != 0;
  const int64_t count = static_cast<int64_t>(sizes.length);
  const int groups = s.kind == opt_adam ? 4 : s.momentum != 0 ? 3 : 2;
  uint32_t n = 0;
  napi_get_array_length(env, c.argv[1], &n);
  CHECK(n == static_cast<uint32_t>(groups * count) && offs.length == n,
        "expected " + std::to_string(groups * count) + " arrays and offsets");
  std::vector<int64_t> sz(count);
  std::vector<const void*> ptrs(4 * count, nullptr);
  DType dt = F32;
  const double* offsets = reinterpret_cast<const double*>(offs.data);
  int64_t total = 0;
  for (int64_t i = 0; i < count; i++) {
    double d = reinterpret_cast<const double*>(sizes.data)[i];
    CHECK(d >= 0 && d == static_cast<double>(static_cast<int64_t>(d)), "sizes must be non-negative integers");
    sz[i] = static_cast<int64_t>(d);
    total += sz[i];
  }
  for (uint32_t j = 0; j < n; j++) {
    napi_value v;
    napi_get_element(env, c.argv[1], j, &v);
    Arr a;
    if (!get_arr(env, v, &a, FN, "every array")) return nullptr;
    if (j == 0) dt = a.dtype;
    CHECK(is_float(a) && a.dtype == dt, "every array must be float32 or float64, all of one dtype");
    double off = offsets[j];
    CHECK(off >= 0 && off == static_cast<double>(static_cast<int64_t>(off)), "offsets must be non-negative integers");
    char* p;
    if (!span(env, a, static_cast<int64_t>(off), sz[j % count], FN, "a parameter or slot", &p)) return nullptr;
    ptrs[j] = p;
  }
  const int slotGroups = groups - 2;
  std::vector<void*> outs((1 + slotGroups) * count);
  for (int64_t j = 0; j < static_cast<int64_t>(outs.size()); j++) {
    OUT(po, 4, static_cast<uint32_t>(j), dt, sz[j % count], "a parameter's or slot's output");
    outs[j] = po;
  }
  s.count = count;
  s.sizes = sz.data();
  s.params = ptrs.data();
  s.grads = ptrs.data() + count;
  s.slots1 = ptrs.data() + 2 * count;
  s.slots2 = ptrs.data() + 3 * count;
  s.outs = outs.data();
  if (count == 0) return undefined(env);
  active->optimizerStep(dt, s);
  return undefined(env);
}

/** dropout(x, xOff, out, seed, counter, keepProb, scale): seed and counter below 2^53. */
napi_value Dropout(napi_env env, napi_callback_info info) {
  const char* FN = "dropout";
  Call c(env, info);
  NEED(7);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(o, 2, "out");
  I64(seed, 3);
  I64(counter, 4);
  double keepProb, scale;
  napi_get_value_double(env, c.argv[5], &keepProb);
  napi_get_value_double(env, c.argv[6], &scale);
  CHECK(is_float(x) && x.dtype == o.dtype, "needs matching float32 or float64 arrays");
  int64_t n = static_cast<int64_t>(o.length);
  SPAN(px, x, xOff, n, "x");
  active->dropout(x.dtype, px, o.data, n, static_cast<uint64_t>(seed), static_cast<uint64_t>(counter), keepProb, scale);
  return undefined(env);
}

/** layerNorm(grad, x, xOff, gamma, gOff, third, thirdOff, outs, rows, C, eps): third is beta (forward) or dy
 *  (grad); outs is [y] (forward) or [dx, dgamma] (grad). */
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  const char* FN = "layerNorm";
  Call c(env, info);
  NEED(11);
  bool grad = false;
  get_bool(env, c.argv[0], &grad);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(g, 3, "gamma");
  I64(gOff, 4);
  ARR(t, 5, grad ? "dy" : "beta");
  I64(tOff, 6);
  I64(rows, 8);
  I64(C, 9);
  double eps;
  napi_get_value_double(env, c.argv[10], &eps);
  CHECK(is_float(x) && x.dtype == g.dtype && x.dtype == t.dtype, "needs matching float32 or float64 arrays");
  SPAN(px, x, xOff, rows * C, "x");
  SPAN(pg, g, gOff, C, "gamma");
  SPAN(pt, t, tOff, grad ? rows * C : C, grad ? "dy" : "beta");
  OUT(po, 7, 0, x.dtype, rows * C, grad ? "dx" : "out");
  if (grad) {
    OUT(pdg, 7, 1, x.dtype, C, "dgamma");
    active->layerNormGrad(x.dtype, px, pg, pt, po, pdg, rows, C, eps);
  } else {
    active->layerNorm(x.dtype, px, pg, pt, po, rows, C, eps);
  }
  return undefined(env);
}

#define CANDOR_TRAIN_STEP_ENTRIES(X)                                                                                   \
  X(biasActivation, BiasActivation)                                                                                    \
  X(activationGrad, ActivationGrad)                                                                                    \
  X(sparseSoftmaxCrossEntropy, SparseSoftmaxCrossEntropy) X(optimizerStep, OptimizerStepEntry) X(layerNorm, LayerNorm) \
      X(dropout, Dropout)
