// Elementwise ops: unary math, arithmetic with dtype promotion and broadcasting, comparisons, and the
// activation functions composed from them.
import { Tensor } from '../tensor/tensor.js';
import { promoteTypes, isFloat, type DType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { runPrimitive } from './dispatch.js';
import { asTensor } from './creation.js';
import type { BinaryOp, CompareOp, UnaryOp } from './primitives.js';

type Operand = Tensor | number;

export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : runPrimitive('cast', [x], { dtype });
}

/** Both operands as tensors of one dtype; plain numbers adopt the tensor's dtype. */
function align(a: Operand | boolean, b: Operand | boolean): [Tensor, Tensor] {
  const ta = a instanceof Tensor ? a : undefined;
  const tb = b instanceof Tensor ? b : undefined;
  const x = ta ?? asTensor(a, tb?.dtype);
  const y = tb ?? asTensor(b, x.dtype);
  const dtype = promoteTypes(x.dtype, y.dtype);
  return [cast(x, dtype), cast(y, dtype)];
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  // Integer inputs to float math are promoted, as NumPy does.
  if (op !== 'logicalNot' && !isFloat(x.dtype)) {
    if (x.dtype === 'bool') throw new DTypeError(`${op}: expected a numeric tensor, got bool ${fmtShape(x.shape)}`);
    x = cast(x, 'float32');
  }
  return runPrimitive(op, [x], {});
}

function binary(op: BinaryOp | CompareOp, a: Operand | boolean, b: Operand | boolean): Tensor {
  const [x, y] = align(a, b);
  return runPrimitive(op, [x, y], {});
}

export const neg = (x: Tensor) => (x.dtype === 'int32' ? mul(x, -1) : unary('neg', x));
export const abs = (x: Tensor) => unary('abs', x);
export const sign = (x: Tensor) => unary('sign', x);
export const exp = (x: Tensor) => unary('exp', x);
export const expm1 = (x: Tensor) => unary('expm1', x);
export const log = (x: Tensor) => unary('log', x);
export const log1p = (x: Tensor) => unary('log1p', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
export const erf = (x: Tensor) => unary('erf', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);
export const round = (x: Tensor) => unary('round', x);
export const logicalNot = (x: Tensor) => unary('logicalNot', x);

export const add = (a: Operand, b: Operand) => binary('add', a, b);
export const sub = (a: Operand, b: Operand) => binary('sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('mul', a, b);
/** True division for floats; floor division for int32 (as TF.js does). */
export const div = (a: Operand, b: Operand) => binary('div', a, b);
export const pow = (a: Operand, b: Operand) => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand) => binary('minimum', a, b);
export const equal = (a: Operand, b: Operand) => binary('equal', a, b);
export const notEqual = (a: Operand, b: Operand) => binary('notEqual', a, b);
export const less = (a: Operand, b: Operand) => binary('less', a, b);
export const lessEqual = (a: Operand, b: Operand) => binary('lessEqual', a, b);
export const greater = (a: Operand, b: Operand) => binary('greater', a, b);
export const greaterEqual = (a: Operand, b: Operand) => binary('greaterEqual', a, b);
export const logicalAnd = (a: Tensor | boolean, b: Tensor | boolean) => binary('logicalAnd', a, b);
export const logicalOr = (a: Tensor | boolean, b: Tensor | boolean) => binary('logicalOr', a, b);

export const square = (x: Tensor) => mul(x, x);

/** cond ? a : b elementwise, with broadcasting over all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = align(a, b);
  return runPrimitive('where', [cond, x, y], {});
}

export function clip(x: Tensor, min: number, max: number): Tensor {
  return minimum(maximum(x, min), max);
}

export function leakyRelu(x: Tensor, alpha = 0.2): Tensor {
  return where(greater(x, 0), x, mul(x, alpha));
}

export function elu(x: Tensor, alpha = 1): Tensor {
  // expm1 of min(x, 0) keeps the unused branch finite, so its gradient does not turn into NaN.
  return where(greater(x, 0), x, mul(expm1(minimum(x, 0)), alpha));
}

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
export function selu(x: Tensor): Tensor {
  return mul(elu(x, SELU_ALPHA), SELU_SCALE);
}

/** Exact GELU x * Phi(x) by default (Keras' approximate=false); tanh approximation on request. */
export function gelu(x: Tensor, approximate = false): Tensor {
  if (approximate) {
    const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

export interface SoftplusOptions {
  /** Computes log(1 + e^(beta x)) / beta (PyTorch's beta; default 1). */
  beta?: number;
  /**
   * Where beta x > threshold the result is x itself (PyTorch's threshold, default 20 there). Unset by
   * default: the exact value everywhere, as Keras computes it.
   */
  threshold?: number;
}

/** log(1 + e^x), computed as relu(x) + log1p(e^-|x|) so it neither overflows nor loses precision. */
export function softplus(x: Tensor, { beta = 1, threshold }: SoftplusOptions = {}): Tensor {
  if (!(Number.isFinite(beta) && beta > 0))
    throw new ArgumentError(`softplus: beta must be a positive number, got ${beta}`);
  if (threshold !== undefined && Number.isNaN(threshold))
    throw new ArgumentError(`softplus: threshold must be a number, got ${threshold}`);
  const z = beta === 1 ? x : mul(x, beta);
  // -|z| as minimum(z, -z): on the tie at z = 0 the gradient goes to z, which gives softplus'(0) = 1/2
  // (abs'(0) = 0 and relu'(0) = 0 would make it 0).
  const exact = add(relu(z), log1p(exp(minimum(z, neg(z)))));
  const scaled = beta === 1 ? exact : div(exact, beta);
  return threshold === undefined ? scaled : where(greater(z, threshold), x, scaled);
}

export function swish(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}
