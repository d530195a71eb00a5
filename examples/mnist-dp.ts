// MNIST with DP-SGD at a privacy budget: the TF Privacy tutorial CNN with tanh activations (tempered sigmoids,
// Papernot et al. 2021), SGD with momentum, Poisson sampling, sigma picked for the budget (default epsilon 3,
// delta 1e-5). `--epochs N`, `--target-epsilon E`, `--json` for a final JSON line, `--out DIR` (default runs/mnist-dp:
// the model, run.json, card, ledger) / `--no-record`.
// Then a membership-inference audit (loss threshold) of the DP model, beside the same audit of a deliberately
// overfit non-private copy trained on the audited members alone: membershipAuc and membershipAucBaseline.
import * as c from '../src/index.js';
import { firstSamples, parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const DEFAULTS = {
  epochs: 15,
  targetEpsilon: 3,
  delta: 1e-5,
  batchSize: 256,
  l2NormClip: 1,
  learningRate: 0.1,
  momentum: 0.9,
};

/** A number flag (`--name value`), or the default. */
function flag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const v = Number(args[at + 1]);
  if (!(v >= 0 && Number.isFinite(v))) throw new Error(`--${name} must be a number >= 0, got ${args[at + 1]}`);
  return v;
}

const { epochs, json, verbose, out, seed, limit } = parseExampleArgs({ epochs: DEFAULTS.epochs, name: 'mnist-dp' });
const targetEpsilon = flag('target-epsilon', DEFAULTS.targetEpsilon);
const batchSize = flag('batch-size', DEFAULTS.batchSize);
const l2NormClip = flag('clip', DEFAULTS.l2NormClip);
const learningRate = flag('lr', DEFAULTS.learningRate);
const momentum = flag('momentum', DEFAULTS.momentum);
const { delta } = DEFAULTS;
const mnist = await c.datasets.mnist({ flatten: false });
const { test } = mnist,
  train = firstSamples(mnist.train, limit);

const model = new c.Sequential([
  c.layers.conv2d({
    filters: 16,
    kernelSize: 8,
    strides: 2,
    padding: 'same',
    activation: 'tanh',
    inputShape: [28, 28, 1],
  }),
  c.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
  c.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'valid', activation: 'tanh' }),
  c.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
  c.layers.flatten(),
  c.layers.dense({ units: 32, activation: 'tanh' }),
  c.layers.dense({ units: 10 }),
]);
if (!json) model.summary();
model.compile({
  optimizer: c.optimizers.sgd({ learningRate, momentum }),
  loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
  metrics: ['accuracy'],
  privacy: { l2NormClip },
});
const recorder = out ? new c.RunRecorder({ dir: out, name: 'mnist-dp' }) : undefined;
const start = performance.now();
const history = await model.fit(train.x, train.y, {
  epochs,
  batchSize,
  validationData: [test.x, test.y],
  verbose,
  seed,
  privacy: { targetEpsilon, delta },
  callbacks: recorder ? [recorder] : [],
});
const seconds = (performance.now() - start) / 1000;
const { loss, accuracy } = await model.evaluate(test.x, test.y, { batchSize: 1000 });
const privacy = (model.runRecorder?.record?.privacy ?? {}) as Partial<c.privacy.DpSgdRecord>;
const epsilons = history.history.epsilon;
const figures: Record<string, string | number | boolean> = {
  example: 'mnist-dp',
  epochs: history.epoch.length,
  batchSize,
  learningRate,
  momentum,
  testAccuracy: accuracy,
  testLoss: loss,
  epsilon: privacy.epsilon ?? epsilons[epsilons.length - 1],
  delta,
  targetEpsilon,
  noiseMultiplier: privacy.noiseMultiplier ?? NaN,
  l2NormClip,
  steps: privacy.steps ?? NaN,
  secureNoise: privacy.secureNoise ?? true,
  seconds,
};

// The audit: 1,000 training images the DP model saw (members) against 1,000 test images it did not.
const AUDITED = 1000;
const first = (t: c.Tensor) => c.sliceAxis(t, 0, 0, AUDITED);
const members = { x: first(train.x), y: first(train.y) };
const nonMembers = { x: first(test.x), y: first(test.y) };
const audit = await c.privacy.membershipAudit(model, members, nonMembers, { attacks: ['loss-threshold'] });
const baseline = c.cloneModel(model);
baseline.compile({ optimizer: 'adam', loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }) });
await baseline.fit(members.x, members.y, { epochs: 30, batchSize: 32, verbose: 0, record: false });
figures.membershipAuc = audit.attacks[0].auc;
figures.membershipAucBaseline = await c.privacy.membershipAuc(baseline, members, nonMembers);
baseline.dispose();
const run =
  recorder && out
    ? await recordRun(recorder, out, { model, test: { x: test.x, y: test.y, batchSize: 1000 } })
    : undefined;
report(json, { ...figures, ...publishedFiles(run) });
