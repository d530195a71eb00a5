// The built-in layers (importing this registers them all for layerFromConfig) and the `layers`
// factory namespace, as TF.js's tf.layers: layers.dense({ units: 10, activation: 'relu' }).
import { Dense, type DenseArgs } from './dense.js';
import { Conv1D, Conv2D, Conv2DTranspose, type Conv1DArgs, type ConvArgs } from './conv.js';
import {
  AveragePooling2D,
  GlobalAveragePooling2D,
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
import { GlobalAveragePooling1D, GlobalMaxPooling1D, type GlobalPooling1DArgs } from './pooling1d.js';
import type { LayerArgs } from '../layer.js';
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
export { Conv1D, Conv2D, Conv2DTranspose, type Conv1DArgs, type ConvArgs } from './conv.js';
export {
  AveragePooling2D,
  GlobalAveragePooling2D,
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
export { GlobalAveragePooling1D, GlobalMaxPooling1D, type GlobalPooling1DArgs } from './pooling1d.js';
export type { LayerEntry } from './sublayers.js';
export { getMask, setMask, type MaskArg } from '../masking.js';
export type { ApplyOptions } from '../layer.js';
export * from '../preprocessing/index.js';

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
  textVectorization: (args: TextVectorizationArgs = {}) => new TextVectorization(args),
  stringLookup: (args: LookupArgs<string> = {}) => new StringLookup(args),
  integerLookup: (args: LookupArgs<number> = {}) => new IntegerLookup(args),
  categoryEncoding: (args: CategoryEncodingArgs) => new CategoryEncoding(args),
  hashing: (args: HashingArgs) => new Hashing(args),
} as const;
