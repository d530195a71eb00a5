// Text: the Keras Tokenizer and padSequences, a byte-level BPE tokenizer, and real corpora loaders.
export { Tokenizer, textToWordSequence, KERAS_FILTERS } from './tokenizer.js';
export type { TokenizerOptions, TextToWordSequenceOptions, TextInput, MatrixMode } from './tokenizer.js';
export { padSequences } from './pad.js';
export type { PadSequencesOptions } from './pad.js';
export { BpeTokenizer, preTokenize, GPT2_SPLIT_PATTERN, BPE_LIMITS } from './bpe.js';
export type { BpeTrainOptions } from './bpe.js';
export { spamAssassin, mobyDick, parseEmail } from './corpora.js';
export type { Email, Chapter } from './corpora.js';
