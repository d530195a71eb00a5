// Metrics: values against hand-computed numbers (Keras' documented examples), accumulation across
// batches, sample weights, AUC against the exact pairwise (Mann-Whitney) statistic, the confusion
// matrix, accuracy resolution, the registry and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  accuracy,
  auc,
  binaryAccuracy,
  categoricalAccuracy,
  confusionMatrix,
  f1Score,
  getMetric,
  meanAbsoluteError,
  meanSquaredError,
  precision,
  recall,
  resolveAccuracy,
  sparseCategoricalAccuracy,
  sparseTopKCategoricalAccuracy,
  topKCategoricalAccuracy,
  type Metric,
} from '../../src/train/metrics.js';
import { binaryCrossentropy } from '../../src/nn/losses.js';
import { assertClose } from '../helpers.js';

type Arr = number[] | number[][];

/** Feeds batches of plain arrays to a metric, freeing every tensor, and returns its result. */
function feed<R>(m: Metric<R>, batches: [Arr, Arr, number[]?][], labelDType: c.DType = 'float32'): R {
  for (const [y, p, w] of batches) {
    c.tidy(() => m.updateState(c.tensor(y, undefined, labelDType), c.tensor(p), w && c.tensor(w)));
  }
  return m.result();
}

test('binaryAccuracy: Keras example, threshold, weights, accumulation over batches', () => {
  const y = [[1], [1], [0], [0]],
    p = [[0.98], [1], [0], [0.6]];
  assert.equal(feed(binaryAccuracy(), [[y, p]]), 0.75);
  assert.equal(feed(binaryAccuracy(), [[y, p, [1, 0, 0, 1]]]), 0.5);
  assert.equal(feed(binaryAccuracy({ threshold: 0.7 }), [[y, p]]), 1);
  // Two batches give the same as one: result covers everything since reset.
  const m = binaryAccuracy();
  assert.equal(
    feed(m, [
      [
        [[1], [1]],
        [[0.98], [1]],
      ],
      [
        [[0], [0]],
        [[0], [0.6]],
      ],
    ]),
    0.75,
  );
  m.resetState();
  assert.equal(m.result(), 0);
  assert.equal(
    feed(m, [
      [
        [1, 0],
        [0.2, 0.1],
      ],
    ]),
    0.5,
    '[N] labels and predictions',
  );
  // Multi-label rows: each sample is the mean over its labels.
  assert.equal(
    feed(binaryAccuracy(), [
      [
        [
          [1, 0],
          [1, 1],
        ],
        [
          [0.9, 0.8],
          [0.7, 0.6],
        ],
      ],
    ]),
    0.75,
  );
});

test('categorical and sparse categorical accuracy: Keras examples with weights', () => {
  const p = [
    [0.1, 0.9, 0.8],
    [0.05, 0.95, 0],
  ];
  assert.equal(
    feed(categoricalAccuracy(), [
      [
        [
          [0, 0, 1],
          [0, 1, 0],
        ],
        p,
      ],
    ]),
    0.5,
  );
  assertClose(
    [
      feed(categoricalAccuracy(), [
        [
          [
            [0, 0, 1],
            [0, 1, 0],
          ],
          p,
          [0.7, 0.3],
        ],
      ]),
    ],
    [0.3],
    { rtol: 1e-12 },
  );
  assert.equal(feed(sparseCategoricalAccuracy(), [[[[2], [1]], p]]), 0.5);
  assertClose([feed(sparseCategoricalAccuracy(), [[[2, 1], p, [0.7, 0.3]]])], [0.3], { rtol: 1e-12 });
  assert.equal(feed(sparseCategoricalAccuracy(), [[[2, 1], p]], 'int32'), 0.5, 'int32 labels');
  assert.throws(() => feed(categoricalAccuracy(), [[[2, 1], p]]), /for integer labels use the sparse version/);
});

test('top-k accuracy: k = 1 is plain accuracy; ties at the boundary count as in (as Keras)', () => {
  const p = [
    [0.1, 0.9, 0.8],
    [0.05, 0.95, 0],
  ];
  assert.equal(
    feed(topKCategoricalAccuracy({ k: 1 }), [
      [
        [
          [0, 0, 1],
          [0, 1, 0],
        ],
        p,
      ],
    ]),
    0.5,
  );
  assertClose(
    [
      feed(topKCategoricalAccuracy({ k: 1 }), [
        [
          [
            [0, 0, 1],
            [0, 1, 0],
          ],
          p,
          [0.7, 0.3],
        ],
      ]),
    ],
    [0.3],
    { rtol: 1e-12 },
  );
  assert.equal(feed(sparseTopKCategoricalAccuracy({ k: 1 }), [[[2, 1], p]]), 0.5);
  assert.equal(feed(sparseTopKCategoricalAccuracy({ k: 2 }), [[[2, 2], p]]), 0.5); // 0.8 is second of three, 0 is third
  assert.equal(feed(sparseTopKCategoricalAccuracy(), [[[2, 0], p]]), 1, 'default k = 5 covers all 3 classes');
  assert.equal(
    feed(sparseTopKCategoricalAccuracy({ k: 1 }), [
      [
        [0, 1],
        [
          [0.5, 0.5, 0],
          [0.5, 0.5, 0],
        ],
      ],
    ]),
    1,
    'tied scores',
  );
});

test('precision, recall, f1Score: Keras examples, weights, empty cases', () => {
  const y = [0, 1, 1, 1],
    p = [1, 0, 1, 1];
  assertClose([feed(precision(), [[y, p]])], [2 / 3], { rtol: 1e-12 });
  assert.equal(feed(precision(), [[y, p, [0, 0, 1, 0]]]), 1);
  assertClose([feed(recall(), [[y, p]])], [2 / 3], { rtol: 1e-12 });
  assert.equal(feed(recall(), [[y, p, [0, 0, 1, 0]]]), 1);
  assertClose([feed(f1Score(), [[y, p]])], [2 / 3], { rtol: 1e-12 });
  // tp = 1, fp = 2, fn = 1 over two batches: precision 1/3, recall 1/2, f1 = 2 / (3 + 2) = 0.4.
  const batches: [Arr, Arr][] = [
    [
      [1, 0],
      [0.9, 0.6],
    ],
    [
      [1, 0],
      [0.2, 0.7],
    ],
  ];
  assertClose([feed(precision(), batches), feed(recall(), batches), feed(f1Score(), batches)], [1 / 3, 1 / 2, 0.4], {
    rtol: 1e-12,
  });
  assert.equal(
    feed(precision(), [
      [
        [1, 1],
        [0.1, 0.2],
      ],
    ]),
    0,
    'nothing predicted positive',
  );
  assert.equal(
    feed(recall(), [
      [
        [0, 0],
        [0.9, 0.2],
      ],
    ]),
    0,
    'no positives',
  );
  assert.throws(
    () =>
      feed(precision(), [
        [
          [1, 0],
          [3.2, -1],
        ],
      ]),
    (e: Error) => e instanceof c.ArgumentError && /probabilities in \[0, 1\], got values in \[-1, 3.2/.test(e.message),
  );
});

/** Exact ROC AUC: P(score+ > score-) + P(tie) / 2 over all positive / negative pairs. */
function mannWhitney(labels: number[], scores: number[]): number {
  let wins = 0,
    pairs = 0;
  labels.forEach((yi, i) => {
    if (yi !== 1) return;
    labels.forEach((yj, j) => {
      if (yj !== 0) return;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

test('auc: Keras example, separable cases, and the exact pairwise statistic on random scores', () => {
  assertClose(
    [
      feed(auc(), [
        [
          [0, 0, 1, 1],
          [0, 0.5, 0.3, 0.9],
        ],
      ]),
    ],
    [0.75],
    { rtol: 1e-9 },
  );
  assertClose(
    [
      feed(auc(), [
        [
          [0, 0, 1, 1],
          [0.1, 0.2, 0.8, 0.9],
        ],
      ]),
    ],
    [1],
    { rtol: 1e-12 },
  );
  assertClose(
    [
      feed(auc(), [
        [
          [1, 1, 0, 0],
          [0.1, 0.2, 0.8, 0.9],
        ],
      ]),
    ],
    [0],
    { atol: 1e-12 },
  );

  const g = new c.RandomStream(7);
  const u = g.uniform([600]),
    v = g.uniform([600]);
  const noise = Array.from(u.dataSync()),
    coin = Array.from(v.dataSync());
  c.dispose([u, v]);
  const labels = coin.map((x) => (x < 0.4 ? 1 : 0));
  const scores = labels.map((y, i) => Math.min(1, Math.max(0, 0.35 * y + 0.65 * noise[i])));
  const exact = mannWhitney(labels, scores);
  // Three batches, accumulated.
  const m = auc();
  const batches: [Arr, Arr][] = [0, 200, 400].map((s) => [labels.slice(s, s + 200), scores.slice(s, s + 200)]);
  const got = feed(m, batches);
  assert.ok(Math.abs(got - exact) < 3e-3, `auc ${got} vs exact ${exact}`);
  assert.ok(exact > 0.6 && exact < 0.95, `a non-trivial case: ${exact}`);
  // More thresholds converge on the exact value.
  assert.ok(Math.abs(feed(auc({ numThresholds: 2000 }), batches) - exact) < 5e-4);
  // A weight of 2 is the same as the sample appearing twice.
  const weights = labels.map((_, i) => (i % 3 === 0 ? 2 : 1));
  const dup = labels.flatMap((y, i) => (weights[i] === 2 ? [y, y] : [y]));
  const dupScores = scores.flatMap((s, i) => (weights[i] === 2 ? [s, s] : [s]));
  assertClose([feed(auc(), [[labels, scores, weights]])], [feed(auc(), [[dup, dupScores]])], { rtol: 1e-12 });
  // fromLogits applies a sigmoid.
  const logits = scores.map((s) => Math.log((s + 1e-3) / (1 - s + 1e-3)));
  assert.ok(Math.abs(feed(auc({ fromLogits: true }), [[labels, logits]]) - exact) < 5e-3);
  assert.throws(() => feed(auc(), [[labels, logits]]), /or pass fromLogits: true/);
});

test('meanSquaredError and meanAbsoluteError metrics average per-sample errors over all data', () => {
  const m = meanSquaredError();
  assertClose(
    [
      feed(m, [
        [[[0, 1]], [[1, 1]]],
        [[[0, 0]], [[1, 0]]],
      ]),
    ],
    [0.5],
    { rtol: 1e-12 },
  );
  assertClose(
    [
      feed(meanAbsoluteError(), [
        [
          [
            [0, 1],
            [0, 0],
          ],
          [
            [1, 1],
            [1, 0],
          ],
          [0.7, 0.3],
        ],
      ]),
    ],
    [0.5],
    { rtol: 1e-12 },
    'weighted mean of equal values',
  );
  assertClose(
    [
      feed(meanAbsoluteError(), [
        [
          [0, 0, 0],
          [1, 2, 3],
          [3, 1, 0],
        ],
      ]),
    ],
    [(3 + 2) / 4],
    { rtol: 1e-12 },
  );
});

test('confusionMatrix: rows labels, columns predictions; from classes, scores, one-hot or binary probabilities', () => {
  const m = confusionMatrix({ numClasses: 3 });
  feed(m, [
    [
      [0, 1, 2, 2],
      [
        [0.8, 0.1, 0.1],
        [0.3, 0.3, 0.4],
        [0, 0, 1],
        [0.6, 0.3, 0.1],
      ],
    ],
  ]);
  assert.deepEqual(m.result(), [
    [1, 0, 0],
    [0, 0, 1],
    [1, 0, 1],
  ]);
  feed(m, [[[[0, 1, 0]], [[0, 1, 0]]]]); // a one-hot label row
  assert.deepEqual(m.result(), [
    [1, 0, 0],
    [0, 1, 1],
    [1, 0, 1],
  ]);
  m.resetState();
  assert.deepEqual(m.result(), [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ]);

  const binary = confusionMatrix();
  assert.deepEqual(
    feed(binary, [
      [
        [[1], [0], [1], [0]],
        [
          [0.9, 0.1],
          [0.2, 0.8],
          [0.4, 0.6],
          [0.7, 0.3],
        ],
      ],
    ]),
    [
      [1, 1],
      [1, 1],
    ],
  );
  assert.deepEqual(
    feed(confusionMatrix({ numClasses: 2 }), [
      [
        [1, 0, 1, 0],
        [0.9, 0.2, 0.4, 0.7],
        [2, 1, 1, 0.5],
      ],
    ]),
    [
      [1, 0.5],
      [1, 2],
    ],
    'probabilities, weighted',
  );
  assert.throws(
    () =>
      feed(confusionMatrix(), [
        [
          [1, 0],
          [1, 0],
        ],
      ]),
    /numClasses is needed/,
  );
  assert.throws(
    () =>
      feed(confusionMatrix({ numClasses: 3 }), [
        [
          [3, 0],
          [1, 0],
        ],
      ]),
    /label 3 at index 0 is not a class index in \[0, 3\)/,
  );
});

test('resolveAccuracy follows the loss, then the shapes, as Keras compile does', () => {
  assert.equal(resolveAccuracy('binaryCrossentropy', [32, 10], [32, 10]), 'binaryAccuracy');
  assert.equal(resolveAccuracy('sparse_categorical_crossentropy', [32], [32, 10]), 'sparseCategoricalAccuracy');
  assert.equal(resolveAccuracy('categoricalCrossentropy', [32, 10], [32, 10]), 'categoricalAccuracy');
  assert.equal(resolveAccuracy('mse', [32, 1], [32, 1]), 'binaryAccuracy');
  assert.equal(resolveAccuracy(undefined, [32], [32]), 'binaryAccuracy');
  assert.equal(resolveAccuracy(undefined, [32], [32, 10]), 'sparseCategoricalAccuracy');
  assert.equal(resolveAccuracy(undefined, [32, 1], [32, 10]), 'sparseCategoricalAccuracy');
  assert.equal(resolveAccuracy(undefined, [32, 10], [32, 10]), 'categoricalAccuracy');

  const p = [
    [0.1, 0.9, 0.8],
    [0.05, 0.95, 0],
  ];
  const resolved = getMetric('accuracy', {
    lossName: 'sparseCategoricalCrossentropy',
    yTrueShape: [2],
    yPredShape: [2, 3],
  });
  assert.equal(resolved.name, 'accuracy');
  assert.equal(resolved.getConfig().className, 'SparseCategoricalAccuracy');
  assert.equal(feed(resolved, [[[2, 1], p]]), 0.5);
  // Without shapes it resolves on the first batch.
  const lazy = accuracy();
  assert.equal(
    feed(lazy, [
      [
        [
          [0, 0, 1],
          [0, 1, 0],
        ],
        p,
      ],
    ]),
    0.5,
  );
  assert.equal(
    feed(getMetric('acc'), [
      [
        [[1], [0]],
        [[0.7], [0.6]],
      ],
    ]),
    0.5,
  );
});

test('getMetric: names in any case, named as asked; loss names; configs; suggestions', () => {
  assert.equal(getMetric('sparse_categorical_accuracy').name, 'sparse_categorical_accuracy');
  assert.equal(getMetric('AUC').getConfig().className, 'AUC');
  assert.equal(getMetric('mse').name, 'mse');
  assert.equal(getMetric({ className: 'Precision', config: { threshold: 0.3 } }).name, 'precision');
  const m = precision({ name: 'p30', threshold: 0.3 });
  assert.equal(getMetric(m), m);
  for (const metric of [
    m,
    auc({ numThresholds: 50 }),
    binaryAccuracy({ threshold: 0.2 }),
    topKCategoricalAccuracy({ k: 3 }),
    accuracy({ lossName: 'binaryCrossentropy' }),
  ]) {
    const rebuilt = getMetric(JSON.parse(JSON.stringify(metric.getConfig())));
    assert.deepEqual(rebuilt.getConfig(), metric.getConfig());
  }
  // A loss name is the loss averaged over all data (weighted by sample).
  const bce = getMetric('binary_crossentropy');
  const y = [[1], [0], [1]],
    p = [[0.9], [0.2], [0.4]];
  const expected = c.tidy(() => binaryCrossentropy(c.tensor(y), c.tensor(p)).item());
  assertClose(
    [
      feed(bce, [
        [y.slice(0, 2), p.slice(0, 2)],
        [y.slice(2), p.slice(2)],
      ]),
    ],
    [expected],
    { rtol: 1e-6 },
  );
  assert.throws(
    () => getMetric('acuracy'),
    (e: Error) => e instanceof c.ArgumentError && /unknown metric 'acuracy'; did you mean 'accuracy'/.test(e.message),
  );
  assert.throws(() => getMetric('precison'), /did you mean 'precision'/);
  assert.throws(() => auc({ num_thresholds: 10 } as never), /did you mean 'numThresholds'/);
});

test('updates free everything they make and are not taped', () => {
  const y = c.tensor([
      [0, 1, 0],
      [1, 0, 0],
    ]),
    p = c.tensor([
      [0.2, 0.7, 0.1],
      [0.3, 0.3, 0.4],
    ]);
  const metrics = [
    accuracy(),
    categoricalAccuracy(),
    topKCategoricalAccuracy({ k: 2 }),
    precision(),
    recall(),
    f1Score(),
    auc(),
    meanSquaredError(),
    confusionMatrix(),
  ];
  const before = c.memory().tensors;
  for (const m of metrics) m.updateState(y, p);
  assert.equal(c.memory().tensors, before);
  c.dispose([y, p]);
});

test('accuracies counted from class ids equal the per-sample path (unit weights), ties and NaN included', () => {
  // Rows: a clear winner, a tie (argmax takes the first), a NaN (argmax takes it), a wrong guess; 13 rows in all.
  const rows = [
    [0.1, 0.7, 0.2],
    [0.4, 0.4, 0.2],
    [0.2, NaN, 0.3],
    [0.6, 0.3, 0.1],
  ];
  const scores = Array.from({ length: 13 }, (_, i) => rows[i % 4].map((v) => (Number.isNaN(v) ? v : v + i * 1e-3)));
  const labels = Array.from({ length: 13 }, (_, i) => [1, 0, 1, 2][i % 4] ^ (i % 5 === 4 ? 1 : 0));
  const yPred = c.tensor(scores.flat(), [13, 3]);
  const sparse = c.tensor(Int32Array.from(labels), [13]);
  const oneHot = c.oneHot(sparse, 3);
  const ones = c.ones([13]);
  // The reference: argmax as the reference backend defines it (first maximum, NaN wins), compared in plain JS.
  const argmax = scores.map((r) => {
    let best = 0;
    for (let j = 1; j < r.length && !Number.isNaN(r[best]); j++) if (r[j] > r[best] || Number.isNaN(r[j])) best = j;
    return best;
  });
  const expected = labels.filter((l, i) => l === argmax[i]).length / 13;
  for (const [make, yTrue] of [
    [c.metrics.sparseCategoricalAccuracy, sparse],
    [c.metrics.categoricalAccuracy, oneHot],
  ] as const) {
    const counted = make(),
      perSample = make();
    counted.updateState(yTrue, yPred);
    perSample.updateState(yTrue, yPred, ones);
    assert.equal(counted.result(), expected);
    assert.equal(perSample.result(), expected);
  }
  c.dispose([yPred, sparse, oneHot, ones]);
});
