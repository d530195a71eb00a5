// The sequence layers through the shared layer harness (config and serialization round trips, shapes,
// float64 gradients w.r.t. inputs and weights, trainable, no leaks), on tiny instances.
import { describe, test } from 'node:test';
import {
  Bidirectional,
  Dense,
  Embedding,
  GRU,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  LSTM,
  LayerNormalization,
  PositionEmbedding,
  PositionalEncoding,
  SimpleRNN,
  TimeDistributed,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';

describe('Embedding through the harness', () => {
  test('ids [2, 3] -> [2, 3, 4]', () =>
    runLayerTest({
      make: () => new Embedding({ inputDim: 5, outputDim: 4 }),
      inputShape: [2, 3],
      inputRange: [0, 5],
      integerInputs: true,
      expectedOutputShape: [2, 3, 4],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('maskZero, inputLength, rank-3 ids', () =>
    runLayerTest({
      make: () => new Embedding({ inputDim: 4, outputDim: 2, maskZero: true, inputLength: 2 }),
      inputShape: [2, 2, 2],
      inputRange: [0, 4],
      integerInputs: true,
      expectedOutputShape: [2, 2, 2, 2],
    }));
});

describe('recurrent layers through the harness', () => {
  const rnn = { units: 2, recurrentInitializer: 'glorotUniform', biasInitializer: 'randomNormal' };
  test('SimpleRNN, last output', () =>
    runLayerTest({
      make: () => new SimpleRNN(rnn),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 2],
      expectedWeights: { trainable: 3, nonTrainable: 0 },
    }));
  test('SimpleRNN, goBackwards, no bias, relu', () =>
    runLayerTest({
      make: () =>
        new SimpleRNN({ ...rnn, useBias: false, goBackwards: true, activation: 'relu', returnSequences: true }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('LSTM, sequences', () =>
    runLayerTest({
      make: () => new LSTM({ ...rnn, returnSequences: true }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 3, nonTrainable: 0 },
    }));
  test('LSTM, goBackwards, dropout (inference), no unitForgetBias', () =>
    runLayerTest({
      make: () => new LSTM({ ...rnn, goBackwards: true, dropout: 0.3, recurrentDropout: 0.2, unitForgetBias: false }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 2],
    }));
  test('GRU (resetAfter), sequences', () =>
    runLayerTest({
      make: () => new GRU({ ...rnn, returnSequences: true }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 3, nonTrainable: 0 },
    }));
  test('GRU, resetAfter false, other activations', () =>
    runLayerTest({
      make: () => new GRU({ ...rnn, resetAfter: false, activation: 'softplus', recurrentActivation: 'sigmoid' }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 2],
    }));
});

describe('wrappers through the harness', () => {
  const lstm = (returnSequences: boolean) =>
    new LSTM({ units: 2, returnSequences, recurrentInitializer: 'glorotUniform' });
  test('Bidirectional concat, last outputs', () =>
    runLayerTest({
      make: () => new Bidirectional({ layer: lstm(false) }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 4],
      expectedWeights: { trainable: 6, nonTrainable: 0 },
    }));
  for (const mergeMode of ['sum', 'mul', 'ave'] as const) {
    test(`Bidirectional ${mergeMode}, sequences (GRU)`, () =>
      runLayerTest({
        make: () => new Bidirectional({ layer: new GRU({ units: 2, returnSequences: true }), mergeMode }),
        inputShape: [2, 3, 2],
        expectedOutputShape: [2, 3, 2],
      }));
  }
  test('TimeDistributed(Dense)', () =>
    runLayerTest({
      make: () => new TimeDistributed({ layer: new Dense({ units: 3, activation: 'tanh' }) }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 3],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
});

describe('normalization, positions and pooling through the harness', () => {
  const randomAffine = { gammaInitializer: 'randomNormal', betaInitializer: 'randomNormal' };
  test('LayerNormalization, last axis', () =>
    runLayerTest({
      make: () => new LayerNormalization(randomAffine),
      inputShape: [2, 3, 4],
      expectedOutputShape: [2, 3, 4],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('LayerNormalization, axes [1, 2], no center', () =>
    runLayerTest({
      make: () => new LayerNormalization({ ...randomAffine, axis: [1, 2], center: false, epsilon: 1e-5 }),
      inputShape: [2, 2, 3],
      expectedOutputShape: [2, 2, 3],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('PositionalEncoding', () =>
    runLayerTest({
      make: () => new PositionalEncoding({ maxWavelength: 100 }),
      inputShape: [2, 3, 4],
      expectedOutputShape: [2, 3, 4],
      expectedWeights: { trainable: 0, nonTrainable: 0 },
    }));
  test('PositionEmbedding (shorter than sequenceLength)', () =>
    runLayerTest({
      make: () => new PositionEmbedding({ sequenceLength: 5 }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('GlobalAveragePooling1D', () =>
    runLayerTest({ make: () => new GlobalAveragePooling1D(), inputShape: [2, 3, 2], expectedOutputShape: [2, 2] }));
  test('GlobalMaxPooling1D, keepdims', () =>
    runLayerTest({
      make: () => new GlobalMaxPooling1D({ keepdims: true }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 1, 2],
    }));
});
