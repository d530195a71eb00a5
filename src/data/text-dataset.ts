// textDatasetFromDirectory (Keras text_dataset_from_directory): one subfolder per class holding .txt
// files, read lazily a batch at a time into { x: StringTensor, y } batches, with Keras' seeded shuffle
// and validation split (the last fraction of the shuffled files). fit / evaluate free the label tensors.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { RandomStream, drawSeed, mixSeeds } from '../ops/random.js';
import { ArgumentError } from '../errors.js';
import { StringTensor } from '../nn/preprocessing/string-tensor.js';
import { MissingDataError } from './files.js';
import { Dataset } from './dataset.js';

export interface TextDatasetOptions {
  batchSize?: number;
  /** 'int' (int32 [b]), 'categorical' (one-hot float32 [b, classes]), 'binary' (float32 [b, 1]), null (no y). */
  labelMode?: 'int' | 'categorical' | 'binary' | null;
  /** The class folders to use, in label order (default: every subfolder, sorted). */
  classNames?: readonly string[];
  /** Shuffle the files (seeded) and reshuffle on every pass; default true. */
  shuffle?: boolean;
  seed?: number;
  /** The fraction held out for validation, with `subset`. */
  validationSplit?: number;
  subset?: 'training' | 'validation' | 'both';
}

export interface TextBatch {
  x: StringTensor;
  y?: Tensor;
}

/** A dataset of text batches, with the class names of its labels (Keras' dataset.class_names). */
export type TextDataset = Dataset<TextBatch> & { readonly classNames: readonly string[]; readonly files: number };

const OP = 'textDatasetFromDirectory';

async function listTextFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listTextFiles(path)));
    else if (e.isFile() && e.name.toLowerCase().endsWith('.txt')) out.push(path);
  }
  return out;
}

function checkOptions(o: TextDatasetOptions): void {
  const { batchSize = 32, labelMode = 'int', validationSplit, subset } = o;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError(`${OP}: batchSize must be a positive integer, got ${batchSize}`);
  if (labelMode !== null && !['int', 'categorical', 'binary'].includes(labelMode))
    throw new ArgumentError(`${OP}: labelMode must be 'int', 'categorical', 'binary' or null, got '${labelMode}'`);
  if (validationSplit !== undefined && !(validationSplit > 0 && validationSplit < 1))
    throw new ArgumentError(`${OP}: validationSplit must be in (0, 1), got ${validationSplit}`);
  if ((validationSplit === undefined) !== (subset === undefined))
    throw new ArgumentError(
      `${OP}: give validationSplit and subset together (subset: 'training', 'validation' or 'both')`,
    );
  if (subset !== undefined && !['training', 'validation', 'both'].includes(subset))
    throw new ArgumentError(`${OP}: subset must be 'training', 'validation' or 'both', got '${subset}'`);
  if (subset !== undefined && o.shuffle !== false && o.seed === undefined)
    throw new ArgumentError(
      `${OP}: a validation split of shuffled files needs a seed, so that the subsets do not overlap`,
    );
}

/** Labels of a batch in the label mode. */
function labelTensor(labels: number[], mode: 'int' | 'categorical' | 'binary', classes: number): Tensor {
  if (mode === 'int') return tensor(Int32Array.from(labels), [labels.length], 'int32');
  if (mode === 'binary') return tensor(Float32Array.from(labels), [labels.length, 1]);
  const hot = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (hot[i * classes + c] = 1));
  return tensor(hot, [labels.length, classes]);
}

export function textDatasetFromDirectory(
  dir: string,
  options: TextDatasetOptions & { subset: 'both' },
): Promise<[TextDataset, TextDataset]>;
export function textDatasetFromDirectory(dir: string, options?: TextDatasetOptions): Promise<TextDataset>;
export async function textDatasetFromDirectory(
  dir: string,
  options: TextDatasetOptions = {},
): Promise<TextDataset | [TextDataset, TextDataset]> {
  checkOptions(options);
  const { batchSize = 32, labelMode = 'int', shuffle = true, validationSplit, subset } = options;
  try {
    if (!(await stat(dir)).isDirectory()) throw new ArgumentError(`${OP}: ${dir} is not a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingDataError(`${OP}: ${dir} not found`);
    throw e;
  }
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const classNames = options.classNames ? [...options.classNames] : folders;
  const missing = classNames.filter((c) => !folders.includes(c));
  if (missing.length)
    throw new ArgumentError(
      `${OP}: no folder for class ${missing.join(', ')} in ${dir}; folders: ${folders.join(', ')}`,
    );
  if (classNames.length === 0) throw new ArgumentError(`${OP}: ${dir} has no class folders (one per class)`);
  if (labelMode === 'binary' && classNames.length !== 2)
    throw new ArgumentError(`${OP}: labelMode 'binary' needs exactly 2 classes, found ${classNames.length}`);
  let files: string[] = [],
    labels: number[] = [];
  for (const [c, name] of classNames.entries()) {
    const found = await listTextFiles(join(dir, name));
    files.push(...found);
    labels.push(...found.map(() => c));
  }
  if (files.length === 0) throw new ArgumentError(`${OP}: no .txt files under the class folders of ${dir}`);
  const seed = options.seed ?? drawSeed();
  if (shuffle) {
    const order = permutation(files.length, seed);
    files = Array.from(order, (i) => files[i]);
    labels = Array.from(order, (i) => labels[i]);
  }
  const nVal = validationSplit === undefined ? 0 : Math.floor(files.length * validationSplit);
  const make = (lo: number, hi: number, passSeed: number): TextDataset => {
    const f = files.slice(lo, hi),
      l = labels.slice(lo, hi);
    if (f.length === 0) throw new ArgumentError(`${OP}: the ${subset} subset of ${files.length} files is empty`);
    let pass = 0;
    const ds = Dataset.fromGenerator<TextBatch>(
      async function* () {
        // Keras reshuffles on every pass (dataset.shuffle); the first pass uses the order set above.
        const order = shuffle && pass > 0 ? permutation(f.length, mixSeeds(passSeed, pass)) : undefined;
        pass++;
        for (let start = 0; start < f.length; start += batchSize) {
          const idx = Array.from({ length: Math.min(batchSize, f.length - start) }, (_, j) =>
            order ? order[start + j] : start + j,
          );
          const texts = await Promise.all(idx.map((i) => readFile(f[i], 'utf8')));
          const x = new StringTensor(texts);
          yield labelMode === null
            ? { x }
            : {
                x,
                y: labelTensor(
                  idx.map((i) => l[i]),
                  labelMode,
                  classNames.length,
                ),
              };
        }
      },
      Math.ceil(f.length / batchSize),
    );
    return Object.assign(ds, { classNames, files: f.length });
  };
  if (subset === undefined) return make(0, files.length, seed);
  const train = () => make(0, files.length - nVal, seed),
    val = () => make(files.length - nVal, files.length, mixSeeds(seed, 1));
  return subset === 'training' ? train() : subset === 'validation' ? val() : [train(), val()];
}

function permutation(n: number, seed: number): Int32Array {
  const t = new RandomStream(seed).permutation(n);
  try {
    return t.dataSync() as Int32Array;
  } finally {
    t.dispose();
  }
}
