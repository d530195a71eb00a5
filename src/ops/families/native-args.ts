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

/** The window of a convolution as its native adapters pass it (ops/families/conv.ts' Conv2DParams). */
interface ConvWindow {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: readonly (readonly [number, number])[];
}

/**
 * The convolution kernels' parameters, written into `into` (reused by the adapter: the addon keeps no reference):
 * [n, h, w, cin, cout, kh, kw, ho, wo, strideH, strideW, dilH, dilW, padTop, padLeft] for x [n, h, w, cin],
 * a filter [kh, kw, ...] and y [n, ho, wo, cout].
 */
export function convArgs(
  into: Float64Array,
  x: readonly number[],
  filter: readonly number[],
  y: readonly number[],
  p: ConvWindow,
): Float64Array {
  into[0] = x[0];
  into[1] = x[1];
  into[2] = x[2];
  into[3] = x[3];
  into[4] = y[3];
  into[5] = filter[0];
  into[6] = filter[1];
  into[7] = y[1];
  into[8] = y[2];
  into[9] = p.strides[0];
  into[10] = p.strides[1];
  into[11] = p.dilations[0];
  into[12] = p.dilations[1];
  into[13] = p.pads[0][0];
  into[14] = p.pads[1][0];
  return into;
}

/** An addon convolution entry point: (a, aOffset, b, bOffset, out, params), params laid out by convArgs. */
type ConvEntry = (a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, params: Float64Array) => void;

/**
 * The native adapters of a convolution family's three ops (forward, input gradient, filter gradient), whose
 * entry points share convArgs' layout; `scratch` is reused across calls (the addon copies nothing out of it).
 */
export function convAdapters(forward: ConvEntry, input: ConvEntry, filter: ConvEntry, scratch = new Float64Array(15)) {
  return {
    forward: ([x, f]: readonly KernelArg[], o: KernelArg, p: ConvWindow) =>
      forward(buf(x), x.offset, buf(f), f.offset, buf(o), convArgs(scratch, x.shape, f.shape, o.shape, p)),
    input: ([dy, f]: readonly KernelArg[], o: KernelArg, p: ConvWindow) =>
      input(buf(dy), dy.offset, buf(f), f.offset, buf(o), convArgs(scratch, o.shape, f.shape, dy.shape, p)),
    filter: ([x, dy]: readonly KernelArg[], o: KernelArg, p: ConvWindow) =>
      filter(buf(x), x.offset, buf(dy), dy.offset, buf(o), convArgs(scratch, x.shape, o.shape, dy.shape, p)),
  };
}
