// Matmul throughput of each registered backend at 256, 512 and 1024 (float32), beside a naive triple
// loop over typed arrays as the floor. Prints a table and ratios; with --json, a final JSON line.
import * as c from '../src/index.js';

const json = process.argv.includes('--json');
const sizes = [256, 512, 1024];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Seconds per call: a warm-up, then repeats until ~1 s has passed (at least 3), median taken. */
function time(fn: () => void): number {
  fn();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 3 || (performance.now() - start < 1000 && runs.length < 50)) {
    const t0 = performance.now();
    fn();
    runs.push((performance.now() - t0) / 1000);
  }
  return median(runs);
}

function naive(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
    out[i * n + j] = s;
  }
}

const results: { backend: string; n: number; gflops: number }[] = [];
for (const name of c.listBackends()) {
  c.setBackend(name);
  for (const n of sizes) {
    const a = c.randomUniform([n, n], { seed: 1 }), b = c.randomUniform([n, n], { seed: 2 });
    const s = time(() => c.matmul(a, b).dispose());
    results.push({ backend: name, n, gflops: (2 * n ** 3) / s / 1e9 });
    c.dispose([a, b]);
  }
}
for (const n of sizes.filter((s) => s <= 512)) {
  const a = new Float32Array(n * n).fill(1), b = new Float32Array(n * n).fill(1), out = new Float32Array(n * n);
  const s = time(() => naive(a, b, out, n));
  results.push({ backend: 'naive-loop', n, gflops: (2 * n ** 3) / s / 1e9 });
}

console.log('matmul float32, GFLOP/s (median)');
console.log(['backend', ...sizes.map(String)].map((s) => s.padStart(12)).join(''));
for (const backend of [...new Set(results.map((r) => r.backend))]) {
  const row = sizes.map((n) => results.find((r) => r.backend === backend && r.n === n)?.gflops.toFixed(2) ?? '-');
  console.log([backend, ...row].map((s) => s.padStart(12)).join(''));
}
const ratios: Record<string, number> = {};
for (const n of sizes) {
  const js = results.find((r) => r.backend === 'js' && r.n === n);
  const floor = results.find((r) => r.backend === 'naive-loop' && r.n === n);
  if (js && floor) ratios[`js/naive@${n}`] = js.gflops / floor.gflops;
}
for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ${v.toFixed(1)}x`);
if (json) console.log(JSON.stringify({ bench: 'matmul', results, ratios }));
