// The FMA peak probe: float32 FMA throughput (GFLOP/s) of this CPU on a given number of threads, for the bench
// to state every GEMM and convolution figure as a fraction of what the cores can do.
//
// Each thread runs kChains independent accumulator chains (acc = acc * x + y) for a fixed time. A core with two
// FMA pipes of latency up to 6 cycles (Zen 4/5: 4, Intel: 4) keeps 2 x 6 = 12 FMAs in flight, so 16 chains cover
// it with margin while leaving registers free (no spills: the loop body is registers only). Compiled with
// function-level target attributes, so one file serves every ISA the addon can pick; it reads no memory.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace candor {
namespace {

constexpr int kChains = 16;
// FMAs per chain between clock reads: long enough that reading the clock costs nothing measurable.
constexpr int64_t kStep = 1 << 14;

/** The probe's stopwatch: each ISA's loop (written out in it, as a lambda would not inherit the function's target
 *  attribute) runs kStep steps per tick() until tick() says `seconds` have passed. */
struct Stopwatch {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  int64_t ticks = 0;
  double elapsed = 0;
  bool tick(double seconds) {
    ticks++;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return elapsed < seconds;
  }
  /** FMAs per second for `fmasPerStep` FMAs in each of the kStep steps of each tick. */
  double rate(int64_t fmasPerStep) const { return double(ticks) * double(kStep) * double(fmasPerStep) / elapsed; }
};

// The result is stored here so that the compiler cannot drop the chains.
std::atomic<float> sink{0};

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) double fmas_avx512(double seconds) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps(float(i));
  // x just below 1 and y small keep every chain finite and normal for any run length.
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  Stopwatch watch;
  do
    for (int64_t k = 0; k < kStep; k++)
#pragma GCC unroll 16
      for (int i = 0; i < kChains; i++) acc[i] = _mm512_fmadd_ps(x, y, acc[i]);
  while (watch.tick(seconds));
  __m512 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  sink.store(lanes[0], std::memory_order_relaxed);
  return watch.rate(16 * kChains);
}

__attribute__((target("avx2,fma"))) double fmas_avx2(double seconds) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm256_set1_ps(float(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  Stopwatch watch;
  do
    for (int64_t k = 0; k < kStep; k++)
#pragma GCC unroll 16
      for (int i = 0; i < kChains; i++) acc[i] = _mm256_fmadd_ps(x, y, acc[i]);
  while (watch.tick(seconds));
  __m256 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm256_add_ps(s, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  sink.store(lanes[0], std::memory_order_relaxed);
  return watch.rate(8 * kChains);
}
#endif

/** The scalar build's inner loop: one multiply-add per chain per step (the compiler may fuse it or not). */
double fmas_scalar(double seconds) {
  float acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = float(i);
  const float x = 0.999999f, y = 1e-7f;
  Stopwatch watch;
  do
    for (int64_t k = 0; k < kStep; k++)
#pragma GCC unroll 16
      for (int i = 0; i < kChains; i++) acc[i] = x * y + acc[i];
  while (watch.tick(seconds));
  float s = 0;
  for (int i = 0; i < kChains; i++) s += acc[i];
  sink.store(s, std::memory_order_relaxed);
  return watch.rate(kChains);
}

double fmas(const char* isa, double seconds) {
#if defined(__x86_64__) || defined(__i386__)
  if (!std::strcmp(isa, "avx512")) return fmas_avx512(seconds);
  if (!std::strcmp(isa, "avx2")) return fmas_avx2(seconds);
#endif
  return fmas_scalar(seconds);
}

}  // namespace

/** GFLOP/s (2 per FMA) of `threads` threads running the chains of `isa` ("avx512", "avx2", else scalar) at once
 *  for `seconds` each. The threads are started for the probe (not the pool's: its tasks are claimed, so one
 *  worker could run two of them in turn) and released together. The caller checks isa against the CPU. */
double fma_peak_gflops(const char* isa, int threads, double seconds) {
  std::vector<double> rates(threads);
  std::atomic<int> ready{0};
  std::vector<std::thread> helpers;
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < threads) std::this_thread::yield();
    rates[t] = fmas(isa, seconds);
  };
  for (int t = 1; t < threads; t++) helpers.emplace_back(body, t);
  body(0);
  for (std::thread& h : helpers) h.join();
  double total = 0;
  for (double r : rates) total += r;
  return 2 * total / 1e9;
}

}  // namespace candor
