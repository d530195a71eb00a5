// The Node-API surface of the native backend: memory regions (kernels/memory.cc),
// instruction-set and thread-count control, and one entry point per kernel family. Kernels
// take typed arrays plus element offsets; every extent is checked against the arrays here, so a bad call
// throws instead of touching memory it does not own. Plain C Node-API: no dependency beyond Node's headers.
#include <node_api.h>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>
#include "common.h"
#include "memory.h"
#include "philox.h"
#include "scatter.h"

namespace candor {
namespace {

/** Bumped whenever the JS-visible surface changes; the loader refuses an addon built from other sources. */
constexpr int kVersion = 8;

const IsaTable* active = nullptr;
/** The int8 kernels in use; null after the table changes, until napi_quantized.h's quantized_kernels() picks. */
const QuantizedKernels* activeQuantized = nullptr;
std::string isaNote;

// ------------------------------------------------------------------------------------ CPU features

bool cpu_supports(const IsaTable* t) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (t == &avx512::table)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  if (t == &avx2::table) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return t == &scalar::table;
}

#if defined(__x86_64__) || defined(__i386__)
const IsaTable* const kTables[] = {&avx512::table, &avx2::table, &scalar::table};
#else
const IsaTable* const kTables[] = {&scalar::table};
#endif

/** Selects `name`, or the best the CPU has when name is empty. Returns false (table unchanged) when the
 *  name is unknown or the CPU lacks it. */
bool select_isa(const char* name) {
  for (const IsaTable* t : kTables) {
    if ((!*name || std::strcmp(name, t->name) == 0) && cpu_supports(t)) {
      active = t;
      activeQuantized = nullptr;
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------------------ argument handling

struct Arr {
  char* data;     // first element of the typed array (its byteOffset applied)
  size_t length;  // elements
  DType dtype;
  int bytes;  // per element
};

napi_value fail(napi_env env, const std::string& msg) {
  napi_throw_error(env, "CANDOR_NATIVE", msg.c_str());
  return nullptr;
}

bool get_arr(napi_env env, napi_value v, Arr* a, const char* fn, const char* what) {
  bool is = false;
  napi_typedarray_type type;
  void* data = nullptr;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &a->length, &data, nullptr, nullptr) != napi_ok) {
    fail(env, std::string(fn) + ": " + what + " must be a typed array");
    return false;
  }
  switch (type) {
    case napi_float32_array:
      a->dtype = F32;
      a->bytes = 4;
      break;
    case napi_float64_array:
      a->dtype = F64;
      a->bytes = 8;
      break;
    case napi_int32_array:
      a->dtype = I32;
      a->bytes = 4;
      break;
    case napi_uint8_array:
      a->dtype = U8;
      a->bytes = 1;
      break;
    case napi_int8_array:
      a->dtype = I8;
      a->bytes = 1;
      break;
    default:
      fail(env, std::string(fn) + ": " + what + " has an unsupported element type");
      return false;
  }
  a->data = static_cast<char*>(data);
  return true;
}

bool get_i64(napi_env env, napi_value v, int64_t* out, const char* fn) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != static_cast<double>(static_cast<int64_t>(d)) || d < 0) {
    fail(env, std::string(fn) + ": expected a non-negative integer argument");
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool get_bool(napi_env env, napi_value v, bool* out) {
  return napi_get_value_bool(env, v, out) == napi_ok || napi_coerce_to_bool(env, v, &v) == napi_ok;
}

/** Sets *p to element `offset` of a after checking that [offset, offset + count) lies inside it; throws
 *  and returns false otherwise. (An empty array may have a null data pointer, so *p may be null.) */
bool span(napi_env env, const Arr& a, int64_t offset, int64_t count, const char* fn, const char* what, char** p) {
  if (offset < 0 || count < 0 || static_cast<uint64_t>(offset) + static_cast<uint64_t>(count) > a.length) {
    fail(env, std::string(fn) + ": " + what + " needs elements [" + std::to_string(offset) + ", " +
                  std::to_string(offset + count) + ") but has " + std::to_string(a.length));
    return false;
  }
  *p = a.data + offset * a.bytes;
  return true;
}

/** Result j of an op with several results: element j of the JS array `outs` (one typed array per result),
 *  of dtype `dt`, with room for `count` elements from its start. */
bool out_at(napi_env env, napi_value outs, uint32_t j, DType dt, int64_t count, const char* fn, const char* what,
            char** p) {
  bool isArray = false;
  uint32_t n = 0;
  if (napi_is_array(env, outs, &isArray) == napi_ok && isArray) napi_get_array_length(env, outs, &n);
  if (j >= n) {
    fail(env, std::string(fn) + ": outs must be an array with " + what + " at index " + std::to_string(j));
    return false;
  }
  napi_value v;
  napi_get_element(env, outs, j, &v);
  Arr a;
  if (!get_arr(env, v, &a, fn, what)) return false;
  if (a.dtype != dt) {
    fail(env, std::string(fn) + ": " + what + " must have the operands' dtype");
    return false;
  }
  return span(env, a, 0, count, fn, what, p);
}

struct Call {
  napi_env env;
  napi_value argv[16];
  size_t argc = 16;
  Call(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }
};

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

#define ARR(name, i, what) \
  Arr name;                \
  if (!get_arr(c.env, c.argv[i], &name, FN, what)) return nullptr
#define I64(name, i) \
  int64_t name;      \
  if (!get_i64(c.env, c.argv[i], &name, FN)) return nullptr
#define NEED(n) \
  if (c.argc < n) return fail(c.env, std::string(FN) + ": expected " #n " arguments")
#define SPAN(ptr, arr, off, count, what) \
  char* ptr;                             \
  if (!span(c.env, arr, off, count, FN, what, &ptr)) return nullptr
/** ptr = result j of the outs array argument i (see out_at). */
#define OUT(ptr, i, j, dt, count, what) \
  char* ptr;                            \
  if (!out_at(c.env, c.argv[i], j, dt, count, FN, what, &ptr)) return nullptr
#define CHECK(cond, msg) \
  if (!(cond)) return fail(c.env, std::string(FN) + ": " + (msg))
/** argv[i] as a thread count, 1 to 256. */
#define THREADS(name, i) \
  I64(name, i);          \
  CHECK(name >= 1 && name <= 256, "thread count must be between 1 and 256")

// --------------------------------------------------------------------------------------- controls

napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value make_number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

/** info() -> { isa, available: [...], threads, version, note } */
napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, list;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "isa", make_string(env, active->name));
  napi_create_array(env, &list);
  uint32_t n = 0;
  for (const IsaTable* t : kTables)
    if (cpu_supports(t)) napi_set_element(env, list, n++, make_string(env, t->name));
  napi_set_named_property(env, o, "available", list);
  napi_set_named_property(env, o, "threads", make_number(env, num_threads()));
  napi_set_named_property(env, o, "version", make_number(env, kVersion));
  napi_set_named_property(env, o, "note", make_string(env, isaNote.c_str()));
  return o;
}

/** setIsa(name): '' picks the best the CPU has. Throws for a name the CPU cannot run. */
napi_value SetIsa(napi_env env, napi_callback_info info) {
  const char* FN = "setIsa";
  Call c(env, info);
  NEED(1);
  char name[32] = {0};
  size_t len;
  if (napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len) != napi_ok)
    return fail(env, "setIsa: expected a string");
  if (!select_isa(name))
    return fail(env, std::string("setIsa: instruction set '") + name + "' is unknown or not supported by this CPU");
  return make_string(env, active->name);
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  const char* FN = "setNumThreads";
  Call c(env, info);
  NEED(1);
  THREADS(n, 0);
  set_num_threads(static_cast<int>(n));
  return undefined(env);
}

/** peakFlops(threads, seconds): the active ISA's float32 FMA throughput in GFLOP/s on `threads` threads. */
napi_value PeakFlops(napi_env env, napi_callback_info info) {
  const char* FN = "peakFlops";
  Call c(env, info);
  NEED(2);
  THREADS(threads, 0);
  double seconds;
  if (napi_get_value_double(env, c.argv[1], &seconds) != napi_ok || !(seconds > 0 && seconds <= 10))
    return fail(env, "peakFlops: seconds must be a number in (0, 10]");
  return make_number(env, fma_peak_gflops(active->name, static_cast<int>(threads), seconds));
}

// ----------------------------------------------------------------------------------------- kernels

/** gemm(a, aOff, b, bOff, c, batch, M, N, K, transA, transB) */
napi_value Gemm(napi_env env, napi_callback_info info) {
  const char* FN = "matmul";
  Call c(env, info);
  NEED(11);
  ARR(a, 0, "a");
  I64(aOff, 1);
  ARR(b, 2, "b");
  I64(bOff, 3);
  ARR(o, 4, "out");
  I64(batch, 5);
  I64(M, 6);
  I64(N, 7);
  I64(K, 8);
  bool ta = false, tb = false;
  get_bool(env, c.argv[9], &ta);
  get_bool(env, c.argv[10], &tb);
  CHECK(a.dtype == b.dtype && a.dtype == o.dtype && (a.dtype == F32 || a.dtype == F64),
        "operands must all be float32 or all float64");
  SPAN(pa, a, aOff, batch * M * K, "a");
  SPAN(pb, b, bOff, batch * K * N, "b");
  SPAN(pc, o, 0, batch * M * N, "out");
  active->gemm(a.dtype, GemmArgs{pa, pb, pc, batch, M, N, K, ta, tb});
  return undefined(env);
}

/** unary(op, x, xOff, out): n = out.length */
napi_value Unary(napi_env env, napi_callback_info info) {
  const char* FN = "unary";
  Call c(env, info);
  NEED(4);
  I64(op, 0);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(o, 3, "out");
  CHECK(op < UNARY_COUNT, "unknown op code");
  CHECK(x.dtype == o.dtype, "input and output dtypes differ");
  if (op == op_logicalNot) {
    CHECK(x.dtype == U8, "logicalNot needs a bool (uint8) array");
  } else {
    CHECK(x.dtype == F32 || x.dtype == F64, "float ops need float32 or float64 arrays");
  }
  SPAN(px, x, xOff, o.length, "x");
  active->unary(static_cast<UnaryOp>(op), x.dtype, px, o.data, o.length);
  return undefined(env);
}

/** binary(op, a, aOff, b, bOff, out, scalars): comparisons and logical ops write uint8; scalars bit 0
 *  (1) / bit 1 (2) mark a / b as one element to repeat (Backend.broadcastsScalars). */
napi_value Binary(napi_env env, napi_callback_info info) {
  const char* FN = "binary";
  Call c(env, info);
  NEED(7);
  I64(op, 0);
  ARR(a, 1, "a");
  I64(aOff, 2);
  ARR(b, 3, "b");
  I64(bOff, 4);
  ARR(o, 5, "out");
  I64(scalars, 6);
  CHECK(op < BINARY_COUNT, "unknown op code");
  CHECK(a.dtype == b.dtype, "operand dtypes differ");
  bool toBool = op >= op_equal;
  CHECK(o.dtype == (toBool ? U8 : a.dtype), "output dtype does not fit the op");
  CHECK(toBool || a.dtype != U8, "arithmetic on bool arrays");
  CHECK(scalars < 4, "bad scalar flags");
  SPAN(pa, a, aOff, scalars & 1 ? 1 : o.length, "a");
  SPAN(pb, b, bOff, scalars & 2 ? 1 : o.length, "b");
  if (o.length == 0) return undefined(env);
  active->binary(static_cast<BinaryOp>(op), a.dtype, pa, pb, o.data, o.length, static_cast<int>(scalars));
  return undefined(env);
}

/** reduce(op, x, xOff, out, outer, red, inner) */
napi_value Reduce(napi_env env, napi_callback_info info) {
  const char* FN = "reduce";
  Call c(env, info);
  NEED(7);
  I64(op, 0);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(o, 3, "out");
  I64(outer, 4);
  I64(red, 5);
  I64(inner, 6);
  CHECK(op < REDUCE_COUNT, "unknown op code");
  CHECK(x.dtype == o.dtype && x.dtype != U8, "needs matching float32, float64 or int32 arrays");
  SPAN(px, x, xOff, outer * red * inner, "x");
  SPAN(po, o, 0, outer * inner, "out");
  active->reduce(static_cast<ReduceOp>(op), x.dtype, px, po, outer, red, inner);
  return undefined(env);
}

/** argReduce(isMin, x, xOff, out, outer, red, inner) */
napi_value ArgReduce(napi_env env, napi_callback_info info) {
  const char* FN = "argReduce";
  Call c(env, info);
  NEED(7);
  bool isMin = false;
  get_bool(env, c.argv[0], &isMin);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(o, 3, "out");
  I64(outer, 4);
  I64(red, 5);
  I64(inner, 6);
  CHECK(o.dtype == I32, "output must be int32");
  CHECK(red > 0, "cannot reduce an empty axis");
  SPAN(px, x, xOff, outer * red * inner, "x");
  SPAN(po, o, 0, outer * inner, "out");
  arg_reduce(isMin, x.dtype, px, reinterpret_cast<int32_t*>(po), outer, red, inner);
  return undefined(env);
}

/** gather(x, xOff, idx, idxOff, out, outer, dim, inner) -> -1, or the position of the first index out of
 *  range (the caller raises the typed error). n = idx elements used = out.length / (outer * inner). */
napi_value Gather(napi_env env, napi_callback_info info) {
  const char* FN = "gather";
  Call c(env, info);
  NEED(8);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(idx, 2, "indices");
  I64(idxOff, 3);
  ARR(o, 4, "out");
  I64(outer, 5);
  I64(dim, 6);
  I64(inner, 7);
  CHECK(idx.dtype == I32, "indices must be int32");
  CHECK(x.dtype == o.dtype, "input and output dtypes differ");
  int64_t per = outer * inner, n = per ? static_cast<int64_t>(o.length) / per : 0;
  CHECK(static_cast<uint64_t>(n * per) == o.length, "output length does not fit [outer, indices, inner]");
  SPAN(px, x, xOff, outer * dim * inner, "x");
  SPAN(pi, idx, idxOff, n, "indices");
  return make_number(
      env, static_cast<double>(gather(x.bytes, px, reinterpret_cast<int32_t*>(pi), n, o.data, outer, dim, inner)));
}

/** softmax(log, x, xOff, out, outer, dim, inner) */
napi_value Softmax(napi_env env, napi_callback_info info) {
  const char* FN = "softmax";
  Call c(env, info);
  NEED(7);
  bool log = false;
  get_bool(env, c.argv[0], &log);
  ARR(x, 1, "x");
  I64(xOff, 2);
  ARR(o, 3, "out");
  I64(outer, 4);
  I64(dim, 5);
  I64(inner, 6);
  CHECK(x.dtype == o.dtype && (x.dtype == F32 || x.dtype == F64), "needs matching float32 or float64 arrays");
  SPAN(px, x, xOff, outer * dim * inner, "x");
  SPAN(po, o, 0, outer * dim * inner, "out");
  active->softmax(x.dtype, log, px, po, outer, dim, inner);
  return undefined(env);
}

/** copy(x, xOff, out, dims, rank): dims = Float64Array [shape..., strides...]; strides may be 0 or negative. */
napi_value Copy(napi_env env, napi_callback_info info) {
  const char* FN = "copy";
  Call c(env, info);
  NEED(5);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(o, 2, "out");
  ARR(dims, 3, "dims");
  I64(rank, 4);
  CHECK(x.dtype == o.dtype, "input and output dtypes differ");
  CHECK(dims.dtype == F64 && dims.length >= static_cast<size_t>(2 * rank) && rank <= 64,
        "dims must be a Float64Array of shape and strides (rank <= 64)");
  const double* d = reinterpret_cast<const double*>(dims.data);
  int64_t shape[64], strides[64], n = 1, lo = xOff, hi = xOff;
  for (int64_t i = 0; i < rank; i++) {
    shape[i] = static_cast<int64_t>(d[i]);
    strides[i] = static_cast<int64_t>(d[rank + i]);
    n *= shape[i];
    if (shape[i] > 0) (strides[i] < 0 ? lo : hi) += strides[i] * (shape[i] - 1);
  }
  CHECK(static_cast<uint64_t>(n) == o.length, "output length does not match the shape");
  if (n == 0) return undefined(env);
  // Every address the view can reach lies in [lo, hi].
  SPAN(px, x, lo, hi - lo + 1, "x");
  copy_strided(x.bytes, px + (xOff - lo) * x.bytes, static_cast<int>(rank), shape, strides, o.data, n);
  return undefined(env);
}

/** cast(x, xOff, out): the output's element type is the target dtype */
napi_value Cast(napi_env env, napi_callback_info info) {
  const char* FN = "cast";
  Call c(env, info);
  NEED(3);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(o, 2, "out");
  SPAN(px, x, xOff, o.length, "x");
  cast(x.dtype, o.dtype, px, o.data, o.length);
  return undefined(env);
}

/** where(cond, cOff, a, aOff, b, bOff, out, scalars): scalars bits 0, 1, 2 mark cond, a, b as one element */
napi_value Where(napi_env env, napi_callback_info info) {
  const char* FN = "where";
  Call c(env, info);
  NEED(8);
  ARR(k, 0, "cond");
  I64(kOff, 1);
  ARR(a, 2, "a");
  I64(aOff, 3);
  ARR(b, 4, "b");
  I64(bOff, 5);
  ARR(o, 6, "out");
  I64(scalars, 7);
  CHECK(k.dtype == U8, "condition must be bool (uint8)");
  CHECK(a.dtype == b.dtype && a.dtype == o.dtype, "operand dtypes differ");
  CHECK(scalars < 8, "bad scalar flags");
  SPAN(pk, k, kOff, scalars & 1 ? 1 : o.length, "cond");
  SPAN(pa, a, aOff, scalars & 2 ? 1 : o.length, "a");
  SPAN(pb, b, bOff, scalars & 4 ? 1 : o.length, "b");
  if (o.length == 0) return undefined(env);
  where(o.bytes, reinterpret_cast<uint8_t*>(pk), pa, pb, o.data, o.length, static_cast<int>(scalars));
  return undefined(env);
}

#include "napi_conv.h"
#include "napi_quantized.h"

// ---- scatter-add ----

/** scatterAdd(x, xOff, idx, idxOff, n, upd, updOff, out, outer, dim, inner): returns -1 or the position
 *  of the first index out of range */
napi_value ScatterAdd(napi_env env, napi_callback_info info) {
  const char* FN = "scatterAdd";
  Call c(env, info);
  NEED(11);
  ARR(x, 0, "x");
  I64(xOff, 1);
  ARR(idx, 2, "indices");
  I64(idxOff, 3);
  I64(n, 4);
  ARR(u, 5, "updates");
  I64(uOff, 6);
  ARR(o, 7, "out");
  I64(outer, 8);
  I64(dim, 9);
  I64(inner, 10);
  CHECK(idx.dtype == I32, "indices must be int32");
  CHECK(x.dtype == o.dtype && u.dtype == o.dtype, "x, updates and out dtypes differ");
  CHECK(static_cast<uint64_t>(outer * dim * inner) == o.length, "output length does not fit [outer, dim, inner]");
  SPAN(px, x, xOff, outer * dim * inner, "x");
  SPAN(pi, idx, idxOff, n, "indices");
  SPAN(pu, u, uOff, outer * n * inner, "updates");
  return make_number(env, static_cast<double>(scatter_add(o.dtype, px, reinterpret_cast<int32_t*>(pi), n, pu, o.data,
                                                          outer, dim, inner)));
}

// ---- random streams ----

/** philox(key0, key1, counter, attempt, out): out, an Int32Array over the uint32 words, gets
 *  out.length / 4 Philox blocks for counters counter, counter + 1, ... (see philox.h) */
napi_value Philox(napi_env env, napi_callback_info info) {
  const char* FN = "philox";
  Call c(env, info);
  NEED(5);
  I64(k0, 0);
  I64(k1, 1);
  I64(counter, 2);
  I64(attempt, 3);
  ARR(o, 4, "out");
  CHECK(k0 <= 0xffffffffLL && k1 <= 0xffffffffLL && attempt <= 0xffffffffLL, "key words and attempt must be uint32");
  CHECK(o.dtype == I32 && o.length % 4 == 0, "out must be an Int32Array of 4 words per block");
  CHECK(counter <= (int64_t(1) << 53), "counter must be a safe integer");
  philox_blocks(static_cast<uint32_t>(k0), static_cast<uint32_t>(k1), static_cast<uint64_t>(counter),
                static_cast<uint32_t>(attempt), reinterpret_cast<uint32_t*>(o.data),
                static_cast<int64_t>(o.length / 4));
  return undefined(env);
}

#include "napi_train_step.h"
#include "napi_seq.h"

napi_value name_list(napi_env env, const char* const* names, int n) {
  napi_value list;
  napi_create_array_with_length(env, n, &list);
  for (int i = 0; i < n; i++) napi_set_element(env, list, i, make_string(env, names[i]));
  return list;
}

#define CANDOR_NAME_ITEM(name) #name,
const char* const kUnaryNames[] = {CANDOR_UNARY_OPS(CANDOR_NAME_ITEM)};
const char* const kBinaryNames[] = {CANDOR_BINARY_OPS(CANDOR_NAME_ITEM)};
const char* const kReduceNames[] = {CANDOR_REDUCE_OPS(CANDOR_NAME_ITEM)};
const char* const kActivationNames[] = {CANDOR_ACTIVATIONS(CANDOR_NAME_ITEM)};

// Every function the addon exports, by family: its JS name and C++ entry point, written once. Init registers
// them; src/backends/native/addon.ts ADDON_EXPORTS names the same (test/backends/native.test.ts compares).
#define CANDOR_CORE_ENTRIES(X)                                                                                  \
  X(info, Info)                                                                                                 \
  X(setIsa, SetIsa)                                                                                             \
  X(peakFlops, PeakFlops)                                                                                       \
  X(setNumThreads, SetNumThreads) X(gemm, Gemm) X(unary, Unary) X(binary, Binary) X(reduce, Reduce)             \
      X(argReduce, ArgReduce) X(gather, Gather) X(softmax, Softmax) X(copy, Copy) X(cast, Cast) X(where, Where) \
          X(scatterAdd, ScatterAdd) X(philox, Philox)
#define CANDOR_ENTRY_POINTS(X) \
  CANDOR_CORE_ENTRIES(X)       \
  CANDOR_CONV_ENTRIES(X) CANDOR_TRAIN_STEP_ENTRIES(X) CANDOR_SEQ_ENTRIES(X) CANDOR_QUANTIZED_ENTRIES(X)
#define CANDOR_FUNCTION_PROPERTY(js, fn) {#js, nullptr, fn, nullptr, nullptr, nullptr, napi_default, nullptr},

napi_value Init(napi_env env, napi_value exports) {
  const char* env_isa = std::getenv("CANDOR_ISA");
  select_isa("");
  if (env_isa && *env_isa) {
    const IsaTable* best = active;
    if (!select_isa(env_isa)) {
      active = best;
      isaNote = std::string("CANDOR_ISA=") + env_isa + " is unknown or not supported by this CPU; using " + best->name;
    } else {
      isaNote = std::string("forced by CANDOR_ISA=") + env_isa;
    }
  }
  napi_property_descriptor props[] = {
      CANDOR_ENTRY_POINTS(CANDOR_FUNCTION_PROPERTY){"activations", nullptr, nullptr, nullptr, nullptr,
                                                    name_list(env, kActivationNames, ACTIVATION_COUNT), napi_default,
                                                    nullptr},
      {"version", nullptr, nullptr, nullptr, nullptr, make_number(env, kVersion), napi_default, nullptr},
      {"unaryOps", nullptr, nullptr, nullptr, nullptr, name_list(env, kUnaryNames, UNARY_COUNT), napi_default, nullptr},
      {"binaryOps", nullptr, nullptr, nullptr, nullptr, name_list(env, kBinaryNames, BINARY_COUNT), napi_default,
       nullptr},
      {"reduceOps", nullptr, nullptr, nullptr, nullptr, name_list(env, kReduceNames, REDUCE_COUNT), napi_default,
       nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  define_memory(env, exports);
  return exports;
}

}  // namespace
}  // namespace candor

NAPI_MODULE_INIT() { return candor::Init(env, exports); }
