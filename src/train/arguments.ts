// Checks of what fit / evaluate / predict are given (data and numeric arguments), each failing with a
// typed error that names the call, the argument, the value and what was expected.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { checkOptions, nearestName, optionKeys } from '../registry.js';
import type { Model } from './model.js';
import type { CompileArgs, EvaluateArgs, FitArgs, PredictArgs } from './trainer.js';
import { StringTensor, asStringTensor, isStringArray } from '../nn/preprocessing/string-tensor.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  return typeof v === 'object' ? `an object (${v.constructor?.name ?? 'no prototype'})` : typeof v;
}

/** An integer >= min (Number.isInteger rejects NaN, Infinity and fractions). */
export function checkInteger(op: string, name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new ArgumentError(
      `${op}: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${describe(value)}`,
    );
}

export function checkVerbose(op: string, value: unknown): void {
  if (value !== 0 && value !== 1 && value !== 2 && value !== 'auto')
    throw new ArgumentError(`${op}: verbose must be 0, 1, 2 or 'auto', got ${describe(value)}`);
}

/** validationSplit: the fraction of the samples held out, in [0, 1). */
export function checkValidationSplit(op: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value < 1))
    throw new ArgumentError(`${op}: validationSplit must be in [0, 1), got ${describe(value)}`);
}

/** The names data may be keyed by: a functional model's input and output names (none for other models). */
export interface DataNames {
  model: string;
  inputs?: readonly string[];
  outputs?: readonly string[];
}

/** Numbers, or arrays nested of numbers: what a user may pass where a tensor is wanted. */
function isNumberArray(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'number' || isNumberArray(e));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * Data keyed by name ({ title: x1, body: x2 }, as Keras takes it) as a list in the model's order; every
 * name must be given and no other. `kind` is 'input' or 'output'.
 */
function byName(
  op: string,
  what: string,
  value: Record<string, unknown>,
  kind: 'input' | 'output',
  known: readonly string[],
  model: string,
): unknown[] {
  const listed = `the ${kind}s of model '${model}' are ${known.map((n) => `'${n}'`).join(', ')}`;
  for (const key of Object.keys(value))
    if (!known.includes(key)) {
      const near = nearestName(key, known);
      const hint = near === undefined ? '' : ` (did you mean '${near}'?)`;
      throw new ArgumentError(`${op}: ${what} has '${key}', which is not an ${kind} name${hint}; ${listed}`);
    }
  const missing = known.filter((n) => !Object.hasOwn(value, n));
  if (missing.length > 0)
    throw new ArgumentError(
      `${op}: ${what} has no entry for ${kind} ${missing.map((n) => `'${n}'`).join(', ')}; ${listed}`,
    );
  return known.map((n) => value[n]);
}

/**
 * `what` ('x', 'y', 'sampleWeight') as a non-empty list of tensors with a batch axis: a Tensor, a list
 * of them, or (for a functional model, with `kind` given) an object keyed by input or output name.
 * Labels must come one per output when `names` knows the outputs. `hint` says what was probably meant
 * when this is not a tensor (e.g. labels missing).
 */
export function tensorList(
  op: string,
  what: string,
  value: unknown,
  hint = '',
  kind?: 'input' | 'output',
  names?: DataNames,
): Tensor[] {
  const expected = `expected a Tensor or a list of Tensors${hint}`;
  if (isNumberArray(value))
    throw new ArgumentError(`${op}: ${what} is a plain array of numbers; ${expected} (make one with tensor(values))`);
  if (ArrayBuffer.isView(value))
    throw new ArgumentError(
      `${op}: ${what} is a ${value.constructor.name}; ${expected} (make one with tensor(data, shape))`,
    );
  const known = kind === 'input' ? names?.inputs : kind === 'output' ? names?.outputs : undefined;
  const keyed = known !== undefined && isPlainObject(value);
  const list = keyed ? byName(op, what, value, kind!, known, names!.model) : Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ArgumentError(`${op}: ${what} is an empty list; ${expected}`);
  list.forEach((t, i) => {
    const where = keyed ? `${what}.${known![i]}` : Array.isArray(value) ? `${what}[${i}]` : what;
    if (isNumberArray(t))
      throw new ArgumentError(
        `${op}: ${where} is a plain array of numbers; expected a Tensor (make one with tensor(values))`,
      );
    if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${where} is ${describe(t)}; ${expected}`);
    if (t.rank === 0)
      throw new ShapeError(`${op}: ${where} is a scalar (shape []); expected a batch axis first, e.g. shape [n, ...]`);
  });
  // (A count of inputs that does not match fails in the graph, in Keras' words and with the input shapes.)
  if (kind === 'output' && known && list.length !== known.length)
    throw new ArgumentError(
      `${op}: ${what} has ${list.length} tensor${list.length > 1 ? 's' : ''} for the ${known.length} ` +
        `outputs of model '${names!.model}' (${known.join(', ')}); give one per output, ` +
        `as a list in that order or an object keyed by output name`,
    );
  return list as Tensor[];
}

/**
 * A model's inputs x: tensors as tensorList, or raw text for models that start with a text layer: a
 * string[] (one string per sample), a string[][] or a StringTensor, alone, in the list of inputs or
 * keyed by input name.
 */
export function inputList(op: string, value: unknown, names?: DataNames, what = 'x'): (Tensor | StringTensor)[] {
  const isText = (v: unknown) => isStringArray(v) || v instanceof StringTensor;
  if (isText(value)) return [asStringTensor(value) as StringTensor];
  const known = names?.inputs;
  const keyed = known !== undefined && isPlainObject(value);
  const entries = keyed ? byName(op, what, value, 'input', known, names!.model) : Array.isArray(value) ? value : [];
  if (!entries.some(isText)) return tensorList(op, what, value, '', 'input', names);
  // A list of inputs, some of them raw text.
  return entries.map((v, i) =>
    isText(v)
      ? (asStringTensor(v) as StringTensor)
      : tensorList(op, keyed ? `${what}.${known![i]}` : `${what}[${i}]`, v)[0],
  );
}

/** The number of samples of x, y and sample weights, which must agree and not be 0. */
export function sampleCount(op: string, tensors: readonly { readonly shape: readonly number[] }[]): number {
  const n = tensors[0].shape[0];
  const shapes = () => tensors.map((u) => fmtShape(u.shape)).join(', ');
  for (const t of tensors)
    if (t.shape[0] !== n)
      throw new ShapeError(`${op}: all inputs and labels need the same number of samples; got ${shapes()}`);
  if (n === 0) throw new ArgumentError(`${op}: x has no samples (shapes ${shapes()}); expected at least one`);
  return n;
}

/** What a model's data may be keyed by: the names of a functional model's inputs and outputs (Keras). */
export function dataNames(model: Model): DataNames {
  if (!model.isFunctional) return { model: model.name };
  return {
    model: model.name,
    inputs: model.inputs.map((t) => t.node?.layer.name ?? t.name),
    outputs: model.outputs.map((t) => t.node!.layer.name),
  };
}

const COMPILE_OPTIONS = optionKeys<CompileArgs>({
  optimizer: true,
  loss: true,
  metrics: true,
  weightedMetrics: true,
  lossWeights: true,
  privacy: true,
  jitCompile: true,
});
const FIT_OPTIONS = optionKeys<FitArgs>({
  epochs: true,
  batchSize: true,
  validationSplit: true,
  validationData: true,
  shuffle: true,
  classWeight: true,
  sampleWeight: true,
  initialEpoch: true,
  verbose: true,
  callbacks: true,
  record: true,
  seed: true,
  privacy: true,
  distributed: true,
});
const EVALUATE_OPTIONS = optionKeys<EvaluateArgs>({ batchSize: true, verbose: true, sampleWeight: true });
const PREDICT_OPTIONS = optionKeys<PredictArgs>({ batchSize: true, verbose: true });
/** The option keys of each training call. */
export const CALL_OPTIONS = {
  compile: COMPILE_OPTIONS,
  fit: FIT_OPTIONS,
  evaluate: EVALUATE_OPTIONS,
  predict: PREDICT_OPTIONS,
};

/**
 * Rejects keys compile / fit / evaluate / predict do not take (`batch_size`, `optimiser`), naming the
 * right one, rather than ignoring them as plain JavaScript would.
 */
export function checkCallOptions(op: keyof typeof CALL_OPTIONS, options: unknown): void {
  checkOptions(op, options, CALL_OPTIONS[op]);
  if (op === 'fit' && options !== undefined) checkFitValues(options as FitArgs);
}

/** The kinds of fit's non-numeric options (the numbers are checked where they are read). */
function checkFitValues({ callbacks, shuffle, classWeight }: FitArgs): void {
  if (callbacks !== undefined) {
    if (!Array.isArray(callbacks))
      throw new ArgumentError(
        `fit: callbacks must be a list of callbacks (e.g. [new EarlyStopping()]), got ${describe(callbacks)}`,
      );
    callbacks.forEach((cb, i) => {
      if (typeof cb !== 'object' || cb === null)
        throw new ArgumentError(`fit: callbacks[${i}] is ${describe(cb)}; expected a callback object`);
    });
  }
  if (shuffle !== undefined && typeof shuffle !== 'boolean')
    throw new ArgumentError(`fit: shuffle must be true or false, got ${describe(shuffle)}`);
  if (classWeight !== undefined && !isPlainObject(classWeight))
    throw new ArgumentError(
      'fit: classWeight must be an object from class index to weight (e.g. { 0: 1, 1: 5 }), ' +
        `got ${describe(classWeight)}`,
    );
}
