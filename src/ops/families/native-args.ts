// Helpers for the families' native adapters: KernelArg -> the addon's (array, offset, extents) arguments.
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { sizeOf } from '../../tensor/shape.js';

/** The typed array behind a native kernel argument. */
export const buf = (a: KernelArg) => a.buffer as Arr;

/** An optional argument as (array or null, offset). */
export const opt = (a: KernelArg | undefined) => [a ? buf(a) : null, a?.offset ?? 0] as const;

/** [outer, mid, inner] around a run of consecutive axes [from, to). */
export function around(shape: readonly number[], from: number, to: number) {
  return { outer: sizeOf(shape.slice(0, from)), mid: sizeOf(shape.slice(from, to)), inner: sizeOf(shape.slice(to)) };
}

/**
 * The outputs' typed arrays in one array that an adapter reuses on every call (native calls are synchronous, and
 * the addon keeps no reference): a kernel call allocates no array for its outputs.
 */
export function outArrays(): (outs: readonly KernelArg[]) => Arr[] {
  const arrays: Arr[] = [];
  return (outs) => {
    arrays.length = outs.length;
    for (let i = 0; i < outs.length; i++) arrays[i] = buf(outs[i]);
    return arrays;
  };
}

/** A single-result kernel over a multi-result one, passing its output in a reused one-slot array. */
export function singleResult<P>(
  kernel: (inputs: readonly KernelArg[], outs: readonly KernelArg[], p: P) => void,
): (inputs: readonly KernelArg[], out: KernelArg, p: P) => void {
  const outs: KernelArg[] = [];
  return (inputs, out, p) => {
    outs[0] = out;
    kernel(inputs, outs, p);
  };
}
