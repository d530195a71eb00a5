// The thread pool: the caller plus N-1 workers that spin briefly after each job (kernels come in quick
// succession during training) and then sleep on a condition variable, so an idle process costs nothing.
//
// Invariants: one job at a time (kernels are called from the JS thread only). Tasks are claimed from one
// atomic word holding (job id << 32 | next task), so a worker that wakes late — the machine is busy and
// it was not scheduled — can only claim tasks of the job it was invited to, and finds none left once the
// caller has run them all: the caller waits for tasks to complete, never for a helper to show up. Which
// thread runs a task varies but what each task computes does not — kernels make results independent of
// the thread count by partitioning outputs, never reductions.
#include "common.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CANDOR_PAUSE() _mm_pause()
#else
#define CANDOR_PAUSE() std::this_thread::yield()
#endif
#ifdef __linux__
#include <sched.h>
#endif

namespace candor {
namespace {

constexpr auto kSpin = std::chrono::microseconds(50);

struct alignas(64) Worker {
  std::atomic<uint64_t> ticket{0};
  std::thread thread;
};

struct Job {
  TaskFn fn;
  void* ctx;
  std::atomic<int64_t> tasks{0};
};

struct Pool {
  std::vector<Worker*> workers;
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  uint64_t jobs = 0;
  // Two slots: job id's data lives in slot[id & 1] and is not rewritten before job id + 2, by which time
  // job id is complete and no claim on it can succeed.
  Job slot[2];
  alignas(64) std::atomic<uint64_t> claim{0};
  alignas(64) std::atomic<int64_t> completed{0};
};

Pool pool;
int threads = 1;
// True on pool workers, and on the caller while it runs its share: a parallel_for from inside a task
// runs inline instead of posting a second job to a pool that serves one at a time.
thread_local bool in_job = false;

/** Claims and runs tasks of job `id` until none is left (or a newer job has started). */
void run_job(uint64_t id) {
  Job& job = pool.slot[id & 1];
  for (;;) {
    uint64_t v = pool.claim.load(std::memory_order_acquire);
    if ((v >> 32) != (id & 0xffffffffu) ||
        static_cast<int64_t>(v & 0xffffffffu) >= job.tasks.load(std::memory_order_relaxed))
      return;
    if (!pool.claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
    job.fn(job.ctx, static_cast<int64_t>(v & 0xffffffffu));
    pool.completed.fetch_add(1, std::memory_order_release);
  }
}

void worker_main(Worker* self) {
  in_job = true;
  uint64_t seen = 0;
  for (;;) {
    auto until = std::chrono::steady_clock::now() + kSpin;
    uint64_t t;
    for (int i = 0; (t = self->ticket.load()) == seen && !pool.stop.load(); i++) {
      CANDOR_PAUSE();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
        std::unique_lock<std::mutex> lock(pool.mutex);
        pool.sleepers.fetch_add(1);
        pool.cv.wait(lock, [&] { return self->ticket.load() != seen || pool.stop.load(); });
        pool.sleepers.fetch_sub(1);
        until = std::chrono::steady_clock::now() + kSpin;
      }
    }
    if (pool.stop.load()) return;
    seen = t;
    run_job(t);
  }
}

void stop_workers() {
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.stop.store(true);
  }
  pool.cv.notify_all();
  for (Worker* w : pool.workers) {
    w->thread.join();
    delete w;
  }
  pool.workers.clear();
  pool.stop.store(false);
}

int available_cores() {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

struct Init {
  Init() {
    const char* env = std::getenv("CANDOR_NUM_THREADS");
    int n = env ? std::atoi(env) : 0;
    set_num_threads(n > 0 ? n : available_cores());
  }
  ~Init() { stop_workers(); }
};

}  // namespace

int num_threads() { return threads; }

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  stop_workers();
  threads = n;
  for (int i = 0; i < n - 1; i++) {
    Worker* w = new Worker();
    pool.workers.push_back(w);
    w->thread = std::thread(worker_main, w);
  }
}

int threads_for(double work, double grain) {
  double t = work / grain;
  if (t < 2) return 1;
  return t >= threads ? threads : static_cast<int>(t);
}

void parallel_for(int64_t tasks, TaskFn fn, void* ctx, int maxThreads) {
  int helpers = maxThreads < threads ? maxThreads - 1 : threads - 1;
  if (helpers > tasks - 1) helpers = static_cast<int>(tasks - 1);
  if (helpers <= 0 || in_job) {
    for (int64_t t = 0; t < tasks; t++) fn(ctx, t);
    return;
  }
  uint64_t id = ++pool.jobs;
  Job& job = pool.slot[id & 1];
  job.fn = fn;
  job.ctx = ctx;
  job.tasks.store(tasks, std::memory_order_relaxed);
  pool.completed.store(0, std::memory_order_relaxed);
  pool.claim.store((id & 0xffffffffu) << 32, std::memory_order_release);
  // seq_cst ticket stores and sleepers load pair with the worker's sleepers increment and ticket check
  // (under the mutex), so either the worker sees its ticket or we see it asleep and notify.
  for (int i = 0; i < helpers; i++) pool.workers[i]->ticket.store(id);
  if (pool.sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.cv.notify_all();
  }
  in_job = true;
  run_job(id);
  in_job = false;
  // Only a helper preempted in the middle of a task can keep us here: spin briefly, then yield the core.
  for (int i = 0; pool.completed.load(std::memory_order_acquire) < tasks; i++) {
    if (i < 4096)
      CANDOR_PAUSE();
    else
      std::this_thread::yield();
  }
}

void* aligned_calloc(size_t bytes) {
  void* p = nullptr;
  size_t rounded = (bytes + 63) & ~size_t(63);
  if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) return nullptr;
  __builtin_memset(p, 0, rounded ? rounded : 64);
  return p;
}

void aligned_free(void* p) { std::free(p); }

static Init init;

}  // namespace candor
