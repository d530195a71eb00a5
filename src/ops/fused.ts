// Fused ops: ops with a composite default built from primitives, which a backend may replace by one
// kernel (Backend.fused) that must match the composite. Each family of them lives in one module of
// src/ops/families/ (params, specs, functions, gradient rules, native adapter); families/index.ts lists
// the families, and everything that must agree with them (support tables, meter families, docs) is
// derived from the specs there.
import type { Tensor } from '../tensor/tensor.js';
import { noGrad, record } from '../autograd/tape.js';
import { THROUGH_COMPOSITE, type RuleEntry } from '../autograd/rule-kinds.js';
import type { Kernel } from '../backends/backend.js';
import type { NativeAddon } from '../backends/native/addon.js';
import { tryFused } from './dispatch.js';
import type { ShapeDType } from './primitives.js';
import type { FusedName, FusedParams } from './families/index.js';

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

/** A family's specs, keyed by op name. */
export type FusedSpecs<N extends FusedName> = { readonly [F in N]: FusedSpec<FusedParams[F]> };

/** Checks a fused op's inputs and runs the backend's kernel for it; undefined when the backend has none. */
export function tryFusedKernel<F extends FusedName>(
  op: F,
  spec: FusedSpec<FusedParams[F]>,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): Tensor | undefined {
  for (const t of inputs) t.assertLive(op);
  const info = spec.infer(inputs, params);
  return tryFused(op, inputs, params, info, spec.flops(inputs, info, params));
}

/**
 * Runs a fused op: the backend's kernel when it has one, else the composite default. An op with a hand
 * gradient rule is recorded as itself either way (its composite's primitives are not), so every backend
 * differentiates it by that rule.
 */
export function runFused<F extends FusedName>(
  op: F,
  spec: FusedSpec<FusedParams[F]>,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): Tensor {
  const fused = tryFusedKernel(op, spec, inputs, params);
  if (fused) return fused;
  if (spec.grad === THROUGH_COMPOSITE) return spec.composite(inputs, params);
  const out = noGrad(() => spec.composite(inputs, params));
  record(op, inputs, out, params);
  return out;
}

/** A family's runner: run('conv2d', inputs, params) with the op's params type checked. */
export function fusedRunner<N extends FusedName>(specs: FusedSpecs<N>) {
  return <F extends N>(op: F, inputs: readonly Tensor[], params: FusedParams[F]): Tensor =>
    runFused(op, specs[op], inputs, params);
}
