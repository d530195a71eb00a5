// Text and categorical preprocessing layers against Keras' documented examples and hand-worked
// results: TextVectorization (adapt order, every output mode, ngrams, standardize, split), StringLookup,
// IntegerLookup, CategoryEncoding, Hashing (MurmurHash3 reference vectors), typed errors, and a model
// that takes raw strings in fit / evaluate / predict and predicts the same after save and reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, DTypeError } from '../../src/errors.js';
import { StringTensor } from '../../src/nn/preprocessing/string-tensor.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, withDir } from '../helpers.js';

const { layers } = c;
/** A layer call's single output. */
const one = (t: c.Tensor | c.Tensor[]) => t as c.Tensor;
const ints = (t: c.Tensor | c.Tensor[]) => Array.from(one(t).dataSync());

test('TextVectorization int: Keras docstring example (adapt order: count, then token, high to low)', () => {
  const tv = layers.textVectorization({ maxTokens: 5000, outputMode: 'int', outputSequenceLength: 4 });
  tv.adapt(['foo bar', 'bar baz', 'baz bada boom']);
  assert.deepEqual(tv.getVocabulary(), ['', '[UNK]', 'baz', 'bar', 'foo', 'boom', 'bada']);
  const y = one(tv.apply([['foo qux bar'], ['qux baz']]));
  assert.equal(y.dtype, 'int32');
  assert.deepEqual([...y.shape], [2, 4]);
  assert.deepEqual(ints(y), [4, 1, 3, 0, 1, 2, 0, 0]);
  const given = layers.textVectorization({ outputSequenceLength: 4, vocabulary: ['earth', 'wind', 'and', 'fire'] });
  assert.deepEqual(given.getVocabulary(), ['', '[UNK]', 'earth', 'wind', 'and', 'fire']);
  assert.deepEqual(given.getVocabulary(false), ['earth', 'wind', 'and', 'fire']);
  assert.equal(given.vocabularySize(), 6);
});

test('TextVectorization int: pads to the longest in the batch, truncates to outputSequenceLength; maxTokens', () => {
  const tv = layers.textVectorization({ vocabulary: ['a', 'b', 'c'] });
  assert.deepEqual(ints(tv.apply(['a b c a', 'c'])), [2, 3, 4, 2, 4, 0, 0, 0]);
  const short = layers.textVectorization({ vocabulary: ['a', 'b', 'c'], outputSequenceLength: 2 });
  assert.deepEqual(ints(short.apply(['a b c a', 'c'])), [2, 3, 4, 0]);
  // maxTokens counts the mask and OOV indices: 4 leaves 2 learned tokens, the most frequent.
  const capped = layers.textVectorization({ maxTokens: 4 });
  capped.adapt(['x y y z z z']);
  assert.deepEqual(capped.getVocabulary(), ['', '[UNK]', 'z', 'y']);
});

test('TextVectorization multi_hot / count / tf_idf, worked by hand (Keras idf: log(1 + N / (1 + df)))', () => {
  const docs = ['a b b', 'b c'];
  const make = (outputMode: 'multi_hot' | 'count' | 'tf_idf') => {
    const tv = layers.textVectorization({ outputMode });
    tv.adapt(docs);
    return tv;
  };
  // counts b 3, a 1, c 1: b first, then the tie c > a; OOV at 0 and no mask index in these modes.
  assert.deepEqual(make('multi_hot').getVocabulary(), ['[UNK]', 'b', 'c', 'a']);
  const input = ['b b z a'];
  assert.deepEqual(ints(make('multi_hot').apply(input)), [1, 1, 0, 1]);
  assert.deepEqual(ints(make('count').apply(input)), [1, 2, 0, 1]);
  const idfB = Math.log(1 + 2 / 3),
    idfC = Math.log(1 + 2 / 2),
    idfA = Math.log(1 + 2 / 2);
  const oov = (idfB + idfC + idfA) / 3; // Keras gives OOV the mean idf
  const tfidf = make('tf_idf');
  assertClose(one(tfidf.apply(input)), [oov, 2 * idfB, 0, idfA]);
  assert.deepEqual([...tfidf.computeOutputShape([null])], [null, 4]);
  // A given vocabulary without special tokens: OOV idf is the mean of the given weights (Keras).
  const given = layers.textVectorization({ outputMode: 'tf_idf', vocabulary: ['x', 'y'], idfWeights: [1, 3] });
  assertClose(one(given.apply(['x y y q'])), [2, 1, 6]);
  const padded = layers.textVectorization({ outputMode: 'multi_hot', maxTokens: 6, padToMaxTokens: true });
  padded.adapt(docs);
  assert.deepEqual(ints(padded.apply(['c'])), [0, 0, 1, 0, 0, 0]);
});

test('TextVectorization standardize, split and ngrams as Keras', () => {
  const tv = layers.textVectorization({ vocabulary: ['x'] });
  // lower_and_strip_punctuation: ASCII lowercase (tf.strings.lower), string.punctuation removed.
  assert.deepEqual(tv.tokenize("Hello, World! It's  ÉTÉ-time\t(ok)"), ['hello', 'world', 'its', 'ÉtÉtime', 'ok']);
  const lower = layers.textVectorization({ vocabulary: ['x'], standardize: 'lower', split: null });
  assert.deepEqual(lower.tokenize('A b,C'), ['a b,c']);
  const chars = layers.textVectorization({ vocabulary: ['x'], standardize: null, split: 'character' });
  assert.deepEqual(chars.tokenize('aé😀'), ['a', 'é', '😀']);
  // ngrams n: all 1-grams, then all 2-grams (tf.strings.ngrams widths 1..n, joined by a space).
  const bi = layers.textVectorization({ vocabulary: ['x'], ngrams: 2 });
  assert.deepEqual(bi.tokenize('a b c'), ['a', 'b', 'c', 'a b', 'b c']);
  const only = layers.textVectorization({ vocabulary: ['x'], ngrams: [3] });
  assert.deepEqual(only.tokenize('a b c d'), ['a b c', 'b c d']);
  c.registerStandardize('test_upper', (s) => s.toUpperCase());
  const custom = layers.textVectorization({ vocabulary: ['A'], standardize: 'test_upper' });
  assert.deepEqual(ints(custom.apply(['a b'])), [2, 1]);
  const back = c.layerFromConfig({
    className: 'TextVectorization',
    config: JSON.parse(JSON.stringify(custom.getConfig())),
  });
  assert.deepEqual(back.getConfig(), custom.getConfig());
});

test('TextVectorization: typed errors for no vocabulary, numbers, bad options and unregistered functions', () => {
  const tv = layers.textVectorization();
  assert.throws(
    () => tv.apply(['a']),
    (e: Error) => e instanceof ArgumentError && /adapt\(data\) first/.test(e.message),
  );
  assert.throws(() => tv.adapt(c.Dataset.fromGenerator(() => [['a']]) as never), /collect its texts first/);
  tv.adapt([new StringTensor(['x y']), ['y']]); // an iterable of batches
  assert.deepEqual(tv.getVocabulary(), ['', '[UNK]', 'y', 'x']);
  const ready = layers.textVectorization({ vocabulary: ['a'] });
  assert.throws(
    () => ready.apply(c.tensor([1, 2])),
    (e: Error) => e instanceof DTypeError && /takes strings/.test(e.message),
  );
  assert.throws(() => ready.apply([1, 2] as unknown as string[]), DTypeError);
  assert.throws(() => new StringTensor(['a', 3 as unknown as string]), DTypeError);
  assert.throws(() => layers.textVectorization({ outputMode: 'count', outputSequenceLength: 3 }), ArgumentError);
  assert.throws(() => layers.textVectorization({ standardize: 'lowercase' }), /standardize must be/);
  assert.throws(() => layers.textVectorization({ outputMode: 'tf_idf', vocabulary: ['a'] }), /idfWeights/);
  assert.throws(() => ready.apply([['a', 'b']]), /one string per sample/);
  const fn = layers.textVectorization({ vocabulary: ['a'], standardize: null, split: (s) => s.split('-') });
  assert.deepEqual(ints(fn.apply(['a-b'])), [2, 1]);
  assert.throws(() => fn.getConfig(), /not registered/);
  // A tensor layer given raw strings names itself.
  assert.throws(
    () => layers.dense({ units: 2 }).apply(['a']),
    (e: Error) => e instanceof DTypeError && /put a text layer first/.test(e.message),
  );
});

test('StringLookup: Keras examples (int, mask token, multi_hot, one_hot, tf_idf), invert, OOV buckets', () => {
  const vocab = ['a', 'b', 'c', 'd'];
  const data = [
    ['a', 'c', 'd'],
    ['d', 'z', 'b'],
  ];
  assert.deepEqual(ints(layers.stringLookup({ vocabulary: vocab }).apply(data)), [1, 3, 4, 4, 0, 2]);
  const masked = layers.stringLookup({ vocabulary: vocab, maskToken: '' });
  assert.deepEqual(masked.getVocabulary(), ['', '[UNK]', 'a', 'b', 'c', 'd']);
  assert.deepEqual(
    ints(
      masked.apply([
        ['a', ''],
        ['z', 'd'],
      ]),
    ),
    [2, 0, 1, 5],
  );
  // multi_hot: Keras docs [[0,1,0,1,1],[1,0,1,0,1]].
  const mh = layers.stringLookup({ vocabulary: vocab, outputMode: 'multi_hot' });
  assert.deepEqual(
    ints(
      mh.apply([
        ['a', 'c', 'd', 'd'],
        ['d', 'z', 'b', 'z'],
      ]),
    ),
    [0, 1, 0, 1, 1, 1, 0, 1, 0, 1],
  );
  const count = layers.stringLookup({ vocabulary: vocab, outputMode: 'count' });
  assert.deepEqual(
    ints(
      count.apply([
        ['a', 'c', 'd', 'd'],
        ['d', 'z', 'b', 'z'],
      ]),
    ),
    [0, 1, 0, 1, 2, 2, 0, 1, 0, 1],
  );
  const oneHot = layers.stringLookup({ vocabulary: vocab, outputMode: 'one_hot' }).apply(['a', 'z']);
  assert.deepEqual([...one(oneHot).shape], [2, 5]);
  assert.deepEqual(ints(oneHot), [0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
  // tf_idf with idf weights for the vocabulary (Keras docs: OOV weight = mean): [[0, .25, 0, .6, .8], ...].
  const tf = layers.stringLookup({ vocabulary: vocab, outputMode: 'tf_idf', idfWeights: [0.25, 0.75, 0.6, 0.4] });
  assertClose(
    one(
      tf.apply([
        ['a', 'c', 'd', 'd'],
        ['d', 'z', 'b', 'z'],
      ]),
    ),
    [0, 0.25, 0, 0.6, 0.8, 1.0, 0, 0.75, 0, 0.4],
  );
  const inv = layers.stringLookup({ vocabulary: vocab, invert: true });
  assert.deepEqual(
    inv.invertLookup(
      c.tensor(
        [
          [1, 3, 4],
          [4, 0, 2],
        ],
        undefined,
        'int32',
      ),
    ).values,
    ['a', 'c', 'd', 'd', '[UNK]', 'b'],
  );
  assert.throws(() => inv.apply(c.tensor([1], undefined, 'int32')), /invertLookup/);
  const strict = layers.stringLookup({ vocabulary: vocab, numOovIndices: 0 });
  assert.throws(
    () => strict.apply(['z']),
    (e: Error) => e instanceof ArgumentError && /numOovIndices is 0/.test(e.message),
  );
  const two = layers.stringLookup({ vocabulary: vocab, numOovIndices: 2 });
  const oov = ints(two.apply(['q', 'r', 's', 't', 'a']));
  assert.ok(oov.slice(0, 4).every((i) => i === 0 || i === 1));
  assert.equal(oov[4], 2);
  assert.deepEqual(ints(two.apply(['q'])), [oov[0]], 'OOV buckets are stable');
  assert.throws(() => layers.stringLookup({ vocabulary: ['a', 'a'] }), /repeats/);
  const adapted = layers.stringLookup();
  adapted.adapt(['x', 'y', 'y', 'z', 'z', 'z']);
  assert.deepEqual(adapted.getVocabulary(), ['[UNK]', 'z', 'y', 'x']);
});

test('IntegerLookup: Keras examples, invert, adapt, floormod OOV buckets', () => {
  const vocab = [12, 36, 1138, 42];
  const data = c.tensor(
    [
      [12, 1138, 42],
      [42, 1000, 36],
    ],
    undefined,
    'int32',
  );
  const il = layers.integerLookup({ vocabulary: vocab });
  assert.deepEqual(il.getVocabulary(), [-1, 12, 36, 1138, 42]);
  const ids = il.apply(data);
  assert.deepEqual(ints(ids), [1, 3, 4, 4, 0, 2]);
  const inv = layers.integerLookup({ vocabulary: vocab, invert: true });
  assert.deepEqual(ints(inv.apply(ids)), [12, 1138, 42, 42, -1, 36]);
  const adapted = layers.integerLookup();
  adapted.adapt(
    c.tensor(
      [
        [12, 1138, 42],
        [42, 1000, 36],
      ],
      undefined,
      'int32',
    ),
  );
  // Keras docs: [-1, 42, 1138, 1000, 36, 12].
  assert.deepEqual(adapted.getVocabulary(), [-1, 42, 1138, 1000, 36, 12]);
  const two = layers.integerLookup({ vocabulary: vocab, numOovIndices: 2 });
  assert.deepEqual(ints(two.apply(c.tensor([7, 8, 12], undefined, 'int32'))), [1, 0, 2]);
  assert.throws(() => il.apply(['a']), DTypeError);
  assert.throws(() => il.apply(c.tensor([1.5])), DTypeError);
});

test('CategoryEncoding: Keras examples (one_hot, multi_hot, count), range errors, harness', () => {
  const oh = layers.categoryEncoding({ numTokens: 4, outputMode: 'one_hot' }).apply(c.tensor([3, 2, 0, 1]));
  assert.deepEqual(ints(oh), [0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
  const pairs = c.tensor([
    [0, 1],
    [0, 0],
    [1, 2],
    [3, 1],
  ]);
  const mh = layers.categoryEncoding({ numTokens: 4, outputMode: 'multi_hot' }).apply(pairs);
  assert.deepEqual(ints(mh), [1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1]);
  const ct = layers.categoryEncoding({ numTokens: 4, outputMode: 'count' }).apply(pairs);
  assert.deepEqual(ints(ct), [1, 1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1]);
  assert.throws(
    () => layers.categoryEncoding({ numTokens: 4 }).apply(c.tensor([[4, 0]])),
    (e: Error) => e instanceof ArgumentError && /\[0, 4\), got 4/.test(e.message),
  );
  runLayerTest({
    make: () => layers.categoryEncoding({ numTokens: 5, outputMode: 'count' }),
    inputShape: [3, 4],
    inputRange: [0, 5],
    integerInputs: true,
    expectedOutputShape: [3, 5],
    expectedWeights: { trainable: 0, nonTrainable: 0 },
  });
  // The integer-input lookups through the same harness (the string-input layers cannot take its random inputs).
  runLayerTest({
    make: () => layers.integerLookup({ vocabulary: [0, 1, 2, 3], outputMode: 'multi_hot' }),
    inputShape: [3, 4],
    inputRange: [0, 6],
    integerInputs: true,
    expectedOutputShape: [3, 5],
  });
  runLayerTest({
    make: () => layers.hashing({ numBins: 7, outputMode: 'count' }),
    inputShape: [2, 3],
    inputRange: [0, 100],
    integerInputs: true,
    expectedOutputShape: [2, 7],
  });
});

test('Hashing: MurmurHash3 x86_32 reference vectors; bins, mask value, salt, integers hash as their digits', () => {
  assert.equal(c.hash32('', 0), 0);
  assert.equal(c.hash32('', 1), 0x514e28b7);
  assert.equal(c.hash32('test', 0), 0xba6bd213);
  assert.equal(c.hash32('Hello, world!', 0), 0xc0363e43);
  assert.equal(c.hash32('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
  const h = layers.hashing({ numBins: 3 });
  const words = ['A', 'B', 'C', 'D', 'E'];
  assert.deepEqual(
    ints(h.apply(words)),
    words.map((w) => c.hash32(w, 0) % 3),
  );
  assert.deepEqual(ints(h.apply(c.tensor([12, 7], undefined, 'int32'))), ints(h.apply(['12', '7'])));
  const masked = layers.hashing({ numBins: 3, maskValue: '' });
  const bins = ints(masked.apply(['', 'A', 'B']));
  assert.equal(bins[0], 0);
  assert.deepEqual(
    bins.slice(1),
    ['A', 'B'].map((w) => 1 + (c.hash32(w, 0) % 2)),
  );
  const salted = layers.hashing({ numBins: 1000, salt: 133 });
  assert.deepEqual(ints(salted.apply(['A'])), [c.hash32('A', 133) % 1000]);
  const hot = layers.hashing({ numBins: 4, outputMode: 'multi_hot' }).apply([['A', 'B']]);
  assert.deepEqual([...one(hot).shape], [1, 4]);
  assert.throws(() => layers.hashing({ numBins: 0 }), ArgumentError);
});

/** A small labelled text task: positive reviews mention good words. */
function reviews(): { texts: string[]; labels: c.Tensor } {
  const pos = ['good', 'great', 'fun', 'lovely'],
    neg = ['bad', 'awful', 'boring', 'dull'],
    filler = ['movie', 'the', 'plot', 'was', 'a'];
  const texts: string[] = [],
    y: number[] = [];
  for (let i = 0; i < 40; i++) {
    const p = i % 2;
    const words = [filler[i % 5], (p ? pos : neg)[i % 4], filler[(i + 2) % 5], (p ? pos : neg)[(i + 1) % 4]];
    texts.push(words.join(' ') + (i % 3 ? '!' : '.'));
    y.push(p);
  }
  return { texts, labels: c.tensor(y, [40, 1]) };
}

test('a TextVectorization model takes raw strings in fit / evaluate / predict, and after reload', async () => {
  const { texts, labels } = reviews();
  const tv = layers.textVectorization({ outputMode: 'multi_hot' });
  tv.adapt(texts);
  const model = new c.Sequential([
    tv,
    layers.dense({ units: 8, activation: 'relu' }),
    layers.dense({ units: 1, activation: 'sigmoid' }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.05 }),
    loss: 'binaryCrossentropy',
    metrics: ['accuracy'],
  });
  await model.fit(texts, labels, { epochs: 15, batchSize: 8, verbose: 0, seed: 1, validationSplit: 0.25 });
  const logs = await model.evaluate(texts, labels, { verbose: 0 });
  assert.ok(logs.accuracy >= 0.9, `accuracy ${logs.accuracy}`);
  const probe = ['a good fun movie', 'boring and dull', 'unknown words only'];
  const before = model.predict(probe) as c.Tensor;
  assert.deepEqual([...before.shape], [3, 1]);
  // The same as running the layers by hand on the encoded strings.
  assertClose(before, one(c.tidy(() => model.layers[2].apply(model.layers[1].apply(tv.apply(probe))))), { rtol: 1e-6 });
  await withDir(async (dir) => {
    await model.save(dir);
    const back = await c.loadModel(dir);
    assert.deepEqual((back.layers[0] as c.TextVectorization).getVocabulary(), tv.getVocabulary());
    assert.deepEqual(flat(back.predict(probe) as c.Tensor), flat(before));
  });
  labels.dispose();
});

test("a functional model with a string input (input({ dtype: 'string' })), saved and reloaded", async () => {
  const { texts, labels } = reviews();
  const tv = layers.textVectorization({ outputMode: 'int', outputSequenceLength: 6 });
  tv.adapt(texts);
  const inp = c.input({ shape: [], dtype: 'string' });
  assert.throws(() => layers.dense({ units: 1 }).apply(inp), DTypeError);
  const emb = layers
    .embedding({ inputDim: tv.vocabularySize(), outputDim: 4 })
    .apply(tv.apply(inp)) as c.SymbolicTensor;
  const pooled = layers.globalAveragePooling1d().apply(emb) as c.SymbolicTensor;
  const out = layers.dense({ units: 1, activation: 'sigmoid' }).apply(pooled) as c.SymbolicTensor;
  const model = new c.Model({ inputs: inp, outputs: out });
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
  const h = await model.fit(texts, labels, { epochs: 2, batchSize: 16, verbose: 0, seed: 3 });
  assert.equal(h.history.loss.length, 2);
  assert.deepEqual([...(model.predict(texts.slice(0, 5)) as c.Tensor).shape], [5, 1]);
  await withDir(async (dir) => {
    await model.save(dir);
    const back = await c.loadModel(dir);
    assert.deepEqual(
      flat(back.predict(texts.slice(0, 5)) as c.Tensor),
      flat(model.predict(texts.slice(0, 5)) as c.Tensor),
    );
  });
  labels.dispose();
});

test('a two-input model: raw text beside a number tensor, shuffled and split in fit, in predict', async () => {
  const { texts, labels } = reviews();
  const words = ['good', 'great', 'fun', 'lovely', 'bad', 'awful', 'boring', 'dull'];
  const tv = layers.textVectorization({ outputMode: 'count', vocabulary: words });
  const text = c.input({ shape: [], dtype: 'string' }),
    num = c.input({ shape: [2] });
  const merged = layers.concatenate().apply([tv.apply(text) as c.SymbolicTensor, num]) as c.SymbolicTensor;
  const out = layers.dense({ units: 1, activation: 'sigmoid' }).apply(merged) as c.SymbolicTensor;
  const model = new c.Model({ inputs: [text, num], outputs: out });
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
  const extra = c.zeros([40, 2]);
  const h = await model.fit([texts, extra], labels, {
    epochs: 2,
    batchSize: 8,
    verbose: 0,
    seed: 1,
    validationSplit: 0.2,
  });
  assert.equal(h.history.val_loss?.length ?? h.history.valLoss?.length, 2);
  const few = c.zeros([3, 2]);
  const [p] = model.predict([texts.slice(0, 3), few]) as c.Tensor[];
  assert.deepEqual([...p.shape], [3, 1]);
  await assert.rejects(model.fit([texts.slice(0, 5), extra], labels, { verbose: 0 }), /same number of samples/);
  c.dispose([extra, few, p, labels]);
});
