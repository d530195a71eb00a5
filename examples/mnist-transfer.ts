// MNIST transfer learning: a CNN trained on digits 0-4 becomes the frozen base of a new head for digits 5-9, trained
// on only 1,000 labelled images, then its top convolution is unfrozen and fine-tuned at a low learning rate; the
// same network trained from scratch on those 1,000 images is the baseline. `--json` for a final JSON line.
import * as c from '../src/index.js';
import { parseExampleArgs } from './common.js';

const { json } = parseExampleArgs({ epochs: 1 });
const { train, test } = await c.datasets.mnist({ flatten: false });
const study = await c.compress.transferStudy({ train, test, labelled: 1000, seeds: [1, 2, 3] });
const figures = { example: 'mnist-transfer', ...study, backend: c.getBackend().name };
if (!json)
  console.log(
    `5-9 test accuracy: fine-tuned ${(study.fineTuned * 100).toFixed(2)}%, head only ` +
      `${(study.headOnly * 100).toFixed(2)}%, from scratch ${(study.scratch * 100).toFixed(2)}%`,
  );
console.log(JSON.stringify(figures));
