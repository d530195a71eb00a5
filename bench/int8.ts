// int8 against float32 on the MNIST CNN's layers (examples/common.ts mnistCnn): quantizedConv2d / quantizedMatmul
// (quantise, integer product, fused requantisation + relu) beside conv2d / matmul + biasActivation, per layer and
// for the whole forward chain (with the max-pooling between), at batch 1 and 256, in one run on the native backend.
// Prints milliseconds and float32 / int8 ratios. Run by hand (`node dist/bench/int8.js`); not part of the tests.
import * as c from '../src/index.js';
import { quantizedConv2d, quantizedMatmul } from '../src/ops/families/quantized.js';
import { biasActivation } from '../src/ops/families/train-step.js';
import { RandomStream } from '../src/ops/random.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 0.4);

/** Milliseconds per call: a warm-up, then repeats for ~`seconds` (at least 5); the fastest, which a machine shared
 *  with other work disturbs least. */
function time(fn: () => void): number {
  c.tidy(fn);
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 5 || performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    c.tidy(fn);
    runs.push(performance.now() - t0);
  }
  return Math.min(...runs);
}

const g = new RandomStream(1);
const uniform = (shape: number[], lo: number, hi: number) => g.uniform(shape, lo, hi, 'float32');
const int8 = (shape: number[]) => c.cast(c.floor(g.uniform(shape, -128, 128, 'float32')), 'int8');
const valid = [
  [0, 0],
  [0, 0],
] as const;
const window = { strides: [1, 1], dilations: [1, 1], pads: valid } as const;
const quant = { inputScale: 1 / 64, inputZeroPoint: 3, activation: 'relu' } as const;

// The layers: conv 1->32 3x3 relu on 28x28, pool, conv 32->64 3x3 relu, pool, flatten, dense 1600->10.
const f1 = uniform([3, 3, 1, 32], -0.3, 0.3),
  f2 = uniform([3, 3, 32, 64], -0.1, 0.1),
  fd = uniform([1600, 10], -0.05, 0.05);
const q1 = int8([3, 3, 1, 32]),
  q2 = int8([3, 3, 32, 64]),
  qd = int8([1600, 10]);
const b1 = uniform([32], -0.1, 0.1),
  b2 = uniform([64], -0.1, 0.1),
  bd = uniform([10], -0.1, 0.1);
const s1 = uniform([32], 1e-4, 1e-3),
  s2 = uniform([64], 1e-4, 1e-3),
  sd = uniform([10], 1e-4, 1e-3);

const floatForward = (x: c.Tensor) => {
  const h1 = c.maxPool2d(biasActivation(c.conv2d(x, f1), b1, 'relu'), 2);
  const h2 = c.maxPool2d(biasActivation(c.conv2d(h1, f2), b2, 'relu'), 2);
  return biasActivation(c.matmul(c.reshape(h2, [x.shape[0], 1600]), fd), bd);
};
const int8Forward = (x: c.Tensor) => {
  const h1 = c.maxPool2d(quantizedConv2d(x, q1, s1, b1, { ...quant, ...window }), 2);
  const h2 = c.maxPool2d(quantizedConv2d(h1, q2, s2, b2, { ...quant, ...window }), 2);
  return quantizedMatmul(c.reshape(h2, [x.shape[0], 1600]), qd, sd, bd, { ...quant, activation: 'linear' });
};

console.log(`${c.getBackend().description}; int8 kernels: ${process.env.CANDOR_ISA ?? 'default'}`);
const rows: [string, number, number][] = [];
for (const batch of [1, 256]) {
  const x = uniform([batch, 28, 28, 1], 0, 1),
    x2 = uniform([batch, 13, 13, 32], 0, 2),
    xd = uniform([batch, 1600], 0, 2);
  rows.push(
    [
      `conv 1->32 28x28 b${batch}`,
      time(() => biasActivation(c.conv2d(x, f1), b1, 'relu')),
      time(() => quantizedConv2d(x, q1, s1, b1, { ...quant, ...window })),
    ],
    [
      `conv 32->64 13x13 b${batch}`,
      time(() => biasActivation(c.conv2d(x2, f2), b2, 'relu')),
      time(() => quantizedConv2d(x2, q2, s2, b2, { ...quant, ...window })),
    ],
    [
      `dense 1600->10 b${batch}`,
      time(() => biasActivation(c.matmul(xd, fd), bd)),
      time(() => quantizedMatmul(xd, qd, sd, bd, { ...quant, activation: 'linear' })),
    ],
    [`CNN forward b${batch}`, time(() => floatForward(x)), time(() => int8Forward(x))],
  );
}
console.log('| shape | float32 ms | int8 ms | float32 / int8 |\n| --- | --- | --- | --- |');
for (const [name, f, q] of rows)
  console.log(`| ${name} | ${f.toFixed(3)} | ${q.toFixed(3)} | ${(f / q).toFixed(2)}x |`);
