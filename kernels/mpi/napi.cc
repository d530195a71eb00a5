// The Node-API surface of candor_mpi.node (src/distributed/mpi.ts describes it to TypeScript). Each operation
// takes typed arrays used in place, checks every count against them (a bad call throws, never touching memory it
// does not own), holds a napi_ref per buffer until JS has seen the request complete, and returns a request id.
// wait(id, timeoutMs) blocks; on timeout it throws an Error with code CANDOR_DISTRIBUTED_TIMEOUT, and an error
// MPI reported throws with code CANDOR_DISTRIBUTED_MPI. Plain C Node-API, as kernels/addon.cc.
#include <node_api.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include "engine.h"

namespace candor_mpi {
namespace {

/** Bumped whenever the JS-visible surface changes; src/distributed/mpi.ts refuses an addon of another version. */
constexpr int kVersion = 2;

napi_value fail(napi_env env, const std::string& msg, const char* code = "CANDOR_MPI") {
  napi_throw_error(env, code, msg.c_str());
  return nullptr;
}

struct Buf {
  napi_value value = nullptr;
  void* data = nullptr;
  size_t length = 0;  // elements
  DType dtype = DType::U8;
};

bool get_buf(napi_env env, napi_value v, Buf* b, const char* fn, const char* what) {
  bool is = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &b->length, &b->data, nullptr, nullptr) != napi_ok) {
    fail(env, std::string(fn) + ": " + what + " must be a typed array");
    return false;
  }
  switch (type) {
    case napi_float32_array:
      b->dtype = DType::F32;
      break;
    case napi_float64_array:
      b->dtype = DType::F64;
      break;
    case napi_int32_array:
      b->dtype = DType::I32;
      break;
    case napi_uint8_array:
      b->dtype = DType::U8;
      break;
    case napi_int8_array:
      b->dtype = DType::I8;
      break;
    default:
      fail(env, std::string(fn) + ": " + what +
                    " must be a Float32Array, Float64Array, Int32Array, Uint8Array or Int8Array");
      return false;
  }
  if (b->length > static_cast<size_t>(INT_MAX)) {
    fail(env, std::string(fn) + ": " + what + " has " + std::to_string(b->length) +
                  " elements; MPI counts stop at 2^31 - 1");
    return false;
  }
  b->value = v;
  return true;
}

bool get_int(napi_env env, napi_value v, int lo, int hi, int* out, const char* fn, const char* what) {
  double d = 0;
  // Range first: casting NaN, infinities or values beyond int64 to an integer is undefined behaviour.
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= lo && d <= hi) ||
      d != static_cast<double>(static_cast<int64_t>(d))) {
    fail(env, std::string(fn) + ": " + what + " must be an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

bool get_double(napi_env env, napi_value v, double* out) { return napi_get_value_double(env, v, out) == napi_ok; }

bool args(napi_env env, napi_callback_info info, size_t want, napi_value* argv, const char* fn) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    fail(env, std::string(fn) + ": expected " + std::to_string(want) + " arguments");
    return false;
  }
  return true;
}

bool ready(napi_env env, const char* fn) {
  if (!engine().started() || !engine().initialised()) {
    fail(env, std::string(fn) + ": MPI is not initialised (call init first)");
    return false;
  }
  if (engine().finished()) {
    fail(env, std::string(fn) + ": MPI was finalised");
    return false;
  }
  return true;
}

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/** Queues op with up to two buffers to keep alive; returns the request id. */
napi_value submit(napi_env env, Op op, napi_value keep0, napi_value keep1) {
  napi_ref r0 = nullptr, r1 = nullptr;
  if (keep0) napi_create_reference(env, keep0, 1, &r0);
  if (keep1) napi_create_reference(env, keep1, 1, &r1);
  // The refs are set before the thread can complete the request: the JS thread reads them only after done.
  auto r = engine().submit(std::move(op));
  r->refs[0] = r0;
  r->refs[1] = r1;
  return number(env, static_cast<double>(r->id));
}

bool same_type(napi_env env, const Buf& a, const Buf& b, const char* fn) {
  if (a.dtype != b.dtype) {
    fail(env, std::string(fn) + ": the send and receive arrays must have the same element type");
    return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------- lifecycle

napi_value Init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "init")) return nullptr;
  int poll = 0;
  if (!get_int(env, argv[0], 0, 1000000, &poll, "init", "pollMicros")) return nullptr;
  std::string err = engine().start(poll);
  if (!err.empty()) return fail(env, err);
  const WorldInfo& w = engine().info();
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "rank", number(env, w.rank));
  napi_set_named_property(env, out, "size", number(env, w.size));
  napi_set_named_property(env, out, "localRank", number(env, w.localRank));
  napi_set_named_property(env, out, "localSize", number(env, w.localSize));
  napi_set_named_property(env, out, "threadLevel", number(env, w.threadLevel));
  napi_value lib;
  napi_create_string_utf8(env, w.library.c_str(), w.library.size(), &lib);
  napi_set_named_property(env, out, "library", lib);
  return out;
}

napi_value Finalize(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "finalize")) return nullptr;
  double ms = 0;
  if (!get_double(env, argv[0], &ms)) return fail(env, "finalize: timeoutMs must be a number");
  if (std::isnan(ms)) return fail(env, "finalize: timeoutMs must be a number, got NaN");
  if (ms > 1e12) ms = -1;  // beyond 31 years: no limit (a larger duration would overflow the clock's)
  napi_value out;
  napi_get_boolean(env, engine().finalize(ms), &out);
  return out;
}

napi_value Abort(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "abort")) return nullptr;
  int code = 1;
  if (!get_int(env, argv[0], 0, 255, &code, "abort", "code")) return nullptr;
  engine().abort(code, 2000);
  return nullptr;
}

/** blocking(on): while on, an operation submitted with nothing else in flight runs on this thread in wait(). */
napi_value Blocking(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "blocking")) return nullptr;
  bool on = false;
  if (napi_get_value_bool(env, argv[0], &on) != napi_ok) return fail(env, "blocking: on must be a boolean");
  engine().set_blocking(on);
  return nullptr;
}

napi_value Pending(napi_env env, napi_callback_info) { return number(env, static_cast<double>(engine().pending())); }

// ------------------------------------------------------------------------------------------ collectives

bool get_reduce(napi_env env, napi_value v, Reduce* out, const char* fn) {
  int r = 0;
  if (!get_int(env, v, 0, 2, &r, fn, "op (0 sum, 1 max, 2 min)")) return false;
  *out = static_cast<Reduce>(r);
  return true;
}

/** allreduce(send | null, recv, op): null send = in place on recv. */
napi_value Allreduce(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "allreduce") || !ready(env, "allreduce")) return nullptr;
  Buf send, recv;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  bool inPlace = t == napi_null || t == napi_undefined;
  if (!get_buf(env, argv[1], &recv, "allreduce", "recv")) return nullptr;
  if (!inPlace) {
    if (!get_buf(env, argv[0], &send, "allreduce", "send") || !same_type(env, send, recv, "allreduce")) return nullptr;
    if (send.length != recv.length)
      return fail(env, "allreduce: send has " + std::to_string(send.length) + " elements but recv has " +
                           std::to_string(recv.length));
  }
  Op op;
  op.kind = Kind::Allreduce;
  op.dtype = recv.dtype;
  if (!get_reduce(env, argv[2], &op.reduce, "allreduce")) return nullptr;
  op.send = inPlace ? nullptr : send.data;
  op.recv = recv.data;
  op.count = static_cast<int>(recv.length);
  return submit(env, std::move(op), recv.value, inPlace ? nullptr : send.value);
}

/** bcast(buf, root): in place. */
napi_value Bcast(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv, "bcast") || !ready(env, "bcast")) return nullptr;
  Buf buf;
  Op op;
  if (!get_buf(env, argv[0], &buf, "bcast", "buf") ||
      !get_int(env, argv[1], 0, engine().info().size - 1, &op.peer, "bcast", "root"))
    return nullptr;
  op.kind = Kind::Bcast;
  op.dtype = buf.dtype;
  op.recv = buf.data;
  op.count = static_cast<int>(buf.length);
  return submit(env, std::move(op), buf.value, nullptr);
}

/** allgather(send, recv): recv holds size x send.length elements, rank order. */
napi_value Allgather(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv, "allgather") || !ready(env, "allgather")) return nullptr;
  Buf send, recv;
  if (!get_buf(env, argv[0], &send, "allgather", "send") || !get_buf(env, argv[1], &recv, "allgather", "recv") ||
      !same_type(env, send, recv, "allgather"))
    return nullptr;
  size_t size = static_cast<size_t>(engine().info().size);
  if (recv.length != send.length * size)
    return fail(env, "allgather: recv has " + std::to_string(recv.length) + " elements; expected " +
                         std::to_string(size) + " x " + std::to_string(send.length));
  Op op;
  op.kind = Kind::Allgather;
  op.dtype = send.dtype;
  op.send = send.data;
  op.recv = recv.data;
  op.count = static_cast<int>(send.length);
  return submit(env, std::move(op), recv.value, send.value);
}

/** allgatherv(send, recv, counts: Int32Array of size entries): rank i's send.length must be counts[i]; recv holds
 *  their sum, rank order. */
napi_value Allgatherv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "allgatherv") || !ready(env, "allgatherv")) return nullptr;
  Buf send, recv, counts;
  if (!get_buf(env, argv[0], &send, "allgatherv", "send") || !get_buf(env, argv[1], &recv, "allgatherv", "recv") ||
      !get_buf(env, argv[2], &counts, "allgatherv", "counts") || !same_type(env, send, recv, "allgatherv"))
    return nullptr;
  const WorldInfo& w = engine().info();
  if (counts.dtype != DType::I32 || counts.length != static_cast<size_t>(w.size))
    return fail(env, "allgatherv: counts must be an Int32Array of " + std::to_string(w.size) + " entries");
  Op op;
  op.kind = Kind::Allgatherv;
  const int32_t* c = static_cast<const int32_t*>(counts.data);
  int64_t total = 0;
  for (int i = 0; i < w.size; i++) {
    if (c[i] < 0) return fail(env, "allgatherv: counts must not be negative");
    op.counts.push_back(c[i]);
    op.displs.push_back(static_cast<int>(total));
    total += c[i];
    if (total > INT_MAX) return fail(env, "allgatherv: the counts sum past 2^31 - 1 elements");
  }
  if (static_cast<size_t>(c[w.rank]) != send.length)
    return fail(env, "allgatherv: this rank's count is " + std::to_string(c[w.rank]) + " but send has " +
                         std::to_string(send.length) + " elements");
  if (static_cast<size_t>(total) > recv.length)
    return fail(env, "allgatherv: recv has " + std::to_string(recv.length) + " elements; the counts sum to " +
                         std::to_string(total));
  op.dtype = send.dtype;
  op.send = send.data;
  op.recv = recv.data;
  op.count = static_cast<int>(send.length);
  return submit(env, std::move(op), recv.value, send.value);
}

/** reduceScatter(send, recv, op): send holds size x recv.length elements; rank i gets block i reduced. */
napi_value ReduceScatter(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "reduceScatter") || !ready(env, "reduceScatter")) return nullptr;
  Buf send, recv;
  if (!get_buf(env, argv[0], &send, "reduceScatter", "send") ||
      !get_buf(env, argv[1], &recv, "reduceScatter", "recv") || !same_type(env, send, recv, "reduceScatter"))
    return nullptr;
  size_t size = static_cast<size_t>(engine().info().size);
  if (send.length != recv.length * size)
    return fail(env, "reduceScatter: send has " + std::to_string(send.length) + " elements; expected " +
                         std::to_string(size) + " x " + std::to_string(recv.length));
  Op op;
  op.kind = Kind::ReduceScatter;
  if (!get_reduce(env, argv[2], &op.reduce, "reduceScatter")) return nullptr;
  op.dtype = send.dtype;
  op.send = send.data;
  op.recv = recv.data;
  op.count = static_cast<int>(recv.length);
  return submit(env, std::move(op), recv.value, send.value);
}

napi_value Barrier(napi_env env, napi_callback_info) {
  if (!ready(env, "barrier")) return nullptr;
  Op op;
  op.kind = Kind::Barrier;
  return submit(env, std::move(op), nullptr, nullptr);
}

// ---------------------------------------------------------------------------------- point to point

/** send(buf, dest, tag). */
napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "send") || !ready(env, "send")) return nullptr;
  Buf buf;
  Op op;
  if (!get_buf(env, argv[0], &buf, "send", "buf") ||
      !get_int(env, argv[1], 0, engine().info().size - 1, &op.peer, "send", "dest") ||
      !get_int(env, argv[2], 0, 32767, &op.tag, "send", "tag"))
    return nullptr;
  op.kind = Kind::Send;
  op.dtype = buf.dtype;
  op.send = buf.data;
  op.count = static_cast<int>(buf.length);
  return submit(env, std::move(op), buf.value, nullptr);
}

/** recv(buf, source, tag) and probe(source, tag): -1 = any. 32767 is the least tag bound MPI guarantees. */
napi_value Recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "recv") || !ready(env, "recv")) return nullptr;
  Buf buf;
  Op op;
  if (!get_buf(env, argv[0], &buf, "recv", "buf") ||
      !get_int(env, argv[1], -1, engine().info().size - 1, &op.peer, "recv", "source (-1 = any)") ||
      !get_int(env, argv[2], -1, 32767, &op.tag, "recv", "tag (-1 = any)"))
    return nullptr;
  op.kind = Kind::Recv;
  op.dtype = buf.dtype;
  op.recv = buf.data;
  op.count = static_cast<int>(buf.length);
  return submit(env, std::move(op), buf.value, nullptr);
}

napi_value Probe(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv, "probe") || !ready(env, "probe")) return nullptr;
  Op op;
  if (!get_int(env, argv[0], -1, engine().info().size - 1, &op.peer, "probe", "source (-1 = any)") ||
      !get_int(env, argv[1], -1, 32767, &op.tag, "probe", "tag (-1 = any)"))
    return nullptr;
  op.kind = Kind::Probe;
  return submit(env, std::move(op), nullptr, nullptr);
}

// ----------------------------------------------------------------------------------- completion

/** The result of a completed request (JS has now seen it): releases its buffers; throws if MPI failed. */
napi_value complete(napi_env env, const std::shared_ptr<Request>& r) {
  for (void*& ref : r->refs)
    if (ref) {
      napi_delete_reference(env, static_cast<napi_ref>(ref));
      ref = nullptr;
    }
  engine().forget(r->id);
  if (!r->error.empty()) return fail(env, r->error, "CANDOR_DISTRIBUTED_MPI");
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "source", number(env, r->source));
  napi_set_named_property(env, out, "tag", number(env, r->tag));
  napi_set_named_property(env, out, "count", number(env, static_cast<double>(r->count)));
  return out;
}

std::shared_ptr<Request> request(napi_env env, napi_value v, const char* fn) {
  double d = 0;
  std::shared_ptr<Request> r;
  if (napi_get_value_double(env, v, &d) == napi_ok && d >= 1) r = engine().find(static_cast<uint64_t>(d));
  if (!r) fail(env, std::string(fn) + ": unknown request id (already waited for?)");
  return r;
}

/** wait(id, timeoutMs): {source, tag, count}; timeoutMs < 0 = no limit. */
napi_value Wait(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv, "wait")) return nullptr;
  auto r = request(env, argv[0], "wait");
  double ms = 0;
  if (!r) return nullptr;
  if (!get_double(env, argv[1], &ms)) return fail(env, "wait: timeoutMs must be a number");
  if (std::isnan(ms)) return fail(env, "wait: timeoutMs must be a number, got NaN");
  if (ms > 1e12) ms = -1;  // beyond 31 years: no limit (a larger duration would overflow the clock's)
  if (!engine().wait(r, ms))
    return fail(env, "wait: request " + std::to_string(r->id) + " not done after " + std::to_string(ms) + " ms",
                "CANDOR_DISTRIBUTED_TIMEOUT");
  return complete(env, r);
}

/** test(id): null while in flight, else what wait returns. */
napi_value Test(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "test")) return nullptr;
  auto r = request(env, argv[0], "test");
  if (!r) return nullptr;
  if (!engine().test(r)) {
    napi_value out;
    napi_get_null(env, &out);
    return out;
  }
  return complete(env, r);
}

#define CANDOR_MPI_FN(name, fn) \
  { name, nullptr, fn, nullptr, nullptr, nullptr, napi_default, nullptr }

napi_value Module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      CANDOR_MPI_FN("init", Init),
      CANDOR_MPI_FN("finalize", Finalize),
      CANDOR_MPI_FN("abort", Abort),
      CANDOR_MPI_FN("pending", Pending),
      CANDOR_MPI_FN("allreduce", Allreduce),
      CANDOR_MPI_FN("bcast", Bcast),
      CANDOR_MPI_FN("allgather", Allgather),
      CANDOR_MPI_FN("allgatherv", Allgatherv),
      CANDOR_MPI_FN("reduceScatter", ReduceScatter),
      CANDOR_MPI_FN("barrier", Barrier),
      CANDOR_MPI_FN("send", Send),
      CANDOR_MPI_FN("recv", Recv),
      CANDOR_MPI_FN("probe", Probe),
      CANDOR_MPI_FN("wait", Wait),
      CANDOR_MPI_FN("blocking", Blocking),
      CANDOR_MPI_FN("test", Test),
      {"version", nullptr, nullptr, nullptr, nullptr, number(env, kVersion), napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace
}  // namespace candor_mpi

NAPI_MODULE_INIT() { return candor_mpi::Module(env, exports); }
