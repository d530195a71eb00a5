// Keras optimizers against plain-JS loops of Keras' update equations (float64, several steps), plus
// learning-rate control, state save/restore, config round trips, registry errors and flat memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  Optimizer,
  sgd,
  adam,
  adamw,
  rmsprop,
  adagrad,
  getOptimizer,
  exponentialDecay,
  piecewiseConstant,
  chain,
  scaleByAdam,
  scaleByLearningRate,
} from '../../src/optim/index.js';
import { assertClose } from '../helpers.js';

type Grad = (x: number[], step: number) => number[];
/** Gradient of f(x) = sum((x - 3)^2). */
const quadratic: Grad = (x) => x.map((v) => 2 * (v - 3));
/** A gradient that also changes sign and scale from step to step. */
const wiggly: Grad = (x, t) => x.map((v, i) => 2 * (v - 3) + Math.sin(1.3 * t + i) * (i + 1));
const X0 = [0, 1, -2, 5];

/** Runs an optimizer on one float64 parameter; returns x after every step. */
function trajectory(opt: Optimizer, x0: number[], steps: number, grad: Grad): number[][] {
  let x = c.tensor(Float64Array.from(x0));
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const g = c.tensor(Float64Array.from(grad(Array.from(x.dataSync()), t)));
    const [next] = opt.apply([x], [g]);
    c.dispose([x, g]);
    x = next;
    out.push(Array.from(x.dataSync()));
  }
  x.dispose();
  opt.dispose();
  return out;
}

/** The same with a plain-JS update step(x, g, t) that mutates x; t is the 0-based step. */
function reference(
  update: (x: number[], g: number[], t: number) => void,
  x0: number[],
  steps: number,
  grad: Grad,
): number[][] {
  const x = [...x0];
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    update(x, grad(x, t), t);
    out.push([...x]);
  }
  return out;
}

function assertTrajectories(actual: number[][], expected: number[][], what: string, rtol = 1e-12): void {
  actual.forEach((x, t) => assertClose(x, expected[t], { rtol, atol: 1e-14 }, `${what} step ${t + 1}`));
}

/** Keras SGD.update_step, with lr a function of the step. */
function kerasSgd(lr: (t: number) => number, momentum: number, nesterov: boolean) {
  const m = X0.map(() => 0);
  return (x: number[], g: number[], t: number) =>
    x.forEach((_, i) => {
      if (momentum === 0) {
        x[i] -= g[i] * lr(t);
        return;
      }
      m[i] = m[i] * momentum - g[i] * lr(t);
      x[i] += nesterov ? m[i] * momentum - g[i] * lr(t) : m[i];
    });
}

test('sgd matches Keras (plain, momentum, Nesterov; lr inside the velocity under a schedule)', () => {
  for (const grad of [quadratic, wiggly]) {
    assertTrajectories(
      trajectory(sgd(), X0, 8, grad),
      reference(
        kerasSgd(() => 0.01, 0, false),
        X0,
        8,
        grad,
      ),
      'sgd default',
    );
    assertTrajectories(
      trajectory(sgd({ learningRate: 0.1, momentum: 0.9 }), X0, 8, grad),
      reference(
        kerasSgd(() => 0.1, 0.9, false),
        X0,
        8,
        grad,
      ),
      'momentum',
    );
    assertTrajectories(
      trajectory(sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), X0, 8, grad),
      reference(
        kerasSgd(() => 0.1, 0.9, true),
        X0,
        8,
        grad,
      ),
      'nesterov',
    );
  }
  // With a changing rate Keras' m = momentum m - lr g differs from PyTorch's buf = momentum buf + g; we follow Keras.
  const schedule = exponentialDecay({ initialLearningRate: 0.2, decaySteps: 2, decayRate: 0.5 });
  assertTrajectories(
    trajectory(sgd({ learningRate: schedule, momentum: 0.8 }), X0, 8, wiggly),
    reference(kerasSgd(schedule, 0.8, false), X0, 8, wiggly),
    'momentum + schedule',
  );
});

/** Keras Adam.update_step (epsilon added to sqrt(v) before bias correction), with optional AdamW decay first. */
function kerasAdam({ lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-7, wd = 0 } = {}) {
  const m = X0.map(() => 0),
    v = X0.map(() => 0);
  return (x: number[], g: number[], t: number) => {
    const step = t + 1;
    const alpha = (lr * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
    x.forEach((_, i) => {
      x[i] = x[i] - x[i] * wd * lr;
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      x[i] -= (m[i] * alpha) / (Math.sqrt(v[i]) + eps);
    });
  };
}

test('adam matches Keras on f(x) = sum((x - 3)^2) and on changing gradients', () => {
  for (const grad of [quadratic, wiggly]) {
    assertTrajectories(trajectory(adam(), X0, 10, grad), reference(kerasAdam(), X0, 10, grad), 'adam default');
    const opts = { lr: 0.05, b1: 0.8, b2: 0.99, eps: 1e-3 };
    assertTrajectories(
      trajectory(adam({ learningRate: 0.05, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 }), X0, 10, grad),
      reference(kerasAdam(opts), X0, 10, grad),
      'adam custom',
    );
  }
  // Known first step: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so x1 = x0 - lr sign(g) (up to epsilon).
  const [x1] = trajectory(adam({ learningRate: 0.1, epsilon: 0 }), [0, 10], 1, quadratic);
  assertClose(x1, [0.1, 9.9], { rtol: 1e-12 });
});

test('adam with epsilon 0 equals the PyTorch form (bias-corrected m and v)', () => {
  const m = X0.map(() => 0),
    v = X0.map(() => 0);
  const torch = (x: number[], g: number[], t: number) =>
    x.forEach((_, i) => {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      x[i] -= (0.01 * (m[i] / (1 - 0.9 ** (t + 1)))) / Math.sqrt(v[i] / (1 - 0.999 ** (t + 1)));
    });
  assertTrajectories(
    trajectory(adam({ learningRate: 0.01, epsilon: 0 }), X0, 10, wiggly),
    reference(torch, X0, 10, wiggly),
    'adam vs torch',
    1e-11,
  );
});

test('adamw matches Keras: decoupled decay p -= lr * wd * p before the Adam step (default wd 0.004)', () => {
  assertTrajectories(
    trajectory(adamw(), X0, 10, wiggly),
    reference(kerasAdam({ wd: 0.004 }), X0, 10, wiggly),
    'adamw default',
  );
  assertTrajectories(
    trajectory(adamw({ learningRate: 0.1, weightDecay: 0.3 }), X0, 10, wiggly),
    reference(kerasAdam({ lr: 0.1, wd: 0.3 }), X0, 10, wiggly),
    'adamw strong decay',
  );
  assert.equal(adamw().getConfig().config?.weightDecay, 0.004);
});

/** Keras RMSprop.update_step (epsilon inside the square root). */
function kerasRmsprop({ lr = 0.001, rho = 0.9, momentum = 0, eps = 1e-7, centered = false } = {}) {
  const vel = X0.map(() => 0),
    mom = X0.map(() => 0),
    avg = X0.map(() => 0);
  return (x: number[], g: number[]) =>
    x.forEach((_, i) => {
      vel[i] = rho * vel[i] + (1 - rho) * g[i] * g[i];
      let den: number;
      if (centered) {
        avg[i] = rho * avg[i] + (1 - rho) * g[i];
        den = vel[i] - avg[i] * avg[i] + eps;
      } else den = vel[i] + eps;
      const increment = (lr * g[i]) / Math.sqrt(den);
      if (momentum > 0) {
        mom[i] = momentum * mom[i] + increment;
        x[i] -= mom[i];
      } else x[i] -= increment;
    });
}

test('rmsprop matches Keras (plain, momentum, centered)', () => {
  for (const grad of [quadratic, wiggly]) {
    assertTrajectories(trajectory(rmsprop(), X0, 10, grad), reference(kerasRmsprop(), X0, 10, grad), 'rmsprop default');
    assertTrajectories(
      trajectory(rmsprop({ learningRate: 0.01, momentum: 0.9 }), X0, 10, grad),
      reference(kerasRmsprop({ lr: 0.01, momentum: 0.9 }), X0, 10, grad),
      'rmsprop momentum',
    );
    assertTrajectories(
      trajectory(rmsprop({ learningRate: 0.01, rho: 0.8, centered: true, epsilon: 1e-4 }), X0, 10, grad),
      reference(kerasRmsprop({ lr: 0.01, rho: 0.8, centered: true, eps: 1e-4 }), X0, 10, grad),
      'rmsprop centered',
      1e-11,
    );
  }
});

test('adagrad matches Keras (accumulator starts at 0.1, epsilon inside the square root)', () => {
  const kerasAdagrad = (lr: number, init: number, eps: number) => {
    const acc = X0.map(() => init);
    return (x: number[], g: number[]) =>
      x.forEach((_, i) => {
        acc[i] += g[i] * g[i];
        x[i] -= (lr * g[i]) / Math.sqrt(acc[i] + eps);
      });
  };
  for (const grad of [quadratic, wiggly]) {
    assertTrajectories(
      trajectory(adagrad(), X0, 10, grad),
      reference(kerasAdagrad(0.001, 0.1, 1e-7), X0, 10, grad),
      'adagrad default',
    );
    assertTrajectories(
      trajectory(adagrad({ learningRate: 0.5, initialAccumulatorValue: 1, epsilon: 1e-2 }), X0, 10, grad),
      reference(kerasAdagrad(0.5, 1, 1e-2), X0, 10, grad),
      'adagrad custom',
    );
  }
});

test('weightDecay works the Keras way on every optimizer, outside the momentum', () => {
  const decayed =
    (update: (x: number[], g: number[], t: number) => void, lr: number, wd: number) =>
    (x: number[], g: number[], t: number) => {
      x.forEach((v, i) => (x[i] = v - v * wd * lr));
      update(x, g, t);
    };
  assertTrajectories(
    trajectory(sgd({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.1 }), X0, 8, wiggly),
    reference(
      decayed(
        kerasSgd(() => 0.1, 0.9, false),
        0.1,
        0.1,
      ),
      X0,
      8,
      wiggly,
    ),
    'sgd + wd',
  );
  assertTrajectories(
    trajectory(rmsprop({ learningRate: 0.01, momentum: 0.5, weightDecay: 0.2 }), X0, 8, wiggly),
    reference(decayed(kerasRmsprop({ lr: 0.01, momentum: 0.5 }), 0.01, 0.2), X0, 8, wiggly),
    'rmsprop + wd',
  );
});

test('every optimizer minimizes a least-squares problem (float32, autograd)', () => {
  const a = c.tensor([
    [1, 2],
    [3, -1],
    [0.5, 0.5],
    [-2, 1],
  ]);
  const b = c.tensor([[1], [2], [0], [-1]]);
  const loss = (w: c.Tensor) => c.mean(c.square(c.sub(c.matmul(a, w), b)));
  // The optimum from the normal equations (A^T A) w = A^T b, solved by hand for 2 unknowns.
  const A = [
      [1, 2],
      [3, -1],
      [0.5, 0.5],
      [-2, 1],
    ],
    B = [1, 2, 0, -1];
  const dot = (f: (r: number[], i: number) => number) => A.reduce((s, r, i) => s + f(r, i), 0);
  const [p, q, r] = [dot((x) => x[0] * x[0]), dot((x) => x[0] * x[1]), dot((x) => x[1] * x[1])];
  const [u, v] = [dot((x, i) => x[0] * B[i]), dot((x, i) => x[1] * B[i])];
  const det = p * r - q * q,
    w0 = (r * u - q * v) / det,
    w1 = (p * v - q * u) / det;
  const best = A.reduce((s, x, i) => s + (x[0] * w0 + x[1] * w1 - B[i]) ** 2, 0) / A.length;
  for (const [name, opt, steps] of [
    ['sgd', sgd({ learningRate: 0.05, momentum: 0.9 }), 300],
    ['adam', adam({ learningRate: 0.05 }), 400],
    ['adamw', adamw({ learningRate: 0.05, weightDecay: 0 }), 400],
    ['rmsprop', rmsprop({ learningRate: 0.01 }), 600],
    ['adagrad', adagrad({ learningRate: 0.5 }), 600],
  ] as const) {
    let w = c.zeros([2, 1]);
    const first = c.tidy(() => loss(w).item());
    for (let s = 0; s < steps; s++) {
      const { value, grads } = c.valueAndGrad(loss)(w);
      const [next] = opt.apply([w], [grads]);
      c.dispose([w, value, grads]);
      w = next;
    }
    const last = c.tidy(() => loss(w).item());
    assert.ok(last < first && last - best < 2e-3, `${name}: loss ${first} -> ${last}, optimum ~${best}`);
    w.dispose();
    opt.dispose();
  }
  c.dispose([a, b]);
});

test('a chain of transformations wrapped in Optimizer is the same as the factory', () => {
  const custom = new Optimizer((lr) => chain(scaleByAdam({ b1: 0.8 }), scaleByLearningRate(lr)), {
    learningRate: 0.05,
    name: 'MyAdam',
  });
  assertTrajectories(
    trajectory(custom, X0, 6, wiggly),
    trajectory(adam({ learningRate: 0.05, beta1: 0.8 }), X0, 6, wiggly),
    'chain vs adam',
    0,
  );
  const fixed = new Optimizer(chain(scaleByAdam(), scaleByLearningRate(0.05)));
  assert.throws(() => fixed.learningRate, c.ArgumentError);
  assert.throws(() => new Optimizer(chain(), { learningRate: 0.1 }), /transformation is fixed/);
});

test('learningRate is readable and settable between steps; a schedule is evaluated at the current step', () => {
  const opt = sgd({ learningRate: 0.5 });
  let x = c.tensor(new Float64Array([1]));
  const step = (g: number) => {
    const gt = c.tensor(new Float64Array([g]));
    const [next] = opt.apply([x], [gt]);
    c.dispose([x, gt]);
    x = next;
  };
  step(1);
  assert.equal(x.item(), 0.5);
  opt.learningRate = 0.25; // what ReduceLROnPlateau / LearningRateScheduler do
  assert.equal(opt.learningRate, 0.25);
  step(1);
  assert.equal(x.item(), 0.25);
  assert.equal(opt.iterations, 2);
  assert.throws(() => (opt.learningRate = -1), c.ArgumentError);
  assert.throws(() => (opt.learningRate = NaN), c.ArgumentError);

  const scheduled = sgd({ learningRate: piecewiseConstant({ boundaries: [0], values: [1, 0.1] }) });
  assert.equal(scheduled.learningRate, 1);
  assert.throws(() => (scheduled.learningRate = 0.5), /schedule and cannot be set to a number/);
  scheduled.learningRate = () => 0.3; // a new schedule is fine
  assert.equal(scheduled.learningRate, 0.3);
  x.dispose();
});

test('state save / restore continues identically (before the first step, with params, and when built)', () => {
  const make = () => adamw({ learningRate: 0.05, globalClipnorm: 5, weightDecay: 0.01 });
  const params0 = [
    c.tensor(new Float64Array([0, 1, -2, 5])),
    c.tensor(
      new Float64Array(
        [
          [1, 2],
          [3, 4],
        ].flat(),
      ),
      [2, 2],
    ),
  ];
  const grads = (ps: c.Tensor[], t: number) => ps.map((p) => c.tidy(() => c.add(c.mul(c.sub(p, 3), 2), Math.sin(t))));
  const run = (opt: Optimizer, ps: c.Tensor[], from: number, to: number) => {
    let cur = ps.map((p) => c.copy(p));
    for (let t = from; t < to; t++) {
      const g = grads(cur, t);
      const next = opt.apply(cur, g);
      c.dispose([cur, g]);
      cur = next;
    }
    return cur;
  };
  const original = make();
  const mid = run(original, params0, 0, 5);
  const saved = original.getState();
  assert.equal(saved.iterations, 5);
  assert.equal(saved.slots.length, 4); // m and v for two parameters
  assert.deepEqual(saved.slotNames, ['1/mu/0', '1/mu/1', '1/nu/0', '1/nu/1']);
  const expected = run(original, mid, 5, 10);

  for (const how of ['deferred', 'with params', 'built'] as const) {
    const resumed = make();
    if (how === 'built') resumed.build(mid);
    resumed.setState(saved, how === 'with params' ? mid : undefined);
    assert.equal(resumed.iterations, 5);
    const got = run(resumed, mid, 5, 10);
    got.forEach((g, i) =>
      assert.deepEqual(Array.from(g.dataSync()), Array.from(expected[i].dataSync()), `${how}: parameter ${i}`),
    );
    c.dispose(got);
    resumed.dispose();
  }
  // The saved copies are the caller's: the optimizer kept on training without touching them.
  assert.ok(saved.slots.every((t) => !t.isDisposed));

  const wrong = sgd({ momentum: 0.9 });
  assert.throws(() => wrong.setState(saved, mid), /saved state has 4 slots but this optimizer keeps 2/);
  const otherShapes = make();
  assert.throws(() => otherShapes.setState(saved, [c.zeros([4], 'float64'), c.zeros([3], 'float64')]), c.ShapeError);
  c.dispose([params0, mid, expected, saved.slots]);
  for (const o of [original, wrong, otherShapes]) o.dispose();
});

test('getConfig round-trips through getOptimizer and JSON (schedules included)', () => {
  const originals = [
    sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 1 }),
    adam({
      learningRate: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true }),
      beta2: 0.99,
    }),
    adamw({ globalClipnorm: 2 }),
    rmsprop({ centered: true, clipvalue: 0.5 }),
    adagrad({ initialAccumulatorValue: 0.3 }),
  ];
  for (const opt of originals) {
    const config = JSON.parse(JSON.stringify(opt.getConfig()));
    const rebuilt = getOptimizer(config);
    assert.deepEqual(rebuilt.getConfig(), opt.getConfig());
    assert.equal(rebuilt.learningRate, opt.learningRate);
    assertTrajectories(
      trajectory(rebuilt, X0, 5, wiggly),
      trajectory(opt, X0, 5, wiggly),
      `${config.className} rebuilt`,
      0,
    );
  }
  assert.deepEqual(adam().getConfig(), {
    className: 'Adam',
    config: {
      learningRate: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
      weightDecay: null,
      clipnorm: null,
      clipvalue: null,
      globalClipnorm: null,
    },
  });
  // A learning rate set at run time is what gets saved.
  const opt = sgd();
  opt.learningRate = 0.123;
  assert.equal(opt.getConfig().config?.learningRate, 0.123);
  const plainFn = sgd({ learningRate: (t) => 1 / (t + 1) });
  assert.throws(() => plainFn.getConfig(), /plain function of the step and cannot be serialized/);
});

test('getOptimizer: names in any case, Keras defaults, and a helpful error for unknown names', () => {
  assert.equal(getOptimizer('ADAM').className, 'Adam');
  assert.equal(getOptimizer('RMSprop').learningRate, 0.001);
  assert.equal(getOptimizer('sgd').learningRate, 0.01);
  assert.equal(getOptimizer('AdamW').getConfig().config?.weightDecay, 0.004);
  const o = adam();
  assert.equal(getOptimizer(o), o);
  assert.throws(
    () => getOptimizer('adma'),
    (e: Error) =>
      e instanceof c.ArgumentError &&
      /unknown optimizer 'adma'; did you mean 'adam'\?/.test(e.message) &&
      /sgd, adam, adamw, rmsprop, adagrad/.test(e.message),
  );
  assert.throws(() => getOptimizer('rmsporp'), /did you mean 'rmsprop'/);
  assert.throws(
    () => adam({ learning_rate: 0.1 } as never),
    /unknown option 'learning_rate'; did you mean 'learningRate'/,
  );
  assert.throws(() => sgd({ clipnorm: 1, clipvalue: 1 }), /only one of clipnorm, clipvalue and globalClipnorm/);
  assert.throws(() => sgd({ momentum: 1.5 }), /momentum must be a number in \[0, 1\]/);
  assert.throws(() => adam({ beta1: -0.1 }), c.ArgumentError);
  assert.throws(() => sgd({ clipnorm: 0 }), c.ArgumentError);
});

test('apply checks its inputs: counts, shapes, and the parameters it was built for', () => {
  const opt = adam();
  const p = c.zeros([3]),
    g = c.ones([3]),
    wrong = c.ones([2]);
  assert.throws(() => opt.apply([p], []), /1 parameters but 0 gradients/);
  assert.throws(
    () => opt.apply([p], [wrong]),
    (e: Error) =>
      e instanceof c.ShapeError && /gradient 0 has shape \[2\] but parameter 0 has shape \[3\]/.test(e.message),
  );
  c.dispose(opt.apply([p], [g]));
  assert.throws(
    () => opt.apply([wrong], [wrong]),
    (e: Error) => e instanceof c.ShapeError && /built for 1 parameters \[3\] float32/.test(e.message),
  );
  const q = c.zeros([3]);
  q.dispose();
  assert.throws(() => opt.apply([q], [g]), c.DisposedError);
  c.dispose([p, g, wrong]);
  opt.dispose();
  // float64 gradients on float32 parameters: the parameters and the state stay float32.
  const m = adam(),
    w = c.zeros([2]),
    g64 = c.ones([2], 'float64');
  const [w2] = m.apply([w], [g64]);
  const { slots } = m.getState();
  assert.deepEqual([w2.dtype, ...slots.map((t) => t.dtype)], ['float32', 'float32', 'float32']);
  c.dispose([w, g64, w2, slots]);
  m.dispose();
});

test('the optimizer state survives a caller tidy; memory is flat over 500 steps', () => {
  const target = c.tensor([
    [1, -2, 3],
    [0.5, 0, -1],
  ]);
  const loss = (ps: c.Tensor[]) => c.add(c.mean(c.square(c.sub(ps[0], target))), c.sum(c.square(ps[1])));
  for (const opt of [
    adamw({
      learningRate: exponentialDecay({ initialLearningRate: 0.01, decaySteps: 100, decayRate: 0.9 }),
      globalClipnorm: 1,
    }),
    sgd({ learningRate: 0.01, momentum: 0.9, nesterov: true, clipnorm: 1, weightDecay: 0.01 }),
    rmsprop({ momentum: 0.5, centered: true, clipvalue: 0.1 }),
    adagrad(),
  ]) {
    let params = [c.zeros([2, 3]), c.ones([4])];
    let baseline = 0;
    for (let step = 0; step < 500; step++) {
      // Called inside the caller's tidy: the new params are returned from it, the state must survive it.
      const next = c.tidy(() => {
        const { value, grads } = c.valueAndGrad(loss)(params);
        value.dispose();
        return opt.apply(params, grads);
      });
      c.dispose(params);
      params = next;
      if (step === 9) baseline = c.memory().tensors;
    }
    assert.equal(
      c.memory().tensors,
      baseline,
      `${opt.className}: tensors grew from ${baseline} to ${c.memory().tensors}`,
    );
    opt.dispose();
    c.dispose(params);
  }
  target.dispose();
});

test('dispose frees every state tensor', () => {
  const p = c.zeros([5]),
    g = c.ones([5]);
  const before = c.memory().tensors;
  const opt = rmsprop({ momentum: 0.9, centered: true });
  const next = opt.apply([p], [g]);
  assert.equal(
    c.memory().tensors,
    before + 1 + 3,
    'one new parameter and three slots (velocity, average gradient, momentum)',
  );
  opt.dispose();
  c.dispose(next);
  assert.equal(c.memory().tensors, before);
  c.dispose([p, g]);
});
