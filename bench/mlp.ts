// Training throughput of the MNIST-shaped MLP (Dense 128 relu -> Dense 10 softmax, Adam, batch 32) on
// synthetic data, through model.fit: samples/s on each available backend. Complements bench/matmul.ts
// (kernels) with the whole step: dispatch, autograd, optimizer and the JS <-> native crossings.
// `--json` prints a final JSON line; `--samples N` sets the epoch size (default 9600 = 300 steps).
import * as c from '../src/index.js';

const json = process.argv.includes('--json');
const at = process.argv.indexOf('--samples');
const samples = at >= 0 ? Number(process.argv[at + 1]) : 9600;

async function samplesPerSecond(): Promise<number> {
  const x = c.randomUniform([samples, 784], { seed: 1 });
  const y = c.cast(c.mul(c.randomUniform([samples], { seed: 2 }), 10), 'int32');
  const model = new c.Sequential([
    c.layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
    c.layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0, shuffle: false } as never); // warm-up
  const t0 = performance.now();
  await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0, shuffle: false } as never);
  const seconds = (performance.now() - t0) / 1000;
  c.dispose([x, y]);
  return samples / seconds;
}

const results: Record<string, number> = {};
for (const name of c.listBackends()) {
  try {
    c.setBackend(name);
  } catch {
    continue; // the native addon is not built here
  }
  results[name] = await samplesPerSecond();
  console.log(`${c.getBackend().description}: ${results[name].toFixed(0)} samples/s`);
}
if (results.native && results.js) console.log(`native/js: ${(results.native / results.js).toFixed(1)}x`);
if (json) console.log(JSON.stringify({ bench: 'mlp-train', batch: 32, samples, results }));
