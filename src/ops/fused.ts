// Fused ops: ops with a composite default built from primitives, which a backend may replace by one
// kernel (Backend.fused) that must match the composite. Each family of them lives in one module of
// src/ops/families/ (params, specs, functions, gradient rules, native adapter); families/index.ts lists
// the families, and everything that must agree with them (support tables, meter families, docs) is
// derived from the specs there.
import type { Tensor } from '../tensor/tensor.js';
import { noGrad, record } from '../autograd/tape.js';
import { THROUGH_COMPOSITE, type MultiRuleEntry, type RuleEntry } from '../autograd/rule-kinds.js';
import type { Kernel, MultiKernel } from '../backends/backend.js';
import type { NativeAddon } from '../backends/native/addon.js';
import { tryFused, tryFusedMulti } from './dispatch.js';
import type { ShapeDType } from './primitives.js';
import type { FusedName, FusedParams, MultiFusedName } from './families/index.js';

/** One fused op: its shape rule, cost model, composite default, gradient and (optional) native kernel. */
export interface FusedSpec<P> {
  /** The op family the ledger's meter groups it under ('convolution', 'attention', ...). */
  readonly family: string;
  infer(inputs: readonly ShapeDType[], params: P): ShapeDType;
  /** The FLOPs the composite's primitives count, so a run's FLOPs do not depend on fusion. */
  flops(inputs: readonly ShapeDType[], out: ShapeDType, params: P): number;
  composite(inputs: readonly Tensor[], params: P): Tensor;
  /** A hand rule, none, or differentiate the composite. */
  readonly grad: RuleEntry<P>;
  /** The native backend's kernel: an adapter from KernelArgs to the addon's entry point for the family. */
  readonly native?: (addon: NativeAddon) => Kernel<P>;
}

/**
 * A fused op with several results (dx and dgamma, the next h and c, ...): each its own tensor, made by one
 * kernel call into one output buffer each and recorded as one tape node.
 */
export interface MultiFusedSpec<P> {
  readonly family: string;
  /** Every result's shape and dtype, in order. */
  inferAll(inputs: readonly ShapeDType[], params: P): ShapeDType[];
  flops(inputs: readonly ShapeDType[], outs: readonly ShapeDType[], params: P): number;
  composite(inputs: readonly Tensor[], params: P): Tensor[];
  /** A hand rule (one cotangent per result), none, or differentiate the composite. */
  readonly grad: MultiRuleEntry<P>;
  readonly native?: (addon: NativeAddon) => MultiKernel<P>;
}

/** A fused op's spec: a MultiFusedSpec for the ops with several results. */
export type FusedSpecOf<F extends FusedName> = F extends MultiFusedName
  ? MultiFusedSpec<FusedParams[F]>
  : FusedSpec<FusedParams[F]>;

/** What a fused op returns: several tensors for the ops with several results. */
export type FusedResult<F extends FusedName> = F extends MultiFusedName ? Tensor[] : Tensor;

/** A family's specs, keyed by op name. */
export type FusedSpecs<N extends FusedName> = { readonly [F in N]: FusedSpecOf<F> };

/** Whether a spec is one of an op with several results. */
export const isMultiSpec = <P>(spec: FusedSpec<P> | MultiFusedSpec<P>): spec is MultiFusedSpec<P> => 'inferAll' in spec;

/** Checks a fused op's inputs and runs the backend's kernel for it; undefined when the backend has none. */
export function tryFusedKernel<F extends FusedName>(
  op: F,
  spec: FusedSpecOf<F>,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): FusedResult<F> | undefined {
  for (const t of inputs) t.assertLive(op);
  const s = spec as FusedSpec<FusedParams[F]> | MultiFusedSpec<FusedParams[F]>;
  if (isMultiSpec(s)) {
    const infos = s.inferAll(inputs, params);
    return tryFusedMulti(op, inputs, params, infos, s.flops(inputs, infos, params)) as FusedResult<F> | undefined;
  }
  const info = s.infer(inputs, params);
  return tryFused(op, inputs, params, info, s.flops(inputs, info, params)) as FusedResult<F> | undefined;
}

/**
 * Runs a fused op: the backend's kernel when it has one, else the composite default. An op with a hand
 * gradient rule is recorded as itself either way (its composite's primitives are not), so every backend
 * differentiates it by that rule.
 */
export function runFused<F extends FusedName>(
  op: F,
  spec: FusedSpecOf<F>,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): FusedResult<F> {
  const fused = tryFusedKernel(op, spec, inputs, params);
  if (fused) return fused;
  const s = spec as FusedSpec<FusedParams[F]> | MultiFusedSpec<FusedParams[F]>;
  if (s.grad === THROUGH_COMPOSITE) return s.composite(inputs, params) as FusedResult<F>;
  const out = noGrad(() => s.composite(inputs, params));
  record(op, inputs, out, params);
  return out as FusedResult<F>;
}

/** A family's runner: run('conv2d', inputs, params) with the op's params type checked. */
export function fusedRunner<N extends FusedName>(specs: FusedSpecs<N>) {
  return <F extends N>(op: F, inputs: readonly Tensor[], params: FusedParams[F]): FusedResult<F> =>
    runFused(op, specs[op], inputs, params);
}
