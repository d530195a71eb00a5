// The sequence models' fused ops (LSTM and GRU cell steps, scaled dot-product attention, and their
// backward passes): shape checks, cost models and composite defaults built from primitives.
//
// The cell ops take the step's input projection xw and recurrent projection hu = h @ U (a GEMM that
// stays a matmul outside), so one kernel replaces the ~10 elementwise kernels of a step. The backward
// ops are fused ops of their own, so a backend can run a step's gradient as one kernel too; their
// composites spell out the chain rule through the forward composites. Results with several parts are
// packed: the cells' states as [states, B, U], the gradients as one flat vector of contiguous parts
// (so each part is a reshaped slice, a view, ready for the GEMMs that consume it).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import type { ShapeDType } from './primitives.js';
import type { AttentionParams } from './fused-params.js';
import type { FusedSpec } from './fused.js';
import { add, cast, logicalAnd, mul, sigmoid, sub, tanh } from './elementwise.js';
import { sum } from './reduce.js';
import { concat, split, stack } from './indexing.js';
import { permute, reshape, slice, unsqueeze } from './views.js';
import { matmul } from './linalg.js';
import { tensor } from './creation.js';
import { softmax } from './nn.js';

type SeqName = 'lstmCell' | 'lstmCellGrad' | 'gruCell' | 'gruCellGrad' | 'attention' | 'attentionGrad';

/** Keras' large negative number added to the logits of masked positions before the softmax. */
export const MASKED_LOGIT = -1e9;

/** Checks that every input has `shapes[i]` (null: skip) and the first input's float dtype. */
function expect(
  op: string,
  inputs: readonly ShapeDType[],
  names: readonly string[],
  shapes: readonly (readonly number[] | null)[],
): void {
  const dtype = inputs[0].dtype;
  if (!isFloat(dtype)) throw new DTypeError(`${op}: ${names[0]} must be float32 or float64, got ${dtype}`);
  inputs.forEach((x, i) => {
    const want = shapes[i];
    if (want && (x.shape.length !== want.length || x.shape.some((d, j) => d !== want[j]))) {
      throw new ShapeError(`${op}: ${names[i]} must have shape ${fmtShape(want)}, got ${fmtShape(x.shape)}`);
    }
    if (x.dtype !== dtype) throw new DTypeError(`${op}: ${names[i]} is ${x.dtype} but ${names[0]} is ${dtype}`);
  });
}

/** Batch and units of a cell from xw [B, gates * U] and the state [B, U]. */
function cellDims(op: string, xw: ShapeDType, state: ShapeDType, gates: number): { b: number; u: number } {
  if (
    xw.shape.length !== 2 ||
    state.shape.length !== 2 ||
    xw.shape[1] !== gates * state.shape[1] ||
    xw.shape[0] !== state.shape[0]
  ) {
    throw new ShapeError(
      `${op}: expected xw [B, ${gates}U] and a state [B, U], got ${fmtShape(xw.shape)} and ${fmtShape(state.shape)}`,
    );
  }
  return { b: state.shape[0], u: state.shape[1] };
}

function lstmDims(op: string, inputs: readonly ShapeDType[], withDy: boolean): { b: number; u: number } {
  const { b, u } = cellDims(op, inputs[0], inputs[2], 4);
  expect(
    op,
    inputs,
    ['xw', 'hu', 'c', 'dh', 'dc'],
    [
      [b, 4 * u],
      [b, 4 * u],
      [b, u],
      ...(withDy
        ? [
            [b, u],
            [b, u],
          ]
        : []),
    ],
  );
  return { b, u };
}

function gruDims(op: string, inputs: readonly ShapeDType[], withDy: boolean): { b: number; u: number } {
  const { b, u } = cellDims(op, inputs[0], inputs[2], 3);
  const bias = inputs[withDy ? 4 : 3];
  const names = ['xw', 'hu', 'h', ...(withDy ? ['dy'] : []), 'recurrent bias'];
  expect(op, inputs, names, [[b, 3 * u], [b, 3 * u], [b, u], ...(withDy ? [[b, u]] : []), ...(bias ? [[3 * u]] : [])]);
  return { b, u };
}

type Activation = (x: Tensor) => Tensor;

/**
 * The LSTM gates (Keras order i, f, c, o) and next cell state from the pre-activation xw + hu; the
 * fused op is this with gate = sigmoid, act = tanh (the layer passes others itself).
 */
export function lstmForward(xw: Tensor, hu: Tensor, c: Tensor, gate: Activation = sigmoid, act: Activation = tanh) {
  const [zi, zf, zc, zo] = split(add(xw, hu), 4, 1);
  const i = gate(zi),
    f = gate(zf),
    g = act(zc),
    o = gate(zo);
  const cNext = add(mul(f, c), mul(i, g));
  return { i, f, g, o, cNext };
}

/** The GRU (resetAfter) gates z, r, the candidate hh and the recurrent candidate term ih. */
export function gruForward(
  xw: Tensor,
  hu: Tensor,
  bias: Tensor | undefined,
  gate: Activation = sigmoid,
  act: Activation = tanh,
) {
  const u = xw.shape[1] / 3;
  const inner = bias ? add(hu, bias) : hu;
  const [xzr, xh] = split(xw, [2 * u, u], 1);
  const [izr, ih] = split(inner, [2 * u, u], 1);
  const [z, r] = split(gate(add(xzr, izr)), 2, 1);
  const hh = act(add(xh, mul(r, ih)));
  return { z, r, hh, ih };
}

/** h_t = z h + (1 - z) hh, written hh + z (h - hh) to save a kernel. */
export function gruMix(z: Tensor, h: Tensor, hh: Tensor): Tensor {
  return add(hh, mul(z, sub(h, hh)));
}

/** Several tensors as one flat vector, in order. */
function flatConcat(parts: readonly Tensor[]): Tensor {
  return concat(
    parts.map((p) => reshape(p, [p.size])),
    0,
  );
}

/** Parts of a flat vector, each reshaped to its shape (contiguous views). */
export function unpack(flat: Tensor, shapes: readonly (readonly number[])[]): Tensor[] {
  let at = 0;
  return shapes.map((s) => {
    const n = sizeOf(s);
    const part = reshape(slice(flat, [at], [n]), s);
    at += n;
    return part;
  });
}

/** The sigmoid derivative from its output: y (1 - y). */
const dSigmoid = (y: Tensor) => mul(y, sub(1, y));
/** The tanh derivative from its output: 1 - y^2. */
const dTanh = (y: Tensor) => sub(1, mul(y, y));

// ------------------------------------------------------------------------------------------ attention

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
      `${op}: expected q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv], got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`,
    );
  }
  const [b, t, h, dk] = q.shape,
    [, s, , dv] = v.shape;
  expect(op, [q, k, v, ...(withDy ? [rest[0]] : [])], ['q', 'k', 'v', 'dy'], [null, null, null, [b, t, h, dv]]);
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
function attentionGradComposite([q, k, v, dy, mask]: readonly Tensor[], p: AttentionParams): Tensor {
  const { probs, dS } = attentionLogitGrad(q, k, v, dy, mask ?? null, p);
  const dyh = permute(dy, [0, 2, 1, 3]);
  const dq = mul(matmul(dS, permute(k, [0, 2, 1, 3])), p.scale);
  const dk = matmul(permute(dS, [0, 1, 3, 2]), permute(mul(q, p.scale), [0, 2, 1, 3]));
  const dv = matmul(permute(probs, [0, 1, 3, 2]), dyh);
  return flatConcat([dq, dk, dv].map((g) => permute(g, [0, 2, 1, 3])));
}

/** The sequence models' entries of the FUSED table (a function, so fused.ts can build its table at load). */
export function sequenceFusedSpecs(): { readonly [F in SeqName]: FusedSpec<F> } {
  return {
    lstmCell: {
      infer: (inputs) => {
        const { b, u } = lstmDims('lstmCell', inputs, false);
        return { shape: [2, b, u], dtype: inputs[0].dtype };
      },
      flops: ([, , c]) => 12 * sizeOf(c.shape),
      composite: ([xw, hu, c]) => {
        const { o, cNext } = lstmForward(xw, hu, c);
        return stack([mul(o, tanh(cNext)), cNext]);
      },
    },
    lstmCellGrad: {
      infer: (inputs) => {
        const { b, u } = lstmDims('lstmCellGrad', inputs, true);
        return { shape: [5 * b * u], dtype: inputs[0].dtype };
      },
      flops: ([, , c]) => 30 * sizeOf(c.shape),
      composite: ([xw, hu, c, dh, dc]) => {
        const { i, f, g, o, cNext } = lstmForward(xw, hu, c);
        const tc = tanh(cNext);
        const dcTotal = add(dc, mul(mul(dh, o), dTanh(tc)));
        const dz = concat(
          [
            mul(mul(dcTotal, g), dSigmoid(i)),
            mul(mul(dcTotal, c), dSigmoid(f)),
            mul(mul(dcTotal, i), dTanh(g)),
            mul(mul(dh, tc), dSigmoid(o)),
          ],
          1,
        );
        return flatConcat([dz, mul(dcTotal, f)]);
      },
    },
    gruCell: {
      infer: (inputs) => {
        const { b, u } = gruDims('gruCell', inputs, false);
        return { shape: [b, u], dtype: inputs[0].dtype };
      },
      flops: ([, , h]) => 12 * sizeOf(h.shape),
      composite: ([xw, hu, h, bias]) => {
        const { z, hh } = gruForward(xw, hu, bias);
        return gruMix(z, h, hh);
      },
    },
    gruCellGrad: {
      infer: (inputs) => {
        const { b, u } = gruDims('gruCellGrad', inputs, true);
        return { shape: [7 * b * u], dtype: inputs[0].dtype };
      },
      flops: ([, , h]) => 25 * sizeOf(h.shape),
      composite: ([xw, hu, h, dy, bias]) => {
        const { z, r, hh, ih } = gruForward(xw, hu, bias);
        const dzz = mul(mul(dy, sub(h, hh)), dSigmoid(z));
        const da = mul(mul(dy, sub(1, z)), dTanh(hh));
        const dzr = mul(mul(da, ih), dSigmoid(r));
        return flatConcat([concat([dzz, dzr, da], 1), concat([dzz, dzr, mul(da, r)], 1), mul(dy, z)]);
      },
    },
    attention: {
      infer: (inputs, p) => {
        const { b, t, h, dv } = attentionDims('attention', inputs, false, p);
        return { shape: [b, t, h, dv], dtype: inputs[0].dtype };
      },
      flops: ([q, , v]) => 2 * q.shape[0] * q.shape[1] * q.shape[2] * v.shape[1] * (q.shape[3] + v.shape[3]),
      composite: ([q, k, v, mask], p) => attendValues(attentionProbs(q, k, mask ?? null, p), v),
    },
    attentionGrad: {
      infer: (inputs, p) => {
        const { b, t, s, h, dk, dv } = attentionDims('attentionGrad', inputs, true, p);
        return { shape: [b * h * (t * dk + s * dk + s * dv)], dtype: inputs[0].dtype };
      },
      flops: ([q, , v]) => 4 * q.shape[0] * q.shape[1] * q.shape[2] * v.shape[1] * (q.shape[3] + v.shape[3]),
      composite: attentionGradComposite,
    },
  };
}
