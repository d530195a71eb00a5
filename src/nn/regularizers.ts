// Weight regularizers (Keras l1, l2, l1l2): a penalty added to the training loss.
import type { Tensor } from '../tensor/tensor.js';
import { abs, add, mul, square } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { ArgumentError } from '../errors.js';

export interface Regularizer {
  (weight: Tensor): Tensor;
  readonly config: { className: 'L1L2'; l1: number; l2: number };
}

/** penalty = l1 * sum(|w|) + l2 * sum(w^2), as Keras. */
export function l1l2({ l1 = 0, l2 = 0 }: { l1?: number; l2?: number } = {}): Regularizer {
  const fn = (w: Tensor) => {
    let penalty: Tensor | undefined;
    if (l1 !== 0) penalty = mul(sum(abs(w)), l1);
    if (l2 !== 0) {
      const p2 = mul(sum(square(w)), l2);
      penalty = penalty ? add(penalty, p2) : p2;
    }
    return penalty ?? mul(sum(w), 0);
  };
  return Object.assign(fn, { config: { className: 'L1L2' as const, l1, l2 } });
}

export const l1 = (l1 = 0.01) => l1l2({ l1 });
export const l2 = (l2 = 0.01) => l1l2({ l2 });

export type RegularizerSpec = Regularizer | 'l1' | 'l2' | 'l1l2' | { className: 'L1L2'; l1?: number; l2?: number };

export function getRegularizer(spec: RegularizerSpec | undefined | null): Regularizer | undefined {
  if (spec == null) return undefined;
  if (typeof spec === 'function') return spec;
  if (spec === 'l1') return l1();
  if (spec === 'l2') return l2();
  if (spec === 'l1l2') return l1l2({ l1: 0.01, l2: 0.01 });
  if (typeof spec === 'object' && spec.className === 'L1L2') return l1l2(spec);
  throw new ArgumentError(
    `getRegularizer: unknown regularizer ${JSON.stringify(spec)}; expected 'l1', 'l2', 'l1l2' or a config`,
  );
}
