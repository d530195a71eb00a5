// Type checks for layer config fields read from files: one table, by field name, for every layer class,
// so that a saved architecture with `units: "128"` or `useBias: "yes"` is rejected where it is read
// (layerFromConfig) instead of flowing into shape arithmetic or truthiness tests.
import { ArgumentError, fmtValue } from '../errors.js';

interface Kind {
  readonly expected: string;
  readonly test: (v: unknown) => boolean;
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isPositiveInt = (v: unknown) => isInt(v) && v >= 1;
const isFinite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const listOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);

const BOOLEAN: Kind = { expected: 'true or false', test: (v) => typeof v === 'boolean' };
const POSITIVE_INT: Kind = { expected: 'a positive integer', test: isPositiveInt };
const POSITIVE_INT_OR_NULL: Kind = {
  expected: 'a positive integer or null',
  test: (v) => v === null || isPositiveInt(v),
};
const POSITIVE_INTS: Kind = {
  expected: 'a positive integer or a list of them',
  test: (v) => isPositiveInt(v) || listOf(v, isPositiveInt),
};
const POSITIVE_INTS_OR_NULL: Kind = {
  expected: `${POSITIVE_INTS.expected}, or null`,
  test: (v) => v === null || POSITIVE_INTS.test(v),
};
const AXES: Kind = { expected: 'an integer or a list of integers', test: (v) => isInt(v) || listOf(v, isInt) };
const INTS: Kind = { expected: 'a list of integers', test: (v) => listOf(v, isInt) };
const SHAPE: Kind = {
  expected: 'a list of non-negative integers or nulls',
  test: (v) => listOf(v, (d) => d === null || (isInt(d) && d >= 0)),
};
const SHAPE_OR_NULL: Kind = { expected: `${SHAPE.expected}, or null`, test: (v) => v === null || SHAPE.test(v) };
const NUMBER: Kind = { expected: 'a finite number', test: isFinite };
const NUMBER_OR_NULL: Kind = { expected: 'a finite number or null', test: (v) => v === null || isFinite(v) };
const AXES_OR_NULL: Kind = { expected: `${AXES.expected}, or null`, test: (v) => v === null || AXES.test(v) };
const RATE: Kind = {
  expected: 'a number in [0, 1]',
  test: (v) => isFinite(v) && (v as number) >= 0 && (v as number) <= 1,
};
const SEED: Kind = { expected: 'an integer or null', test: (v) => v === null || isInt(v) };
const STRING: Kind = { expected: 'a string', test: (v) => typeof v === 'string' };
const DTYPE: Kind = { expected: "'float32' or 'float64'", test: (v) => v === 'float32' || v === 'float64' };
/** An InputLayer's dtype is its input's, which may be an integer one (token ids). */
const INPUT_DTYPE: Kind = {
  expected: "'float32', 'float64', 'int32', 'bool' or 'string'",
  test: (v) => DTYPE.test(v) || v === 'int32' || v === 'bool' || v === 'string',
};

const FIELDS: Readonly<Record<string, Kind>> = Object.assign(Object.create(null) as Record<string, Kind>, {
  name: STRING,
  dtype: DTYPE,
  ...Object.fromEntries(
    [
      'trainable',
      'useBias',
      'center',
      'scale',
      'keepdims',
      'returnSequences',
      'returnState',
      'goBackwards',
      'stateful',
      'unitForgetBias',
      'resetAfter',
      'maskZero',
      'useCausalMask',
      'zeroOutputForMask',
      'normalizeFirst',
      'normalize',
      'useScale',
    ].map((k) => [k, BOOLEAN]),
  ),
  ...Object.fromEntries(
    [
      'units',
      'filters',
      'inputDim',
      'outputDim',
      'intermediateDim',
      'keyDim',
      'numHeads',
      'sequenceLength',
      'maxWavelength',
      'batchSize',
      'groups',
      'n',
      'depthMultiplier',
    ].map((k) => [k, POSITIVE_INT]),
  ),
  inputLength: POSITIVE_INT_OR_NULL,
  valueDim: POSITIVE_INT_OR_NULL,
  outputShape: POSITIVE_INT_OR_NULL,
  kernelSize: POSITIVE_INTS,
  poolSize: POSITIVE_INTS,
  dilationRate: POSITIVE_INTS,
  size: POSITIVE_INTS,
  strides: POSITIVE_INTS_OR_NULL,
  axis: AXES,
  targetShape: INTS,
  inputShape: SHAPE,
  batchInputShape: SHAPE,
  buildInputShape: SHAPE,
  shape: SHAPE,
  noiseShape: SHAPE_OR_NULL,
  epsilon: NUMBER,
  layerNormEpsilon: NUMBER,
  momentum: NUMBER,
  rate: RATE,
  dropout: RATE,
  recurrentDropout: RATE,
  seed: SEED,
  negativeSlope: NUMBER,
  alpha: NUMBER,
  threshold: NUMBER,
  maxValue: NUMBER_OR_NULL,
  stddev: NUMBER,
  maskValue: NUMBER,
  axes: AXES,
  dims: INTS,
  sharedAxes: AXES_OR_NULL,
  scoreMode: STRING,
  function: STRING,
  inputScale: NUMBER_OR_NULL,
  inputZeroPoint: NUMBER_OR_NULL,
  freezeRangesAfterStep: POSITIVE_INT_OR_NULL,
});

const NUMBERS: Kind = {
  expected: 'a finite number or a list of them',
  test: (v) => isFinite(v) || (listOf(v, isFinite) && (v as unknown[]).length > 0),
};
const NUMBERS_OR_NULL: Kind = { expected: `${NUMBERS.expected}, or null`, test: (v) => v === null || NUMBERS.test(v) };
const FACTOR: Kind = {
  expected: 'a number or a [lower, upper] pair',
  test: (v) => isFinite(v) || (listOf(v, isFinite) && (v as unknown[]).length === 2),
};
const FACTOR_OR_NULL: Kind = { expected: `${FACTOR.expected}, or null`, test: (v) => v === null || FACTOR.test(v) };

/** Fields whose kind differs by layer class (Rescaling's scale is a number, BatchNormalization's a flag). */
const CLASS_FIELDS: Readonly<Record<string, Readonly<Record<string, Kind>>>> = {
  Hashing: { maskValue: NUMBER_OR_NULL },
  Rescaling: { scale: NUMBERS, offset: NUMBERS },
  Normalization: { axis: AXES_OR_NULL, mean: NUMBERS_OR_NULL, variance: NUMBERS_OR_NULL, invert: BOOLEAN },
  Resizing: { height: POSITIVE_INT, width: POSITIVE_INT, interpolation: STRING, cropToAspectRatio: BOOLEAN },
  CenterCrop: { height: POSITIVE_INT, width: POSITIVE_INT },
  RandomFlip: { mode: STRING },
  RandomRotation: { factor: FACTOR, fillMode: STRING, interpolation: STRING, fillValue: NUMBER },
  RandomZoom: {
    heightFactor: FACTOR,
    widthFactor: FACTOR_OR_NULL,
    fillMode: STRING,
    interpolation: STRING,
    fillValue: NUMBER,
  },
  RandomTranslation: {
    heightFactor: FACTOR,
    widthFactor: FACTOR,
    fillMode: STRING,
    interpolation: STRING,
    fillValue: NUMBER,
  },
  RandomContrast: { factor: FACTOR, valueRange: FACTOR },
};

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const classField = (className: string, field: string): Kind | undefined =>
  own(CLASS_FIELDS, className) && own(CLASS_FIELDS[className], field) ? CLASS_FIELDS[className][field] : undefined;

/**
 * Throws an ArgumentError naming the layer, the field and what was expected when a known config field
 * holds a value of the wrong kind. Fields the table does not know are left to the layer.
 */
export function checkLayerConfig(className: string, config: unknown): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new ArgumentError(`layerFromConfig: the config of a ${className} must be an object, got ${fmtValue(config)}`);
  const record = config as Record<string, unknown>;
  const layer = typeof record.name === 'string' ? `${className} '${record.name}'` : className;
  for (const [field, value] of Object.entries(record)) {
    const kind =
      classField(className, field) ?? (field === 'dtype' && className === 'InputLayer' ? INPUT_DTYPE : FIELDS[field]);
    if (kind === undefined || value === undefined || kind.test(value)) continue;
    throw new ArgumentError(`${layer}: config field '${field}' must be ${kind.expected}, got ${fmtValue(value)}`);
  }
}
