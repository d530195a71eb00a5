// What every explanation method works with: the model in inference mode, the inputs, the resolved target of
// each sample, and batched forward / gradient passes that score rows of perturbed or interpolated inputs.
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { dispose, keep, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { valueAndGrads } from '../autograd/grad.js';
import { logitsBehind } from '../nn/logits.js';
import { drawSeed } from '../ops/random.js';
import { withLayerOutputHook, type Layer } from '../nn/layer.js';
import { Embedding } from '../nn/layers/embedding.js';
import * as o from '../ops/index.js';
import type { CommonOptions, MethodName, Target } from './types.js';

const DEFAULT_BATCH = 64;

/** Rows 0..n-1: each row is its own sample. */
export const identityRows = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** rows repeated: row r of the result belongs to sample `sampleOf[r]`, for `copies` copies of each sample. */
export const repeatedRows = (samples: readonly number[] | Int32Array, copies: number): Int32Array =>
  Int32Array.from({ length: samples.length * copies }, (_, r) => samples[Math.floor(r / copies)]);

export class ExplainContext {
  /** Samples explained. */
  readonly n: number;
  readonly batchSize: number;
  readonly seed: number;
  /** The class explained per sample; null for a function target. */
  readonly classes: Int32Array | null;
  readonly logit: boolean;
  private readonly custom?: (outputs: Tensor | Tensor[]) => Tensor;
  /**
   * Token-id (int32) inputs: gradient methods then differentiate at the output of the model's first Embedding
   * layer (found on the first forward that needs it) and sum attributions over its last (embedding) axis.
   */
  readonly tokens: boolean;
  private embedding?: Layer;
  /** gradientInputs() once computed (token models: the embeddings, owned unless given by derive()). */
  private points?: Tensor;
  private readonly owned: Tensor[] = [];

  constructor(
    readonly model: Model,
    readonly inputs: Tensor,
    options: CommonOptions,
    readonly method: MethodName,
  ) {
    const op = `explain(${method})`;
    if (inputs.rank === 0) throw new ShapeError(`${op}: inputs are a scalar; expected samples first`);
    if (!isFloat(inputs.dtype) && inputs.dtype !== 'int32')
      throw new DTypeError(`${op}: inputs must be float (features, pixels) or int32 (token ids), got ${inputs.dtype}`);
    this.n = inputs.shape[0];
    this.tokens = inputs.dtype === 'int32';
    if (this.n === 0) throw new ArgumentError(`${op}: no samples to explain`);
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new ArgumentError(`${op}: batchSize must be a positive integer, got ${String(options.batchSize)}`);
    this.seed = options.seed ?? drawSeed();
    const target: Target | undefined = options.target;
    this.logit = typeof target === 'object' && target !== null && 'logit' in target;
    if (typeof target === 'function') {
      this.custom = target;
      this.classes = null;
    } else {
      const given = this.logit ? (target as { logit: number | readonly number[] | Int32Array }).logit : target;
      this.classes =
        given === undefined ? this.predictedClasses() : this.checkedClasses(given as number | ArrayLike<number>);
    }
  }

  private get op(): string {
    return `explain(${this.method})`;
  }

  private predictedClasses(): Int32Array {
    const classes = new Int32Array(this.n);
    for (let start = 0; start < this.n; start += this.batchSize) {
      const rows = Math.min(this.batchSize, this.n - start);
      const ids = tidy(() => {
        const out = this.single(this.forward(this.rowsOf(this.inputs, start, rows)));
        return out.shape[1] === 1 ? new Int32Array(rows) : Int32Array.from(o.argmax(out, -1).dataSync());
      });
      classes.set(ids, start);
    }
    return classes;
  }

  private checkedClasses(given: number | ArrayLike<number>): Int32Array {
    const classes =
      typeof given === 'number' ? new Int32Array(this.n).fill(given) : Int32Array.from(given as ArrayLike<number>);
    if (typeof given !== 'number' && (given as ArrayLike<number>).length !== this.n)
      throw new ShapeError(`${this.op}: ${(given as ArrayLike<number>).length} targets for ${this.n} samples`);
    const width = this.outputWidth();
    classes.forEach((c, i) => {
      const raw = typeof given === 'number' ? given : (given as ArrayLike<number>)[i];
      if (!Number.isInteger(raw) || c < 0 || c >= width)
        throw new ArgumentError(`${this.op}: target ${raw} of sample ${i} is not an output index in 0..${width - 1}`);
    });
    return classes;
  }

  private outputWidth(): number {
    return tidy(() => this.single(this.forward(this.rowsOf(this.inputs, 0, 1))).shape[1]);
  }

  /** The model's output as one [rows, classes] tensor (class-index targets need one). */
  private single(out: Tensor | Tensor[]): Tensor {
    if (Array.isArray(out))
      throw new ArgumentError(
        `${this.op}: the model has ${out.length} outputs; give a function target that picks one score per sample`,
      );
    if (out.rank !== 2)
      throw new ShapeError(
        `${this.op}: a class-index target needs outputs [samples, classes], got ${fmtShape(out.shape)}; ` +
          'give a function target that reduces the outputs to one score per sample',
      );
    return out;
  }

  /** Rows start..start+count-1 of x. */
  rowsOf(x: Tensor, start: number, count: number): Tensor {
    return o.slice(x, [start, ...x.shape.slice(1).map(() => 0)], [count, ...x.shape.slice(1)]);
  }

  /** The model in inference mode on x. */
  forward(x: Tensor): Tensor | Tensor[] {
    return this.model.apply(x, { training: false }) as Tensor | Tensor[];
  }

  /** The target score of each row of the model's outputs, row r explaining sample sampleOf[r]: [rows]. */
  targetScores(outputs: Tensor | Tensor[], sampleOf: Int32Array): Tensor {
    if (this.custom) {
      const s = this.custom(outputs);
      const rows = sampleOf.length;
      if (s.rank !== 1 || s.shape[0] !== rows)
        throw new ShapeError(`${this.op}: the target function must return [${rows}] scores, got ${fmtShape(s.shape)}`);
      return s;
    }
    let out = this.single(outputs);
    if (this.logit) {
      const logits = logitsBehind(out, 'softmax') ?? logitsBehind(out, 'sigmoid');
      if (!logits)
        throw new ArgumentError(
          `${this.op}: target { logit } needs a model whose output is a softmax or sigmoid activation; this ` +
            "model's outputs are not (if they are logits already, give the class index as target)",
        );
      out = logits;
    }
    const classes = this.classes!;
    const picked = Int32Array.from(sampleOf, (s) => classes[s]);
    const mask = o.oneHot(
      o.tensor(picked, [picked.length], 'int32'),
      out.shape[1],
      isFloat(out.dtype) ? out.dtype : 'float32',
    );
    return o.sum(o.mul(out, mask), [1]);
  }

  private fx?: Float64Array;
  /** f(x): each sample's target score on the inputs as given, computed once (explain() reports it). */
  get scores(): Float64Array {
    return (this.fx ??= this.predictScores(this.inputs, identityRows(this.n)));
  }

  /** Target scores of the rows of x (row r explaining sample sampleOf[r]), without gradients, batched. */
  predictScores(x: Tensor, sampleOf: Int32Array): Float64Array {
    return this.batchedScores(x, sampleOf, false);
  }

  /** Target scores at rows of points like gradientInputs() (row r explaining sample sampleOf[r]), no gradients. */
  pointScores(points: Tensor, sampleOf: Int32Array): Float64Array {
    return this.batchedScores(points, sampleOf, true);
  }

  private batchedScores(x: Tensor, sampleOf: Int32Array, atPoints: boolean): Float64Array {
    const rows = x.shape[0];
    if (sampleOf.length !== rows) throw new ShapeError(`${this.op}: ${sampleOf.length} sample ids for ${rows} rows`);
    const scores = new Float64Array(rows);
    for (let start = 0; start < rows; start += this.batchSize) {
      const count = Math.min(this.batchSize, rows - start);
      const part = noGrad(() =>
        tidy(() => {
          const chunk = this.rowsOf(x, start, count);
          const owners = sampleOf.subarray(start, start + count);
          return this.targetScores(atPoints ? this.forwardAt(chunk, owners) : this.forward(chunk), owners).dataSync();
        }),
      );
      scores.set(part, start);
    }
    return scores;
  }

  /**
   * The gradient of each row's target score with respect to that row of x, a batch of points like
   * gradientInputs() (float inputs; token models: embeddings), and the scores: rows do not interact in
   * inference mode, so one backward of the summed scores gives every row's gradient.
   */
  inputGradients(x: Tensor, sampleOf: Int32Array): { scores: Float64Array; gradients: Tensor } {
    if (!isFloat(x.dtype))
      throw new DTypeError(
        `${this.op}: gradients need float inputs (token models: embeddings), got ${x.dtype} ${fmtShape(x.shape)}`,
      );
    const rows = x.shape[0];
    const scores = new Float64Array(rows);
    const parts: Tensor[] = [];
    for (let start = 0; start < rows; start += this.batchSize) {
      const count = Math.min(this.batchSize, rows - start);
      const g = tidy(() => {
        const part = this.rowsOf(x, start, count);
        const { grads } = valueAndGrads(() => {
          const owners = sampleOf.subarray(start, start + count);
          const s = this.targetScores(this.forwardAt(part, owners), owners);
          scores.set(s.dataSync(), start);
          return o.sum(s);
        }, [part]);
        return keep(grads[0]);
      });
      parts.push(g);
    }
    const gradients = parts.length === 1 ? parts[0] : o.concat(parts, 0);
    if (parts.length > 1) dispose(parts);
    return { scores, gradients };
  }

  /** What gradient methods differentiate at: the inputs, or for token ids their embeddings [N, ..., D]. */
  gradientInputs(): Tensor {
    if (!this.tokens) return this.inputs;
    if (!this.points) {
      this.points = this.embed(this.inputs);
      this.owned.push(this.points);
    }
    return this.points;
  }

  /** Token ids [rows, ...] -> the output of the model's first Embedding layer on them (one forward, no gradients). */
  embed(ids: Tensor): Tensor {
    let captured: { data: ArrayLike<number>; shape: number[]; dtype: Tensor['dtype'] } | undefined;
    noGrad(() =>
      tidy(() => {
        withLayerOutputHook(
          (layer, out) => {
            if (captured || !(layer instanceof Embedding) || (this.embedding && layer !== this.embedding))
              return undefined;
            this.embedding = layer;
            // Read out, not kept: the output lives in the scopes of the layer calls around it.
            const t = out as Tensor;
            captured = { data: t.dataSync(), shape: [...t.shape], dtype: t.dtype };
            return undefined;
          },
          () => this.forward(ids),
        );
      }),
    );
    if (!captured)
      throw new ArgumentError(
        `${this.op}: the inputs are int32 token ids ${fmtShape(ids.shape)} but the model has no Embedding layer; ` +
          "gradient methods attribute token ids through the first Embedding layer's output (give float inputs)",
      );
    return o.tensor(captured.data as Float32Array, captured.shape, captured.dtype);
  }

  /**
   * The model on rows of points like gradientInputs(), row r belonging to sample sampleOf[r]. Token models run
   * on those samples' ids with the Embedding output replaced by the rows (masks still come from the ids).
   */
  forwardAt(points: Tensor, sampleOf: Int32Array): Tensor | Tensor[] {
    if (!this.tokens) return this.forward(points);
    this.gradientInputs(); // finds the Embedding layer
    const ids = o.gather(this.inputs, o.tensor(sampleOf, [sampleOf.length], 'int32'), 0);
    let replaced = false;
    return withLayerOutputHook(
      (layer, out) => {
        if (replaced || layer !== this.embedding) return undefined;
        replaced = true;
        const shape = (out as Tensor).shape;
        if (!shapesEqual(shape, points.shape))
          throw new ShapeError(`${this.op}: embeddings ${fmtShape(points.shape)} for an output ${fmtShape(shape)}`);
        return points;
      },
      () => this.forward(ids),
    );
  }

  /** Attributions over gradientInputs() -> over the inputs' shape (token models: summed per token). Consumes them. */
  toInputs(attributions: Tensor): Tensor {
    if (!this.tokens) return attributions;
    const summed = tidy(() => o.sum(attributions, [attributions.rank - 1]));
    attributions.dispose();
    return summed;
  }

  /**
   * A context over rows made from this one's samples (row r from sample sampleOf[r], e.g. noisy copies) with
   * the same targets, batch size and seed; for token models `points` are the rows' embeddings (the caller's).
   */
  derive(inputs: Tensor, sampleOf: Int32Array, points?: Tensor): ExplainContext {
    const classes = this.classes && Int32Array.from(sampleOf, (s) => this.classes![s]);
    const target: Target = this.custom ?? (this.logit ? { logit: classes! } : classes!);
    const derived = new ExplainContext(
      this.model,
      inputs,
      { target, batchSize: this.batchSize, seed: this.seed },
      this.method,
    );
    derived.embedding = this.embedding;
    derived.points = points;
    return derived;
  }

  /** Frees what the context made (token models' embeddings). */
  dispose(): void {
    dispose(this.owned.splice(0));
  }
}
