// A small demo of the core: a 1-32-32-1 tanh MLP learns y = sin(x) on [-pi, pi] by full-batch gradient
// descent with momentum, written directly on tensors and grad. Prints the loss falling; --json prints
// the final figures as the last line. `--steps N` (default 2000), `--out DIR` (default runs/sine-mlp: run.json,
// card, ledger; the weights are plain tensors, not saved) / `--no-record`.
import * as c from '../src/index.js';
import { LoopRecorder, parseExampleArgs, publish, publishedFiles } from './common.js';

const args = process.argv.slice(2);
const { json, out } = parseExampleArgs({ epochs: 1, name: 'sine-mlp' });
const steps = Number(args[args.indexOf('--steps') + 1]) || 2000;

const gen = new c.RandomStream(0);
const x = c.reshape(c.linspace(-Math.PI, Math.PI, 256), [256, 1]);
const y = c.sin(x);

type Params = { w1: c.Tensor; b1: c.Tensor; w2: c.Tensor; b2: c.Tensor; w3: c.Tensor; b3: c.Tensor };
const glorot = (fanIn: number, fanOut: number) =>
  gen.uniform([fanIn, fanOut], -1, 1).mul(Math.sqrt(6 / (fanIn + fanOut)));
let params: Params = {
  w1: glorot(1, 32),
  b1: c.zeros([32]),
  w2: glorot(32, 32),
  b2: c.zeros([32]),
  w3: glorot(32, 1),
  b3: c.zeros([1]),
};
let velocity = c.tidy(() => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, c.zerosLike(v)])) as Params);

const forward = (p: Params, input: c.Tensor) => {
  const h1 = c.tanh(c.add(c.matmul(input, p.w1), p.b1));
  const h2 = c.tanh(c.add(c.matmul(h1, p.w2), p.b2));
  return c.add(c.matmul(h2, p.w3), p.b3);
};
const lossAndGrad = c.valueAndGrad((p: Params) => c.mean(c.square(c.sub(forward(p, x), y))));

const lr = 0.02,
  momentum = 0.9;
// A loop of our own, so the recording is told of each step; each full-batch step is one epoch.
const recording = out
  ? new LoopRecorder({ name: 'sine-mlp', data: { train: { x, y, description: '256 points of sin on [-pi, pi]' } } })
  : undefined;
recording?.beginLoop();
const start = performance.now();
let first = NaN,
  last = NaN;
for (let step = 0; step <= steps; step++) {
  const { value, grads } = lossAndGrad(params);
  last = value.item();
  if (step === 0) first = last;
  if (!json && step % (steps / 10) === 0)
    console.log(`step ${String(step).padStart(5)}  loss ${last.toExponential(3)}`);
  const next = c.tidy(() => {
    const v = {} as Params,
      p = {} as Params;
    for (const k of Object.keys(params) as (keyof Params)[]) {
      v[k] = c.add(c.mul(velocity[k], momentum), grads[k]);
      p[k] = c.sub(params[k], c.mul(v[k], lr));
    }
    return { v, p };
  });
  c.dispose([params, velocity, grads, value]);
  params = next.p;
  velocity = next.v;
  recording?.onBatchEnd();
  recording?.onEpochEnd(step, { loss: last });
}
const seconds = (performance.now() - start) / 1000;
const sizes = [1, 32, 32, 1];
const run = recording && out ? await publishRun(recording, out) : undefined;

/** Ends the recording with the network's facts and publishes it in `dir`. */
async function publishRun(recording: LoopRecorder, dir: string) {
  const total = Object.values(params).reduce((s, t) => s + t.size, 0);
  await recording.endLoop({
    model: {
      name: 'sine-mlp',
      className: 'MLP (tensors and grad)',
      architecture: () => ({ sizes, activation: 'tanh' }),
      parameters: { total, trainable: total },
      layers: sizes.slice(1).map((units, i) => ({
        name: `dense${i + 1}`,
        className: 'Dense',
        parameters: (sizes[i] + 1) * units,
      })),
    },
    status: 'completed',
    hyperparameters: { optimizer: 'sgd with momentum, full batch', learningRate: lr, momentum, loss: 'mse', steps },
    seeds: { init: 0 },
    epochs: { requested: steps + 1 },
  });
  await recording.addEvaluation('training points', { loss: last });
  return publish(recording, dir);
}
const summary = {
  example: 'sine-mlp',
  steps,
  firstLoss: first,
  finalLoss: last,
  seconds,
  backend: c.getBackend().name,
  liveTensors: c.memory().tensors,
  ...publishedFiles(run),
};
if (json) console.log(JSON.stringify(summary));
else
  console.log(
    `loss ${first.toExponential(3)} -> ${last.toExponential(3)} in ${steps} steps, ` +
      `${seconds.toFixed(2)} s on the '${summary.backend}' backend`,
  );
