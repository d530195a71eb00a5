// Argument parsing and the final report shared by the examples.
import { getBackend, type Model, type Tensor } from '../src/index.js';

export function parseExampleArgs(defaults: { epochs: number }): { epochs: number; json: boolean; verbose: 0 | 'auto' } {
  const args = process.argv.slice(2);
  const at = args.indexOf('--epochs');
  const epochs = at >= 0 ? Number(args[at + 1]) : defaults.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer, got ${args[at + 1]}`);
  const json = args.includes('--json');
  return { epochs, json, verbose: json ? 0 : 'auto' };
}

/** Prints the figures; with --json the last line is one JSON object. */
export function report(json: boolean, figures: Record<string, string | number>): void {
  const all: Record<string, string | number> = { ...figures, backend: getBackend().name };
  if (json) {
    console.log(JSON.stringify(all));
    return;
  }
  console.log(Object.entries(all).map(([k, v]) => `${k}: ${typeof v === 'number' ? Number(v.toFixed(4)) : v}`).join('\n'));
}

/**
 * Compiles with Adam + sparse categorical cross-entropy, fits on the whole training set (as the Keras/TF
 * quickstarts do), shows the test figures after each epoch, and reports the final test evaluation.
 */
export async function trainAndReport(
  name: string, model: Model, data: { train: { x: Tensor; y: Tensor }; test: { x: Tensor; y: Tensor } },
  { epochs, json, verbose, batchSize }: { epochs: number; json: boolean; verbose: 0 | 'auto'; batchSize: number },
): Promise<void> {
  if (!json) model.summary();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const start = performance.now();
  await model.fit(data.train.x, data.train.y, { epochs, batchSize, validationData: [data.test.x, data.test.y], verbose, seed: 42 });
  const seconds = (performance.now() - start) / 1000;
  const { loss, accuracy } = await model.evaluate(data.test.x, data.test.y, { batchSize: 256 });
  const trained = data.train.x.shape[0] * epochs;
  report(json, { example: name, testAccuracy: accuracy, testLoss: loss, epochs, seconds, secondsPerEpoch: seconds / epochs, samplesPerSec: trained / seconds });
}
