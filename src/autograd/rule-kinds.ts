// What a gradient rule is: the types and the two markers every rule table uses. A leaf module, so the op
// families can state their rules at load time whatever order the modules load in.
import type { Tensor } from '../tensor/tensor.js';

export interface RuleContext<P> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly params: P;
  /**
   * Whether each input needs a gradient (it depends on a differentiated input); a rule may return null for the
   * others.
   */
  readonly needsGrad: readonly boolean[];
}

export type GradRule<P> = (dy: Tensor, ctx: RuleContext<P>) => readonly (Tensor | null)[];

/** The context of an op with several results: every output instead of one. */
export interface MultiRuleContext<P> extends Omit<RuleContext<P>, 'output'> {
  readonly outputs: readonly Tensor[];
}

/**
 * The rule of an op with several results: one cotangent per output, undefined where none flowed (a rule
 * reads a missing one as zeros).
 */
export type MultiGradRule<P> = (
  dys: readonly (Tensor | undefined)[],
  ctx: MultiRuleContext<P>,
) => readonly (Tensor | null)[];

/** No gradient flows (integer or boolean results, or piecewise-constant functions). */
export const NO_GRADIENT = 'none' as const;
/** Differentiate the op's composite default (used for fused ops without a hand-written rule). */
export const THROUGH_COMPOSITE = 'composite' as const;

/** An op's entry in a rule table. */
export type RuleEntry<P> = GradRule<P> | typeof NO_GRADIENT | typeof THROUGH_COMPOSITE;

/** The entry of an op with several results. */
export type MultiRuleEntry<P> = MultiGradRule<P> | typeof NO_GRADIENT | typeof THROUGH_COMPOSITE;
