// The dropout family: inverted dropout whose mask is drawn from a Philox stream at a given counter, so a
// backend may draw the mask itself (the native kernel does) and the gradient reuses the same mask.
import type { Tensor } from '../../tensor/tensor.js';
import { ArgumentError } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Arr } from '../../backends/native/addon.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import { requireFloat } from '../checks.js';
import { cast, mul } from '../elementwise.js';
import { RandomStream } from '../random.js';
import { buf } from './native-args.js';

/** Inverted dropout with the mask drawn from a Philox stream at a given counter (src/ops/random.ts). */
export interface DropoutParams {
  readonly seed: number;
  readonly counter: number;
  readonly rate: number;
}

export interface DropoutFamilyParams {
  /** x * keep / (1 - rate), keep = RandomStream(seed, counter).bernoulli(x.shape, 1 - rate): inverted dropout. */
  dropout: DropoutParams;
}

/** The addon's entry point (kernels/train_step.h). */
export interface DropoutAddon {
  /** out = x * (keep ? scale : 0), keep drawn from the Philox stream (seed, counter) with probability keepProb. */
  dropout(x: Arr, xOff: number, out: Arr, seed: number, counter: number, keepProb: number, scale: number): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const DROPOUT_EXPORTS = { dropout: true } satisfies Record<keyof DropoutAddon, true>;

/** x * keep / (1 - rate) for a boolean mask that broadcasts over x: inverted dropout. */
export function applyDropoutMask(x: Tensor, keep: Tensor, rate: number): Tensor {
  return mul(x, mul(cast(keep, x.dtype), 1 / (1 - rate)));
}

export const DROPOUT: FusedSpecs<keyof DropoutFamilyParams> = {
  dropout: {
    family: 'dropout',
    infer: ([x], { rate }) => {
      requireFloat('dropout', x, 'x');
      if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout: rate must be in [0, 1), got ${rate}`);
      return x;
    },
    flops: ([x]) => 2 * sizeOf(x.shape),
    composite: ([x], { seed, counter, rate }) =>
      applyDropoutMask(x, new RandomStream(seed, counter).bernoulli(x.shape, 1 - rate), rate),
    // The same mask (same stream and counter) scales dy.
    grad: (dy, { params }) => [run('dropout', [dy], params)],
    native:
      (addon) =>
      ([x], o, { seed, counter, rate }) =>
        addon.dropout(buf(x), x.offset, buf(o), seed, counter, 1 - rate, 1 / (1 - rate)),
  },
};

const run = fusedRunner(DROPOUT);

/**
 * Inverted dropout of x with the mask drawn from `generator` (which advances by x.size, exactly as if
 * it had drawn the mask itself): x * keep / (1 - rate). A backend may compute the mask in its kernel.
 */
export function dropout(x: Tensor, rate: number, generator: RandomStream): Tensor {
  return run('dropout', [x], { seed: generator.seed, counter: generator.reserve(x.size), rate });
}
