// The list of fused-op families: the one place a new family is added. Everything that must agree with
// the families is derived from here: the fused-op table and names, the native backend's fused kernels and
// support table, the meter's families, docs/ops.md and the addon's per-family entry points.
import type { Tensor } from '../../tensor/tensor.js';
import { runFused, type FusedResult, type FusedSpecOf } from '../fused.js';
import {
  ATTENTION,
  ATTENTION_EXPORTS,
  type AttentionAddon,
  type AttentionFamilyParams,
  type AttentionMulti,
} from './attention.js';
import { CONV, CONV_EXPORTS, type ConvAddon, type ConvParams } from './conv.js';
import { DEPTHWISE, DEPTHWISE_EXPORTS, type DepthwiseAddon, type DepthwiseParams } from './depthwise.js';
import { DROPOUT, DROPOUT_EXPORTS, type DropoutAddon, type DropoutFamilyParams } from './dropout.js';
import {
  LAYER_NORM,
  LAYER_NORM_EXPORTS,
  type LayerNormAddon,
  type LayerNormMulti,
  type LayerNormParams,
} from './layer-norm.js';
import { POOL, POOL_EXPORTS, type PoolAddon, type PoolParams } from './pool.js';
import {
  RECURRENT,
  RECURRENT_EXPORTS,
  type RecurrentAddon,
  type RecurrentMulti,
  type RecurrentParams,
} from './recurrent.js';
import { QUANTIZED, QUANTIZED_EXPORTS, type QuantizedAddon, type QuantizedParams } from './quantized.js';
import { SOFTMAX, SOFTMAX_EXPORTS, type SoftmaxAddon, type SoftmaxParams } from './softmax.js';
import {
  TRAIN_STEP,
  TRAIN_STEP_EXPORTS,
  type TrainStepAddon,
  type TrainStepMulti,
  type TrainStepParams,
} from './train-step.js';

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
    AttentionFamilyParams,
    DepthwiseParams,
    QuantizedParams {}

export type FusedName = keyof FusedParams;

/** The fused ops with several results (each family names its own). */
export type MultiFusedName = LayerNormMulti | RecurrentMulti | AttentionMulti | TrainStepMulti;

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
    AttentionAddon,
    DepthwiseAddon,
    QuantizedAddon {}

/** The names of FamilyAddon's members (kernels/addon.cc must export each). */
export const FAMILY_ADDON_EXPORTS = {
  ...SOFTMAX_EXPORTS,
  ...CONV_EXPORTS,
  ...POOL_EXPORTS,
  ...TRAIN_STEP_EXPORTS,
  ...DROPOUT_EXPORTS,
  ...LAYER_NORM_EXPORTS,
  ...RECURRENT_EXPORTS,
  ...ATTENTION_EXPORTS,
  ...DEPTHWISE_EXPORTS,
  ...QUANTIZED_EXPORTS,
} satisfies Record<keyof FamilyAddon, true>;

export const FUSED: { readonly [F in FusedName]: FusedSpecOf<F> } = {
  ...SOFTMAX,
  ...CONV,
  ...POOL,
  ...TRAIN_STEP,
  ...DROPOUT,
  ...LAYER_NORM,
  ...RECURRENT,
  ...ATTENTION,
  ...DEPTHWISE,
  ...QUANTIZED,
};

/** The fused ops' names, in the table's order. */
export const FUSED_NAMES = Object.keys(FUSED) as FusedName[];

/** Runs a fused op by name (the families' own functions are the usual way in; tests and rules use this). */
export function runFusedOp<F extends FusedName>(
  op: F,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): FusedResult<F> {
  return runFused(op, FUSED[op], inputs, params);
}
