// Grad-CAM (Selvaraju et al. 2017): a convolution layer's feature maps weighted by the mean gradient of the
// target score over each map, rectified, and upsampled bilinearly to the input images.
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { valueAndGrads } from '../autograd/grad.js';
import { withLayerOutputHook, type Layer } from '../nn/layer.js';
import { resize } from '../ops/image.js';
import * as o from '../ops/index.js';
import { identityRows, type ExplainContext } from './context.js';
import type { GradCamOptions, MethodResult } from './types.js';

const OP = 'explain(gradCam)';

/** The layer named `name` anywhere in the model (nested layers included). */
function namedLayer(ctx: ExplainContext, name: unknown): Layer {
  const layers = ctx.model.flattenLayers().filter((l) => l !== ctx.model);
  const layer = typeof name === 'string' ? layers.find((l) => l.name === name) : undefined;
  if (layer) return layer;
  const convs = layers.filter((l) => /Conv.*2D/.test(l.className)).map((l) => `'${l.name}' (${l.className})`);
  throw new ArgumentError(
    `${OP}: ${typeof name === 'string' ? `no layer named '${name}'` : 'options.layer must name a layer'} in ` +
      `model '${ctx.model.name}'; its 2-D convolution layers: ${convs.length ? convs.join(', ') : 'none'}`,
  );
}

/**
 * The model on x, with `layer`'s output A [rows, H', W', C] handed to `replace` (whose result the rest of the
 * model sees). The layer must be called exactly once, through apply(), so each sample has one feature map.
 */
function forwardThrough(ctx: ExplainContext, layer: Layer, x: Tensor, replace: (a: Tensor) => Tensor) {
  let calls = 0;
  const out = withLayerOutputHook(
    (seen, output) => {
      if (seen !== layer) return undefined;
      if (++calls > 1)
        throw new ArgumentError(`${OP}: layer '${layer.name}' runs more than once per forward pass (shared weights)`);
      if (Array.isArray(output) || output.rank !== 4)
        throw new ShapeError(
          `${OP}: layer '${layer.name}' (${layer.className}) outputs ` +
            `${Array.isArray(output) ? `${output.length} tensors` : fmtShape(output.shape)}; Grad-CAM needs ` +
            'feature maps [samples, height, width, channels], as a Conv2D gives',
        );
      return replace(output);
    },
    () => ctx.forward(x),
  );
  if (calls === 0)
    throw new ArgumentError(
      `${OP}: layer '${layer.name}' did not run through apply() in the model's forward pass, so its output ` +
        'cannot be seen; name a layer the model applies',
    );
  return out;
}

/** The map [count, H', W', 1] of rows start..start+count-1, from one forward and one backward. */
function batchMap(
  ctx: ExplainContext,
  layer: Layer,
  start: number,
  count: number,
  featureShape: readonly number[],
  dtype: DType,
  sampleOf: Int32Array,
  relu: boolean,
): Tensor {
  const part = ctx.rowsOf(ctx.inputs, start, count);
  const zero = o.zeros([count, ...featureShape], dtype);
  let features: Tensor | undefined;
  const { grads } = valueAndGrads(() => {
    const out = forwardThrough(ctx, layer, part, (a) => {
      features = a;
      return o.add(a, zero);
    });
    return o.sum(ctx.targetScores(out, sampleOf.subarray(start, start + count)));
  }, [zero]);
  const alpha = o.mean(grads[0], [1, 2], true); // [rows, 1, 1, C]
  const map = o.sum(o.mul(features!, alpha), [3], true); // [rows, H', W', 1]
  return relu ? o.relu(map) : map;
}

/**
 * Attributions [N, H, W, C] (or [N, H, W]): each sample's map relu(sum_c alpha_c A_c), alpha_c = mean over
 * H' x W' of dS/dA_c, upsampled to H x W and repeated over the input channels. The gradient comes from one
 * backward per batch: the layer's output becomes A + Z, Z a zero leaf of A's shape, and dS/dZ = dS/dA.
 */
export function gradCam(ctx: ExplainContext, options: GradCamOptions): MethodResult {
  const layer = namedLayer(ctx, options.layer);
  const relu = options.relu ?? true;
  const { inputs } = ctx;
  if (inputs.rank !== 3 && inputs.rank !== 4)
    throw new ShapeError(
      `${OP}: inputs ${fmtShape(inputs.shape)} are not images [samples, height, width, channels] or ` +
        '[samples, height, width], which Grad-CAM upsamples its map to',
    );
  // One row tells the feature maps' shape [H', W', C] (and checks the layer) before any gradient is taken.
  let featureShape: number[] = [];
  let dtype: DType = 'float32';
  noGrad(() =>
    tidy(() => {
      forwardThrough(ctx, layer, ctx.rowsOf(inputs, 0, 1), (a) => {
        featureShape = a.shape.slice(1);
        dtype = a.dtype;
        return a;
      });
    }),
  );
  const sampleOf = identityRows(ctx.n);
  const [height, width] = inputs.shape.slice(1, 3);
  // One scope for the batches' maps and the result: the result may be a map itself (same size, one channel).
  const attributions = tidy(() => {
    const maps: Tensor[] = [];
    for (let start = 0; start < ctx.n; start += ctx.batchSize) {
      const count = Math.min(ctx.batchSize, ctx.n - start);
      maps.push(tidy(() => batchMap(ctx, layer, start, count, featureShape, dtype, sampleOf, relu)));
    }
    const raw = maps.length === 1 ? maps[0] : o.concat(maps, 0);
    const up = resize(raw, [height, width], { interpolation: 'bilinear' });
    return inputs.rank === 3 ? o.reshape(up, [ctx.n, height, width]) : o.tile(up, [1, 1, 1, inputs.shape[3]]);
  });
  return {
    attributions,
    parameters: { layer: layer.name, relu },
    details: { mapSize: featureShape.slice(0, 2), channels: featureShape[2] },
  };
}
