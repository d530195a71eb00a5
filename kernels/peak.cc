// The FMA peak probe: float32 FMA throughput (GFLOP/s) of this CPU on a given number of threads, for the bench
// to state every GEMM and convolution figure as a fraction of what the cores can do.
//
// Each thread runs kChains independent accumulator chains (acc += x * y) for a fixed time. A core with two
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

/** Defines `double name(double seconds)`: kChains chains of vector type R (`lanes` floats) under `attr`, timed. */
#define CANDOR_FMA_CHAINS(name, attr, R, lanes, set1, fmadd, storeu)                                \
  attr double name(double seconds) {                                                                \
    R acc[kChains];                                                                                 \
    for (int i = 0; i < kChains; i++) acc[i] = set1(float(i));                                      \
    /* acc += x * y: a tiny step, so every chain stays finite and normal. */                        \
    const R x = set1(0.999999f), y = set1(1e-7f);                                                   \
    Stopwatch watch;                                                                                \
    do                                                                                              \
      for (int64_t k = 0; k < kStep; k++)                                                           \
        _Pragma("GCC unroll 16") for (int i = 0; i < kChains; i++) acc[i] = fmadd(x, y, acc[i]);    \
    while (watch.tick(seconds));                                                                    \
    float out[lanes];                                                                               \
    R sum = acc[0];                                                                                 \
    for (int i = 1; i < kChains; i++) sum = fmadd(sum, set1(1.0f), acc[i]);                         \
    storeu(out, sum);                                                                               \
    sink.store(out[0], std::memory_order_relaxed);                                                  \
    return watch.rate(lanes * kChains);                                                             \
  }

inline float scalar_set1(float x) { return x; }
// The scalar build's multiply-add: the compiler may fuse it or not.
inline float scalar_fmadd(float a, float b, float c) { return a * b + c; }
inline void scalar_storeu(float* p, float v) { *p = v; }
CANDOR_FMA_CHAINS(fmas_scalar, , float, 1, scalar_set1, scalar_fmadd, scalar_storeu)
#if defined(__x86_64__) || defined(__i386__)
CANDOR_FMA_CHAINS(fmas_avx512, __attribute__((target("avx512f"))), __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps,
                  _mm512_storeu_ps)
CANDOR_FMA_CHAINS(fmas_avx2, __attribute__((target("avx2,fma"))), __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps,
                  _mm256_storeu_ps)
#endif

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
