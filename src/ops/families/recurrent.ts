// The recurrent family: LSTM and GRU (resetAfter) cell steps and their backward passes. The cells take
// the step's input projection xw and recurrent projection hu = h @ U (a GEMM that stays a matmul
// outside), so one kernel replaces the ~10 elementwise kernels of a step. The backward ops are fused ops
// of their own, so a backend can run a step's gradient as one kernel too; their composites spell out the
// chain rule through the forward composites, and their own gradients (second order) go through them.
// Ops with several results (the LSTM's next h and c, the gradients' parts) return one tensor per result.
import type { Tensor } from '../../tensor/tensor.js';
import { ShapeError, fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { THROUGH_COMPOSITE } from '../../autograd/rule-kinds.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { requireShapes } from '../checks.js';
import { add, mul, sigmoid, sub, tanh } from '../elementwise.js';
import { concat, split } from '../indexing.js';
import { zerosLike } from '../creation.js';
import { buf, opt, outArrays, singleResult } from './native-args.js';

export interface RecurrentParams {
  /** xw, hu [B, 4U] (the step's input and recurrent projections), c [B, U] -> next h, next c [B, U]. */
  lstmCell: Record<string, never>;
  /** xw, hu, c, dh, dc [B, U] (the next states' gradients) -> dz [B, 4U] (the gates' pre-activation
   *  gradient), dc [B, U]. */
  lstmCellGrad: Record<string, never>;
  /** xw, hu [B, 3U], h [B, U], recurrent bias [3U] (optional) -> next h [B, U] (GRU with resetAfter). */
  gruCell: Record<string, never>;
  /** xw, hu, h, dy [B, U], recurrent bias (optional) -> dxw [B, 3U], dhu [B, 3U], dh [B, U]. */
  gruCellGrad: Record<string, never>;
}

/** The family's ops with several results. */
export type RecurrentMulti = 'lstmCell' | 'lstmCellGrad' | 'gruCellGrad';

/** The addon's entry point (kernels/seq.h). */
export interface RecurrentAddon {
  /**
   * An LSTM (lstm) or GRU step from xw, hu and the state (c or h). LSTM: outs [h, c], or with grad (extra dc,
   * dy dh) [dz, dc]; GRU: outs [h], or with grad (dy) [dxw, dhu, dh]; extra the recurrent bias or null.
   */
  cell(
    lstm: boolean,
    grad: boolean,
    xw: Arr,
    xwOff: number,
    hu: Arr,
    huOff: number,
    state: Arr,
    stateOff: number,
    dy: Arr | null,
    dyOff: number,
    extra: Arr | null,
    extraOff: number,
    outs: Arr[],
    b: number,
    u: number,
  ): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const RECURRENT_EXPORTS = { cell: true } satisfies Record<keyof RecurrentAddon, true>;

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
  const states = withDy
    ? [
        [b, u],
        [b, u],
      ]
    : [];
  requireShapes(op, inputs, ['xw', 'hu', 'c', 'dh', 'dc'], [[b, 4 * u], [b, 4 * u], [b, u], ...states]);
  return { b, u };
}

function gruDims(op: string, inputs: readonly ShapeDType[], withDy: boolean): { b: number; u: number } {
  const { b, u } = cellDims(op, inputs[0], inputs[2], 3);
  const bias = inputs[withDy ? 4 : 3];
  const names = ['xw', 'hu', 'h', ...(withDy ? ['dy'] : []), 'recurrent bias'];
  const shapes = [[b, 3 * u], [b, 3 * u], [b, u], ...(withDy ? [[b, u]] : []), ...(bias ? [[3 * u]] : [])];
  requireShapes(op, inputs, names, shapes);
  return { b, u };
}

type Activation = (x: Tensor) => Tensor;

/** The sigmoid derivative from its output: y (1 - y). */
const dSigmoid = (y: Tensor) => mul(y, sub(1, y));
/** The tanh derivative from its output: 1 - y^2. */
const dTanh = (y: Tensor) => sub(1, mul(y, y));

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

/** The addon call for the four ops: LSTM inputs [xw, hu, c, dh?, dc?], GRU [xw, hu, h, dy?, bias?]. */
const nativeCell = (lstm: boolean, grad: boolean) => (addon: RecurrentAddon) => {
  const arrays = outArrays();
  return (inputs: readonly KernelArg[], outs: readonly KernelArg[]) => {
    const [xw, hu, st] = inputs;
    const dy = grad ? inputs[3] : undefined,
      extra = inputs[grad ? 4 : 3];
    const [b, u] = st.shape;
    addon.cell(
      lstm,
      grad,
      buf(xw),
      xw.offset,
      buf(hu),
      hu.offset,
      buf(st),
      st.offset,
      ...opt(dy),
      ...opt(extra),
      arrays(outs),
      b,
      u,
    );
  };
};

const family = 'recurrent';

export const RECURRENT: FusedSpecs<keyof RecurrentParams> = {
  lstmCell: {
    family,
    inferAll: (inputs) => {
      const { b, u } = lstmDims('lstmCell', inputs, false);
      const state = { shape: [b, u], dtype: inputs[0].dtype };
      return [state, state];
    },
    flops: ([, , c]) => 12 * sizeOf(c.shape),
    composite: ([xw, hu, c]) => {
      const { o, cNext } = lstmForward(xw, hu, c);
      return [mul(o, tanh(cNext)), cNext];
    },
    // A state that received no gradient contributes zeros.
    grad: ([dh, dc], { inputs: [xw, hu, c], outputs: [h, cNext] }) => {
      const [dz, dcPrev] = lstmCellBackward(xw, hu, c, dh ?? zerosLike(h), dc ?? zerosLike(cNext));
      return [dz, dz, dcPrev];
    },
    native: nativeCell(true, false),
  },
  lstmCellGrad: {
    family,
    inferAll: (inputs) => {
      const { b, u } = lstmDims('lstmCellGrad', inputs, true);
      const dtype = inputs[0].dtype;
      return [
        { shape: [b, 4 * u], dtype },
        { shape: [b, u], dtype },
      ];
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
      return [dz, mul(dcTotal, f)];
    },
    grad: THROUGH_COMPOSITE,
    native: nativeCell(true, true),
  },
  gruCell: {
    family,
    infer: (inputs) => {
      const { b, u } = gruDims('gruCell', inputs, false);
      return { shape: [b, u], dtype: inputs[0].dtype };
    },
    flops: ([, , h]) => 12 * sizeOf(h.shape),
    composite: ([xw, hu, h, bias]) => {
      const { z, hh } = gruForward(xw, hu, bias);
      return gruMix(z, h, hh);
    },
    grad: (dy, { inputs: [xw, hu, h, bias] }) => {
      const [dxw, dhu, dh] = gruCellBackward(xw, hu, h, dy, bias ?? null);
      return bias ? [dxw, dhu, dh, dhu] : [dxw, dhu, dh];
    },
    native: (addon) => singleResult(nativeCell(false, false)(addon)),
  },
  gruCellGrad: {
    family,
    inferAll: (inputs) => {
      const { b, u } = gruDims('gruCellGrad', inputs, true);
      const dtype = inputs[0].dtype;
      return [
        { shape: [b, 3 * u], dtype },
        { shape: [b, 3 * u], dtype },
        { shape: [b, u], dtype },
      ];
    },
    flops: ([, , h]) => 25 * sizeOf(h.shape),
    composite: ([xw, hu, h, dy, bias]) => {
      const { z, r, hh, ih } = gruForward(xw, hu, bias);
      const dzz = mul(mul(dy, sub(h, hh)), dSigmoid(z));
      const da = mul(mul(dy, sub(1, z)), dTanh(hh));
      const dzr = mul(mul(da, ih), dSigmoid(r));
      return [concat([dzz, dzr, da], 1), concat([dzz, dzr, mul(da, r)], 1), mul(dy, z)];
    },
    grad: THROUGH_COMPOSITE,
    native: nativeCell(false, true),
  },
};

const run = fusedRunner(RECURRENT);

/** One LSTM step (sigmoid gates, tanh activations): xw, hu [B, 4U], c [B, U] -> next h and c [B, U]. */
export function lstmCell(xw: Tensor, hu: Tensor, c: Tensor): { h: Tensor; c: Tensor } {
  const [h, cNext] = run('lstmCell', [xw, hu, c], {});
  return { h, c: cNext };
}

/**
 * The gradient of lstmCell for the next states' gradients dh, dc [B, U]: dz [B, 4U] (for xw and hu alike) and dc
 * [B, U].
 */
export function lstmCellBackward(xw: Tensor, hu: Tensor, c: Tensor, dh: Tensor, dc: Tensor): [Tensor, Tensor] {
  const [dz, dcPrev] = run('lstmCellGrad', [xw, hu, c, dh, dc], {});
  return [dz, dcPrev];
}

/** One GRU step (resetAfter, sigmoid gates, tanh): xw, hu [B, 3U], h [B, U], recurrent bias [3U] -> next h. */
export function gruCell(xw: Tensor, hu: Tensor, h: Tensor, recurrentBias: Tensor | null): Tensor {
  return run('gruCell', recurrentBias ? [xw, hu, h, recurrentBias] : [xw, hu, h], {});
}

/** The gradient of gruCell for dy [B, U]: dxw, dhu [B, 3U] (dhu also the recurrent bias's, per row) and dh. */
export function gruCellBackward(
  xw: Tensor,
  hu: Tensor,
  h: Tensor,
  dy: Tensor,
  recurrentBias: Tensor | null,
): [Tensor, Tensor, Tensor] {
  const [dxw, dhu, dh] = run('gruCellGrad', recurrentBias ? [xw, hu, h, dy, recurrentBias] : [xw, hu, h, dy], {});
  return [dxw, dhu, dh];
}
