// The preprocessing layers for text and categories (importing this registers them for layerFromConfig).
export { StringTensor, isStringArray } from './string-tensor.js';
export { StringLookup, IntegerLookup, type LookupArgs } from './lookup.js';
export {
  TextVectorization,
  registerStandardize,
  registerSplit,
  type TextVectorizationArgs,
  type StandardizeFn,
  type SplitFn,
} from './text-vectorization.js';
export { CategoryEncoding, Hashing, type CategoryEncodingArgs, type HashingArgs } from './category-encoding.js';
export { hash32 } from './hash.js';
export type { OutputMode } from './vocabulary.js';
