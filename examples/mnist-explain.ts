// MNIST explanations: trains the MNIST CNN briefly (or loads it from --out when a saved model is there), explains
// ten test digits with Integrated Gradients, SmoothGrad, occlusion and KernelSHAP, writes one standalone HTML page
// of the maps (digit, label, prediction, each method's heatmap and completeness gap), records the explanations in
// the run record and writes the card (again, for a loaded model). `--epochs N` (default 1), `--train N` training
// images (default 12000), `--out DIR` (default runs/mnist-explain) / `--no-record` (the page still goes to
// runs/mnist-explain), `--json` for a final JSON line.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as c from '../src/index.js';
import { firstSamples, mnistCnn, parseExampleArgs, recordRun, report } from './common.js';

const { epochs, json, verbose, out, seed } = parseExampleArgs({ epochs: 1, name: 'mnist-explain' });
const pageDir = out ?? join('runs', 'mnist-explain');
const argv = process.argv.slice(2);
const trainAt = argv.indexOf('--train');
const trainSize = trainAt >= 0 ? Number(argv[trainAt + 1]) : 12000;
if (!Number.isInteger(trainSize) || trainSize < 1) throw new Error(`--train must be a positive integer`);
const log = (s: string) => {
  if (!json) console.log(s);
};

const { train, test } = await c.datasets.mnist({ flatten: false });
const reuse = out !== undefined && existsSync(join(out, 'model.json')) && existsSync(join(out, 'run.json'));
let model: c.Model;
let testAccuracy = NaN;
/** The recording of this run's training, when it trains and records. */
let recorder: c.RunRecorder | undefined;
if (reuse) {
  log(`loading the trained model from ${out}`);
  model = await c.loadModel(out!);
} else {
  model = mnistCnn();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const x = c.slice(train.x, [0, 0, 0, 0], [trainSize, 28, 28, 1]);
  const y = c.slice(train.y, [0], [trainSize]);
  recorder = out ? new c.RunRecorder({ dir: out, name: 'mnist-explain' }) : undefined;
  await model.fit(x, y, { epochs, batchSize: 128, verbose, seed, callbacks: recorder ? [recorder] : [] });
  log(`trained on ${trainSize} images for ${epochs} epoch(s)`);
}

// Ten test digits, explained for the class the model predicts.
const N = 10;
const x = c.slice(test.x, [0, 0, 0, 0], [N, 28, 28, 1]);
const labels = Array.from(c.slice(test.y, [0], [N]).dataSync());
const background = c.zeros([1, 28, 28, 1]);
const METHODS: [string, c.explainability.ExplainOptions][] = [
  ['integratedGradients', { method: 'integratedGradients', rule: 'adaptive', seed }],
  ['smoothGrad', { method: 'smoothGrad', samples: 25, seed }],
  ['occlusion', { method: 'occlusion', window: [4, 4, 1], strides: [2, 2, 1] }],
  ['kernelShap', { method: 'kernelShap', background, features: { patches: 4 }, samples: 1000, seed }],
];
const results: { name: string; e: c.explainability.Explanation }[] = [];
const skipped: string[] = [];
const figures: Record<string, number> = {};
for (const [name, options] of METHODS) {
  try {
    const e = c.explain(model, x, options);
    results.push({ name, e });
    // Into this run's recording, or into the run.json of the loaded model's run.
    const where = recorder ?? out;
    if (where)
      await c.explainability.recordExplanation(where, e, { inputs: x, labels, model, name: 'ten test digits' });
    const gap = e.completenessGap ? Math.max(...e.completenessGap) : undefined;
    figures[`${name}Seconds`] = e.seconds;
    if (gap !== undefined) figures[`${name}MaxGap`] = gap;
    log(
      `${name}: ${e.seconds.toFixed(2)} s` +
        (gap === undefined ? '' : `, largest completeness gap ${gap.toExponential(2)}`),
    );
  } catch (err) {
    if (!/is being built/.test((err as Error).message)) throw err;
    skipped.push(name);
    log(`${name}: not available in this build yet (${(err as Error).message}); left out of the page`);
  }
}

// The page: one row per digit, the digit then each method's map with its completeness gap.
const pixels = x.dataSync();
const probabilities = model.predict(x) as c.Tensor;
const predicted = Array.from(c.classIds(probabilities)!);
probabilities.dispose();
const rows = Array.from({ length: N }, (_, i) => ({
  label: `label ${labels[i]}`,
  cells: [
    {
      image: c.pictureImage(pixels.subarray(i * 784, (i + 1) * 784), 28, 28),
      width: 28,
      height: 28,
      lines: [`predicted ${predicted[i]}`],
      data: { sample: i, method: 'input' },
    },
    ...results.map(({ name, e }) => ({
      image: c.heatmapImage(e.attributions.dataSync().subarray(i * 784, (i + 1) * 784), 28, 28),
      width: 28,
      height: 28,
      lines: [e.completenessGap ? `gap ${e.completenessGap[i].toExponential(1)}` : 'no axiom'],
      data: { sample: i, method: name },
    })),
  ],
}));
const page = c.renderHtml({
  title: 'MNIST: what each method says the CNN looked at',
  blocks: [
    {
      kind: 'para',
      text:
        `Ten test digits explained for the predicted class. Red pixels raise the class probability, blue lower ` +
        `it; each map is scaled to its own largest |value|. Gap: |sum of attributions - (f(x) - f(baseline))| ` +
        `(Integrated Gradients) or |sum - (f(x) - E f)| (KernelSHAP, 4 x 4 patches, a black background).` +
        (skipped.length ? ` Not in this build yet: ${skipped.join(', ')}.` : ''),
    },
    { kind: 'figure', svg: c.colourLegend(), caption: 'Colour scale' },
    {
      kind: 'figure',
      svg: c.imageGrid(rows, { columns: ['digit', ...results.map((r) => r.name)], title: 'Attribution maps' }),
      caption: `Methods: ${results.map(({ name, e }) => `${name} ${JSON.stringify(e.parameters)}`).join('; ')}`,
    },
  ],
});
const pagePath = join(pageDir, 'explanations.html');
await mkdir(pageDir, { recursive: true });
await c.writeFileAtomic(pagePath, page);

// A trained model: its test accuracy, and (recording) the run published with its explanations: model, run.json,
// ledger entry, card. A loaded model's run.json, with the explanations added, is published again (card, entry).
let card: c.WrittenCard | undefined;
if (!reuse) {
  const evaluation = { name: 'test (first 2000)', ...firstSamples(test, 2000) };
  if (recorder) {
    const run = await recordRun(recorder, out!, { model, test: evaluation });
    testAccuracy = run.test!.metrics.accuracy ?? NaN;
    card = run.card;
  } else testAccuracy = (await model.evaluate(evaluation.x, evaluation.y, { batchSize: 256 })).accuracy;
  log(`test accuracy (first 2000 test images) ${testAccuracy.toFixed(4)}`);
} else card = (await c.publishRecord(await c.readRunRecord(out!), { dir: out! })).card; // a new signed entry
log(`wrote ${pagePath}${card ? ` and ${card.files.html}` : ''}`);
c.dispose([x, background, ...results.map((r) => r.e.attributions)]);
report(json, {
  example: 'mnist-explain',
  trained: !reuse,
  ...(reuse ? {} : { testAccuracy }),
  ...figures,
  methods: results.map((r) => r.name).join(','),
  skipped: skipped.join(','),
  page: pagePath,
  ...(card ? { card: card.files.html } : {}),
});
