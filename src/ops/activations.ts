// Activation functions beyond elementwise.ts, composed from its ops (so their gradients come from the
// table): mish, hardSwish, logSigmoid and softsign, with PyTorch's definitions (which Keras shares).
import type { Tensor } from '../tensor/tensor.js';
import { abs, add, clip, div, mul, neg, softplus, tanh } from './elementwise.js';

/** x tanh(softplus(x)) (Misra 2019). */
export function mish(x: Tensor): Tensor {
  return mul(x, tanh(softplus(x)));
}

/** x relu6(x + 3) / 6 (MobileNetV3): 0 below -3, x above 3. */
export function hardSwish(x: Tensor): Tensor {
  return mul(x, div(clip(add(x, 3), 0, 6), 6));
}

/** log(sigmoid(x)) = -softplus(-x), finite for any x. */
export function logSigmoid(x: Tensor): Tensor {
  return neg(softplus(neg(x)));
}

/** x / (1 + |x|). */
export function softsign(x: Tensor): Tensor {
  return div(x, add(abs(x), 1));
}
