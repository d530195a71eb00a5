// The communication thread: MPI_Init_thread, then a loop that starts queued operations non-blocking and polls
// them with MPI_Testsome (probes with MPI_Iprobe) until finalize or abort. Open MPI progresses non-blocking
// collectives only inside MPI calls, hence the polling: while JS is blocked in wait() it polls without sleeping
// (JS is not using the core then; a sleep would add its wake-up latency to every small message), else it sleeps
// poll_us between polls that completed nothing (JS computes meanwhile), and on a condition variable when nothing
// is in flight.
// The fast path: a blocking call from JS (set_blocking) with nothing queued or in flight is not handed to the
// thread; wait() starts it and spins on MPI_Test on the JS thread (the deadline still holds), which saves two
// thread hand-overs (~100 us each on a loaded machine). Every MPI call holds mpi_mu, so MPI_THREAD_SERIALIZED is
// all the library must provide (without it the fast path is off); the thread never sleeps holding mpi_mu.
// Ordering: the fast path runs only when nothing else was submitted before, and a later submit first queues the
// deferred request, so operations start in submission order on every rank.
#include "engine.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace candor_mpi {

Engine& engine() {
  static Engine* e = new Engine();  // never destroyed: the thread may outlive static destruction at exit
  return *e;
}

namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32:
      return MPI_FLOAT;
    case DType::F64:
      return MPI_DOUBLE;
    case DType::I32:
      return MPI_INT32_T;
    case DType::I8:
      return MPI_INT8_T;
    case DType::U8:
      break;
  }
  return MPI_UINT8_T;
}

MPI_Op mpi_op(Reduce r) {
  switch (r) {
    case Reduce::Max:
      return MPI_MAX;
    case Reduce::Min:
      return MPI_MIN;
    case Reduce::Sum:
      break;
  }
  return MPI_SUM;
}

std::string mpi_error(int code) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(msg, len);
}

MPI_Request* handle_of(Request& r) { return static_cast<MPI_Request*>(r.handle); }

/** A completed receive's source, tag and element count. */
void record_status(Request& r, const MPI_Status& st) {
  if (r.op.kind != Kind::Recv) return;
  int n = 0;
  MPI_Get_count(&st, mpi_type(r.op.dtype), &n);
  r.source = st.MPI_SOURCE;
  r.tag = st.MPI_TAG;
  r.count = n;
}

/** One MPI_Iprobe for probe request p (mpi_mu held); true when it completed (a message waits, or an error). */
bool probe_once(Request& p) {
  int flag = 0;
  MPI_Status st;
  int src = p.op.peer == kAny ? MPI_ANY_SOURCE : p.op.peer;
  int tag = p.op.tag == kAny ? MPI_ANY_TAG : p.op.tag;
  int prc = MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st);
  if (prc != MPI_SUCCESS) p.error = mpi_error(prc);
  if (flag) {
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    p.source = st.MPI_SOURCE;
    p.tag = st.MPI_TAG;
    p.count = n;
  }
  return flag || prc != MPI_SUCCESS;
}

}  // namespace

std::string Engine::start(int pollMicros) {
  std::unique_lock<std::mutex> lock(mu);
  if (thread_started) return init_error;
  thread_started = true;
  poll_us = std::max(0, pollMicros);
  // On 2 ranks libnbc's default MPI_Iallreduce schedule (a reduce then a broadcast) took 11 us at 4 KB and 390 us at
  // 1 MB here against 4 us and 230 us for its ring, which at p = 2 is one exchange of halves each way. Set before
  // MPI_Init_thread reads it (the thread is not started yet) and only when the user set nothing (mpirun --mca too
  // arrives as this variable).
  const char* size = getenv("OMPI_COMM_WORLD_SIZE");
  if (size && std::string(size) == "2") setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
  thread = std::thread([this] { run(); });
  thread.detach();  // joined by finalize() through thread_finished; never by a destructor at exit
  wake_js.wait(lock, [this] { return thread_ready; });
  return init_error;
}

void Engine::run() {
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (rc != MPI_SUCCESS) {
      init_error = "MPI_Init_thread failed: " + mpi_error(rc);
    } else {
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
      MPI_Comm_size(MPI_COMM_WORLD, &world.size);
      MPI_Comm local;
      if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &world.localRank);
        MPI_Comm_size(local, &world.localSize);
        MPI_Comm_free(&local);
      }
      world.threadLevel = provided;
      serialized = provided >= MPI_THREAD_SERIALIZED;
      char lib[MPI_MAX_LIBRARY_VERSION_STRING];
      int len = 0;
      MPI_Get_library_version(lib, &len);
      world.library.assign(lib, strnlen(lib, len));  // Open MPI counts the terminating NUL in len
    }
    thread_ready = true;
  }
  wake_js.notify_all();
  if (rc != MPI_SUCCESS) {
    std::lock_guard<std::mutex> lock(mu);
    thread_finished = true;
    return;
  }

  std::vector<std::shared_ptr<Request>> active, probes, fresh;
  std::vector<MPI_Request> handles;
  std::vector<int> indices;
  std::vector<MPI_Status> statuses;
  bool stop = false;
  int abort_with = -1;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      if (queue.empty() && active.empty() && probes.empty() && !stopping && abort_code < 0)
        wake_thread.wait(lock, [this] { return !queue.empty() || stopping || abort_code >= 0; });
      fresh.assign(queue.begin(), queue.end());
      queue.clear();
      stop = stopping;
      abort_with = abort_code;
    }
    if (abort_with >= 0) break;
    std::vector<std::shared_ptr<Request>> completed;
    std::unique_lock<std::mutex> mpi_lock(mpi_mu);
    for (auto& r : fresh) {
      if (!r->started) start_op(*r);
      if (!r->error.empty())
        completed.push_back(r);
      else if (r->op.kind == Kind::Probe)
        probes.push_back(r);
      else
        active.push_back(r);
    }
    fresh.clear();
    if (stop && active.empty() && probes.empty() && completed.empty()) break;

    if (!active.empty()) {
      handles.resize(active.size());
      for (size_t i = 0; i < active.size(); i++) handles[i] = *handle_of(*active[i]);
      indices.resize(active.size());
      statuses.resize(active.size());
      int outcount = 0;
      int trc =
          MPI_Testsome(static_cast<int>(handles.size()), handles.data(), &outcount, indices.data(), statuses.data());
      if (trc != MPI_SUCCESS && trc != MPI_ERR_IN_STATUS) {
        // The whole call failed: fail every active request rather than spin on it.
        for (auto& r : active) {
          r->error = mpi_error(trc);
          completed.push_back(r);
        }
        active.clear();
      } else if (outcount != MPI_UNDEFINED) {
        for (int k = 0; k < outcount; k++) {
          Request& r = *active[indices[k]];
          const MPI_Status& st = statuses[k];
          if (trc == MPI_ERR_IN_STATUS && st.MPI_ERROR != MPI_SUCCESS) r.error = mpi_error(st.MPI_ERROR);
          record_status(r, st);
          completed.push_back(active[indices[k]]);
          active[indices[k]] = nullptr;
        }
        active.erase(std::remove(active.begin(), active.end(), nullptr), active.end());
      }
    }
    for (auto& p : probes) {
      if (probe_once(*p)) {
        completed.push_back(p);
        p = nullptr;
      }
    }
    probes.erase(std::remove(probes.begin(), probes.end(), nullptr), probes.end());
    mpi_lock.unlock();

    if (!completed.empty()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& r : completed) {
          delete handle_of(*r);
          r->handle = nullptr;
          r->done = true;
          in_flight--;
        }
      }
      wake_js.notify_all();
    } else if (!active.empty() || !probes.empty()) {
      if (js_waiting.load(std::memory_order_relaxed) > 0 || poll_us == 0)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(poll_us));
    }
  }
  {
    std::lock_guard<std::mutex> mpi_lock(mpi_mu);
    if (abort_with >= 0) MPI_Abort(MPI_COMM_WORLD, abort_with);
    MPI_Finalize();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    thread_finished = true;
  }
  wake_js.notify_all();
}

void Engine::start_op(Request& r) {
  const Op& op = r.op;
  MPI_Datatype t = mpi_type(op.dtype);
  MPI_Request* h = new MPI_Request(MPI_REQUEST_NULL);
  r.handle = h;
  const void* send = op.send ? op.send : MPI_IN_PLACE;
  int rc = MPI_SUCCESS;
  switch (op.kind) {
    case Kind::Allreduce:
      rc = MPI_Iallreduce(send, op.recv, op.count, t, mpi_op(op.reduce), MPI_COMM_WORLD, h);
      break;
    case Kind::Bcast:
      rc = MPI_Ibcast(op.recv, op.count, t, op.peer, MPI_COMM_WORLD, h);
      break;
    case Kind::Allgather:
      rc = MPI_Iallgather(op.send, op.count, t, op.recv, op.count, t, MPI_COMM_WORLD, h);
      break;
    case Kind::Allgatherv:
      rc = MPI_Iallgatherv(op.send, op.count, t, op.recv, op.counts.data(), op.displs.data(), t, MPI_COMM_WORLD, h);
      break;
    case Kind::ReduceScatter:
      rc = MPI_Ireduce_scatter_block(op.send, op.recv, op.count, t, mpi_op(op.reduce), MPI_COMM_WORLD, h);
      break;
    case Kind::Barrier:
      rc = MPI_Ibarrier(MPI_COMM_WORLD, h);
      break;
    case Kind::Send:
      rc = MPI_Isend(op.send, op.count, t, op.peer, op.tag, MPI_COMM_WORLD, h);
      break;
    case Kind::Recv:
      rc = MPI_Irecv(op.recv, op.count, t, op.peer == kAny ? MPI_ANY_SOURCE : op.peer,
                     op.tag == kAny ? MPI_ANY_TAG : op.tag, MPI_COMM_WORLD, h);
      break;
    case Kind::Probe:
      break;
  }
  if (rc != MPI_SUCCESS) r.error = mpi_error(rc);
}

std::shared_ptr<Request> Engine::submit(Op op) {
  auto r = std::make_shared<Request>();
  r->op = std::move(op);
  {
    std::lock_guard<std::mutex> lock(mu);
    r->id = next_id++;
    table[r->id] = r;
    in_flight++;
    if (blocking && serialized && in_flight == 1 && queue.empty() && !deferred) {
      deferred = r;  // wait() runs it here unless another submit comes first
      return r;
    }
    flush_deferred();
    queue.push_back(r);
  }
  wake_thread.notify_one();
  return r;
}

void Engine::set_blocking(bool on) {
  std::lock_guard<std::mutex> lock(mu);
  blocking = on;
}

bool Engine::flush_deferred() {
  if (!deferred) return false;
  queue.push_back(deferred);
  deferred = nullptr;
  return true;
}

std::shared_ptr<Request> Engine::find(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = table.find(id);
  return it == table.end() ? nullptr : it->second;
}

void Engine::forget(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu);
  table.erase(id);
}

bool Engine::wait(const std::shared_ptr<Request>& r, double timeoutMs) {
  std::unique_lock<std::mutex> lock(mu);
  if (r->done) return true;
  if (r == deferred) {
    deferred = nullptr;
    lock.unlock();
    return run_here(r, timeoutMs);
  }
  if (flush_deferred()) wake_thread.notify_one();
  // A short spin before sleeping: a small message completes in microseconds, less than a condition variable's
  // wake-up on a busy machine.
  lock.unlock();
  auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  while (!r->done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < spin_until) {
  }
  lock.lock();
  if (r->done) return true;
  js_waiting++;
  bool done = true;
  if (timeoutMs < 0)
    wake_js.wait(lock, [&] { return r->done.load(); });
  else
    done = wake_js.wait_for(lock, std::chrono::duration<double, std::milli>(timeoutMs), [&] { return r->done.load(); });
  js_waiting--;
  return done;
}

/** The fast path (JS thread): nothing else is queued or in flight, so holding mpi_mu for the whole spin keeps no
 * other operation waiting (the thread is idle; JS, blocked here, submits nothing). On timeout the started request
 * goes to the thread, which polls it as any other (as if it had been queued). */
bool Engine::run_here(const std::shared_ptr<Request>& r, double timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeoutMs);
  bool done = false;
  {
    std::lock_guard<std::mutex> mpi_lock(mpi_mu);
    if (r->op.kind != Kind::Probe) start_op(*r);
    done = !r->error.empty();
    while (!done) {
      if (r->op.kind == Kind::Probe) {
        done = probe_once(*r);
      } else {
        int flag = 0;
        MPI_Status st;
        int trc = MPI_Test(handle_of(*r), &flag, &st);
        if (trc != MPI_SUCCESS) r->error = mpi_error(trc);
        if (flag) record_status(*r, st);
        done = flag || trc != MPI_SUCCESS;
      }
      if (!done && timeoutMs >= 0 && std::chrono::steady_clock::now() >= deadline) break;
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  if (!done) {
    r->started = true;
    queue.push_back(r);
    wake_thread.notify_one();
    return false;
  }
  delete handle_of(*r);
  r->handle = nullptr;
  r->done = true;
  in_flight--;
  return true;
}

bool Engine::test(const std::shared_ptr<Request>& r) {
  std::lock_guard<std::mutex> lock(mu);
  if (r == deferred && flush_deferred()) wake_thread.notify_one();
  return r->done;
}

size_t Engine::pending() {
  std::lock_guard<std::mutex> lock(mu);
  return in_flight;
}

bool Engine::finalize(double timeoutMs) {
  std::unique_lock<std::mutex> lock(mu);
  if (!thread_started) return true;
  flush_deferred();
  stopping = true;
  wake_thread.notify_one();
  return wake_js.wait_for(lock, std::chrono::duration<double, std::milli>(timeoutMs),
                          [this] { return thread_finished.load(); });
}

void Engine::abort(int code, double timeoutMs) {
  std::unique_lock<std::mutex> lock(mu);
  if (!thread_started || thread_finished) return;
  flush_deferred();
  abort_code = std::max(0, code);
  wake_thread.notify_one();
  wake_js.wait_for(lock, std::chrono::duration<double, std::milli>(timeoutMs),
                   [this] { return thread_finished.load(); });
}

}  // namespace candor_mpi
