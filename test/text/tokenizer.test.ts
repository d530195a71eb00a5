// Keras Tokenizer and padSequences against Keras' own results (keras_preprocessing 1.1.2, worked by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer, textToWordSequence, padSequences, KERAS_FILTERS } from '../../src/text/index.js';
import { ArgumentError } from '../../src/errors.js';
import { FormatError } from '../../src/io/safetensors.js';
import { assertClose } from '../helpers.js';

const TEXTS = ['The cat sat on the mat.', 'The dog ate my homework!', 'the cat'];

test('textToWordSequence lower-cases, maps filters to the split and drops empty words', () => {
  assert.deepEqual(textToWordSequence("Don't e-mail\tme\nnow, OK?"), ["don't", 'e', 'mail', 'me', 'now', 'ok']);
  assert.deepEqual(textToWordSequence('a--b  c', { split: '-' }), ['a', 'b  c']);
  assert.deepEqual(textToWordSequence('A.B', { filters: '', lower: false }), ['A.B']);
  // Filters that are special inside a regex class, astral characters, and a '$' split are all literal.
  assert.deepEqual(textToWordSequence('a^b]c\\d-e🐳f'), ['a', 'b', 'c', 'd', 'e🐳f']);
  assert.deepEqual(textToWordSequence('a🐳b c', { filters: '🐳 ', split: '$&' }), ['a', 'b', 'c']);
  assert.equal(KERAS_FILTERS, '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n');
});

test('wordIndex orders by count, ties by first appearance; index 0 is never used', () => {
  const t = new Tokenizer();
  t.fitOnTexts(TEXTS);
  assert.deepEqual(
    [...t.wordIndex],
    [
      ['the', 1],
      ['cat', 2],
      ['sat', 3],
      ['on', 4],
      ['mat', 5],
      ['dog', 6],
      ['ate', 7],
      ['my', 8],
      ['homework', 9],
    ],
  );
  assert.deepEqual([...t.wordCounts].slice(0, 3), [
    ['the', 4],
    ['cat', 2],
    ['sat', 1],
  ]);
  assert.equal(t.wordDocs.get('the'), 3);
  assert.equal(t.indexDocs.get(2), 2);
  assert.equal(t.indexWord.get(9), 'homework');
  assert.equal(t.documentCount, 3);
  assert.deepEqual(t.textsToSequences(['the cat sat on the mat', 'a new cat']), [[1, 2, 3, 4, 1, 5], [2]]);
});

test('oovToken takes index 1 and replaces unknown and beyond-numWords words', () => {
  const t = new Tokenizer({ numWords: 4, oovToken: '<OOV>' });
  t.fitOnTexts(TEXTS);
  assert.equal(t.wordIndex.get('<OOV>'), 1);
  assert.equal(t.wordIndex.get('homework'), 10); // numWords filters at use, not in wordIndex
  assert.deepEqual(t.textsToSequences(['the cat sat on the mat', 'a new cat']), [
    [2, 3, 1, 1, 2, 1],
    [1, 1, 3],
  ]);
  assert.deepEqual(t.sequencesToTexts([[2, 3, 4, 9, 0, 42]]), ['the cat <OOV> <OOV> <OOV> <OOV>']);
});

test('numWords without an oovToken drops words of index >= numWords', () => {
  const t = new Tokenizer({ numWords: 3 });
  t.fitOnTexts(TEXTS);
  assert.deepEqual(t.textsToSequences(['the cat sat on the mat']), [[1, 2, 1]]);
  assert.deepEqual(t.sequencesToTexts([[1, 2, 3, 0, 42]]), ['the cat']);
});

test('charLevel tokens are characters (no filtering); lists of tokens are taken as split', () => {
  const t = new Tokenizer({ charLevel: true, oovToken: '?' });
  t.fitOnTexts(['Hi, hi!', 'ok']);
  assert.deepEqual(
    [...t.wordIndex],
    [
      ['?', 1],
      ['h', 2],
      ['i', 3],
      [',', 4],
      [' ', 5],
      ['!', 6],
      ['o', 7],
      ['k', 8],
    ],
  );
  assert.deepEqual(t.textsToSequences(['hix']), [[2, 3, 1]]);
  assert.deepEqual(t.sequencesToTexts([[2, 3, 1]]), ['h i ?']);
  const w = new Tokenizer();
  w.fitOnTexts([['Hello', 'World', 'hello']]);
  assert.deepEqual(
    [...w.wordIndex],
    [
      ['hello', 1],
      ['world', 2],
    ],
  );
});

test('sequencesToMatrix: binary, count, freq and tfidf as Keras computes them', () => {
  const t = new Tokenizer({ numWords: 5 });
  t.fitOnTexts(TEXTS);
  const tfidf = t.textsToMatrix(['the cat the dog', ''], 'tfidf');
  assert.deepEqual([...tfidf.shape], [2, 5]);
  assertClose(
    tfidf,
    [
      [0, (1 + Math.log(2)) * Math.log(1.75), Math.log(2), 0, 0],
      [0, 0, 0, 0, 0],
    ],
    { rtol: 1e-6 },
  );
  assertClose(t.sequencesToMatrix([[1, 1, 2, 7]], 'freq'), [[0, 0.5, 0.25, 0, 0]]);
  assertClose(t.sequencesToMatrix([[1, 1, 2, 7]], 'count'), [[0, 2, 1, 0, 0]]);
  assertClose(t.sequencesToMatrix([[1, 1, 2, 7]]), [[0, 1, 1, 0, 0]]);
  assert.throws(() => new Tokenizer().sequencesToMatrix([[1]]), ArgumentError);
});

test('toJSON writes exactly the text Keras to_json() writes, and fromJSON restores the tokenizer', () => {
  const t = new Tokenizer();
  t.fitOnTexts(['a b a']);
  const keras =
    '{"class_name": "Tokenizer", "config": {"num_words": null, ' +
    '"filters": "!\\"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n", "lower": true, "split": " ",' +
    ' "char_level": false, "oov_token": null, "document_count": 1,' +
    ' "word_counts": "{\\"a\\": 2, \\"b\\": 1}", "word_docs": "{\\"a\\": 1, \\"b\\": 1}",' +
    ' "index_docs": "{\\"1\\": 1, \\"2\\": 1}", "index_word": "{\\"1\\": \\"a\\", \\"2\\": \\"b\\"}",' +
    ' "word_index": "{\\"a\\": 1, \\"b\\": 2}"}}';
  assert.equal(t.toJSON(), keras);

  // Integer-like and non-ASCII words keep their order (a JS object would move '42' first).
  const u = new Tokenizer({ numWords: 10, oovToken: '<unk>' });
  u.fitOnTexts(['zebra 42 café 42', 'naïve 7 zebra']);
  const json = u.toJSON();
  assert.ok(json.includes('caf\\\\u00e9'), 'non-ASCII is escaped as Python does');
  const back = Tokenizer.fromJSON(json);
  assert.equal(back.toJSON(), json);
  assert.deepEqual([...back.wordCounts], [...u.wordCounts]);
  assert.deepEqual([...back.wordIndex], [...u.wordIndex]);
  assert.deepEqual(back.textsToSequences(['zebra café unknown 7']), u.textsToSequences(['zebra café unknown 7']));
  // Refitting after loading breaks ties the same way as refitting the original.
  back.fitOnTexts(['7']);
  u.fitOnTexts(['7']);
  assert.deepEqual([...back.wordIndex], [...u.wordIndex]);

  assert.throws(() => Tokenizer.fromJSON('{'), FormatError);
  assert.throws(
    () => Tokenizer.fromJSON('{"config": {"word_counts": "[1]", "word_docs": "{}", "word_index": "{}"}}'),
    FormatError,
  );
});

test('padSequences pads and truncates at the front by default, as Keras does', () => {
  const s = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]];
  const rows = (t: ReturnType<typeof padSequences>) => {
    const d = Array.from(t.dataSync());
    return Array.from({ length: t.shape[0] }, (_, i) => d.slice(i * t.shape[1], (i + 1) * t.shape[1]));
  };
  const p = padSequences(s);
  assert.equal(p.dtype, 'int32');
  assert.deepEqual(rows(p), [
    [0, 0, 1, 2, 3],
    [0, 0, 0, 4, 5],
    [0, 0, 0, 0, 0],
    [6, 7, 8, 9, 10],
  ]);
  assert.deepEqual(rows(padSequences(s, { maxlen: 3 })), [
    [1, 2, 3],
    [0, 4, 5],
    [0, 0, 0],
    [8, 9, 10],
  ]);
  assert.deepEqual(rows(padSequences(s, { maxlen: 3, padding: 'post' })), [
    [1, 2, 3],
    [4, 5, 0],
    [0, 0, 0],
    [8, 9, 10],
  ]);
  assert.deepEqual(rows(padSequences(s, { maxlen: 3, truncating: 'post' })), [
    [1, 2, 3],
    [0, 4, 5],
    [0, 0, 0],
    [6, 7, 8],
  ]);
  assert.deepEqual(rows(padSequences(s, { maxlen: 4, padding: 'post', truncating: 'post', value: -1 })), [
    [1, 2, 3, -1],
    [4, 5, -1, -1],
    [-1, -1, -1, -1],
    [6, 7, 8, 9],
  ]);
  // int32 truncates toward zero (numpy's cast); float dtypes keep fractions.
  assert.deepEqual(rows(padSequences([[1.7, -2.5]], { maxlen: 3, value: 0.9 })), [[0, 1, -2]]);
  const f = padSequences([[1.5, 2.25]], { maxlen: 3, dtype: 'float32', value: 0.5 });
  assert.deepEqual([f.dtype, rows(f)], ['float32', [[0.5, 1.5, 2.25]]]);
  assert.deepEqual([...padSequences([]).shape], [0, 0]);
  assert.throws(() => padSequences(s, { padding: 'middle' as 'pre' }), ArgumentError);
  assert.throws(() => padSequences(s, { maxlen: -1 }), ArgumentError);
});
