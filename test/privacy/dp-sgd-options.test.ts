// DP-SGD's options and refusals: unknown keys and bad values name compile / fit and the key; what DP-SGD cannot
// make private (a trainStep override, a dataset, data-dependent addLoss terms, steps outside fit) is an error.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

function model(): c.Sequential {
  c.setSeed(1);
  return new c.Sequential([c.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })]);
}

const loss = 'sparseCategoricalCrossentropy';
const x = () => new c.RandomStream(2).normal([8, 3], 0, 1);
const y = () => c.tensor(Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]), [8], 'int32');
const argError = (pattern: RegExp) => (e: Error) => {
  assert.ok(e instanceof c.ArgumentError, `${e.constructor.name}: ${e.message}`);
  assert.match(e.message, pattern);
  return true;
};

test('compile rejects unknown privacy keys and bad values, naming compile and the key', () => {
  const bad: [unknown, RegExp][] = [
    [{ l2_norm_clip: 1 }, /compile: privacy: unknown option 'l2_norm_clip'; did you mean 'l2NormClip'/],
    [{ l2NormClip: 0, noiseMultiplier: 1 }, /compile: privacy\.l2NormClip must be a finite number > 0, got 0/],
    [{ l2NormClip: 1, noiseMultiplier: -1 }, /compile: privacy\.noiseMultiplier must be a finite number >= 0/],
    [{ l2NormClip: 1, noiseMultiplier: NaN }, /privacy\.noiseMultiplier/],
    [{ l2NormClip: 1, delta: 1 }, /compile: privacy\.delta must be a number in \(0, 1\), got 1/],
    [{ l2NormClip: 1, sampling: 'uniform' }, /compile: privacy\.sampling must be 'poisson' or 'fixed', got 'uniform'/],
    [{ l2NormClip: 1, noiseSeed: 1.5 }, /compile: privacy\.noiseSeed must be a non-negative integer/],
    [{ l2NormClip: 1, targetEpsilon: 0 }, /compile: privacy\.targetEpsilon must be a finite number > 0/],
    [{ l2NormClip: 1, conversion: 'tight' }, /compile: privacy\.conversion must be 'improved' or 'classic'/],
    [1.1, /compile: privacy must be an options object/],
  ];
  for (const [privacy, pattern] of bad)
    assert.throws(
      () => model().compile({ optimizer: 'sgd', loss, privacy: privacy as c.privacy.DpSgdOptions }),
      argError(pattern),
    );
});

test('fit rejects bad privacy options and what DP-SGD needs but lacks', async () => {
  const m = model();
  m.compile({ optimizer: 'sgd', loss });
  const fit = (privacy: unknown, more: c.FitArgs = {}) =>
    m.fit(x(), y(), { verbose: 0, batchSize: 4, privacy: privacy as c.privacy.DpSgdOptions, ...more });
  await assert.rejects(fit({ targetEpsilon: 3, epsilon: 3 }), argError(/fit: privacy: unknown option 'epsilon'/));
  await assert.rejects(fit({ targetEpsilon: -3 }), argError(/fit: privacy\.targetEpsilon must be/));
  await assert.rejects(fit({ targetEpsilon: 3 }), argError(/fit: privacy\.l2NormClip is required/));
  await assert.rejects(fit({ l2NormClip: 1 }), argError(/fit: privacy needs noiseMultiplier .* or targetEpsilon/));
  await assert.rejects(
    fit({ l2NormClip: 1, noiseMultiplier: 1, sampling: 'fixed' }, { batchSize: 16 }),
    argError(/fit: privacy\.sampling 'fixed' needs batchSize \(16\) <= the number of samples \(8\)/),
  );
  const ds = (function* () {
    yield { x: x(), y: y() };
  })();
  await assert.rejects(
    m.fit(ds, { verbose: 0, privacy: { l2NormClip: 1, noiseMultiplier: 1 } }),
    argError(/fit: DP-SGD \(privacy\) samples the batches itself .* not a dataset/),
  );
});

test('a trainStep override, trainOnBatch and data-dependent addLoss terms are refused under DP-SGD', async () => {
  class Custom extends c.Sequential {
    override trainStep(data: c.StepData): c.StepLogs {
      return super.trainStep(data);
    }
  }
  const custom = new Custom([c.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })]);
  custom.compile({ optimizer: 'sgd', loss, privacy: { l2NormClip: 1, noiseMultiplier: 1 } });
  await assert.rejects(custom.fit(x(), y(), { verbose: 0 }), argError(/fit: model '.*' overrides trainStep/));

  const m = model();
  m.compile({ optimizer: 'sgd', loss, privacy: { l2NormClip: 1, noiseMultiplier: 1 } });
  assert.throws(() => m.trainOnBatch(x(), y()), argError(/trainStep: .* compiled with privacy .* need fit\(\)/));

  // A layer that adds a loss tensor in call() (an activity penalty): it depends on the batch, so it cannot be clipped.
  class ActivityPenalty extends c.Layer {
    override call(t: c.Tensor | c.Tensor[]): c.Tensor | c.Tensor[] {
      this.addLoss(c.mul(c.sum(c.square(t as c.Tensor)), 0.1));
      return t;
    }
  }
  c.setSeed(1);
  const act = new c.Sequential([
    c.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' }),
    new ActivityPenalty(),
  ]);
  act.compile({ optimizer: 'sgd', loss, privacy: { l2NormClip: 1, noiseMultiplier: 1, sampling: 'fixed' } });
  const before = act.getWeights().map((w) => Array.from(w.dataSync()));
  await assert.rejects(act.fit(x(), y(), { verbose: 0, batchSize: 4 }), argError(/adds losses in call\(\)/));
  assert.deepEqual(
    act.getWeights().map((w) => Array.from(w.dataSync())),
    before,
    'no update was applied',
  );
});

test('PrivacyBudget checks its options', () => {
  assert.throws(
    () => new c.privacy.PrivacyBudget({ targetEpsilon: 3, delta: 1e-5, eps: 1 } as never),
    argError(/PrivacyBudget: unknown option 'eps'/),
  );
  assert.throws(() => new c.privacy.PrivacyBudget({ targetEpsilon: 0 }), argError(/targetEpsilon must be/));
  assert.throws(() => new c.privacy.PrivacyBudget({ targetEpsilon: 1, delta: 2 }), argError(/delta must be/));
});
