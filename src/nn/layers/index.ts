// The built-in layers (importing this registers them all for layerFromConfig) and the `layers`
// factory namespace, as TF.js's tf.layers: layers.dense({ units: 10, activation: 'relu' }).
import { Dense, type DenseArgs } from './dense.js';
import { Conv1D, Conv2D, Conv2DTranspose, type Conv1DArgs, type ConvArgs } from './conv.js';
import { AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D, type GlobalPooling2DArgs, type Pooling2DArgs } from './pooling.js';
import { Flatten, Reshape, type ReshapeArgs } from './reshaping.js';
import { Dropout, type DropoutArgs } from './dropout.js';
import { Activation, type ActivationArgs } from './activation.js';
import { BatchNormalization, type BatchNormalizationArgs } from './normalization.js';
import { Add, Concatenate, type ConcatenateArgs } from './merge.js';
import type { LayerArgs } from '../layer.js';

export { Dense, type DenseArgs } from './dense.js';
export { KernelLayer, type KernelLayerArgs } from './kernel.js';
export { Conv1D, Conv2D, Conv2DTranspose, type Conv1DArgs, type ConvArgs } from './conv.js';
export { AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D, type GlobalPooling2DArgs, type Pooling2DArgs } from './pooling.js';
export { Flatten, Reshape, type ReshapeArgs } from './reshaping.js';
export { Dropout, type DropoutArgs } from './dropout.js';
export { Activation, type ActivationArgs } from './activation.js';
export { BatchNormalization, type BatchNormalizationArgs } from './normalization.js';
export { Add, Concatenate, type ConcatenateArgs } from './merge.js';

/** One factory per built-in layer, named as the class in camelCase; each takes the constructor's args. */
export const layers = {
  dense: (args: DenseArgs) => new Dense(args),
  conv1d: (args: Conv1DArgs) => new Conv1D(args),
  conv2d: (args: ConvArgs) => new Conv2D(args),
  conv2dTranspose: (args: ConvArgs) => new Conv2DTranspose(args),
  maxPooling2d: (args: Pooling2DArgs = {}) => new MaxPooling2D(args),
  averagePooling2d: (args: Pooling2DArgs = {}) => new AveragePooling2D(args),
  globalAveragePooling2d: (args: GlobalPooling2DArgs = {}) => new GlobalAveragePooling2D(args),
  flatten: (args: LayerArgs = {}) => new Flatten(args),
  reshape: (args: ReshapeArgs) => new Reshape(args),
  dropout: (args: DropoutArgs) => new Dropout(args),
  activation: (args: ActivationArgs) => new Activation(args),
  batchNormalization: (args: BatchNormalizationArgs = {}) => new BatchNormalization(args),
  add: (args: LayerArgs = {}) => new Add(args),
  concatenate: (args: ConcatenateArgs = {}) => new Concatenate(args),
} as const;
