// Calibration for int8: runs a float model on sample data and chooses each Dense / Conv2D layer's input range by
// min-max, percentile, or the range that minimises the expected quantisation MSE of the observed distribution.
//
// Observers hold O(bins) numbers per layer, never the activations: min-max needs one pass; percentile and MSE make
// a second pass filling a fixed histogram over the min-max range (as TensorRT's calibrators do). Exact zeros (ReLU
// outputs, padding) are counted apart from the histogram, as a point mass: 0 always quantises without error.
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/grad.js';
import { tidy } from '../tensor/storage.js';
import { slice } from '../ops/views.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Layer, withLayerOutputHook } from '../nn/layer.js';
import { Dense } from '../nn/layers/dense.js';
import { Conv2D } from '../nn/layers/conv.js';
import { gridCode } from '../tensor/round.js';
import { inputQuantization, type InputQuantization, type InputRange } from './quantized-layers.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'mse';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'mse'];

export interface CalibrateOptions {
  /** How the range is chosen from the observed inputs; default 'mse'. */
  method?: CalibrationMethod;
  /** 'percentile': the share of values (in percent) the range keeps at each end; default 99.99. */
  percentile?: number;
  /** Samples per forward pass; default 256. */
  batchSize?: number;
  /** Histogram bins over the observed range (percentile and mse); default 2048. */
  bins?: number;
}

/** One layer's calibration, as plain data. */
export interface LayerCalibration {
  layer: string;
  className: string;
  /** The smallest and largest input value seen. */
  observed: InputRange;
  /** The range chosen by the method (the quantiser then widens it to hold 0). */
  range: InputRange;
  /** Input values seen (all calls of the layer). */
  count: number;
}

export interface Calibration {
  method: CalibrationMethod;
  /** The calibrated layers in call order (a shared layer once). */
  layers: LayerCalibration[];
  /** The same entries by layer object, for quantizeModel. */
  byLayer: Map<Layer, LayerCalibration>;
}

/** The layers calibration observes: those quantizeLayer can replace. */
export function isQuantizable(layer: Layer): layer is Dense | Conv2D {
  return layer instanceof Dense || layer instanceof Conv2D;
}

/** A histogram of values in [lo, hi] with exact zeros apart. */
export class Histogram {
  readonly counts: Float64Array;
  zeros = 0;
  constructor(
    readonly lo: number,
    readonly hi: number,
    bins: number,
  ) {
    this.counts = new Float64Array(bins);
  }

  add(values: ArrayLike<number>): void {
    const { lo, hi, counts } = this;
    const n = counts.length;
    const perUnit = hi > lo ? n / (hi - lo) : 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === 0) this.zeros++;
      else counts[Math.min(n - 1, Math.max(0, Math.floor((v - lo) * perUnit)))]++;
    }
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, this.zeros);
  }

  /** The mass as segments [a, b] of uniform density holding n values, in order; the zeros are one point segment. */
  segments(): { a: number; b: number; n: number }[] {
    const { lo, hi, counts } = this;
    const width = (hi - lo) / counts.length;
    const out: { a: number; b: number; n: number }[] = [];
    let zerosPlaced = this.zeros === 0;
    for (let i = 0; i < counts.length; i++) {
      const a = lo + i * width,
        b = i === counts.length - 1 ? hi : lo + (i + 1) * width;
      if (!zerosPlaced && a >= 0) {
        out.push({ a: 0, b: 0, n: this.zeros });
        zerosPlaced = true;
      }
      if (!zerosPlaced && b > 0 && counts[i] > 0) {
        // The bin holding 0: split it there so the point mass sits in order.
        const left = (counts[i] * (0 - a)) / (b - a);
        out.push({ a, b: 0, n: left }, { a: 0, b: 0, n: this.zeros }, { a: 0, b, n: counts[i] - left });
        zerosPlaced = true;
        continue;
      }
      if (counts[i] > 0) out.push({ a, b, n: counts[i] });
    }
    if (!zerosPlaced) out.push({ a: 0, b: 0, n: this.zeros });
    return out;
  }

  /** The value below which a share q of the mass lies (linear within a bin). */
  quantile(q: number): number {
    const target = q * this.total;
    let seen = 0;
    const segments = this.segments();
    for (const { a, b, n } of segments) {
      if (seen + n >= target && n > 0) return a + ((b - a) * (target - seen)) / n;
      seen += n;
    }
    return segments.length > 0 ? segments[segments.length - 1].b : 0;
  }
}

/**
 * The expected squared error of quantising the histogram's values with `q`, summed over values: each segment's
 * mass is uniform, so the error is a sum of closed-form integrals of (x - c)^2 over the pieces of the segment that
 * round to each representable value c = (code - zeroPoint) * scale (clipped values go to the ends).
 */
export function quantizationMse(
  segments: readonly { a: number; b: number; n: number }[],
  q: InputQuantization,
): number {
  const s = q.inputScale;
  const kMin = -q.inputZeroPoint,
    kMax = 255 - q.inputZeroPoint;
  // The op's own rounding (half to even, of x times the float32 reciprocal), so the error is the one it makes.
  const code = (x: number) => Math.min(kMax, Math.max(kMin, gridCode(x, s)));
  const cube = (v: number) => v * v * v;
  let total = 0;
  for (const { a, b, n } of segments) {
    if (n === 0) continue;
    if (b === a) {
      const c = code(a) * s;
      total += n * (a - c) * (a - c);
      continue;
    }
    let sum = 0;
    for (let k = code(a), last = code(b); k <= last; k++) {
      const u = k === kMin ? a : Math.max(a, (k - 0.5) * s);
      const v = k === kMax ? b : Math.min(b, (k + 0.5) * s);
      if (v > u) sum += (cube(v - k * s) - cube(u - k * s)) / 3;
    }
    total += (sum * n) / (b - a);
  }
  return total;
}

/**
 * The range with the least expected quantisation error: first [alpha * lo, alpha * hi] (lo <= 0 <= hi the observed
 * range widened to hold 0) over a grid of alphas, then each end alone over the same grid (an asymmetric
 * distribution's ends need not shrink alike), twice. Ties keep the wider range.
 */
export function mseRange(histogram: Histogram, steps = 200): InputRange {
  const lo = Math.min(histogram.lo, 0),
    hi = Math.max(histogram.hi, 0);
  if (hi === lo) return { min: 0, max: 0 };
  const segments = histogram.segments();
  let best = { min: lo, max: hi },
    bestError = quantizationMse(segments, inputQuantization(best));
  const search = (candidate: (t: number) => InputRange) => {
    for (let t = steps; t >= 1; t--) {
      const range = candidate(t / steps);
      const error = quantizationMse(segments, inputQuantization(range));
      if (error < bestError) [best, bestError] = [range, error];
    }
  };
  search((a) => ({ min: lo * a, max: hi * a }));
  for (let round = 0; round < 2; round++) {
    const { min, max } = best;
    if (hi > 0) search((a) => ({ min, max: hi * a }));
    const upper = best.max;
    if (lo < 0) search((a) => ({ min: lo * a, max: upper }));
    if (best.min === min && best.max === max) break;
  }
  return best;
}

interface Observer {
  layer: Layer;
  min: number;
  max: number;
  count: number;
  /** Whether a value was NaN (comparisons skip NaN, so min and max alone would not show it). */
  nan?: boolean;
  histogram?: Histogram;
}

function checkOptions(options: CalibrateOptions): Required<CalibrateOptions> {
  const { method = 'mse', percentile = 99.99, batchSize = 256, bins = 2048 } = options;
  if (!CALIBRATION_METHODS.includes(method))
    throw new ArgumentError(`calibrate: method must be one of ${CALIBRATION_METHODS.join(', ')}, got ${method}`);
  if (!(typeof percentile === 'number' && percentile > 50 && percentile <= 100))
    throw new ArgumentError(`calibrate: percentile must be a number in (50, 100], got ${percentile}`);
  for (const [name, v] of [
    ['batchSize', batchSize],
    ['bins', bins],
  ] as const)
    if (!Number.isInteger(v) || v < 1)
      throw new ArgumentError(`calibrate: ${name} must be a positive integer, got ${v}`);
  return { method, percentile, batchSize, bins };
}

/** Runs the model over the samples in batches, handing each quantisable layer call's input values to `see`. */
function observe(model: Layer, sampleX: Tensor, batchSize: number, see: (layer: Layer, values: Float32Array) => void) {
  const n = sampleX.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    noGrad(() =>
      tidy(() => {
        const batch = slice(sampleX, [start], [Math.min(batchSize, n - start)]);
        withLayerOutputHook(
          (layer, _out, inputs) => {
            if (isQuantizable(layer))
              see(layer, (Array.isArray(inputs) ? inputs[0] : inputs).dataSync() as Float32Array);
            return undefined;
          },
          () => model.apply(batch),
        );
      }),
    );
  }
}

/**
 * Each Dense / Conv2D layer's input range over `sampleX` (a float32 batch, samples on axis 0), chosen by `method`:
 * 'minmax' the observed extremes; 'percentile' the (100 - p)th and pth percentiles; 'mse' the range that minimises
 * the expected squared quantisation error (rounding inside the range against clipping outside it).
 */
export function calibrate(model: Layer, sampleX: Tensor, options: CalibrateOptions = {}): Calibration {
  const { method, percentile, batchSize, bins } = checkOptions(options);
  if (!(model instanceof Layer)) throw new ArgumentError(`calibrate: expected a model, got ${typeof model}`);
  if (sampleX?.rank === undefined || sampleX.rank < 1 || sampleX.shape[0] < 1 || sampleX.dtype !== 'float32')
    throw new ShapeError(
      `calibrate: sample data must be a non-empty float32 tensor, samples on axis 0, got ` +
        (sampleX?.shape ? `${sampleX.dtype} ${fmtShape(sampleX.shape)}` : typeof sampleX),
    );
  const observers = new Map<Layer, Observer>();
  const run = (see: (o: Observer, values: Float32Array) => void) => {
    try {
      observe(model, sampleX, batchSize, (layer, values) => {
        let o = observers.get(layer);
        if (!o) observers.set(layer, (o = { layer, min: Infinity, max: -Infinity, count: 0 }));
        see(o, values);
      });
    } catch (e) {
      if (e instanceof ShapeError)
        throw new ShapeError(`calibrate: sample data ${fmtShape(sampleX.shape)} does not fit the model: ${e.message}`);
      throw e;
    }
  };
  run((o, values) => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < o.min) o.min = v;
      if (v > o.max) o.max = v;
      if (v !== v) o.nan = true;
    }
    o.count += values.length;
  });
  for (const o of observers.values()) {
    const who = `${o.layer.className} '${o.layer.name}'`;
    if (o.nan) throw new ArgumentError(`calibrate: the inputs of ${who} contain NaN; int8 cannot represent it`);
    if (!Number.isFinite(o.min) || !Number.isFinite(o.max))
      throw new ArgumentError(`calibrate: the inputs of ${who} are not finite`);
  }
  if (method !== 'minmax') {
    for (const o of observers.values()) o.histogram = new Histogram(o.min, o.max, bins);
    run((o, values) => o.histogram!.add(values));
  }
  const layers: LayerCalibration[] = [];
  const byLayer = new Map<Layer, LayerCalibration>();
  for (const o of observers.values()) {
    const observed = { min: o.min, max: o.max };
    let range = observed;
    if (method === 'percentile') {
      const h = o.histogram!;
      const share = percentile / 100;
      const min = Math.max(o.min, h.quantile(1 - share));
      range = { min, max: Math.max(min, Math.min(o.max, h.quantile(share))) };
    } else if (method === 'mse') range = mseRange(o.histogram!);
    const entry = { layer: o.layer.name, className: o.layer.className, observed, range, count: o.count };
    layers.push(entry);
    byLayer.set(o.layer, entry);
  }
  return { method, layers, byLayer };
}
