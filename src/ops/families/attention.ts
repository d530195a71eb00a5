// The attention family: scaled dot-product attention softmax(scale * q k^T + mask) v per (batch, head)
// and its backward (dq, dk, dv, three results), each one fused op. A float mask is added to
// the logits; a bool mask (and causality) follow Keras' masked softmax.
import type { Tensor } from '../../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { THROUGH_COMPOSITE } from '../../autograd/rule-kinds.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { requireShapes } from '../checks.js';
import { add, cast, logicalAnd, mul, sub } from '../elementwise.js';
import { sum } from '../reduce.js';
import { permute, unsqueeze } from '../views.js';
import { matmul } from '../linalg.js';
import { tensor } from '../creation.js';
import { softmax } from './softmax.js';
import { buf, opt, outArrays, singleResult } from './native-args.js';

/**
 * softmax(scale * q k^T + mask) v per (batch, head). A float mask is added to the logits; a bool mask
 * (and causality) follow Keras' masked softmax: a masked logit gets -1e9 and its probability is then
 * multiplied by 0, so a fully masked row attends to nothing (zeros).
 */
export interface AttentionParams {
  readonly scale: number;
  /** Query i may attend to keys j <= offset + i only (offset: keys cached before the queries). */
  readonly causal: boolean;
  readonly offset: number;
}

export interface AttentionFamilyParams {
  /** q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv], mask (optional [B or 1, T or 1, S]: bool, or additive
   *  in q's dtype) -> [B, T, H, dv]. */
  attention: AttentionParams;
  /** q, k, v, dy [B, T, H, dv], mask (optional) -> dq, dk, dv (the shapes of q, k and v). */
  attentionGrad: AttentionParams;
}

/** The family's ops with several results. */
export type AttentionMulti = 'attentionGrad';

/** The addon's entry point (kernels/seq.h). */
export interface AttentionAddon {
  /**
   * params: [b, t, s, h, dk, dv, maskBatch, maskRows, offset, scale, causal]; outs is [y], or with dy [dq, dk,
   * dv].
   */
  attention(
    q: Arr,
    qOff: number,
    k: Arr,
    kOff: number,
    v: Arr,
    vOff: number,
    dy: Arr | null,
    dyOff: number,
    mask: Arr | null,
    maskOff: number,
    outs: Arr[],
    params: Float64Array,
  ): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const ATTENTION_EXPORTS = { attention: true } satisfies Record<keyof AttentionAddon, true>;

/** Keras' large negative number added to the logits of masked positions before the softmax. */
export const MASKED_LOGIT = -1e9;

interface AttentionDims {
  b: number;
  t: number;
  s: number;
  h: number;
  dk: number;
  dv: number;
}

function attentionDims(
  op: string,
  [q, k, v, ...rest]: readonly ShapeDType[],
  withDy: boolean,
  p: AttentionParams,
): AttentionDims {
  const rank4 = [q, k, v].every((x) => x.shape.length === 4);
  if (
    !rank4 ||
    k.shape[0] !== q.shape[0] ||
    v.shape[0] !== q.shape[0] ||
    k.shape[1] !== v.shape[1] ||
    k.shape[2] !== q.shape[2] ||
    v.shape[2] !== q.shape[2] ||
    k.shape[3] !== q.shape[3]
  ) {
    throw new ShapeError(
      `${op}: expected q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv], got ${fmtShape(q.shape)}, ` +
        `${fmtShape(k.shape)}, ${fmtShape(v.shape)}`,
    );
  }
  const [b, t, h, dk] = q.shape,
    [, s, , dv] = v.shape;
  requireShapes(op, [q, k, v, ...(withDy ? [rest[0]] : [])], ['q', 'k', 'v', 'dy'], [null, null, null, [b, t, h, dv]]);
  const mask = rest[withDy ? 1 : 0];
  if (mask) {
    const ok =
      mask.shape.length === 3 &&
      (mask.shape[0] === 1 || mask.shape[0] === b) &&
      (mask.shape[1] === 1 || mask.shape[1] === t) &&
      mask.shape[2] === s;
    if (!ok)
      throw new ShapeError(`${op}: the mask must have shape [${b} or 1, ${t} or 1, ${s}], got ${fmtShape(mask.shape)}`);
    if (mask.dtype !== 'bool' && mask.dtype !== q.dtype)
      throw new DTypeError(
        `${op}: the mask must be bool (true = may attend) or additive ${q.dtype}, got ${mask.dtype}`,
      );
  }
  if (!(p.scale > 0) || !Number.isInteger(p.offset) || p.offset < 0)
    throw new ArgumentError(
      `${op}: scale must be positive and offset a non-negative integer, got ${p.scale} and ${p.offset}`,
    );
  return { b, t, s, h, dk, dv };
}

/**
 * The attention probabilities [B, H, T, S] from q [B, T, H, dk] and k [B, S, H, dk]; the query is scaled
 * first, as Keras does. `mask` [B or 1, T or 1, S] is added to the logits (float) or, bool, applied as
 * Keras' masked softmax (masked logits get -1e9 and the probabilities are multiplied by the mask);
 * causal ANDs in keys j <= offset + i the same way.
 */
export function attentionProbs(
  q: Tensor,
  k: Tensor,
  mask: Tensor | null,
  { scale, causal, offset }: AttentionParams,
): Tensor {
  const [, t] = q.shape,
    s = k.shape[1];
  let logits = matmul(permute(mul(q, scale), [0, 2, 1, 3]), permute(k, [0, 2, 3, 1]));
  if (mask && mask.dtype !== 'bool') {
    logits = add(logits, unsqueeze(mask, 1));
    mask = null;
  }
  if (causal) {
    // Query i sits at position offset + i of the key sequence.
    const allowed = new Uint8Array(t * s);
    for (let i = 0; i < t; i++) for (let j = 0; j <= Math.min(offset + i, s - 1); j++) allowed[i * s + j] = 1;
    const c = tensor(allowed, [1, t, s], 'bool');
    mask = mask ? logicalAnd(mask, c) : c;
  }
  if (!mask) return softmax(logits, -1);
  const m = cast(unsqueeze(mask, 1), q.dtype);
  logits = add(logits, mul(sub(1, m), MASKED_LOGIT));
  return mul(softmax(logits, -1), m);
}

/** Probabilities [B, H, T, S] times v [B, S, H, dv] -> [B, T, H, dv]. */
export function attendValues(probs: Tensor, v: Tensor): Tensor {
  return permute(matmul(probs, permute(v, [0, 2, 1, 3])), [0, 2, 1, 3]);
}

/**
 * The gradient of the logits (= of an additive mask, per head) [B, H, T, S] for dy [B, T, H, dv], and
 * the recomputed probabilities P: dS = P (dP - rowsum(P dP)) with dP = dy v^T.
 */
export function attentionLogitGrad(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dy: Tensor,
  mask: Tensor | null,
  p: AttentionParams,
): { probs: Tensor; dS: Tensor } {
  const probs = attentionProbs(q, k, mask, p);
  const dP = matmul(permute(dy, [0, 2, 1, 3]), permute(v, [0, 2, 3, 1]));
  return { probs, dS: mul(probs, sub(dP, sum(mul(dP, probs), 3, true))) };
}

/** The composite backward of attention, from the recomputed probabilities and the logits' gradient. */
function attentionGradComposite([q, k, v, dy, mask]: readonly Tensor[], p: AttentionParams): Tensor[] {
  const { probs, dS } = attentionLogitGrad(q, k, v, dy, mask ?? null, p);
  const dyh = permute(dy, [0, 2, 1, 3]);
  const dq = mul(matmul(dS, permute(k, [0, 2, 1, 3])), p.scale);
  const dk = matmul(permute(dS, [0, 1, 3, 2]), permute(mul(q, p.scale), [0, 2, 1, 3]));
  const dv = matmul(permute(probs, [0, 1, 3, 2]), dyh);
  return [dq, dk, dv].map((g) => permute(g, [0, 2, 1, 3]));
}

/** Forward inputs [q, k, v, mask?], backward [q, k, v, dy, mask?]. */
const nativeAttention = (grad: boolean) => (addon: AttentionAddon) => {
  const params = new Float64Array(11);
  const arrays = outArrays();
  return (inputs: readonly KernelArg[], outs: readonly KernelArg[], p: AttentionParams) => {
    const [q, k, v] = inputs;
    const dy = grad ? inputs[3] : undefined,
      mask = inputs[grad ? 4 : 3];
    const [b, t, h, dk] = q.shape,
      [, s, , dv] = v.shape;
    const maskBatch = mask?.shape[0] ?? 1,
      maskRows = mask?.shape[1] ?? 1;
    // Written in place: a kernel call allocates nothing for its parameters.
    params[0] = b;
    params[1] = t;
    params[2] = s;
    params[3] = h;
    params[4] = dk;
    params[5] = dv;
    params[6] = maskBatch;
    params[7] = maskRows;
    params[8] = p.offset;
    params[9] = p.scale;
    params[10] = p.causal ? 1 : 0;
    addon.attention(
      buf(q),
      q.offset,
      buf(k),
      k.offset,
      buf(v),
      v.offset,
      ...opt(dy),
      ...opt(mask),
      arrays(outs),
      params,
    );
  };
};

const family = 'attention';

export const ATTENTION: FusedSpecs<keyof AttentionFamilyParams> = {
  attention: {
    family,
    infer: (inputs, p) => {
      const { b, t, h, dv } = attentionDims('attention', inputs, false, p);
      return { shape: [b, t, h, dv], dtype: inputs[0].dtype };
    },
    flops: ([q, , v]) => 2 * q.shape[0] * q.shape[1] * q.shape[2] * v.shape[1] * (q.shape[3] + v.shape[3]),
    composite: ([q, k, v, mask], p) => attendValues(attentionProbs(q, k, mask ?? null, p), v),
    // An additive mask's gradient is the logits' summed over heads (the engine sums broadcast axes).
    grad: (dy, { inputs: [q, k, v, mask], params, needsGrad }) => [
      ...attentionBackward(q, k, v, dy, mask ?? null, params),
      mask && needsGrad[3] ? sum(attentionLogitGrad(q, k, v, dy, mask, params).dS, [1]) : null,
    ],
    native: (addon) => singleResult(nativeAttention(false)(addon)),
  },
  attentionGrad: {
    family,
    inferAll: (inputs, p) => {
      attentionDims('attentionGrad', inputs, true, p);
      return inputs.slice(0, 3).map((x) => ({ shape: x.shape, dtype: inputs[0].dtype }));
    },
    flops: ([q, , v]) => 4 * q.shape[0] * q.shape[1] * q.shape[2] * v.shape[1] * (q.shape[3] + v.shape[3]),
    composite: attentionGradComposite,
    grad: THROUGH_COMPOSITE,
    native: nativeAttention(true),
  },
};

const run = fusedRunner(ATTENTION);

/**
 * softmax(scale * q k^T + mask) v per (batch, head): q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv],
 * mask [B or 1, T or 1, S] added to the logits (float) or bool (true = may attend; Keras' masked softmax,
 * a fully masked row gives zeros) -> [B, T, H, dv].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, params: AttentionParams): Tensor {
  return run('attention', mask ? [q, k, v, mask] : [q, k, v], params);
}

/** The gradient of attention for dy [B, T, H, dv]: dq, dk, dv. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dy: Tensor,
  mask: Tensor | null,
  params: AttentionParams,
): [Tensor, Tensor, Tensor] {
  const [dq, dk, dv] = run('attentionGrad', mask ? [q, k, v, dy, mask] : [q, k, v, dy], params);
  return [dq, dk, dv];
}
