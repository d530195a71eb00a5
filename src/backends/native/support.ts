// Which ops the native backend runs in native code and which it borrows from the JS reference backend
// (on the same typed arrays). A static table, so docs/ops.md is the same whether or not the addon is
// built; test/backends/native.test.ts checks it against the live kernel tables.
import type { PrimitiveName } from '../../ops/primitives.js';
import { PRIMITIVE_NAMES } from '../../ops/primitives.js';
import type { FusedName } from '../../ops/fused-params.js';

export type NativeSupport = 'native' | 'js-fallback';

/** Primitives still running the JS reference kernels: concat and pad copy with typed-array set() and
 *  fill(), which are native already. */
export const JS_FALLBACK_PRIMITIVES = ['concat', 'pad'] as const satisfies readonly PrimitiveName[];

/** Fused ops with a native kernel; the others run their composite default. */
export const NATIVE_FUSED: readonly FusedName[] = [
  'softmax',
  'logSoftmax',
  'conv2d',
  'conv2dBackpropInput',
  // Training-step fusions.
  'biasActivation',
  'activationGrad',
  'sparseSoftmaxCrossEntropy',
  'sparseSoftmaxCrossEntropyGrad',
  'adamStep',
  'sgdStep',
  'dropout',
  'layerNorm',
  'layerNormGrad',
  // convolution filter gradient and pooling
  'conv2dBackpropFilter',
  'maxPool2d',
  'avgPool2d',
  'maxPool2dBackprop',
  'avgPool2dBackprop',
  // sequence models
  'lstmCell',
  'lstmCellGrad',
  'gruCell',
  'gruCellGrad',
  'attention',
  'attentionGrad',
];

export function primitiveSupport(op: PrimitiveName): NativeSupport {
  return (JS_FALLBACK_PRIMITIVES as readonly PrimitiveName[]).includes(op) ? 'js-fallback' : 'native';
}

export const NATIVE_PRIMITIVES: readonly PrimitiveName[] = PRIMITIVE_NAMES.filter(
  (p) => primitiveSupport(p) === 'native',
);
