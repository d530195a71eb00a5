// A variational autoencoder on MNIST (Keras' VAE example, as MLPs) trained by plain fit(x, x): a Sampling layer
// draws z = mean + exp(logVar / 2) * eps and adds the KL divergence to the loss with addLoss, next to the
// compiled reconstruction loss. `--epochs N` (default 2), `--samples N` training images (default 20000; 60000
// for all), `--latent N` (default 2), `--json` for a final JSON line, `--out DIR` (default runs/mnist-vae: the
// model, run.json, card, ledger) / `--no-record`.
import * as c from '../src/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const { epochs, json, verbose, seed, out, limit } = parseExampleArgs({ epochs: 2, name: 'mnist-vae' });
const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  const v = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${process.argv[at + 1]}`);
  return v;
};
const samples = Math.min(option('--samples', 20000), 60000, limit ?? Infinity);
const latentDim = option('--latent', 2);
const pixels = 784;

/**
 * z from [zMean, zLogVar] by the reparameterisation trick, adding KL(q(z|x) || N(0, I)) summed over z and
 * averaged over the batch, times klWeight (1 / 784 here: the compiled cross-entropy averages over pixels,
 * where Keras' example sums them, so both terms are scaled alike).
 */
class Sampling extends c.Layer {
  static override readonly className = 'Sampling';
  private readonly stream: c.RandomStream;
  constructor(
    readonly klWeight: number,
    readonly seed: number,
  ) {
    super({ name: 'sampling' });
    this.stream = new c.RandomStream(seed);
  }
  override call(inputs: c.Tensor | c.Tensor[], ctx: c.CallContext): c.Tensor {
    const [zMean, zLogVar] = inputs as c.Tensor[];
    const kl = c.mul(c.mean(c.sum(c.sub(c.add(c.square(zMean), c.exp(zLogVar)), c.add(zLogVar, 1)), -1)), 0.5);
    this.addLoss(c.mul(kl, this.klWeight));
    // fit passes a seed per step (resumable runs draw alike); other calls use the layer's own stream.
    const stream = ctx.seed === undefined ? this.stream : new c.RandomStream(c.mixSeeds(this.seed, ctx.seed));
    return c.add(zMean, c.mul(c.exp(c.mul(zLogVar, 0.5)), stream.normal(zMean.shape)));
  }
  override computeOutputShape(shapes: c.SymShape | c.SymShape[]): c.SymShape {
    return (shapes as c.SymShape[])[0];
  }
}

const x = c.input({ shape: [pixels] });
const h = c.layers.dense({ units: 256, activation: 'relu' }).apply(x) as c.SymbolicTensor;
const zMean = c.layers.dense({ units: latentDim, name: 'z_mean' }).apply(h) as c.SymbolicTensor;
const zLogVar = c.layers.dense({ units: latentDim, name: 'z_log_var' }).apply(h) as c.SymbolicTensor;
const sampling = new Sampling(1 / pixels, seed);
const z = sampling.apply([zMean, zLogVar]) as c.SymbolicTensor;
const decoder = new c.Sequential([
  c.layers.dense({ units: 256, activation: 'relu', inputShape: [latentDim] }),
  c.layers.dense({ units: pixels, activation: 'sigmoid' }),
]);
const vae = new c.Model({ inputs: x, outputs: decoder.apply(z) as c.SymbolicTensor, name: 'vae' });
vae.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
if (!json) vae.summary();

const { train, test } = await c.datasets.mnist();
const images = c.sliceAxis(train.x, 0, 0, samples);
const start = performance.now();
const history = await vae.fit(images, images, {
  epochs,
  batchSize: 128,
  verbose,
  seed,
  validationData: [test.x, test.x],
  record: { name: 'mnist-vae' },
});
const seconds = (performance.now() - start) / 1000;

// The test set's loss in Keras' units (nats per image: cross-entropy summed over pixels, plus KL), and its KL.
const klPerImage = c.tidy(() => {
  vae.apply(test.x);
  return vae.losses.reduce((s, t) => s + t.item(), 0) / sampling.klWeight;
});
const valLoss = history.history.val_loss[epochs - 1] * pixels;
const perImage = { loss: valLoss, kl: klPerImage, reconstruction: valLoss - klPerImage };
// Recording: the test loss as compiled and in nats per image, the model saved in `out`, the card.
const run = out
  ? await recordRun(vae.runRecorder!, out, {
      model: vae,
      test: { x: test.x, y: test.x, classifier: false },
      evaluations: { 'test, nats per image': perImage },
    })
  : undefined;
report(json, {
  example: 'mnist-vae',
  epochs,
  samples,
  latentDim,
  seconds,
  samplesPerSec: (samples * epochs) / seconds,
  trainLossPerImage: history.history.loss[epochs - 1] * pixels,
  testLossPerImage: valLoss,
  testKlPerImage: klPerImage,
  testReconstructionPerImage: perImage.reconstruction,
  ...publishedFiles(run),
});
c.dispose([train, test, images]);
