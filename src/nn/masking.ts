// Keras-style masks carried alongside tensors: Layer.apply attaches each output's [batch, time] mask here.
import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { cast, notEqual } from '../ops/elementwise.js';
import { permute, reshape } from '../ops/views.js';
import { ShapeError, fmtShape } from '../errors.js';

/** A layer's input mask: one per input (null = unmasked); a list for list inputs. */
export type MaskArg = Tensor | null | (Tensor | null)[];

/**
 * Masks are kept on the host as bytes, not as tensors: a tensor attached to an output would be freed by
 * the scope it was made in (tidy) while the output lives on, or would count as a leak if kept. The
 * WeakMap drops an entry when its tensor is garbage-collected.
 */
interface HostMask {
  readonly data: Uint8Array;
  readonly shape: readonly number[];
}
const attached = new WeakMap<Tensor, HostMask>();

/** Attaches `mask` (any dtype; nonzero = keep) to `t`, replacing what was there; null detaches. */
export function setMask(t: Tensor, mask: Tensor | null): void {
  if (mask === null) {
    attached.delete(t);
    return;
  }
  const bytes = mask.dtype === 'bool' ? mask.dataSync() : toBool(mask).dataSync();
  attached.set(t, { data: bytes as Uint8Array, shape: [...mask.shape] });
}

/** The mask attached to `t` as a fresh bool tensor (owned by the current scope), or null. */
export function getMask(t: Tensor): Tensor | null {
  const m = attached.get(t);
  return m ? tensor(m.data, m.shape, 'bool') : null;
}

/** The mask attached to `t` as its host bytes (nonzero = keep) and shape, without making a tensor. */
export function maskBytes(t: Tensor): { readonly data: Uint8Array; readonly shape: readonly number[] } | undefined {
  return attached.get(t);
}

export function hasMask(t: Tensor): boolean {
  return attached.has(t);
}

/** A bool mask from any dtype: nonzero = keep. */
export function toBool(mask: Tensor): Tensor {
  return mask.dtype === 'bool' ? mask : notEqual(mask, 0);
}

/** The masks attached to the inputs: one tensor, a list for list inputs, undefined when none has one. */
export function inputMasks(inputs: Tensor | Tensor[]): MaskArg | undefined {
  if (!Array.isArray(inputs)) return attached.has(inputs) ? getMask(inputs) : undefined;
  if (!inputs.some((t) => attached.has(t))) return undefined;
  return inputs.map(getMask);
}

/**
 * Attaches computed output masks (Keras _set_mask_metadata): a list of outputs takes a list of masks
 * (or one mask, for the first output); outputs that already carry a mask keep it, so a layer that returns
 * its input unchanged keeps the input's mask.
 */
export function attachMasks(outputs: Tensor | Tensor[], masks: MaskArg | undefined): void {
  if (masks === undefined || masks === null) return;
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ms = Array.isArray(masks) ? masks : [masks];
  outs.forEach((t, i) => {
    const m = ms[i];
    if (m && !attached.has(t)) setMask(t, m);
  });
}

/** The first input's mask of a MaskArg (the sequence mask of [x, ...initialStates] inputs). */
export function firstMask(mask: MaskArg | undefined): Tensor | null {
  if (mask === undefined || mask === null) return null;
  return Array.isArray(mask) ? (mask[0] ?? null) : mask;
}

/**
 * Checks that a sequence mask fits [batch, time] of the input and returns it as bool; `who` names the
 * layer in the error.
 */
export function sequenceMask(who: string, mask: Tensor, batch: number, time: number): Tensor {
  if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== time) {
    throw new ShapeError(
      `${who} expects a mask of shape [${batch}, ${time}] (batch, time), got ${fmtShape(mask.shape)}`,
    );
  }
  return toBool(mask);
}

/** [B, T] mask -> time-major [T, B, 1] (same dtype), so mask[t] is a contiguous [B, 1] slice. */
export function timeMajorMask(mask: Tensor): Tensor {
  const [b, t] = mask.shape;
  return reshape(permute(mask, [1, 0]), [t, b, 1]);
}

/** A bool mask as 0/1 in `dtype`, for arithmetic masking. */
export function maskAsFloat(mask: Tensor, dtype: 'float32' | 'float64'): Tensor {
  return cast(toBool(mask), dtype);
}
