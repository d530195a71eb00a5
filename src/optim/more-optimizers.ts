// Keras' Nadam, Adamax, Adadelta and Lion with Keras' defaults, each a chain of clipping, its direction
// (more-transforms.ts), the learning rate and decoupled weight decay, like the optimizers in optimizer.ts.
import {
  OPTIMIZERS,
  kerasOptimizer,
  type AdamFamilyOptions,
  type BaseOptimizerOptions,
  type Optimizer,
} from './optimizer.js';
import { checkRange, scaleByLearningRate, type GradientTransformation } from './transforms.js';
import { scaleByAdadelta, scaleByAdamax, scaleByLion, scaleByNadam } from './more-transforms.js';

/** An optimizer of Adam's options (beta1, beta2, epsilon with Keras' defaults) and the direction they make. */
function adamLike(
  className: string,
  options: AdamFamilyOptions,
  direction: (moments: { b1: number; b2: number; eps: number }) => GradientTransformation,
): Optimizer {
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7 } = options ?? {};
  for (const [k, v] of Object.entries({ beta1, beta2 })) checkRange(className, k, v, 0, 1);
  checkRange(className, 'epsilon', epsilon, 0);
  return kerasOptimizer(
    className,
    options,
    ['beta1', 'beta2', 'epsilon'],
    { learningRate: 0.001 },
    { beta1, beta2, epsilon },
    (lr) => [direction({ b1: beta1, b2: beta2, eps: epsilon }), scaleByLearningRate(lr)],
  );
}

/**
 * Nadam (Adam with Nesterov momentum): learningRate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7. The update
 * is PyTorch's NAdam (momentum decay 0.004), which Keras 3 shares; see scaleByNadam. PyTorch's defaults
 * differ (lr 0.002, eps 1e-8).
 */
export function nadam(options: AdamFamilyOptions = {}): Optimizer {
  return adamLike('Nadam', options, scaleByNadam);
}

/** Adamax (Adam with the infinity norm): learningRate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7 (Keras). */
export function adamax(options: AdamFamilyOptions = {}): Optimizer {
  return adamLike('Adamax', options, scaleByAdamax);
}

export interface AdadeltaOptions extends BaseOptimizerOptions {
  rho?: number;
  epsilon?: number;
}

/** Adadelta: learningRate 0.001, rho 0.95, epsilon 1e-7 (Keras; PyTorch's are 1.0, 0.9 and 1e-6). */
export function adadelta(options: AdadeltaOptions = {}): Optimizer {
  const { rho = 0.95, epsilon = 1e-7 } = options ?? {};
  checkRange('Adadelta', 'rho', rho, 0, 1);
  checkRange('Adadelta', 'epsilon', epsilon, 0);
  return kerasOptimizer('Adadelta', options, ['rho', 'epsilon'], { learningRate: 0.001 }, { rho, epsilon }, (lr) => [
    scaleByAdadelta({ rho, eps: epsilon }),
    scaleByLearningRate(lr),
  ]);
}

export interface LionOptions extends BaseOptimizerOptions {
  beta1?: number;
  beta2?: number;
}

/**
 * Lion: p -= lr (sign(beta1 m + (1 - beta1) g) + weightDecay p); m = beta2 m + (1 - beta2) g. Keras'
 * defaults: learningRate 0.001, beta1 0.9, beta2 0.99 (the paper suggests a 3-10x smaller rate than Adam's).
 */
export function lion(options: LionOptions = {}): Optimizer {
  const { beta1 = 0.9, beta2 = 0.99 } = options ?? {};
  checkRange('Lion', 'beta1', beta1, 0, 1);
  checkRange('Lion', 'beta2', beta2, 0, 1);
  return kerasOptimizer('Lion', options, ['beta1', 'beta2'], { learningRate: 0.001 }, { beta1, beta2 }, (lr) => [
    scaleByLion({ b1: beta1, b2: beta2 }),
    scaleByLearningRate(lr),
  ]);
}

// Registered here rather than in optimizer.ts, which this module imports (no import cycle).
OPTIMIZERS.add('nadam', nadam).add('adamax', adamax).add('adadelta', adadelta).add('lion', lion);
