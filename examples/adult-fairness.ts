// Fairness on the UCI Adult census data (../shared/data/adult): an MLP predicting income > 50K, its fairness by
// sex and race on adult.test, then two mitigations for sex: reweighing the training data (Kamiran and Calders;
// the model retrained with sample weights) and per-group randomised thresholds for equalised odds (Hardt et al.;
// the first model post-processed, thresholds fitted on a validation split held out of adult.data).
//   --epochs N (default 5)  --data DIR  --json  --out DIR (default runs/adult-fairness) / --no-record  --seed N
// Prints a table; with --json the last line is one JSON object ending in { before, reweighing, thresholds }, each
// with accuracy, demographicParityDifference and equalizedOddsDifference by sex (and their cost in accuracy).
import { join } from 'node:path';
import * as c from '../src/index.js';
import { parseExampleArgs, recordRun } from './common.js';

const { epochs, json, verbose, out, seed } = parseExampleArgs({ epochs: 5, name: 'adult-fairness' });
const args = process.argv.slice(2);
const dir = args.includes('--data') ? args[args.indexOf('--data') + 1] : join('..', 'shared', 'data', 'adult');

async function load(file: string): Promise<c.privacy.TableRow[]> {
  try {
    return (await c.privacy.loadTable(join(dir, file))).rows;
  } catch (e) {
    if (e instanceof c.MissingDataError)
      throw new c.MissingDataError(
        `adult-fairness: the UCI Adult data is not at ${join(dir, file)}; put adult.data and adult.test ` +
          `(with their header rows) in ../shared/data/adult or pass --data DIR`,
      );
    throw e;
  }
}
const start = performance.now();
const [trainRows, testRows] = [await load('adult.data'), await load('adult.test')];

// Features: numbers standardised (capital gain and loss through log1p first), categories one-hot over the
// training file's values (a value seen only in the test file encodes as all zeros).
const NUMERIC = ['age', 'fnlwgt', 'education-num', 'capital-gain', 'capital-loss', 'hours-per-week'];
const CATEGORICAL = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race', 'sex'];
const categories = CATEGORICAL.map((col) => [...new Set(trainRows.map((r) => r[col]))].sort());
const numberOf = (r: c.privacy.TableRow, col: string) =>
  col.startsWith('capital') ? Math.log1p(Number(r[col])) : Number(r[col]);
const stats = NUMERIC.map((col) => {
  const v = trainRows.map((r) => numberOf(r, col));
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return { mean, std: Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length) || 1 };
});
const width = NUMERIC.length + categories.reduce((s, v) => s + v.length, 0) + 1; // + native-country is US
function encode(rows: c.privacy.TableRow[]) {
  const x = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    let at = i * width;
    NUMERIC.forEach((col, j) => (x[at++] = (numberOf(r, col) - stats[j].mean) / stats[j].std));
    CATEGORICAL.forEach((col, j) => {
      const k = categories[j].indexOf(r[col]);
      if (k >= 0) x[at + k] = 1;
      at += categories[j].length;
    });
    x[at] = r['native-country'] === 'United-States' ? 1 : 0;
  });
  // adult.test writes its labels with a final period ('>50K.').
  const y = Int32Array.from(rows, (r) => (r.Y.replace(/\.$/, '') === '>50K' ? 1 : 0));
  return { x, y, sex: rows.map((r) => r.sex), race: rows.map((r) => r.race), n: rows.length };
}

// adult.data shuffled (seeded) into training rows and a 20% validation split for the thresholds.
const order = new c.RandomStream(seed).permutation(trainRows.length);
const shuffled = Array.from(order.dataSync(), (i) => trainRows[i]);
order.dispose();
const cut = Math.round(trainRows.length * 0.8);
const train = encode(shuffled.slice(0, cut)),
  validation = encode(shuffled.slice(cut)),
  test = encode(testRows);
const xOf = (d: { x: Float32Array; n: number }) => c.tensor(d.x, [d.n, width]);
const yOf = (d: { y: Int32Array; n: number }) => c.tensor(Float32Array.from(d.y), [d.n, 1]);
const [xTrain, yTrain, xValidation, xTest, yTest] = [xOf(train), yOf(train), xOf(validation), xOf(test), yOf(test)];

async function trainModel(name: string, sampleWeight?: Float64Array) {
  const model = new c.Sequential([
    c.layers.dense({ units: 32, activation: 'relu', inputShape: [width] }),
    c.layers.dense({ units: 1, activation: 'sigmoid' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const recorder = out ? new c.RunRecorder({ dir: join(out, name), name: `adult-fairness-${name}` }) : undefined;
  const weights = sampleWeight ? c.tensor(Float32Array.from(sampleWeight), [train.n]) : undefined;
  await model.fit(xTrain, yTrain, {
    epochs,
    batchSize: 128,
    verbose,
    seed,
    ...(weights ? { sampleWeight: weights } : {}),
    callbacks: recorder ? [recorder] : [],
  });
  weights?.dispose();
  return { model, recorder };
}
const scoresOf = (model: c.Sequential, x: c.Tensor) => {
  const p = model.predict(x, { batchSize: 1024 }) as c.Tensor;
  const v = Float64Array.from(p.dataSync());
  p.dispose();
  return v;
};
const fairnessBy = (predicted: ArrayLike<number>, attribute: 'sex' | 'race', scores?: Float64Array) =>
  c.classificationReport(predicted, test.y, {
    groups: test[attribute],
    attribute,
    numClasses: 2,
    classNames: ['<=50K', '>50K'],
    ...(scores ? { scores } : {}),
    bootstrap: { resamples: 1000, seed },
  });

// 1. Before: the model as trained. 2. Reweighing: retrained with w(sex, label) = P(sex) P(label) / P(sex, label).
// 3. Thresholds: the first model's scores, per-sex randomised thresholds fitted on the validation split.
const before = await trainModel('before');
const reweighed = await trainModel('reweighing', c.explainability.fairness.reweighing(train.y, train.sex));
const beforeScores = scoresOf(before.model, xTest);
const reweighedScores = scoresOf(reweighed.model, xTest);
const optimizer = c.explainability.fairness.thresholdOptimizer(
  scoresOf(before.model, xValidation),
  validation.y,
  validation.sex,
);
const decide = (s: Float64Array) => Int32Array.from(s, (p) => (p > 0.5 ? 1 : 0));
const post = optimizer.predict(beforeScores, test.sex, { seed });
const variants = {
  before: { predicted: decide(beforeScores), scores: beforeScores },
  reweighing: { predicted: decide(reweighedScores), scores: reweighedScores },
  thresholds: { predicted: post, scores: undefined },
};
const reports = Object.fromEntries(
  Object.entries(variants).map(([name, v]) => [
    name,
    { sex: fairnessBy(v.predicted, 'sex', v.scores), race: fairnessBy(v.predicted, 'race', v.scores) },
  ]),
) as Record<keyof typeof variants, { sex: c.ClassificationReport; race: c.ClassificationReport }>;
const seconds = (performance.now() - start) / 1000;

// The run records: 'before' holds its own evaluations and the post-processed ones; 'reweighing' its model's.
if (out) {
  const ledger = join(out, 'ledger.jsonl');
  for (const [name, run, evaluations] of [
    ['before', before, ['before', 'thresholds']],
    ['reweighing', reweighed, ['reweighing']],
  ] as const) {
    for (const variant of evaluations)
      for (const attribute of ['sex', 'race'] as const) {
        const label = variant === 'thresholds' ? 'test, per-sex thresholds for equalised odds' : 'test';
        const report = reports[variant][attribute];
        await run.recorder!.addEvaluation(
          `${label}, by ${attribute}`,
          { accuracy: report.accuracy },
          { report, data: { x: xTest, y: yTest } },
        );
      }
    await recordRun(run.recorder!, join(out, name), { model: run.model, ledger });
  }
}

const figures = (r: { sex: c.ClassificationReport; race: c.ClassificationReport }) => {
  const f = r.sex.fairness!,
    ci = f.confidenceIntervals!.intervals;
  return {
    accuracy: r.sex.accuracy,
    accuracyCost: reports.before.sex.accuracy - r.sex.accuracy,
    demographicParityDifference: f.demographicParityDifference.value,
    demographicParityDifferenceCI: ci.demographicParityDifference,
    demographicParityRatio: f.demographicParityRatio!.value,
    fourFifthsRule: f.fourFifthsRule!.passes,
    equalizedOddsDifference: f.equalizedOddsDifference!.value,
    equalizedOddsDifferenceCI: ci.equalizedOddsDifference,
    equalOpportunityDifference: f.equalOpportunityDifference.value,
    race: {
      demographicParityDifference: r.race.fairness!.demographicParityDifference.value,
      equalizedOddsDifference: r.race.fairness!.equalizedOddsDifference!.value,
    },
  };
};
const results = {
  before: figures(reports.before),
  reweighing: figures(reports.reweighing),
  thresholds: figures(reports.thresholds),
};
const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));
const range = (ci: [number, number] | null) => (ci ? `[${fmt(ci[0])}, ${fmt(ci[1])}]` : 'n/a');
console.log(`UCI Adult: ${trainRows.length} rows (${train.n} train, ${validation.n} validation), ${test.n} test`);
console.table(
  Object.entries(reports).flatMap(([name, r]) =>
    (['sex', 'race'] as const).map((attribute) => {
      const f = r[attribute].fairness!,
        ci = f.confidenceIntervals!.intervals;
      const withInterval = (m: 'demographicParityDifference' | 'equalizedOddsDifference') =>
        `${fmt(f[m]!.value)} ${range(ci[m])}`;
      return {
        model: name,
        attribute,
        accuracy: fmt(r[attribute].accuracy),
        'DP difference [95% CI]': withInterval('demographicParityDifference'),
        'DP ratio': fmt(f.demographicParityRatio!.value),
        '4/5 rule': f.fourFifthsRule!.passes ? 'passes' : 'fails',
        'EO difference [95% CI]': withInterval('equalizedOddsDifference'),
        'equal opportunity': fmt(f.equalOpportunityDifference.value),
      };
    }),
  ),
);
const summary = {
  example: 'adult-fairness',
  attribute: 'sex',
  epochs,
  seconds,
  backend: c.getBackend().name,
  thresholdRate: optimizer.rate,
  ...(out ? { runRecords: [join(out, 'before', 'run.json'), join(out, 'reweighing', 'run.json')] } : {}),
  ...results,
};
if (json) console.log(JSON.stringify(summary));
else
  for (const [name, r] of Object.entries(results))
    console.log(
      `${name}: accuracy ${fmt(r.accuracy)} (cost ${fmt(r.accuracyCost)}), by sex: DP difference ` +
        `${fmt(r.demographicParityDifference)}, equalised-odds difference ${fmt(r.equalizedOddsDifference)}`,
    );
c.dispose([xTrain, yTrain, xValidation, xTest, yTest]);
before.model.dispose();
reweighed.model.dispose();
