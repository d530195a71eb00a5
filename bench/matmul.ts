// Matmul throughput (float32, GFLOP/s): square GEMMs 256-2048 and the MNIST MLP's three GEMMs (forward,
// weight gradient, input gradient) on each backend, beside a naive triple loop (the floor) and, when a
// python3 with NumPy (OpenBLAS) or PyTorch is present, those as peers measured in the same run.
// Prints a table and ratios; with --json, a final JSON line. --full also times js at 2048 (slow).
import { spawnSync } from 'node:child_process';
import * as c from '../src/index.js';
import { batchMatmul } from '../src/ops/linalg.js';

const json = process.argv.includes('--json');
const full = process.argv.includes('--full');

interface Shape {
  readonly name: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
}
const square = (n: number): Shape => ({ name: String(n), m: n, n, k: n, transA: false, transB: false });
/** Batch 32 through Dense(784 -> 128): y = x W, dW = x^T dy, dx = dy W^T. */
const MLP: Shape[] = [
  { name: 'mlp x*W 32x784*784x128', m: 32, n: 128, k: 784, transA: false, transB: false },
  { name: 'mlp dW xT*dy 784x32*32x128', m: 784, n: 128, k: 32, transA: true, transB: false },
  { name: 'mlp dx dy*WT 32x128*128x784', m: 32, n: 784, k: 128, transA: false, transB: true },
];
const SHAPES = [...[256, 512, 1024, 2048].map(square), ...MLP];
const flopsOf = (s: Shape) => 2 * s.m * s.n * s.k;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Seconds per call: a warm-up, then repeats until ~1 s has passed (at least 3, at most 200), median taken. */
function time(fn: () => void): number {
  fn();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 3 || (performance.now() - start < 1000 && runs.length < 200)) {
    const t0 = performance.now();
    fn();
    runs.push((performance.now() - t0) / 1000);
  }
  return median(runs);
}

function naive(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
      out[i * n + j] = s;
    }
}

interface Result {
  backend: string;
  shape: string;
  gflops: number;
  ms: number;
}
const results: Result[] = [];
const record = (backend: string, s: Shape, seconds: number) =>
  results.push({ backend, shape: s.name, gflops: flopsOf(s) / seconds / 1e9, ms: seconds * 1e3 });

/** Each backend; the native one with its default threads and with one (the rows differ only in speed). */
const runs: { backend: string; threads?: number }[] = c.listBackends().map((backend) => ({ backend }));
if (c.nativeAvailability().available) runs.push({ backend: 'native', threads: 1 });
const defaultThreads = c.getNumThreads();
const descriptions: Record<string, string> = {};
for (const { backend, threads } of runs) {
  try {
    c.setBackend(backend);
  } catch {
    continue; // not available here (the native addon is not built)
  }
  if (threads) c.setNumThreads(threads);
  const label = backend === 'native' ? `native (${c.getNumThreads()}T)` : backend;
  descriptions[label] = c.getBackend().description;
  for (const s of SHAPES) {
    if (backend === 'js' && s.m >= 2048 && !full) continue;
    const a = c.randomUniform(s.transA ? [1, s.k, s.m] : [1, s.m, s.k], { seed: 1 });
    const b = c.randomUniform(s.transB ? [1, s.n, s.k] : [1, s.k, s.n], { seed: 2 });
    record(
      label,
      s,
      time(() => batchMatmul(a, b, s.transA, s.transB).dispose()),
    );
    c.dispose([a, b]);
  }
  if (threads) c.setNumThreads(defaultThreads);
}
for (const n of [256, 512]) {
  const a = new Float32Array(n * n).fill(1),
    b = new Float32Array(n * n).fill(1),
    out = new Float32Array(n * n);
  record(
    'naive-loop',
    square(n),
    time(() => naive(a, b, out, n)),
  );
}

/** NumPy (OpenBLAS, its default threads) and PyTorch, when python3 has them; same shapes, same timing rule. */
const PEERS = `
import json, time, sys
shapes = json.loads(sys.argv[1])
def bench(mm, make):
    out = []
    for s in shapes:
        a = make(s['k'], s['m']).T if s['transA'] else make(s['m'], s['k'])
        b = make(s['n'], s['k']).T if s['transB'] else make(s['k'], s['n'])
        mm(a, b)
        runs, start = [], time.perf_counter()
        while len(runs) < 3 or (time.perf_counter() - start < 1.0 and len(runs) < 200):
            t0 = time.perf_counter(); mm(a, b); runs.append(time.perf_counter() - t0)
        out.append({'shape': s['name'], 'seconds': sorted(runs)[len(runs) // 2]})
    return out
res = {}
try:
    import numpy as np
    res['numpy'] = bench(np.matmul, lambda r, c: np.random.rand(r, c).astype(np.float32))
except ImportError:
    pass
try:
    import torch
    res['torch (%dT)' % torch.get_num_threads()] = bench(torch.matmul, lambda r, c: torch.rand(r, c))
except ImportError:
    pass
print(json.dumps(res))
`;
const peers = spawnSync('python3', ['-c', PEERS, JSON.stringify(SHAPES)], { encoding: 'utf8', timeout: 300_000 });
if (peers.status === 0) {
  const found = JSON.parse(peers.stdout.trim().split('\n').pop()!) as Record<
    string,
    { shape: string; seconds: number }[]
  >;
  for (const [peer, rows] of Object.entries(found))
    for (const r of rows)
      record(
        peer,
        SHAPES.find((s) => s.name === r.shape)!,
        r.seconds,
      );
}

const backends = [...new Set(results.map((r) => r.backend))];
const cell = (backend: string, shape: string) => results.find((r) => r.backend === backend && r.shape === shape);
console.log('matmul float32, GFLOP/s (median of repeats; the machine is shared, so expect ~10% noise)');
const width = Math.max(...SHAPES.map((s) => s.name.length)) + 2;
console.log(['shape'.padEnd(width), ...backends.map((b) => b.padStart(14))].join(''));
for (const s of SHAPES)
  console.log(
    [s.name.padEnd(width), ...backends.map((b) => (cell(b, s.name)?.gflops.toFixed(1) ?? '-').padStart(14))].join(''),
  );

const ratios: Record<string, number> = {};
const native = `native (${defaultThreads}T)`;
for (const s of SHAPES) {
  const mine = cell(native, s.name);
  if (!mine) continue;
  for (const peer of backends.filter((b) => b !== native)) {
    const other = cell(peer, s.name);
    if (other) ratios[`native/${peer}@${s.name}`] = mine.gflops / other.gflops;
  }
}
for (const s of SHAPES) {
  const js = cell('js', s.name),
    floor = cell('naive-loop', s.name);
  if (js && floor) ratios[`js/naive@${s.name}`] = js.gflops / floor.gflops;
}
for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ${v.toFixed(2)}x`);
if (json) console.log(JSON.stringify({ bench: 'matmul', backends: descriptions, results, ratios }));
