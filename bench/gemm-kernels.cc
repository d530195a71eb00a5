// Kernel-level SGEMM benchmark without Node: links kernels/ directly, so the GEMM can be tuned (and
// compared with BLAS on machines that have no Node) in isolation. Prints one JSON line per ISA:
// bench/gemm-kernels.sh builds it (each ISA file with its own -m flags) and runs it beside NumPy / PyTorch.
// Usage: gemm-kernels THREADS
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
    std::printf("{\"isa\":\"%s\",\"threads\":%d,\"results\":[", t->name, num_threads());
    bool first = true;
    for (const Shape& s : shapes) {
      std::vector<float> a(s.m * s.k, 0.5f), b(s.k * s.n, 0.25f), c(s.m * s.n);
      GemmArgs g{a.data(), b.data(), c.data(), 1, s.m, s.n, s.k, s.ta, s.tb};
      t->gemm(F32, g);  // warm-up
      // Median of repeats for about a second (3 to 200), as bench/matmul.ts times.
      std::vector<double> runs;
      auto start = std::chrono::steady_clock::now();
      auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
      while (runs.size() < 3 || (elapsed() < 1 && runs.size() < 200)) {
        auto t0 = std::chrono::steady_clock::now();
        t->gemm(F32, g);
        runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(runs.begin(), runs.end());
      double sec = runs[runs.size() / 2];
      double gflops = 2.0 * s.m * s.n * s.k / sec / 1e9;
      std::printf("%s{\"shape\":\"%s\",\"gflops\":%.2f,\"us\":%.1f}", first ? "" : ",", s.name, gflops, sec * 1e6);
      first = false;
    }
    std::printf("]}\n");
  }
}
