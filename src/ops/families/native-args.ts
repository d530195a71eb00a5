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
