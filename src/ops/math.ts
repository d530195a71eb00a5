// Trigonometric and logarithmic functions beyond the primitive set: tan, asin, acos, atan2 and log2 are
// composed from sin, cos, atan, sqrt and log, so their gradients come from the table's rules.
import { Tensor } from '../tensor/tensor.js';
import { isFloat } from '../tensor/dtype.js';
import { DTypeError, fmtShape } from '../errors.js';
import { runPrimitive } from './dispatch.js';
import { abs, add, cast, cos, div, equal, greaterEqual, less, log, mul, sin, sqrt, sub, where } from './elementwise.js';
import { asTensor } from './creation.js';

type Operand = Tensor | number;

/** x as a float tensor (int32 is promoted, as the unary math does; bool is refused). */
function floatOf(op: string, x: Tensor): Tensor {
  if (x.dtype === 'bool') throw new DTypeError(`${op}: expected a numeric tensor, got bool ${fmtShape(x.shape)}`);
  return isFloat(x.dtype) ? x : cast(x, 'float32');
}

export function atan(x: Tensor): Tensor {
  return runPrimitive('atan', [floatOf('atan', x)], {});
}

export function tan(x: Tensor): Tensor {
  const f = floatOf('tan', x);
  return div(sin(f), cos(f));
}

/** sqrt(1 - x^2) as sqrt((1 - x)(1 + x)), which keeps its precision near |x| = 1. */
function cosOfAsin(x: Tensor): Tensor {
  return sqrt(mul(sub(1, x), add(1, x)));
}

/** arcsin on [-1, 1] (NaN outside), as atan2(x, sqrt(1 - x^2)): accurate over the whole range. */
export function asin(x: Tensor): Tensor {
  const f = floatOf('asin', x);
  return atan2(f, cosOfAsin(f));
}

/** arccos on [-1, 1] (NaN outside), as atan2(sqrt(1 - x^2), x). */
export function acos(x: Tensor): Tensor {
  const f = floatOf('acos', x);
  return atan2(cosOfAsin(f), f);
}

/**
 * The angle of the point (x, y) in [-pi, pi], elementwise with broadcasting (NumPy / PyTorch atan2(y, x)).
 * Where |x| >= |y| it is atan(y / x) (moved by +-pi when x < 0), elsewhere sign(y) pi / 2 - atan(x / y):
 * the ratio is at most 1 in size, and each branch divides by a safe value, so the branch not taken has a
 * finite gradient (0 * inf would be NaN). 0 at the origin.
 */
export function atan2(y: Operand, x: Operand): Tensor {
  const ty = y instanceof Tensor ? floatOf('atan2', y) : asTensor(y, x instanceof Tensor ? x.dtype : 'float32');
  const tx = x instanceof Tensor ? floatOf('atan2', x) : asTensor(x, ty.dtype);
  const useX = greaterEqual(abs(tx), abs(ty));
  // +1 where y >= 0, else -1, in the operands' dtype (a float32 pi would lose float64 precision).
  const side = sub(mul(cast(greaterEqual(ty, 0), ty.dtype), 2), 1);
  const fromX = atan(div(ty, where(useX, where(equal(tx, 0), 1, tx), 1)));
  const fromY = sub(mul(side, Math.PI / 2), atan(div(tx, where(useX, 1, ty))));
  return where(useX, where(less(tx, 0), add(fromX, mul(side, Math.PI)), fromX), fromY);
}

export function log2(x: Tensor): Tensor {
  return div(log(floatOf('log2', x)), Math.LN2);
}
