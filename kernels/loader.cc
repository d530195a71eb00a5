// The loader: one background thread that gathers the rows of fit's next shuffled batch while the JS thread trains on
// this one (what PyTorch's DataLoader workers do). It copies rows on its own thread and never posts to the kernel
// pool, whose jobs come from the JS thread only. Jobs run in the order they were started; a ticket is done once
// `finished` reaches it.
#include "common.h"
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace candor {
namespace {

struct Job {
  int elemBytes;
  const void* x;
  std::vector<int32_t> idx;
  void* out;
  int64_t dim, inner;
};

// Made once and never destroyed: the thread is detached and may still wait on these when the process exits.
struct Loader {
  std::mutex mutex;
  std::condition_variable queued, done;
  std::deque<Job> jobs;
  uint64_t started = 0, finished = 0;
  bool running = false;
};

Loader& loader() {
  static Loader* one = new Loader();
  return *one;
}

void loader_main() {
  Loader& l = loader();
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(l.mutex);
      l.queued.wait(lock, [&] { return !l.jobs.empty(); });
      job = std::move(l.jobs.front());
      l.jobs.pop_front();
    }
    gather_rows(job.elemBytes, job.x, job.idx.data(), static_cast<int64_t>(job.idx.size()), job.out, 0, job.dim,
                job.inner);
    {
      std::lock_guard<std::mutex> lock(l.mutex);
      l.finished++;
    }
    l.done.notify_all();
  }
}

}  // namespace

uint64_t gather_start(int elemBytes, const void* x, const int32_t* idx, int64_t n, void* out, int64_t dim,
                      int64_t inner) {
  Loader& l = loader();
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> lock(l.mutex);
    if (!l.running) {
      std::thread(loader_main).detach();
      l.running = true;
    }
    l.jobs.push_back(Job{elemBytes, x, std::vector<int32_t>(idx, idx + n), out, dim, inner});
    ticket = ++l.started;
  }
  l.queued.notify_one();
  return ticket;
}

void gather_wait(uint64_t ticket) {
  Loader& l = loader();
  std::unique_lock<std::mutex> lock(l.mutex);
  l.done.wait(lock, [&] { return l.finished >= ticket; });
}

}  // namespace candor
