// The built-in layers (importing this registers them all for layerFromConfig) and the `layers`
// factory namespace, as TF.js's tf.layers: layers.dense({ units: 10, activation: 'relu' }).
import { Dense, type DenseArgs } from './dense.js';
import { Conv1D, Conv2D, Conv2DTranspose, type Conv1DArgs, type Conv2DTransposeArgs, type ConvArgs } from './conv.js';
import {
  AveragePooling2D,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  MaxPooling2D,
  type GlobalPooling2DArgs,
  type Pooling2DArgs,
} from './pooling.js';
import { Flatten, Reshape, type ReshapeArgs } from './reshaping.js';
import { Dropout, type DropoutArgs } from './dropout.js';
import { Activation, type ActivationArgs } from './activation.js';
import { BatchNormalization, type BatchNormalizationArgs } from './batch-normalization.js';
import { Add, Concatenate, type ConcatenateArgs } from './merge.js';
import { Embedding, type EmbeddingArgs } from './embedding.js';
import { SimpleRNN, type SimpleRNNArgs } from './simple-rnn.js';
import { LSTM, type LSTMArgs } from './lstm.js';
import { GRU, type GRUArgs } from './gru.js';
import { Bidirectional, TimeDistributed, type BidirectionalArgs, type TimeDistributedArgs } from './wrappers.js';
import { LayerNormalization, type LayerNormalizationArgs } from './layer-norm.js';
import { MultiHeadAttention, type MultiHeadAttentionArgs } from './attention.js';
import {
  PositionEmbedding,
  PositionalEncoding,
  type PositionEmbeddingArgs,
  type PositionalEncodingArgs,
} from './positional.js';
import { TransformerDecoder, TransformerEncoder, type TransformerArgs } from './transformer.js';
import {
  ELU,
  LeakyReLU,
  PReLU,
  ReLU,
  Softmax,
  type ELUArgs,
  type LeakyReLUArgs,
  type PReLUArgs,
  type ReLUArgs,
  type SoftmaxArgs,
} from './activation-layers.js';
import { Average, Dot, Maximum, Minimum, Multiply, Subtract, type DotArgs } from './merge.js';
import { Permute, RepeatVector, type PermuteArgs, type RepeatVectorArgs } from './repeat-permute.js';
import { GroupNormalization, type GroupNormalizationArgs } from './group-norm.js';
import { AdditiveAttention, Attention, type AdditiveAttentionArgs, type AttentionArgs } from './dense-attention.js';
import { Masking, type MaskingArgs } from './masking-layer.js';
import {
  GaussianDropout,
  GaussianNoise,
  SpatialDropout1D,
  SpatialDropout2D,
  type GaussianDropoutArgs,
  type GaussianNoiseArgs,
  type SpatialDropoutArgs,
} from './noise.js';
import { Lambda, type LambdaArgs } from './lambda.js';
import {
  CenterCrop,
  Rescaling,
  Resizing,
  type CenterCropArgs,
  type RescalingArgs,
  type ResizingArgs,
} from './preprocessing-image.js';
import {
  RandomContrast,
  RandomFlip,
  RandomRotation,
  RandomTranslation,
  RandomZoom,
  type RandomContrastArgs,
  type RandomFlipArgs,
  type RandomRotationArgs,
  type RandomTranslationArgs,
  type RandomZoomArgs,
} from './augmentation.js';
import { Normalization, type NormalizationArgs } from './normalization.js';
import {
  AveragePooling1D,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  MaxPooling1D,
  type GlobalPooling1DArgs,
  type Pooling1DArgs,
} from './pooling1d.js';
import {
  Cropping1D,
  Cropping2D,
  ZeroPadding1D,
  ZeroPadding2D,
  type Cropping1DArgs,
  type Cropping2DArgs,
  type ZeroPadding1DArgs,
  type ZeroPadding2DArgs,
} from './padding.js';
import { UpSampling1D, UpSampling2D, type UpSampling1DArgs, type UpSampling2DArgs } from './upsampling.js';
import {
  DepthwiseConv2D,
  SeparableConv2D,
  type DepthwiseConv2DArgs,
  type SeparableConv2DArgs,
} from './depthwise-conv.js';
import type { LayerArgs } from '../layer.js';
import { withOptionChecks } from '../layer-options.js';
import {
  CategoryEncoding,
  Hashing,
  IntegerLookup,
  StringLookup,
  TextVectorization,
  type CategoryEncodingArgs,
  type HashingArgs,
  type LookupArgs,
  type TextVectorizationArgs,
} from '../preprocessing/index.js';

export { Dense, type DenseArgs } from './dense.js';
export { AffineLayer, type AffineLayerArgs } from './affine.js';
export {
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  type Conv1DArgs,
  type Conv2DTransposeArgs,
  type ConvArgs,
  type ConvLayerPadding,
} from './conv.js';
export {
  AveragePooling2D,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  MaxPooling2D,
  type GlobalPooling2DArgs,
  type Pooling2DArgs,
} from './pooling.js';
export { Flatten, Reshape, type ReshapeArgs } from './reshaping.js';
export { Dropout, type DropoutArgs } from './dropout.js';
export { Activation, type ActivationArgs } from './activation.js';
export { BatchNormalization, type BatchNormalizationArgs } from './batch-normalization.js';
export { Add, Concatenate, type ConcatenateArgs } from './merge.js';
export { Embedding, type EmbeddingArgs } from './embedding.js';
export { Recurrent, GatedRecurrent, type RecurrentArgs, type GatedRecurrentArgs } from './recurrent.js';
export { SimpleRNN, type SimpleRNNArgs } from './simple-rnn.js';
export { LSTM, type LSTMArgs } from './lstm.js';
export { GRU, type GRUArgs } from './gru.js';
export {
  Bidirectional,
  TimeDistributed,
  type BidirectionalArgs,
  type TimeDistributedArgs,
  type MergeMode,
} from './wrappers.js';
export { LayerNormalization, type LayerNormalizationArgs } from './layer-norm.js';
export {
  MultiHeadAttention,
  type MultiHeadAttentionArgs,
  type AttendOptions,
  type AttentionCache,
  type AttentionResult,
} from './attention.js';
export {
  PositionEmbedding,
  PositionalEncoding,
  type PositionEmbeddingArgs,
  type PositionalEncodingArgs,
} from './positional.js';
export {
  TransformerDecoder,
  TransformerEncoder,
  type TransformerArgs,
  type EncodeOptions,
  type DecodeOptions,
} from './transformer.js';
export {
  ELU,
  LeakyReLU,
  PReLU,
  ReLU,
  Softmax,
  type ELUArgs,
  type LeakyReLUArgs,
  type PReLUArgs,
  type ReLUArgs,
  type SoftmaxArgs,
} from './activation-layers.js';
export { Average, Dot, Maximum, Minimum, Multiply, Subtract, type DotArgs } from './merge.js';
export { Permute, RepeatVector, type PermuteArgs, type RepeatVectorArgs } from './repeat-permute.js';
export { GroupNormalization, type GroupNormalizationArgs } from './group-norm.js';
export {
  AdditiveAttention,
  Attention,
  type AdditiveAttentionArgs,
  type AttentionArgs,
  type DenseAttendOptions,
} from './dense-attention.js';
export { Masking, type MaskingArgs } from './masking-layer.js';
export {
  GaussianDropout,
  GaussianNoise,
  SpatialDropout1D,
  SpatialDropout2D,
  type DataFormat,
  type GaussianDropoutArgs,
  type GaussianNoiseArgs,
  type SpatialDropoutArgs,
} from './noise.js';
export { Lambda, registerLambda, type LambdaArgs, type LambdaFunction } from './lambda.js';
export {
  CenterCrop,
  Rescaling,
  Resizing,
  type CenterCropArgs,
  type RescalingArgs,
  type ResizingArgs,
} from './preprocessing-image.js';
export {
  RandomContrast,
  RandomFlip,
  RandomRotation,
  RandomTranslation,
  RandomZoom,
  type Factor,
  type FillArgs,
  type FlipMode,
  type RandomContrastArgs,
  type RandomFlipArgs,
  type RandomImageArgs,
  type RandomRotationArgs,
  type RandomTranslationArgs,
  type RandomZoomArgs,
} from './augmentation.js';
export { Normalization, type NormalizationArgs } from './normalization.js';
export {
  AveragePooling1D,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  MaxPooling1D,
  type GlobalPooling1DArgs,
  type Pooling1DArgs,
} from './pooling1d.js';
export {
  Cropping1D,
  Cropping2D,
  ZeroPadding1D,
  ZeroPadding2D,
  type Cropping1DArgs,
  type Cropping2DArgs,
  type SpatialAmounts,
  type ZeroPadding1DArgs,
  type ZeroPadding2DArgs,
} from './padding.js';
export {
  UpSampling1D,
  UpSampling2D,
  type Interpolation,
  type UpSampling1DArgs,
  type UpSampling2DArgs,
} from './upsampling.js';
export {
  DepthwiseConv2D,
  SeparableConv2D,
  type DepthwiseConv2DArgs,
  type SeparableConv2DArgs,
} from './depthwise-conv.js';
export type { LayerEntry } from './sublayers.js';
export { getMask, setMask, type MaskArg } from '../masking.js';
export type { ApplyOptions } from '../layer.js';
export * from '../preprocessing/index.js';

/** One factory per built-in layer, named as the class in camelCase; each takes the constructor's args. */
export const layers = withOptionChecks({
  dense: (args: DenseArgs) => new Dense(args),
  conv1d: (args: Conv1DArgs) => new Conv1D(args),
  conv2d: (args: ConvArgs) => new Conv2D(args),
  conv2dTranspose: (args: Conv2DTransposeArgs) => new Conv2DTranspose(args),
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
  embedding: (args: EmbeddingArgs) => new Embedding(args),
  simpleRnn: (args: SimpleRNNArgs) => new SimpleRNN(args),
  lstm: (args: LSTMArgs) => new LSTM(args),
  gru: (args: GRUArgs) => new GRU(args),
  bidirectional: (args: BidirectionalArgs) => new Bidirectional(args),
  timeDistributed: (args: TimeDistributedArgs) => new TimeDistributed(args),
  layerNormalization: (args: LayerNormalizationArgs = {}) => new LayerNormalization(args),
  multiHeadAttention: (args: MultiHeadAttentionArgs) => new MultiHeadAttention(args),
  positionalEncoding: (args: PositionalEncodingArgs = {}) => new PositionalEncoding(args),
  positionEmbedding: (args: PositionEmbeddingArgs) => new PositionEmbedding(args),
  transformerEncoder: (args: TransformerArgs) => new TransformerEncoder(args),
  transformerDecoder: (args: TransformerArgs) => new TransformerDecoder(args),
  globalAveragePooling1d: (args: GlobalPooling1DArgs = {}) => new GlobalAveragePooling1D(args),
  globalMaxPooling1d: (args: GlobalPooling1DArgs = {}) => new GlobalMaxPooling1D(args),
  leakyReLU: (args: LeakyReLUArgs = {}) => new LeakyReLU(args),
  prelu: (args: PReLUArgs = {}) => new PReLU(args),
  reLU: (args: ReLUArgs = {}) => new ReLU(args),
  elu: (args: ELUArgs = {}) => new ELU(args),
  softmax: (args: SoftmaxArgs = {}) => new Softmax(args),
  subtract: (args: LayerArgs = {}) => new Subtract(args),
  multiply: (args: LayerArgs = {}) => new Multiply(args),
  average: (args: LayerArgs = {}) => new Average(args),
  maximum: (args: LayerArgs = {}) => new Maximum(args),
  minimum: (args: LayerArgs = {}) => new Minimum(args),
  dot: (args: DotArgs) => new Dot(args),
  repeatVector: (args: RepeatVectorArgs) => new RepeatVector(args),
  permute: (args: PermuteArgs) => new Permute(args),
  groupNormalization: (args: GroupNormalizationArgs = {}) => new GroupNormalization(args),
  attention: (args: AttentionArgs = {}) => new Attention(args),
  additiveAttention: (args: AdditiveAttentionArgs = {}) => new AdditiveAttention(args),
  masking: (args: MaskingArgs = {}) => new Masking(args),
  gaussianNoise: (args: GaussianNoiseArgs) => new GaussianNoise(args),
  gaussianDropout: (args: GaussianDropoutArgs) => new GaussianDropout(args),
  spatialDropout1d: (args: Omit<SpatialDropoutArgs, 'dataFormat'>) => new SpatialDropout1D(args),
  spatialDropout2d: (args: SpatialDropoutArgs) => new SpatialDropout2D(args),
  normalization: (args: NormalizationArgs = {}) => new Normalization(args),
  rescaling: (args: RescalingArgs) => new Rescaling(args),
  resizing: (args: ResizingArgs) => new Resizing(args),
  centerCrop: (args: CenterCropArgs) => new CenterCrop(args),
  randomFlip: (args: RandomFlipArgs = {}) => new RandomFlip(args),
  randomRotation: (args: RandomRotationArgs) => new RandomRotation(args),
  randomZoom: (args: RandomZoomArgs) => new RandomZoom(args),
  randomTranslation: (args: RandomTranslationArgs) => new RandomTranslation(args),
  randomContrast: (args: RandomContrastArgs) => new RandomContrast(args),
  depthwiseConv2d: (args: DepthwiseConv2DArgs) => new DepthwiseConv2D(args),
  separableConv2d: (args: SeparableConv2DArgs) => new SeparableConv2D(args),
  globalMaxPooling2d: (args: GlobalPooling2DArgs = {}) => new GlobalMaxPooling2D(args),
  maxPooling1d: (args: Pooling1DArgs = {}) => new MaxPooling1D(args),
  averagePooling1d: (args: Pooling1DArgs = {}) => new AveragePooling1D(args),
  zeroPadding1d: (args: ZeroPadding1DArgs = {}) => new ZeroPadding1D(args),
  zeroPadding2d: (args: ZeroPadding2DArgs = {}) => new ZeroPadding2D(args),
  cropping1d: (args: Cropping1DArgs = {}) => new Cropping1D(args),
  cropping2d: (args: Cropping2DArgs = {}) => new Cropping2D(args),
  upSampling1d: (args: UpSampling1DArgs = {}) => new UpSampling1D(args),
  upSampling2d: (args: UpSampling2DArgs = {}) => new UpSampling2D(args),
  textVectorization: (args: TextVectorizationArgs = {}) => new TextVectorization(args),
  stringLookup: (args: LookupArgs<string> = {}) => new StringLookup(args),
  integerLookup: (args: LookupArgs<number> = {}) => new IntegerLookup(args),
  categoryEncoding: (args: CategoryEncodingArgs) => new CategoryEncoding(args),
  hashing: (args: HashingArgs) => new Hashing(args),
  lambda: (args: LambdaArgs) => new Lambda(args),
} as const);
