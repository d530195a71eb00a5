// The cooperative game behind SHAP: the value of a coalition of features is the model's mean target score
// over the background rows, with the features outside the coalition taken from each background row
// (interventional SHAP, as shap's KernelExplainer).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { allocArray, isFloat, type TypedArray } from '../tensor/dtype.js';
import { dispose } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import type { ExplainContext } from './context.js';
import { defaultGrouping, maskedInputs, resolveFeatures, type Features } from './features.js';
import type { FeatureGrouping } from './types.js';

/** The background rows of SHAP, one sample's elements each, row-major. */
export interface Background {
  rows: number;
  values: TypedArray;
}

/**
 * The background as given ([M, ...] as the inputs' samples), checked; for token inputs it may be left out: one
 * row of token id 0 (padding), so a word switched off is removed.
 */
export function resolveBackground(op: string, inputs: Tensor, background: Tensor | undefined): Background {
  const shape = inputs.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  if (background === undefined) {
    if (inputs.dtype === 'int32') return { rows: 1, values: new Int32Array(size) };
    throw new ArgumentError(
      `${op}: needs options.background, samples [M, ${shape.join(', ')}] whose values a feature switched off ` +
        'takes (E f is the mean score over them): e.g. 50 to 100 rows of the training data',
    );
  }
  if (background.rank !== inputs.rank || background.shape.slice(1).some((s, i) => s !== shape[i]))
    throw new ShapeError(
      `${op}: background ${fmtShape(background.shape)} does not match the inputs ${fmtShape(inputs.shape)}; ` +
        `expected [M, ${shape.join(', ')}]`,
    );
  if (background.shape[0] === 0) throw new ShapeError(`${op}: background ${fmtShape(background.shape)} has no rows`);
  if (inputs.dtype === 'int32' ? background.dtype !== 'int32' : !isFloat(background.dtype))
    throw new DTypeError(
      `${op}: background is ${background.dtype}; expected ${inputs.dtype === 'int32' ? 'int32 token ids' : 'float'}` +
        ` as the inputs (${inputs.dtype})`,
    );
  const values = background.dataSync();
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new ArgumentError(`${op}: background holds ${values[bad]} at element ${bad}; expected finite values`);
  return { rows: background.shape[0], values };
}

/** The features of sample s under the grouping given (default per input kind). */
export function sampleFeatures(
  op: string,
  ctx: ExplainContext,
  grouping: FeatureGrouping | undefined,
  sample: ArrayLike<number>,
): Features {
  const x = ctx.inputs;
  return resolveFeatures(op, grouping ?? defaultGrouping(x), sample, x.shape.slice(1), x.dtype === 'int32');
}

/** v(S) for coalitions of one sample's features: the mean over the background of its target score. */
export class CoalitionGame {
  private readonly shape: readonly number[];
  private readonly size: number;
  /** Masked rows evaluated so far (coalitions x background rows). */
  rowsEvaluated = 0;

  constructor(
    private readonly ctx: ExplainContext,
    /** The sample explained: its index and elements. */
    private readonly s: number,
    private readonly sample: TypedArray,
    readonly features: Features,
    private readonly background: Background,
  ) {
    this.shape = ctx.inputs.shape.slice(1);
    this.size = this.sample.length;
  }

  /**
   * v of each coalition in `coalitions` (row-major flags, features.count per coalition; 1: the sample's value;
   * `count` is only needed when there are no features).
   * Rows are built coalitions x background at a time and scored in batches of ctx.batchSize.
   */
  values(coalitions: Uint8Array, count = coalitions.length / this.features.count): Float64Array {
    const d = this.features.count,
      m = this.background.rows;
    const out = new Float64Array(count);
    if (d === 0) {
      // No feature to switch (a text of padding only): every coalition is the sample itself.
      const x = o.tensor(this.sample, [1, ...this.shape], this.ctx.inputs.dtype);
      out.fill(this.ctx.predictScores(x, Int32Array.of(this.s))[0]);
      x.dispose();
      this.rowsEvaluated++;
      return out;
    }
    // Coalitions per batch of batchSize rows (one coalition, all background rows, where they are more).
    const chunk = Math.max(1, Math.floor(this.ctx.batchSize / m));
    const sampleOf = new Int32Array(chunk * m).fill(this.s);
    for (let start = 0; start < count; start += chunk) {
      const c = Math.min(chunk, count - start);
      const flags = coalitions.subarray(start * d, (start + c) * d);
      // Background-major: rows [j * c, (j + 1) * c) take the switched-off features from background row j.
      const parts: Tensor[] = [];
      for (let j = 0; j < m; j++) {
        const row = this.backgroundRow(j);
        parts.push(maskedInputs(this.sample, row, this.features, flags, this.shape, this.ctx.inputs.dtype));
      }
      const rows = parts.length === 1 ? parts[0] : o.concat(parts, 0);
      const scores = this.ctx.predictScores(rows, sampleOf.subarray(0, c * m));
      dispose(parts);
      if (rows !== parts[0]) rows.dispose();
      for (let r = 0; r < c; r++) {
        let sum = 0;
        for (let j = 0; j < m; j++) sum += scores[j * c + r];
        out[start + r] = sum / m;
      }
      this.rowsEvaluated += c * m;
    }
    return out;
  }

  private backgroundRow(j: number): ArrayLike<number> {
    return this.background.values.subarray(j * this.size, (j + 1) * this.size);
  }

  /**
   * Whether some element of each feature differs from some background row (shap's varying groups): a feature
   * that equals the background everywhere changes no input when switched, so its value is exactly 0.
   */
  varying(): boolean[] {
    const { map, count } = this.features;
    const out = new Array<boolean>(count).fill(false);
    const { rows, values } = this.background;
    for (let j = 0; j < rows; j++)
      for (let i = 0; i < this.size; i++)
        if (map[i] >= 0 && values[j * this.size + i] !== this.sample[i]) out[map[i]] = true;
    return out;
  }
}

/**
 * Attributions [N, ...] as the inputs (float; token inputs give float32) from per-feature values: a feature's
 * value is spread evenly over its elements, so each sample's attributions add up to the sum of its values.
 */
export function spreadOverElements(inputs: Tensor, features: Features[], values: Float64Array[]): Tensor {
  const size = inputs.shape.slice(1).reduce((a, b) => a * b, 1);
  const dtype = isFloat(inputs.dtype) ? inputs.dtype : 'float32';
  const out = allocArray(dtype, inputs.shape[0] * size);
  features.forEach(({ map, count }, s) => {
    const elements = new Int32Array(count);
    for (let i = 0; i < size; i++) if (map[i] >= 0) elements[map[i]]++;
    for (let i = 0; i < size; i++) if (map[i] >= 0) out[s * size + i] = values[s][map[i]] / elements[map[i]];
  });
  return o.tensor(out, inputs.shape, dtype);
}
