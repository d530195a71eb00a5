// The N-API entry points of the sequence-model families (recurrent cells, attention). Included by addon.cc
// inside its anonymous namespace, after its argument helpers and macros; CANDOR_SEQ_ENTRIES lists each JS
// name and function once.
#pragma once

// ---------------------------------------------------------------------------------- sequence models

/** An optional typed array: null or undefined leave it empty (data null, length 0). */
bool get_opt_arr(napi_env env, napi_value v, Arr* a, const char* fn, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    *a = Arr{nullptr, 0, F32, 4};
    return true;
  }
  return get_arr(env, v, a, fn, what);
}
#define OPT_ARR(name, i, what) \
  Arr name;                    \
  if (!get_opt_arr(c.env, c.argv[i], &name, FN, what)) return nullptr
/** Like SPAN, for an optional array: null when absent. */
#define OPT_SPAN(ptr, arr, off, count, what) \
  char* ptr = nullptr;                       \
  if (arr.data && !span(c.env, arr, off, count, FN, what, &ptr)) return nullptr

/** cell(lstm, grad, xw, xwOff, hu, huOff, state, stateOff, dy, dyOff, extra, extraOff, outs, b, u): an LSTM
 *  step (extra: dc, with grad) or a GRU step (extra: the recurrent bias, or null); dy (dh for the LSTM) is
 *  null unless grad. outs: LSTM [h, c] or, with grad, [dz, dc]; GRU [h] or, with grad, [dxw, dhu, dh]. */
napi_value Cell(napi_env env, napi_callback_info info) {
  const char* FN = "cell";
  Call c(env, info);
  NEED(15);
  bool lstm = false, grad = false;
  if (!get_bool(env, c.argv[0], &lstm) || !get_bool(env, c.argv[1], &grad))
    return fail(env, std::string(FN) + ": lstm and grad must be booleans");
  ARR(xw, 2, "xw");
  I64(xwOff, 3);
  ARR(hu, 4, "hu");
  I64(huOff, 5);
  ARR(st, 6, "state");
  I64(stOff, 7);
  OPT_ARR(dy, 8, "dy");
  I64(dyOff, 9);
  OPT_ARR(ex, 10, lstm ? "dc" : "bias");
  I64(exOff, 11);
  I64(b, 13);
  I64(u, 14);
  const DType dt = xw.dtype;
  CHECK(dt == F32 || dt == F64, "needs float32 or float64 arrays");
  CHECK(hu.dtype == dt && st.dtype == dt && (!dy.data || dy.dtype == dt) && (!ex.data || ex.dtype == dt),
        "operand dtypes differ");
  CHECK(!grad || (dy.data && (!lstm || ex.data)), "the gradient needs the next states' gradients");
  const int64_t gates = lstm ? 4 : 3;
  SPAN(pxw, xw, xwOff, b * gates * u, "xw");
  SPAN(phu, hu, huOff, b * gates * u, "hu");
  SPAN(pst, st, stOff, b * u, "state");
  OPT_SPAN(pdy, dy, dyOff, b * u, "dy");
  OPT_SPAN(pex, ex, exOff, lstm ? b * u : gates * u, lstm ? "dc" : "bias");
  // Each result's elements per row of the batch, in the order of outs.
  std::vector<int64_t> widths;
  if (lstm)
    widths = grad ? std::vector<int64_t>{4 * u, u} : std::vector<int64_t>{u, u};
  else
    widths = grad ? std::vector<int64_t>{3 * u, 3 * u, u} : std::vector<int64_t>{u};
  void* outs[3] = {nullptr, nullptr, nullptr};
  for (size_t j = 0; j < widths.size(); j++) {
    OUT(po, 12, static_cast<uint32_t>(j), dt, b * widths[j], "a result");
    outs[j] = po;
  }
  if (b * u == 0) return undefined(env);
  if (lstm)
    active->lstmCell(dt, grad, b, u, pxw, phu, pst, grad ? pdy : nullptr, grad ? pex : nullptr, outs);
  else
    active->gruCell(dt, grad, b, u, pxw, phu, pst, grad ? pdy : nullptr, pex, outs);
  return undefined(env);
}

/** attention(q, qOff, k, kOff, v, vOff, dy, dyOff, mask, maskOff, outs, params): dy (the backward) and mask
 *  may be null (the mask is bool, or additive in the operands' dtype); params = Float64Array
 *  [b, t, s, h, dk, dv, maskBatch, maskRows, offset, scale, causal]
 *  with maskBatch in {1, b} and maskRows in {1, t} (the mask is [maskBatch, maskRows, s]); outs is [y] or,
 *  with dy, [dq, dk, dv]. */
napi_value Attention(napi_env env, napi_callback_info info) {
  const char* FN = "attention";
  Call c(env, info);
  NEED(12);
  ARR(q, 0, "q");
  I64(qOff, 1);
  ARR(k, 2, "k");
  I64(kOff, 3);
  ARR(v, 4, "v");
  I64(vOff, 5);
  OPT_ARR(dy, 6, "dy");
  I64(dyOff, 7);
  OPT_ARR(m, 8, "mask");
  I64(mOff, 9);
  ARR(p, 11, "params");
  CHECK(p.dtype == F64 && p.length >= 11, "params must be a Float64Array of 11 numbers");
  const double* d = reinterpret_cast<const double*>(p.data);
  for (int i = 0; i < 9; i++)
    CHECK(d[i] >= 0 && d[i] == double(int64_t(d[i])), "dimensions must be non-negative integers");
  auto at = [&](int i) { return static_cast<int64_t>(d[i]); };
  AttnArgs a{at(0), at(1), at(2), at(3), at(4), at(5), 0, 0, at(8), d[9], d[10] != 0, false};
  const int64_t mb = at(6), mt = at(7);
  CHECK((mb == 1 || mb == a.b) && (mt == 1 || mt == a.t), "the mask must be [1 or b, 1 or t, s]");
  a.maskB = mb == 1 ? 0 : mt * a.s;
  a.maskT = mt == 1 ? 0 : a.s;
  const DType dt = q.dtype;
  CHECK(dt == F32 || dt == F64, "needs float32 or float64 arrays");
  CHECK(k.dtype == dt && v.dtype == dt && (!dy.data || dy.dtype == dt), "operand dtypes differ");
  CHECK(!m.data || m.dtype == U8 || m.dtype == dt, "the mask must be bool (uint8) or additive in the operands' dtype");
  a.additive = m.data && m.dtype == dt;
  const int64_t qn = a.b * a.t * a.h * a.dk, kn = a.b * a.s * a.h * a.dk, vn = a.b * a.s * a.h * a.dv,
                yn = a.b * a.t * a.h * a.dv;
  SPAN(pq, q, qOff, qn, "q");
  SPAN(pk, k, kOff, kn, "k");
  SPAN(pv, v, vOff, vn, "v");
  OPT_SPAN(pdy, dy, dyOff, yn, "dy");
  OPT_SPAN(pm, m, mOff, mb * mt * a.s, "mask");
  const std::vector<int64_t> sizes = dy.data ? std::vector<int64_t>{qn, kn, vn} : std::vector<int64_t>{yn};
  void* outs[3] = {nullptr, nullptr, nullptr};
  int64_t outSize = 0;
  for (size_t j = 0; j < sizes.size(); j++) {
    OUT(po, 10, static_cast<uint32_t>(j), dt, sizes[j], "a result");
    outs[j] = po;
    outSize += sizes[j];
  }
  if (outSize == 0) return undefined(env);
  active->attention(dt, a, pq, pk, pv, pdy, pm, outs);
  return undefined(env);
}

#define CANDOR_SEQ_ENTRIES(X) X(cell, Cell) X(attention, Attention)
