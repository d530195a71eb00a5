// The layer-normalization family: normalization over the last axis with a per-channel scale and shift,
// forward and backward each one fused op (the native kernel takes row moments in double).
import type { Tensor } from '../../tensor/tensor.js';
import { ShapeError, fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { THROUGH_COMPOSITE } from '../../autograd/rule-kinds.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { requireFloat, requireSame } from '../checks.js';
import { add, mul, rsqrt, sub } from '../elementwise.js';
import { mean, sum, variance } from '../reduce.js';
import { buf, outArrays, singleResult } from './native-args.js';

export interface LayerNormParams {
  /** (x [..., C], gamma [C], beta [C]) -> (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis. */
  layerNorm: { readonly epsilon: number };
  /** (x, gamma, dy) -> dx (x's shape), dgamma [C]: layerNorm's gradient (dbeta is sum(dy)). */
  layerNormGrad: { readonly epsilon: number };
}

/** The family's ops with several results. */
export type LayerNormMulti = 'layerNormGrad';

/** The addon's entry point (kernels/train_step.h). */
export interface LayerNormAddon {
  /** Forward (third = beta, outs [y [rows, C]]) or gradient (third = dy, outs [dx [rows, C], dgamma [C]]). */
  layerNorm(
    grad: boolean,
    x: Arr,
    xOff: number,
    gamma: Arr,
    gammaOff: number,
    third: Arr,
    thirdOff: number,
    outs: Arr[],
    rows: number,
    cols: number,
    epsilon: number,
  ): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const LAYER_NORM_EXPORTS = { layerNorm: true } satisfies Record<keyof LayerNormAddon, true>;

/** Checks layerNorm's x [..., C] and its per-channel vectors ([C], x's dtype); returns C. */
function checkLayerNorm(op: string, x: ShapeDType, vectors: readonly ShapeDType[]): number {
  requireFloat(op, x, 'x');
  const c = x.shape[x.shape.length - 1];
  for (const v of vectors) {
    if (x.shape.length < 1 || v.shape.length !== 1 || v.shape[0] !== c || v.dtype !== x.dtype) {
      throw new ShapeError(
        `${op}: gamma and beta must be ${x.dtype} [${c}] for x ${fmtShape(x.shape)}, got ${v.dtype} ` +
          `${fmtShape(v.shape)}`,
      );
    }
  }
  return c;
}

/** (x - mean) / sqrt(var + epsilon) over the last axis: the normalized input of layerNorm. */
export function standardizeLastAxis(x: Tensor, epsilon: number): Tensor {
  return mul(sub(x, mean(x, -1, true)), rsqrt(add(variance(x, -1, true), epsilon)));
}

/** The addon call for forward (outs [y]) and gradient (outs [dx, dgamma]) alike. */
function nativeLayerNorm(addon: LayerNormAddon, grad: boolean) {
  const arrays = outArrays();
  return ([x, g, third]: readonly KernelArg[], outs: readonly KernelArg[], { epsilon }: { epsilon: number }) => {
    const cols = g.shape[0];
    const rows = cols ? sizeOf(x.shape) / cols : 0;
    addon.layerNorm(
      grad,
      buf(x),
      x.offset,
      buf(g),
      g.offset,
      buf(third),
      third.offset,
      arrays(outs),
      rows,
      cols,
      epsilon,
    );
  };
}

const family = 'normalization';

export const LAYER_NORM: FusedSpecs<keyof LayerNormParams> = {
  layerNorm: {
    family,
    infer: ([x, gamma, beta]) => {
      checkLayerNorm('layerNorm', x, [gamma, beta]);
      return x;
    },
    // mean 2, variance 4, subtract, add, rsqrt, normalize, scale, shift (per element; the row terms are negligible).
    flops: ([x]) => 10 * sizeOf(x.shape),
    composite: ([x, gamma, beta], { epsilon }) => add(mul(standardizeLastAxis(x, epsilon), gamma), beta),
    // dbeta is dy, summed over the rows by the engine.
    grad: (dy, { inputs: [x, gamma], params: { epsilon } }) => {
      const { dx, dgamma } = layerNormGrad(x, gamma, dy, epsilon);
      return [dx, dgamma, dy];
    },
    native: (addon) => singleResult(nativeLayerNorm(addon, false)),
  },
  layerNormGrad: {
    family,
    inferAll: ([x, gamma, dy]) => {
      checkLayerNorm('layerNormGrad', x, [gamma]);
      requireSame('layerNormGrad', x, dy, 'dy');
      return [
        { shape: x.shape, dtype: x.dtype },
        { shape: gamma.shape, dtype: x.dtype },
      ];
    },
    flops: ([x]) => 14 * sizeOf(x.shape),
    composite: ([x, gamma, dy], { epsilon }) => {
      // dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma; dgamma = sum over rows of dy xhat.
      const rstd = rsqrt(add(variance(x, -1, true), epsilon));
      const xhat = mul(sub(x, mean(x, -1, true)), rstd);
      const g = mul(dy, gamma);
      const dx = mul(rstd, sub(sub(g, mean(g, -1, true)), mul(xhat, mean(mul(g, xhat), -1, true))));
      const rows = [...Array(x.rank - 1).keys()];
      return [dx, sum(mul(dy, xhat), rows)];
    },
    grad: THROUGH_COMPOSITE,
    native: (addon) => nativeLayerNorm(addon, true),
  },
};

const run = fusedRunner(LAYER_NORM);

/** Layer normalization over the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta; gamma, beta [C]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
  return run('layerNorm', [x, gamma, beta], { epsilon });
}

/** layerNorm's gradients for output gradient dy: dx and dgamma (dbeta is dy summed over the rows). */
function layerNormGrad(x: Tensor, gamma: Tensor, dy: Tensor, epsilon: number): { dx: Tensor; dgamma: Tensor } {
  const [dx, dgamma] = run('layerNormGrad', [x, gamma, dy], { epsilon });
  return { dx, dgamma };
}
