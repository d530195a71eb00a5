// Tokenizer.fromJSON on bad input: every malformed or inconsistent file is a FormatError naming the field,
// never a SyntaxError, a TypeError or a tokenizer that silently gives wrong indices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../../src/text/index.js';
import { FormatError } from '../../src/io/safetensors.js';

const good = new Tokenizer({ numWords: 10, oovToken: '<unk>' });
good.fitOnTexts(['the cat sat on the mat', 'the dog ate 42 cats']);
const GOOD = good.toJSON();

/** GOOD with config fields replaced (undefined removes the field). */
function withConfig(changes: Record<string, unknown>): string {
  const v = JSON.parse(GOOD) as { class_name: string; config: Record<string, unknown> };
  for (const [k, x] of Object.entries(changes)) {
    if (x === undefined) delete v.config[k];
    else v.config[k] = x;
  }
  return JSON.stringify(v);
}

test('the good file round-trips unchanged, field for field', () => {
  const back = Tokenizer.fromJSON(GOOD);
  assert.equal(back.toJSON(), GOOD);
  assert.deepEqual([...back.wordIndex], [...good.wordIndex]);
  assert.deepEqual([...back.indexWord], [...good.indexWord]);
  assert.deepEqual([...back.indexDocs], [...good.indexDocs]);
  assert.deepEqual(back.textsToSequences(['the dog sat on a cat']), good.textsToSequences(['the dog sat on a cat']));
  // Fields Keras always writes may be absent: the constructor's defaults apply.
  const minimal = Tokenizer.fromJSON(
    withConfig({ num_words: undefined, filters: undefined, lower: undefined, split: undefined, oov_token: null }),
  );
  assert.deepEqual([minimal.numWords, minimal.lower, minimal.split, minimal.oovToken], [null, true, ' ', null]);
});

test('malformed JSON, wrong field types and bad indices are FormatErrors that name what is wrong', () => {
  const index = (body: string) => withConfig({ word_index: body });
  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['not a string', { config: {} }, /expected JSON text, got object/],
    ['null', 'null', /expected \{"class_name"/],
    ['an array', '[1, 2]', /expected \{"class_name"/],
    ['config is a list', '{"class_name": "Tokenizer", "config": []}', /expected \{"class_name"/],
    ['another class', JSON.stringify({ class_name: 'Other', config: {} }), /class_name is "Other"/],
    ['num_words a string', withConfig({ num_words: '10' }), /config\.num_words must be null or an integer >= 0/],
    ['num_words negative', withConfig({ num_words: -1 }), /config\.num_words/],
    ['num_words fractional', withConfig({ num_words: 2.5 }), /config\.num_words/],
    ['filters a number', withConfig({ filters: 7 }), /config\.filters must be a string, got 7/],
    ['lower a string', withConfig({ lower: 'yes' }), /config\.lower must be a boolean, got "yes"/],
    ['split empty', withConfig({ split: '' }), /config\.split must be a non-empty string/],
    ['split nested', withConfig({ split: [[[' ']]] }), /config\.split must be a non-empty string, got an array/],
    ['char_level 1', withConfig({ char_level: 1 }), /config\.char_level must be a boolean/],
    ['oov_token a number', withConfig({ oov_token: 1 }), /config\.oov_token must be null or a string/],
    ['document_count -1', withConfig({ document_count: -1 }), /config\.document_count must be an integer >= 0/],
    ['document_count 1.5', withConfig({ document_count: 1.5 }), /config\.document_count/],
    ['word_counts missing', withConfig({ word_counts: undefined }), /config\.word_counts must be a string/],
    ['word_counts an object', withConfig({ word_counts: { the: 3 } }), /config\.word_counts must be a string/],
    ['word_counts a list', withConfig({ word_counts: '[1]' }), /config\.word_counts is not a flat JSON object/],
    ['a count of 0', withConfig({ word_counts: '{"the": 0}' }), /"the" has count 0; expected an integer >= 1/],
    ['a count of 2.5', withConfig({ word_counts: '{"the": 2.5}' }), /"the" has count 2.5/],
    ['a word in too many documents', withConfig({ word_docs: '{"the": 3}' }), /in 3 documents, but document_count/],
    ['index -5', index('{"the": -5}'), /config\.word_index: "the" has index -5; expected an integer >= 1/],
    ['index 0 (padding)', index('{"the": 0}'), /"the" has index 0/],
    ['index 0.5', index('{"the": 0.5}'), /"the" has index 0.5/],
    ['index Infinity (1e999)', index('{"the": 1e999}'), /"the" has index Infinity/],
    ['index past 2^53', index('{"the": 9007199254740993}'), /"the" has index 9007199254740992/],
    ['index Infinity (a word)', index('{"the": Infinity}'), /config\.word_index is not a flat JSON object/],
    ['index a string', index('{"the": "1"}'), /the value of "the" is not a number/],
    ['index with a leading zero', index('{"the": 01}'), /config\.word_index is not a flat JSON object/],
    ['two words on one index', index('{"the": 1, "cat": 2, "sat": 2}'), /"sat" and "cat" both have index 2/],
    ['a word written twice', index('{"the": 1, "the": 2}'), /the key "the" is written twice/],
    ['a bad escape in a word', index('{"\\x": 1}'), /the key "\\x" is not a JSON string/],
    ['a raw control character', index('{"a\tb": 1}'), /is not a JSON string/],
    ['text after the object', index('{"the": 1} x'), /not a flat JSON object/],
  ];
  for (const [what, input, message] of bad) {
    assert.throws(
      () => Tokenizer.fromJSON(input as string),
      (e: Error) => e instanceof FormatError && message.test(e.message),
      `${what}: expected a FormatError matching ${message}`,
    );
  }
});
