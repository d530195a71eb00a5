// A GAN on MNIST with a trainStep override (Keras' "Customizing what happens in fit(): GAN", as MLPs): fit()
// calls GAN.trainStep, which trains the discriminator on real and generated digits, then the generator to
// fool it, each with its own optimizer, through valueAndGrads and applyGradients. `--epochs N` (default 1),
// `--samples N` real images per epoch (default 12800; 60000 for all), `--json` for a final JSON line, `--out DIR`
// (default runs/mnist-gan: the generator, run.json, card, ledger) / `--no-record`.
import * as c from '../src/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const { epochs, json, verbose, seed, out, limit } = parseExampleArgs({ epochs: 1, name: 'mnist-gan' });
const at = process.argv.indexOf('--samples');
const samples = Math.min(at >= 0 ? Number(process.argv[at + 1]) : 12800, limit ?? Infinity);
if (!Number.isInteger(samples) || samples < 64 || samples > 60000)
  throw new Error(`--samples must be an integer in [64, 60000], got ${process.argv[at + 1]}`);
const latentDim = 64;
const batchSize = 64;

/** The pair and the training step; the two sub-models are fields, so the GAN holds their weights. */
class GAN extends c.Model {
  readonly dLossTracker = new c.metrics.Mean({ name: 'd_loss' });
  readonly gLossTracker = new c.metrics.Mean({ name: 'g_loss' });
  private readonly noise: c.RandomStream;
  private readonly loss = c.losses.binaryCrossentropy({ fromLogits: true });

  constructor(
    readonly discriminator: c.Sequential,
    readonly generator: c.Sequential,
    readonly dOptimizer: c.Optimizer,
    readonly gOptimizer: c.Optimizer,
    seed: number,
  ) {
    super({ name: 'gan' });
    this.noise = new c.RandomStream(seed);
  }

  override trainStep([x]: c.StepData): c.StepLogs {
    const real = x as c.Tensor;
    const n = real.shape[0];
    // 1. The discriminator: generated images labelled 1, real ones 0, with a little label noise (Keras).
    const fake = this.generator.apply(this.noise.normal([n, latentDim])) as c.Tensor;
    const images = c.concat([fake, real], 0);
    const labels = c.add(c.concat([c.ones([n, 1]), c.zeros([n, 1])], 0), c.mul(this.noise.uniform([2 * n, 1]), 0.05));
    const dWeights = this.discriminator.trainableWeights;
    const d = c.valueAndGrads(() => this.loss(labels, this.discriminator.apply(images) as c.Tensor), dWeights);
    this.dOptimizer.applyGradients(d.grads, dWeights);
    // 2. The generator: its images should be called real (0); only its weights move.
    const gWeights = this.generator.trainableWeights;
    const z = this.noise.normal([n, latentDim]);
    const g = c.valueAndGrads(() => {
      const scores = this.discriminator.apply(this.generator.apply(z, { training: true })) as c.Tensor;
      return this.loss(c.zeros([n, 1]), scores);
    }, gWeights);
    this.gOptimizer.applyGradients(g.grads, gWeights);
    this.dLossTracker.updateState(d.value);
    this.gLossTracker.updateState(g.value);
    return { d_loss: this.dLossTracker.result(), g_loss: this.gLossTracker.result() };
  }
}

const discriminator = new c.Sequential([
  c.layers.dense({ units: 256, activation: 'leakyRelu', inputShape: [784] }),
  c.layers.dense({ units: 1 }), // a logit: "generated" when positive
]);
const generator = new c.Sequential([
  c.layers.dense({ units: 256, activation: 'leakyRelu', inputShape: [latentDim] }),
  c.layers.dense({ units: 784, activation: 'sigmoid' }),
]);
const gan = new GAN(
  discriminator,
  generator,
  c.optimizers.adam({ learningRate: 0.0002, beta1: 0.5 }),
  c.optimizers.adam({ learningRate: 0.0002, beta1: 0.5 }),
  seed,
);
gan.compile(); // no loss: the trainStep override is the training

const { train, test } = await c.datasets.mnist();
const real = c.sliceAxis(train.x, 0, 0, samples);
const start = performance.now();
const history = await gan.fit(real, { epochs, batchSize, verbose, seed, record: { name: 'mnist-gan' } });
const seconds = (performance.now() - start) / 1000;

// How the discriminator sees held-out real digits and fresh fakes (probability of "generated"), and how
// far the fakes' pixel statistics are from the real ones.
const figures = c.tidy(() => {
  const probe = c.sliceAxis(test.x, 0, 0, 1000);
  const fakes = generator.predict(new c.RandomStream(seed + 1).normal([1000, latentDim])) as c.Tensor;
  const pGenerated = (images: c.Tensor) => c.mean(c.sigmoid(discriminator.predict(images) as c.Tensor)).item();
  const inkShare = (images: c.Tensor) => c.mean(c.cast(c.greater(images, 0.5), 'float32')).item();
  return {
    dOnRealTest: pGenerated(probe),
    dOnFakes: pGenerated(fakes),
    realInkShare: inkShare(probe),
    fakeInkShare: inkShare(fakes),
  };
});
const last = (k: string) => history.history[k][history.history[k].length - 1];
// Recording: the figures above, the generator (what a GAN is trained for) saved in `out`, the card.
if (out)
  gan.runRecorder!.record.notes.push(
    'The model described is the GAN (discriminator and generator); the saved model is the generator alone',
  );
const run = out
  ? await recordRun(gan.runRecorder!, out, {
      model: generator,
      evaluations: { 'discriminator on 1000 test digits and 1000 fakes; ink shares': figures },
    })
  : undefined;
report(json, {
  example: 'mnist-gan',
  epochs,
  samples,
  seconds,
  stepsPerSec: (Math.ceil(samples / batchSize) * epochs) / seconds,
  dLoss: last('d_loss'),
  gLoss: last('g_loss'),
  ...figures,
  ...publishedFiles(run),
});
c.dispose([train, test, real]);
