// The softmax family: softmax and log-softmax along one axis, each with its own gradient rule.
import type { Tensor } from '../../tensor/tensor.js';
import { normalizeAxis, sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import { exp, mul, sub } from '../elementwise.js';
import { logsumexp, sum } from '../reduce.js';
import { around, buf } from './native-args.js';

export interface SoftmaxParams {
  softmax: { readonly axis: number };
  logSoftmax: { readonly axis: number };
}

/** The addon's entry point for this family (kernels/impl.h softmax). */
export interface SoftmaxAddon {
  softmax(log: boolean, x: Arr, xOff: number, out: Arr, outer: number, dim: number, inner: number): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const SOFTMAX_EXPORTS = { softmax: true } satisfies Record<keyof SoftmaxAddon, true>;

const native =
  (log: boolean) =>
  (addon: SoftmaxAddon) =>
  ([x]: readonly KernelArg[], o: KernelArg, { axis }: { readonly axis: number }) => {
    const { outer, mid, inner } = around(x.shape, axis, axis + 1);
    addon.softmax(log, buf(x), x.offset, buf(o), outer, mid, inner);
  };

export const SOFTMAX: FusedSpecs<keyof SoftmaxParams> = {
  softmax: {
    family: 'softmax',
    infer: ([x]) => x,
    flops: ([x]) => 4 * sizeOf(x.shape),
    composite: ([x], { axis }) => exp(sub(x, logsumexp(x, axis, true))),
    grad: (dy, { output: y, params: { axis } }) => [mul(y, sub(dy, sum(mul(dy, y), axis, true)))],
    native: native(false),
  },
  logSoftmax: {
    family: 'softmax',
    infer: ([x]) => x,
    flops: ([x]) => 4 * sizeOf(x.shape),
    composite: ([x], { axis }) => sub(x, logsumexp(x, axis, true)),
    grad: (dy, { output: y, params: { axis } }) => [sub(dy, mul(exp(y), sum(dy, axis, true)))],
    native: native(true),
  },
};

const run = fusedRunner(SOFTMAX);

export function softmax(x: Tensor, axis = -1): Tensor {
  return run('softmax', [x], { axis: normalizeAxis('softmax', axis, x.rank) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return run('logSoftmax', [x], { axis: normalizeAxis('logSoftmax', axis, x.rank) });
}
