// ONNX export of the layers that move or resample values: Flatten (of the channels-last value, so Keras' H, W, C
// order), Reshape, Permute, RepeatVector, ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D and the image layers
// Resizing and CenterCrop (Resize with TF's half-pixel centres, as ops/image.ts computes them).
import type { Layer } from '../../nn/layer.js';
import type { Flatten, Reshape } from '../../nn/layers/reshaping.js';
import type { Permute, RepeatVector } from '../../nn/layers/repeat-permute.js';
import type { Cropping1D, Cropping2D, ZeroPadding1D, ZeroPadding2D } from '../../nn/layers/padding.js';
import type { UpSampling1D, UpSampling2D } from '../../nn/layers/upsampling.js';
import type { CenterCrop, Resizing } from '../../nn/layers/preprocessing-image.js';
import { aspectRatioCrop } from '../../ops/image.js';
import { UnsupportedLayerError } from '../errors.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import { knownSpatial } from './export-layout.js';

// Flatten of [N, ...] is [N, prod]; a rank-1 [N] becomes [N, 1], as ONNX's Flatten with axis 1 does too.
registerOnnxExporter<Flatten>('Flatten', (_layer, [x], call) => [
  call.graph.node('Flatten', [x], { axis: 1 }, 1, `${call.prefix}/Flatten`)[0],
]);

// Reshape's 0 copies the batch size; the layer's one -1 is ONNX's too.
registerOnnxExporter<Reshape>('Reshape', (layer, [x], call) => {
  const g = call.graph;
  const shape = g.int64(`${layer.name}/shape`, [0, ...layer.targetShape]);
  return [g.node('Reshape', [x, shape], {}, 1, `${call.prefix}/Reshape`)[0]];
});

registerOnnxExporter<Permute>('Permute', (layer, [x], call) => [
  call.graph.node('Transpose', [x], { perm: [0, ...layer.dims] }, 1, `${call.prefix}/Transpose`)[0],
]);

// [N, F] -> [N, 1, F], broadcast by Expand to [N, n, F].
registerOnnxExporter<RepeatVector>('RepeatVector', (layer, [x], call) => {
  const g = call.graph;
  const unsqueezed = g.op('Unsqueeze', [x, g.int64('axes', [1])]);
  return [g.node('Expand', [unsqueezed, g.int64('shape', [1, layer.n, 1])], {}, 1, `${call.prefix}/Expand`)[0]];
});

/** The [before, after] amounts per spatial axis, from the config the layer saves (1-D: [a, b]; 2-D: pairs). */
function spatialAmounts(layer: Layer, key: 'padding' | 'cropping'): [number, number][] {
  const v = layer.getConfig()[key] as number[] | number[][];
  return (typeof v[0] === 'number' ? [v] : v) as [number, number][];
}

function exportZeroPadding(layer: ZeroPadding1D | ZeroPadding2D, x: string, call: ExportCall): string[] {
  const g = call.graph;
  const amounts = spatialAmounts(layer, 'padding');
  const pads = [0, ...amounts.map((a) => a[0]), 0, 0, ...amounts.map((a) => a[1]), 0];
  return [g.node('Pad', [x, g.int64('pads', pads)], { mode: 'constant' }, 1, `${call.prefix}/Pad`)[0]];
}

/** The int64 bound meaning "to the end" in Slice. */
const TO_END = Number.MAX_SAFE_INTEGER;

function exportCropping(layer: Cropping1D | Cropping2D, x: string, call: ExportCall): string[] {
  const g = call.graph;
  const amounts = spatialAmounts(layer, 'cropping');
  const starts = g.int64(
    'starts',
    amounts.map((a) => a[0]),
  );
  const ends = g.int64(
    'ends',
    amounts.map((a) => (a[1] > 0 ? -a[1] : TO_END)),
  );
  const axes = g.int64(
    'axes',
    amounts.map((_, i) => i + 1),
  );
  return [g.node('Slice', [x, starts, ends, axes], {}, 1, `${call.prefix}/Slice`)[0]];
}

registerOnnxExporter<ZeroPadding1D>('ZeroPadding1D', (layer, [x], call) => exportZeroPadding(layer, x, call));
registerOnnxExporter<ZeroPadding2D>('ZeroPadding2D', (layer, [x], call) => exportZeroPadding(layer, x, call));
registerOnnxExporter<Cropping1D>('Cropping1D', (layer, [x], call) => exportCropping(layer, x, call));
registerOnnxExporter<Cropping2D>('Cropping2D', (layer, [x], call) => exportCropping(layer, x, call));

/** Resize by whole factors per axis (1 for the batch and channels): nearest repeats each value. */
function upsample(g: OnnxGraphBuilder, x: string, scales: number[], mode: 'nearest' | 'bilinear', name: string) {
  const attributes =
    mode === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: 'half_pixel' };
  return g.node('Resize', [x, '', g.floats('scales', scales)], attributes, 1, name)[0];
}

registerOnnxExporter<UpSampling1D>('UpSampling1D', (layer, [x], call) => [
  upsample(call.graph, x, [1, layer.size, 1], 'nearest', `${call.prefix}/Resize`),
]);
registerOnnxExporter<UpSampling2D>('UpSampling2D', (layer, [x], call) => [
  upsample(call.graph, x, [1, ...layer.size, 1], layer.interpolation, `${call.prefix}/Resize`),
]);

/** [N, h, w, C] images to [N, height, width, C] with tf.image.resize's half-pixel centres (ops/image.ts). */
function resizeImages(g: OnnxGraphBuilder, x: string, size: [number, number], mode: string, name: string): string {
  // The sizes input is the whole output shape: the dynamic batch and channels from Shape, height and width fixed.
  const shape = g.op('Shape', [x]);
  const batch = g.op('Slice', [shape, g.int64('starts', [0]), g.int64('ends', [1])]);
  const channels = g.op('Slice', [shape, g.int64('starts', [3]), g.int64('ends', [4])]);
  const sizes = g.op('Concat', [batch, g.int64('size', size), channels], { axis: 0 });
  const attributes =
    mode === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: 'half_pixel' };
  return g.node('Resize', [x, '', '', sizes], attributes, 1, name)[0];
}

/** The window [top, left, height, width] of images as a Slice. */
function cropImages(g: OnnxGraphBuilder, x: string, [top, left, h, w]: number[]): string {
  const starts = g.int64('starts', [top, left]);
  return g.op('Slice', [x, starts, g.int64('ends', [top + h, left + w]), g.int64('axes', [1, 2])]);
}

/** Refuses a single unbatched image (rank 3), which the layer also takes but a batched ONNX graph does not. */
function assertBatched(layer: Layer, call: ExportCall): void {
  if (call.inputShapes[0].length !== 4)
    throw new UnsupportedLayerError('ONNX export', layer.name, layer.className, 'export takes image batches (rank 4)');
}

registerOnnxExporter<Resizing>('Resizing', (layer, [x], call) => {
  assertBatched(layer, call);
  const g = call.graph;
  let images = x;
  if (layer.cropToAspectRatio) {
    const [h, w] = knownSpatial(layer, call.inputShapes[0], 'cropToAspectRatio');
    images = cropImages(g, x, aspectRatioCrop(h, w, layer.height, layer.width));
  }
  return [resizeImages(g, images, [layer.height, layer.width], layer.interpolation, `${call.prefix}/Resize`)];
});

// The central window; an image smaller than it is cropped to the target's aspect ratio and resized (bilinear).
registerOnnxExporter<CenterCrop>('CenterCrop', (layer, [x], call) => {
  assertBatched(layer, call);
  const g = call.graph;
  const [h, w] = knownSpatial(layer, call.inputShapes[0], 'CenterCrop');
  const dh = h - layer.height,
    dw = w - layer.width;
  if (dh >= 0 && dw >= 0)
    return [cropImages(g, x, [Math.trunc(dh / 2), Math.trunc(dw / 2), layer.height, layer.width])];
  const cropped = cropImages(g, x, aspectRatioCrop(h, w, layer.height, layer.width));
  return [resizeImages(g, cropped, [layer.height, layer.width], 'bilinear', `${call.prefix}/Resize`)];
});
