// Weight initializers with Keras names, defaults and fan rules. Variance-scaling initializers compute
// fans as Keras does: for a conv kernel [kh, kw, cin, cout], fanIn = kh*kw*cin and fanOut = kh*kw*cout.
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { full, tensor } from '../ops/creation.js';
import { RandomStream, randomNormal, randomUniform, truncatedNormal } from '../ops/random.js';
import { reshape } from '../ops/views.js';
import { ArgumentError } from '../errors.js';
import { Registry } from '../registry.js';
import { sizeOf } from '../tensor/shape.js';

export interface Initializer {
  (shape: readonly number[], dtype?: DType): Tensor;
  readonly config: InitializerConfig;
}

export interface InitializerConfig {
  className: string;
  config: Record<string, number | string | undefined>;
}

export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = sizeOf(shape.slice(0, -2));
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}

function make(
  className: string,
  config: InitializerConfig['config'],
  fn: (shape: readonly number[], dtype: DType) => Tensor,
): Initializer {
  return Object.assign((shape: readonly number[], dtype: DType = 'float32') => fn(shape, dtype), {
    config: { className, config },
  });
}

/** Keras draws from this when no seed is given; a seed gives a fresh generator per call (reproducible). */
function rng(seed: number | undefined) {
  return seed === undefined ? {} : { generator: new RandomStream(seed) };
}

// Stddev of a unit normal truncated to [-2, 2]; Keras divides by it so the truncated draw has the scale asked for.
const TRUNCATED_STDDEV = 0.87962566103423978;

type Mode = 'fanIn' | 'fanOut' | 'fanAvg';
type Distribution = 'truncatedNormal' | 'untruncatedNormal' | 'uniform';

export function varianceScaling(
  {
    scale = 1,
    mode = 'fanIn' as Mode,
    distribution = 'truncatedNormal' as Distribution,
    seed,
  }: { scale?: number; mode?: Mode; distribution?: Distribution; seed?: number } = {},
  className = 'VarianceScaling',
): Initializer {
  return make(className, { scale, mode, distribution, seed }, (shape, dtype) => {
    const { fanIn, fanOut } = computeFans(shape);
    const n = mode === 'fanIn' ? fanIn : mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
    const variance = scale / Math.max(1, n);
    if (distribution === 'uniform') {
      const limit = Math.sqrt(3 * variance);
      return randomUniform(shape, { min: -limit, max: limit, dtype, ...rng(seed) });
    }
    if (distribution === 'untruncatedNormal')
      return randomNormal(shape, { stddev: Math.sqrt(variance), dtype, ...rng(seed) });
    return truncatedNormal(shape, { stddev: Math.sqrt(variance) / TRUNCATED_STDDEV, dtype, ...rng(seed) });
  });
}

export const glorotUniform = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform', seed }, 'GlorotUniform');
export const glorotNormal = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'truncatedNormal', seed }, 'GlorotNormal');
export const heUniform = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'uniform', seed }, 'HeUniform');
export const heNormal = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'truncatedNormal', seed }, 'HeNormal');
export const lecunUniform = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'uniform', seed }, 'LecunUniform');
export const lecunNormal = ({ seed }: { seed?: number } = {}) =>
  varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'truncatedNormal', seed }, 'LecunNormal');

export const zeros = () => make('Zeros', {}, (shape, dtype) => full(shape, 0, dtype));
export const ones = () => make('Ones', {}, (shape, dtype) => full(shape, 1, dtype));
export const constant = ({ value = 0 }: { value?: number } = {}) =>
  make('Constant', { value }, (shape, dtype) => full(shape, value, dtype));

/** Keras defaults: RandomNormal(mean 0, stddev 0.05), RandomUniform(-0.05, 0.05), TruncatedNormal(0, 0.05). */
export const randomNormalInit = ({
  mean = 0,
  stddev = 0.05,
  seed,
}: { mean?: number; stddev?: number; seed?: number } = {}) =>
  make('RandomNormal', { mean, stddev, seed }, (shape, dtype) =>
    randomNormal(shape, { mean, stddev, dtype, ...rng(seed) }),
  );
export const randomUniformInit = ({
  minval = -0.05,
  maxval = 0.05,
  seed,
}: { minval?: number; maxval?: number; seed?: number } = {}) =>
  make('RandomUniform', { minval, maxval, seed }, (shape, dtype) =>
    randomUniform(shape, { min: minval, max: maxval, dtype, ...rng(seed) }),
  );
export const truncatedNormalInit = ({
  mean = 0,
  stddev = 0.05,
  seed,
}: { mean?: number; stddev?: number; seed?: number } = {}) =>
  make('TruncatedNormal', { mean, stddev, seed }, (shape, dtype) =>
    truncatedNormal(shape, { mean, stddev, dtype, ...rng(seed) }),
  );

/**
 * A (semi-)orthogonal matrix times gain, from the QR decomposition of a normal matrix (Keras / Saxe et
 * al.), with signs fixed by R's diagonal so the result is uniformly distributed. Higher-rank shapes are
 * flattened to [prod(shape[:-1]), shape[-1]].
 */
export const orthogonal = ({ gain = 1, seed }: { gain?: number; seed?: number } = {}) =>
  make('Orthogonal', { gain, seed }, (shape, dtype) => {
    if (shape.length < 2) throw new ArgumentError(`orthogonal: shape must have rank >= 2, got [${shape.join(', ')}]`);
    const cols = shape[shape.length - 1];
    const rows = sizeOf(shape) / cols;
    // Work on the tall orientation (m >= n), transpose back afterwards.
    const m = Math.max(rows, cols),
      n = Math.min(rows, cols);
    const draw = randomNormal([m * n], { dtype: 'float64', ...rng(seed) });
    const a = draw.dataSync() as Float64Array;
    draw.dispose();
    // Modified Gram-Schmidt on the n columns of the m x n matrix a (column j at a[i*n + j]).
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += a[i * n + j] * a[i * n + k];
        for (let i = 0; i < m; i++) a[i * n + j] -= dot * a[i * n + k];
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += a[i * n + j] ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < m; i++) a[i * n + j] /= norm;
    }
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        out[i * cols + j] = gain * (rows >= cols ? a[i * n + j] : a[j * n + i]);
      }
    return reshape(tensor(out, [rows, cols], dtype), shape);
  });

const FACTORIES: Record<string, (config: Record<string, unknown>) => Initializer> = {
  glorotUniform,
  glorotNormal,
  heUniform,
  heNormal,
  lecunUniform,
  lecunNormal,
  zeros,
  ones,
  constant,
  orthogonal,
  randomNormal: randomNormalInit,
  randomUniform: randomUniformInit,
  truncatedNormal: truncatedNormalInit,
  varianceScaling: (c) => varianceScaling(c),
};
const REGISTRY = new Registry<(config: Record<string, unknown>) => Initializer>('initializer', 'initializer');
for (const [name, factory] of Object.entries(FACTORIES)) REGISTRY.add(name, factory);

export type InitializerSpec = string | Initializer | InitializerConfig;

/** An initializer from a name ('glorotUniform' or 'glorot_uniform'), a config, or itself. */
export function getInitializer(spec: InitializerSpec): Initializer {
  if (typeof spec === 'function') return spec;
  const name = typeof spec === 'string' ? spec : spec.className;
  const factory = REGISTRY.get(name).value;
  return factory(typeof spec === 'string' ? {} : spec.config);
}
