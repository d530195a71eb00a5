// The int8 family: Dense and Conv2D on int8 weights with per-channel scales and uint8 activations, for inference.
// Each op quantises its float input, multiplies in integers and requantises in one kernel; the composite below is the
// exact reference every kernel must match bit for bit.
//
// Arithmetic, shared by the composite and every kernel (kernels/quantized.h):
//   q[i, k] = clamp(roundHalfEven(fround(x[i, k] * fround(1 / inputScale))) + inputZeroPoint, 0, 255)    (uint8)
//   acc[i, j] = sum_k (q[i, k] - inputZeroPoint) * w[k, j]                                   (exact, int32)
//   y[i, j] = activation(fround(fround(fround(acc[i, j]) * scale[j]) + bias[j]))            (float32, no FMA)
// where scale[j] = fround(inputScale * weightScale[j]) is precomputed by the layer. Padding of a convolution is
// the zero point in uint8 (real 0), so it adds nothing to acc. uint8 cannot represent NaN: an input holding one
// raises ArgumentError (the composite checks x; the native kernels note NaN during their quantise pass).
//
// fakeQuantize (quantisation-aware training) simulates that arithmetic in float, quantising with the same reciprocal:
//   fakeQuantize(x) = (clamp(roundHalfEven(fround(x * fround(1 / s))) + z, quantMin, quantMax) - z) * s
// with s, z per tensor (s, z of shape []) or per channel along the last axis (shape [C]). Its gradient is the
// straight-through estimator: dy where roundHalfEven(x / s) + z is in [quantMin, quantMax], 0 outside; none for s
// and z, whose values come from observers (fixed within a step) rather than being learnt.
import type { Tensor } from '../../tensor/tensor.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import { NO_GRADIENT } from '../../autograd/rule-kinds.js';
import type { ShapeDType } from '../primitives.js';
import { requireFloat } from '../checks.js';
import {
  add,
  cast,
  clip,
  greaterEqual,
  lessEqual,
  logicalAnd,
  mul,
  notEqual,
  reciprocal,
  relu,
  round,
  sub,
  where,
} from '../elementwise.js';
import { matmul } from '../linalg.js';
import { sum } from '../reduce.js';
import { reshape } from '../views.js';
import { windowOutputSize } from '../windows.js';
import { conv2d, type Conv2DParams } from './conv.js';
import { buf, convArgs } from './native-args.js';

/** How the float input is quantised, and what follows the requantisation. */
export interface QuantizedInputParams {
  /** The input's real value per uint8 step (per tensor, from calibration); > 0. */
  readonly inputScale: number;
  /** The uint8 code of real 0, an integer in [0, 255]. */
  readonly inputZeroPoint: number;
  readonly activation: QuantizedActivation;
}

/** Activations fused into the requantisation; others run after the op in float. */
export type QuantizedActivation = 'linear' | 'relu';
export const QUANTIZED_ACTIVATIONS: readonly QuantizedActivation[] = ['linear', 'relu'];

export interface QuantizedParams {
  /** x float32 [m, k], w int8 [k, n], scale float32 [n], bias float32 [n] -> float32 [m, n]. */
  quantizedMatmul: QuantizedInputParams;
  /** x float32 [N, H, W, Cin], w int8 [kh, kw, Cin, Cout], scale [Cout], bias [Cout] -> [N, Ho, Wo, Cout]. */
  quantizedConv2d: QuantizedInputParams & Conv2DParams;
  /** x float [..., C], scale and zeroPoint [] or [C] (x's dtype; zeroPoint holds integers) -> x's shape. */
  fakeQuantize: FakeQuantizeParams;
}

/** The integer codes a fake-quantised tensor may take: [0, 255] for uint8 inputs, [-127, 127] for int8 weights. */
export interface FakeQuantizeParams {
  readonly quantMin: number;
  readonly quantMax: number;
}

/** One int8 entry point: x, w, scale and bias (each with its offset), the output and the shape parameters. */
type QuantizedEntry = (
  x: Arr,
  xOff: number,
  w: Arr,
  wOff: number,
  scale: Arr,
  scaleOff: number,
  bias: Arr,
  biasOff: number,
  out: Arr,
  params: Float64Array,
) => boolean;

/** The addon's entry points (kernels/quantized.h, napi_quantized.h); params end with inverseScale, zeroPoint, relu. */
export interface QuantizedAddon {
  /** params: [m, k, n, inverseScale, zeroPoint, relu]. Returns whether x held a NaN (out is then unwritten). */
  quantizedMatmul: QuantizedEntry;
  /** params: conv2d's 15 (native-args convArgs), then inverseScale, zeroPoint, relu. Returns as quantizedMatmul. */
  quantizedConv2d: QuantizedEntry;
  /**
   * The int8 kernels' instruction set ('avx512vnni', 'avx512', 'avx2', 'scalar') and those this CPU runs; a name
   * selects one until the backend's ISA changes ('' = the best for it). For tests.
   */
  quantizedIsa(name?: string): { readonly isa: string; readonly available: readonly string[] };
}

/** The names above, as a value (the addon's exports are checked against them). */
export const QUANTIZED_EXPORTS = {
  quantizedMatmul: true,
  quantizedConv2d: true,
  quantizedIsa: true,
} satisfies Record<keyof QuantizedAddon, true>;

/** Writes the quantisation parameters at `at` (the kernel rounds the inverse scale to float32 as the reference). */
function quantizedArgs(into: Float64Array, at: number, p: QuantizedInputParams): Float64Array {
  into[at] = Math.fround(1 / p.inputScale);
  into[at + 1] = p.inputZeroPoint;
  into[at + 2] = p.activation === 'relu' ? 1 : 0;
  return into;
}

/** The error for an input holding NaN, which no uint8 code represents (every backend raises it). */
function nanError(op: string, shape: readonly number[]): ArgumentError {
  return new ArgumentError(`${op}: input ${fmtShape(shape)} contains NaN; int8 cannot represent it`);
}

/** Throws nanError when x holds a NaN (the composite's check; the kernels find NaN while quantising). */
function checkNoNaN(op: string, x: Tensor): void {
  if (sum(cast(notEqual(x, x), 'int32')).dataSync()[0] > 0) throw nanError(op, x.shape);
}

const matmulScratch = new Float64Array(6);
const convScratch = new Float64Array(18);

/** Runs one int8 entry point on the op's four operands and raises the op's error when the input held a NaN. */
function runEntry(
  op: keyof QuantizedParams,
  entry: QuantizedEntry,
  [x, w, scale, bias]: readonly KernelArg[],
  o: KernelArg,
  params: Float64Array,
): void {
  const nan = entry(
    buf(x),
    x.offset,
    buf(w),
    w.offset,
    buf(scale),
    scale.offset,
    buf(bias),
    bias.offset,
    buf(o),
    params,
  );
  if (nan) throw nanError(op, x.shape);
}

/** The native adapters: one kernel call each, arguments in reused scratch (the addon keeps no reference). */
const nativeMatmul =
  (addon: QuantizedAddon) => (inputs: readonly KernelArg[], o: KernelArg, p: QuantizedInputParams) => {
    const [x, w] = inputs;
    matmulScratch[0] = x.shape[0];
    matmulScratch[1] = x.shape[1];
    matmulScratch[2] = w.shape[1];
    runEntry('quantizedMatmul', addon.quantizedMatmul, inputs, o, quantizedArgs(matmulScratch, 3, p));
  };

const nativeConv2d =
  (addon: QuantizedAddon) => (inputs: readonly KernelArg[], o: KernelArg, p: QuantizedParams['quantizedConv2d']) => {
    const [x, w] = inputs;
    const params = quantizedArgs(convArgs(convScratch, x.shape, w.shape, o.shape, p), 15, p);
    runEntry('quantizedConv2d', addon.quantizedConv2d, inputs, o, params);
  };

function checkParams(op: string, p: QuantizedInputParams): void {
  if (!(Number.isFinite(p.inputScale) && p.inputScale > 0))
    throw new ArgumentError(`${op}: inputScale must be a positive finite number, got ${p.inputScale}`);
  if (!Number.isInteger(p.inputZeroPoint) || p.inputZeroPoint < 0 || p.inputZeroPoint > 255)
    throw new ArgumentError(`${op}: inputZeroPoint must be an integer in [0, 255], got ${p.inputZeroPoint}`);
  if (!QUANTIZED_ACTIVATIONS.includes(p.activation))
    throw new ArgumentError(
      `${op}: activation must be one of ${QUANTIZED_ACTIVATIONS.join(', ')}, got ${p.activation}`,
    );
}

/** Checks the dtypes and that scale and bias have one value per output channel; returns that count. */
function checkOperands(op: string, [x, w, scale, bias]: readonly ShapeDType[], wRank: number): number {
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: input must be float32, got ${x.dtype} ${fmtShape(x.shape)}`);
  if (w.dtype !== 'int8') throw new DTypeError(`${op}: weights must be int8, got ${w.dtype} ${fmtShape(w.shape)}`);
  if (w.shape.length !== wRank) throw new ShapeError(`${op}: weights must be ${wRank}-D, got ${fmtShape(w.shape)}`);
  const channels = w.shape[wRank - 1];
  for (const [what, t] of [
    ['scale', scale],
    ['bias', bias],
  ] as const) {
    if (t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== channels)
      throw new ShapeError(
        `${op}: ${what} must be float32 [${channels}] (one per output channel of weights ${fmtShape(w.shape)}), ` +
          `got ${t.dtype} ${fmtShape(t.shape)}`,
      );
  }
  return channels;
}

/** The uint8 codes of x minus the zero point, as float64 (exact small integers). */
export function quantizeCentered(x: Tensor, p: QuantizedInputParams): Tensor {
  const inverse = Math.fround(1 / p.inputScale);
  const codes = clip(add(round(mul(x, inverse)), p.inputZeroPoint), 0, 255);
  return cast(sub(codes, p.inputZeroPoint), 'float64');
}

/** float32 accumulators (exact integers held in float64, rounded once) to the op's output. */
function requantize(acc: Tensor, scale: Tensor, bias: Tensor, activation: QuantizedActivation): Tensor {
  const y = add(mul(cast(acc, 'float32'), scale), bias);
  return activation === 'relu' ? relu(y) : y;
}

/** The integer codes of x before clamping: roundHalfEven(fround(x * fround(1 / scale))) + zeroPoint. */
function unclampedCodes(x: Tensor, scale: Tensor, zeroPoint: Tensor): Tensor {
  return add(round(mul(x, reciprocal(scale))), zeroPoint);
}

function checkFakeQuantize([x, scale, zeroPoint]: readonly ShapeDType[], p: FakeQuantizeParams): ShapeDType {
  requireFloat('fakeQuantize', x, 'x');
  if (!Number.isInteger(p.quantMin) || !Number.isInteger(p.quantMax) || p.quantMin >= p.quantMax)
    throw new ArgumentError(
      `fakeQuantize: quantMin and quantMax must be integers with quantMin < quantMax, got ${p.quantMin}, ${p.quantMax}`,
    );
  const channels = x.shape[x.shape.length - 1];
  for (const [what, t] of [
    ['scale', scale],
    ['zeroPoint', zeroPoint],
  ] as const) {
    const perTensor = t.shape.length === 0;
    const perChannel = t.shape.length === 1 && x.shape.length > 0 && t.shape[0] === channels;
    if (t.dtype !== x.dtype || !(perTensor || perChannel))
      throw new ShapeError(
        `fakeQuantize: ${what} must be ${x.dtype} [] (per tensor) or [${channels ?? 'C'}] (per channel along the ` +
          `last axis of x ${fmtShape(x.shape)}), got ${t.dtype} ${fmtShape(t.shape)}`,
      );
  }
  return x;
}

export const QUANTIZED: FusedSpecs<keyof QuantizedParams> = {
  fakeQuantize: {
    family: 'quantized',
    infer: checkFakeQuantize,
    // multiply, round, add, clamp (2), subtract, multiply
    flops: ([x]) => 7 * sizeOf(x.shape),
    composite: ([x, scale, zeroPoint], { quantMin, quantMax }) =>
      mul(sub(clip(unclampedCodes(x, scale, zeroPoint), quantMin, quantMax), zeroPoint), scale),
    // Straight-through estimator (PyTorch's FakeQuantize, TF's fake_quant_with_min_max_vars): the rounding passes
    // dy unchanged, the clamp stops it. scale and zeroPoint get none: the observers set them, not the optimizer.
    grad: (dy, { inputs: [x, scale, zeroPoint], params: { quantMin, quantMax } }) => {
      const codes = unclampedCodes(x, scale, zeroPoint);
      const inside = logicalAnd(greaterEqual(codes, quantMin), lessEqual(codes, quantMax));
      return [where(inside, dy, 0), null, null];
    },
  },
  quantizedMatmul: {
    family: 'quantized',
    infer: (inputs, p) => {
      checkParams('quantizedMatmul', p);
      const [x, w] = inputs;
      const n = checkOperands('quantizedMatmul', inputs, 2);
      if (x.shape.length !== 2 || x.shape[1] !== w.shape[0])
        throw new ShapeError(
          `quantizedMatmul: input ${fmtShape(x.shape)} must be [m, ${w.shape[0]}] for weights ${fmtShape(w.shape)}`,
        );
      return { shape: [x.shape[0], n], dtype: 'float32' };
    },
    // Integer multiply-adds, counted as the float op would be so a run's operation count does not depend on bits.
    flops: ([x], out) => 2 * sizeOf(out.shape) * x.shape[1],
    composite: ([x, w, scale, bias], p) => {
      checkNoNaN('quantizedMatmul', x);
      return requantize(matmul(quantizeCentered(x, p), cast(w, 'float64')), scale, bias, p.activation);
    },
    grad: NO_GRADIENT,
    native: nativeMatmul,
  },
  quantizedConv2d: {
    family: 'quantized',
    infer: (inputs, p) => {
      checkParams('quantizedConv2d', p);
      const [x, w] = inputs;
      const cout = checkOperands('quantizedConv2d', inputs, 4);
      if (x.shape.length !== 4 || x.shape[3] !== w.shape[2])
        throw new ShapeError(
          `quantizedConv2d: input ${fmtShape(x.shape)} must be [N, H, W, ${w.shape[2]}] for weights ` +
            `${fmtShape(w.shape)} ([kh, kw, inChannels, outChannels])`,
        );
      const ho = windowOutputSize('quantizedConv2d', x.shape[1], w.shape[0], p.strides[0], p.dilations[0], p.pads[0]);
      const wo = windowOutputSize('quantizedConv2d', x.shape[2], w.shape[1], p.strides[1], p.dilations[1], p.pads[1]);
      return { shape: [x.shape[0], ho, wo, cout], dtype: 'float32' };
    },
    flops: ([, w], out) => 2 * sizeOf(out.shape) * w.shape[0] * w.shape[1] * w.shape[2],
    composite: ([x, w, scale, bias], p) => {
      checkNoNaN('quantizedConv2d', x);
      const { strides, dilations, pads } = p;
      // float64 convolution of small integers is exact whatever the summation order.
      const acc = conv2d(quantizeCentered(x, p), cast(w, 'float64'), { strides, dilations, padding: pads });
      const [n, ho, wo, cout] = acc.shape;
      const y = requantize(reshape(acc, [n * ho * wo, cout]), scale, bias, p.activation);
      return reshape(y, acc.shape);
    },
    grad: NO_GRADIENT,
    native: nativeConv2d,
  },
};

const run = fusedRunner(QUANTIZED);

/**
 * Fake quantisation for quantisation-aware training (see the arithmetic at the top of this file): x rounded to the
 * grid of `scale` (per tensor: shape []; per channel along x's last axis: [C]) offset by `zeroPoint`, clamped to
 * codes [quantMin, quantMax], back in float. Gradient: straight-through inside the range, 0 outside.
 */
export function fakeQuantize(x: Tensor, scale: Tensor, zeroPoint: Tensor, params: FakeQuantizeParams): Tensor {
  return run('fakeQuantize', [x, scale, zeroPoint], params);
}

/** int8 Dense: see the arithmetic at the top of this file. */
export function quantizedMatmul(
  x: Tensor,
  w: Tensor,
  scale: Tensor,
  bias: Tensor,
  params: QuantizedParams['quantizedMatmul'],
): Tensor {
  return run('quantizedMatmul', [x, w, scale, bias], params);
}

/** int8 Conv2D (NHWC, Keras' filter layout); pads are explicit (resolve 'same'/'valid' with resolvePadding). */
export function quantizedConv2d(
  x: Tensor,
  w: Tensor,
  scale: Tensor,
  bias: Tensor,
  params: QuantizedParams['quantizedConv2d'],
): Tensor {
  return run('quantizedConv2d', [x, w, scale, bias], params);
}
