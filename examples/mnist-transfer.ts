// MNIST transfer learning: a CNN trained on digits 0-4 becomes the frozen base of a new head for digits 5-9, trained
// on only 1,000 labelled images, then its top convolution is unfrozen and fine-tuned at a low learning rate; the
// same network trained from scratch on those 1,000 images is the baseline. `--json` for a final JSON line,
// `--out DIR` (default runs/mnist-transfer: one run record, card and ledger entry for the whole study) / `--no-record`.
import * as c from '../src/index.js';
import { LoopRecorder, parseExampleArgs, publishedFiles, recordRun } from './common.js';

const { json, out } = parseExampleArgs({ epochs: 1, name: 'mnist-transfer' });
const { train, test } = await c.datasets.mnist({ flatten: false });
// One record covers the whole study (begun outside fit, its meter counts every kernel of the process).
const recorder = out ? new LoopRecorder({ name: 'mnist-transfer' }) : undefined;
recorder?.beginLoop(train);
const options = { train, test, labelled: 1000, seeds: [1, 2, 3] };
const study = await c.compress.transferStudy(options);
const figures = { example: 'mnist-transfer', ...study, backend: c.getBackend().name };
let run: Awaited<ReturnType<typeof recordRun>> | undefined;
if (recorder && out) {
  const network = c.compress.transferCnn(5, 'pretrained');
  await recorder.endLoop({
    model: c.modelFacts(network),
    status: 'completed',
    hyperparameters: {
      study: 'compress.transferStudy: pretrain on digits 0-4, new head and fine-tuning on 5-9, from scratch on 5-9',
      labelled: options.labelled,
      frozenLayers: study.frozenLayers,
      fineTunedLayers: study.fineTunedLayers,
    },
    seeds: Object.fromEntries(options.seeds.map((s, i) => [`study${i + 1}`, s])),
    epochs: { requested: null },
  });
  network.dispose();
  recorder.record.notes.push(
    'The study trains its networks inside compress.transferStudy: steps and epochs are not counted here; ' +
      'compute and energy cover the whole study. No model is saved.',
  );
  run = await recordRun(recorder, out, {
    evaluations: {
      'fine-tuned, digits 5-9 test (mean over seeds)': { accuracy: study.fineTuned },
      'head only, digits 5-9 test (mean over seeds)': { accuracy: study.headOnly },
      'from scratch, digits 5-9 test (mean over seeds)': { accuracy: study.scratch },
      'pretrained network, digits 0-4 test': { accuracy: study.sourceAccuracy },
    },
  });
}
if (!json)
  console.log(
    `5-9 test accuracy: fine-tuned ${(study.fineTuned * 100).toFixed(2)}%, head only ` +
      `${(study.headOnly * 100).toFixed(2)}%, from scratch ${(study.scratch * 100).toFixed(2)}%`,
  );
console.log(JSON.stringify({ ...figures, ...publishedFiles(run) }));
