// The MPI engine of candor_mpi.node: a communication thread runs MPI_Init_thread and the queued operations.
// The JS thread enqueues operations (Engine::submit) and gets request ids; the thread starts them non-blocking
// and polls MPI_Testsome, so several are in flight at once. A blocking call with nothing queued or in flight
// runs on the JS thread itself (no hand-over; see Engine::wait), which MPI_THREAD_SERIALIZED and mpi_mu allow.
// No MPI type appears here: the N-API side (napi.cc) needs none, and engine.cc maps these enums to MPI's handles.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace candor_mpi {

enum class Kind { Allreduce, Bcast, Allgather, Allgatherv, ReduceScatter, Barrier, Send, Recv, Probe };
enum class DType { F32, F64, I32, U8, I8 };
enum class Reduce { Sum, Max, Min };

/** -1 in Op::peer or Op::tag means any source / any tag (receive and probe only). */
constexpr int kAny = -1;

struct Op {
  Kind kind = Kind::Barrier;
  DType dtype = DType::U8;
  Reduce reduce = Reduce::Sum;
  const void* send = nullptr;  // null = in place (allreduce) or unused
  void* recv = nullptr;
  int count = 0;  // elements: per rank for allgather / reduce-scatter, whole buffer otherwise
  int peer = 0;   // root (bcast), destination (send), source (recv, probe)
  int tag = 0;
  std::vector<int> counts, displs;  // allgatherv
};

struct Request {
  uint64_t id = 0;
  Op op;
  std::atomic<bool> done{false};  // set under Engine::mu; JS may spin on it without the lock
  bool started = false;             // started on the JS thread, handed to the thread after a timeout
  std::string error;  // set when MPI reported an error
  int source = -1, tag = -1;
  int64_t count = 0;                   // receive: elements received; probe: bytes waiting
  void* handle = nullptr;              // engine.cc's MPI_Request, owned by the communication thread
  void* refs[2] = {nullptr, nullptr};  // napi_ref of the buffers, kept by napi.cc until JS sees completion
};

struct WorldInfo {
  int rank = 0, size = 1, localRank = 0, localSize = 1, threadLevel = 0;
  std::string library;
};

class Engine {
 public:
  /** Starts the thread, which runs MPI_Init_thread; blocks until it has. Returns an error message or "". */
  std::string start(int pollMicros);
  bool started() const { return thread_started; }
  /** MPI_Init_thread succeeded (read after start() returned, which synchronises with the thread). */
  bool initialised() const { return thread_ready && init_error.empty(); }
  const WorldInfo& info() const { return world; }
  /** While on, a submit with nothing queued or in flight is deferred: wait() then runs it on the JS thread. */
  void set_blocking(bool on);
  /** Queues op; the returned request is also kept in the table until forget(). */
  std::shared_ptr<Request> submit(Op op);
  std::shared_ptr<Request> find(uint64_t id);
  void forget(uint64_t id);
  /** Blocks until r is done or timeoutMs passes (negative = forever); true when done. */
  bool wait(const std::shared_ptr<Request>& r, double timeoutMs);
  bool test(const std::shared_ptr<Request>& r);
  /** Requests submitted and not yet completed. */
  size_t pending();
  /** Drains the queue, calls MPI_Finalize and joins the thread; false if that took longer than timeoutMs. */
  bool finalize(double timeoutMs);
  /** Asks the thread to call MPI_Abort(code) at once; waits up to timeoutMs for it. */
  void abort(int code, double timeoutMs);
  bool finished() const { return thread_finished.load(); }

 private:
  void run();
  void start_op(Request& r);
  bool flush_deferred();  // mu held: queues the deferred request; true when the thread must be woken
  bool run_here(const std::shared_ptr<Request>& r, double timeoutMs);

  std::mutex mu;      // the queue, the table, counters and the requests' completion
  std::mutex mpi_mu;  // every MPI call after MPI_Init_thread (MPI_THREAD_SERIALIZED: one thread at a time)
  bool serialized = false;  // MPI provided MPI_THREAD_SERIALIZED: the JS thread may call MPI
  bool blocking = false;
  std::shared_ptr<Request> deferred;  // at most one, submitted while blocking with nothing else in flight
  std::condition_variable wake_thread, wake_js;
  std::deque<std::shared_ptr<Request>> queue;
  std::unordered_map<uint64_t, std::shared_ptr<Request>> table;
  uint64_t next_id = 1;
  size_t in_flight = 0;
  bool stopping = false, thread_started = false, thread_ready = false;
  std::atomic<bool> thread_finished{false};
  int abort_code = -1;
  int poll_us = 20;
  std::atomic<int> js_waiting{0};  // JS threads blocked in wait(): the thread polls without sleeping then
  std::string init_error;
  WorldInfo world;
  std::thread thread;
};

Engine& engine();

}  // namespace candor_mpi
