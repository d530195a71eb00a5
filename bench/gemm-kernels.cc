// Kernel-level SGEMM benchmark without Node: links kernels/ directly, so the GEMM can be tuned (and
// compared with BLAS on machines that have no Node) in isolation. Prints one JSON line per ISA:
// bench/gemm-kernels.sh builds it (each ISA file with its own -m flags) and runs it beside NumPy / PyTorch.
// Usage: gemm-kernels THREADS [--isa NAME] [--only I,J,...] [--seconds S] (--only picks shapes by index; S is
// the time spent per shape, 1 by default: short runs let two builds be timed in alternation).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#include "../kernels/common.h"

using namespace candor;

struct Shape {
  const char* name;
  int64_t m, n, k;
  bool ta, tb;
};

int main(int argc, char** argv) {
  set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  const char* isa = nullptr;
  std::string only;
  double seconds = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--isa")) isa = argv[i + 1];
    if (!std::strcmp(argv[i], "--only")) only = std::string(",") + argv[i + 1] + ",";
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  const Shape shapes[] = {{"256", 256, 256, 256, 0, 0},
                          {"512", 512, 512, 512, 0, 0},
                          {"1024", 1024, 1024, 1024, 0, 0},
                          {"2048", 2048, 2048, 2048, 0, 0},
                          {"mlp x*W 32x784*784x128", 32, 128, 784, 0, 0},
                          {"mlp dW xT*dy 784x32*32x128", 784, 128, 32, 1, 0},
                          {"mlp dx dy*WT 32x128*128x784", 32, 784, 128, 0, 1}};
  const IsaTable* tables[] = {&avx512::table, &avx2::table};
  for (const IsaTable* t : tables) {
    if (t == &avx512::table && !__builtin_cpu_supports("avx512f")) continue;
    if (isa && std::strcmp(isa, t->name)) continue;
    // The FMA peak of this ISA on as many threads as the GEMM uses (kernels/peak.cc), to state each figure against.
    // The best of three short probes: a neighbour's load only ever lowers one.
    double peak = 0;
    for (int i = 0; i < 3; i++) peak = std::max(peak, fma_peak_gflops(t->name, num_threads(), 0.1));
    std::printf("{\"isa\":\"%s\",\"threads\":%d,\"peakGflops\":%.1f,\"results\":[", t->name, num_threads(), peak);
    bool first = true;
    for (const Shape& s : shapes) {
      if (!only.empty() && only.find("," + std::to_string(&s - shapes) + ",") == std::string::npos) continue;
      std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
      for (size_t i = 0; i < a.size(); i++) a[i] = float(i % 7) * 0.25f - 0.5f;
      for (size_t i = 0; i < b.size(); i++) b[i] = float(i % 5) * 0.25f - 0.5f;
      GemmArgs g{a.data(), b.data(), c.data(), 1, s.m, s.n, s.k, s.ta, s.tb};
      t->gemm(F32, g);  // warm-up
      // Median of repeats for about a second (3 to 200), as bench/matmul.ts times.
      std::vector<double> runs;
      auto start = std::chrono::steady_clock::now();
      auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
      // Also the process's CPU time per run over the thread count: the wall time the run would take if its threads
      // had the cores to themselves (spinning counts; time the scheduler gave to other processes does not), a
      // steadier figure to compare two builds by on a shared machine.
      std::vector<double> cpuRuns;
      auto cpu = [] {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
      };
      while (runs.size() < 3 || (elapsed() < seconds && runs.size() < 200)) {
        auto t0 = std::chrono::steady_clock::now();
        double c0 = cpu();
        t->gemm(F32, g);
        runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        cpuRuns.push_back((cpu() - c0) / num_threads());
      }
      std::sort(runs.begin(), runs.end());
      std::sort(cpuRuns.begin(), cpuRuns.end());
      double sec = runs[runs.size() / 2], cpuSec = cpuRuns[cpuRuns.size() / 2];
      double gflops = 2.0 * s.m * s.n * s.k / sec / 1e9;
      std::printf("%s{\"shape\":\"%s\",\"gflops\":%.2f,\"ofPeak\":%.3f,\"us\":%.1f,\"cpuGflops\":%.2f}",
                  first ? "" : ",", s.name, gflops, gflops / peak, sec * 1e6, 2.0 * s.m * s.n * s.k / cpuSec / 1e9);
      first = false;
    }
    std::printf("]}\n");
  }
}
