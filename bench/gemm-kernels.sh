#!/usr/bin/env bash
# Builds bench/gemm-kernels.cc against kernels/ (each ISA file with its own flags, as binding.gyp does)
# and runs it with THREADS threads (default 2), then NumPy / PyTorch on the same shapes when python3 has
# them. Usage: bench/gemm-kernels.sh [THREADS [harness options: --isa NAME --only I,J --seconds S]].
# CANDOR_GEMM_BIN=path only builds the harness there (to time two builds in alternation). Needs g++ and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
shift || true
out="$(mktemp -d)"
flags=(-O3 -std=gnu++17 -fno-math-errno ${CANDOR_GEMM_FLAGS:-})
g++ "${flags[@]}" -Wno-uninitialized -Wno-maybe-uninitialized -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -c kernels/isa_avx512.cc -o "$out/avx512.o"
g++ "${flags[@]}" -mavx2 -mfma -c kernels/isa_avx2.cc -o "$out/avx2.o"
g++ "${flags[@]}" bench/gemm-kernels.cc kernels/pool.cc kernels/generic.cc kernels/isa_scalar.cc kernels/peak.cc "$out/avx512.o" "$out/avx2.o" -lpthread -o "$out/gemm-kernels"
if [ -n "${CANDOR_GEMM_BIN:-}" ]; then
  cp "$out/gemm-kernels" "$CANDOR_GEMM_BIN"
  rm -rf "$out"
  exit 0
fi
"$out/gemm-kernels" "$threads" "$@"
OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" python3 - "$threads" <<'PY' || true
import json, sys, time
threads = int(sys.argv[1])
shapes = [("256", 256, 256, 256, 0, 0), ("512", 512, 512, 512, 0, 0), ("1024", 1024, 1024, 1024, 0, 0), ("2048", 2048, 2048, 2048, 0, 0),
          ("mlp x*W 32x784*784x128", 32, 128, 784, 0, 0), ("mlp dW xT*dy 784x32*32x128", 784, 128, 32, 1, 0), ("mlp dx dy*WT 32x128*128x784", 32, 784, 128, 0, 1)]
def bench(name, mm, make):
    rows = []
    for s, m, n, k, ta, tb in shapes:
        a = make(k, m).T if ta else make(m, k)
        b = make(n, k).T if tb else make(k, n)
        mm(a, b)
        runs, start = [], time.perf_counter()
        while len(runs) < 3 or (time.perf_counter() - start < 1.0 and len(runs) < 200):
            t0 = time.perf_counter(); mm(a, b); runs.append(time.perf_counter() - t0)
        sec = sorted(runs)[len(runs) // 2]
        rows.append({"shape": s, "gflops": round(2 * m * n * k / sec / 1e9, 2), "us": round(sec * 1e6, 1)})
    print(json.dumps({"peer": name, "threads": threads, "results": rows}))
try:
    import numpy as np
    bench("numpy", np.matmul, lambda r, c: np.random.rand(r, c).astype(np.float32))
except ImportError:
    pass
try:
    import torch
    torch.set_num_threads(threads)
    bench("torch", torch.matmul, lambda r, c: torch.rand(r, c))
except ImportError:
    pass
PY
rm -rf "$out"
