// The list of fused-op families: the one place a new family is added. Everything that must agree with
// the families is derived from here: the fused-op table and names, the native backend's fused kernels and
// support table, the meter's families, docs/ops.md and the addon's per-family entry points.
import type { Tensor } from '../../tensor/tensor.js';
import { runFused, type FusedSpec } from '../fused.js';
import { ATTENTION, type AttentionAddon, type AttentionFamilyParams } from './attention.js';
import { CONV, type ConvAddon, type ConvParams } from './conv.js';
import { DROPOUT, type DropoutAddon, type DropoutFamilyParams } from './dropout.js';
import { LAYER_NORM, type LayerNormAddon, type LayerNormParams } from './layer-norm.js';
import { POOL, type PoolAddon, type PoolParams } from './pool.js';
import { RECURRENT, type RecurrentAddon, type RecurrentParams } from './recurrent.js';
import { SOFTMAX, type SoftmaxAddon, type SoftmaxParams } from './softmax.js';
import { TRAIN_STEP, type TrainStepAddon, type TrainStepParams } from './train-step.js';

/** Every fused op's parameters, by name. */
export interface FusedParams
  extends
    SoftmaxParams,
    ConvParams,
    PoolParams,
    TrainStepParams,
    DropoutFamilyParams,
    LayerNormParams,
    RecurrentParams,
    AttentionFamilyParams {}

export type FusedName = keyof FusedParams;

/** The native addon's entry points for the fused families (kernels/addon.cc registers them). */
export interface FamilyAddon
  extends
    SoftmaxAddon,
    ConvAddon,
    PoolAddon,
    TrainStepAddon,
    DropoutAddon,
    LayerNormAddon,
    RecurrentAddon,
    AttentionAddon {}

export const FUSED: { readonly [F in FusedName]: FusedSpec<FusedParams[F]> } = {
  ...SOFTMAX,
  ...CONV,
  ...POOL,
  ...TRAIN_STEP,
  ...DROPOUT,
  ...LAYER_NORM,
  ...RECURRENT,
  ...ATTENTION,
};

/** The fused ops' names, in the table's order. */
export const FUSED_NAMES = Object.keys(FUSED) as FusedName[];

/** Runs a fused op by name (the families' own functions are the usual way in; tests and rules use this). */
export function runFusedOp<F extends FusedName>(op: F, inputs: readonly Tensor[], params: FusedParams[F]): Tensor {
  return runFused(op, FUSED[op], inputs, params);
}
