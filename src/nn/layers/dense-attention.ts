// Single-head attention without projections (Keras): Attention (Luong dot-product, or 'concat' scores) and
// AdditiveAttention (Bahdanau), on [query, value] or [query, value, key] of shape [batch, length, dim].
import { optionKeys } from '../../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { add, cast, logicalAnd, mul, sub, tanh } from '../../ops/elementwise.js';
import { tensor } from '../../ops/creation.js';
import { matmul } from '../../ops/linalg.js';
import { sum } from '../../ops/reduce.js';
import { permute, unsqueeze } from '../../ops/views.js';
import { softmax } from '../../ops/families/softmax.js';
import { dropout } from '../../ops/families/dropout.js';
import { MASKED_LOGIT } from '../../ops/families/attention.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import {
  Layer,
  SymbolicTensor,
  formatSymShape,
  type ApplyOptions,
  type SymbolicOf,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import type { Variable } from '../variable.js';
import { firstMask, toBool, type MaskArg } from '../masking.js';
import { asLayerDType, oneOf, who } from './common.js';
import { buildSublayer } from './sublayers.js';

export interface DenseAttentionArgs extends LayerArgs {
  /** Dropout on the attention weights while training. Default 0. */
  dropout?: number;
  /** Seed of the dropout masks (as Dropout's); default one drawn from the global stream. */
  seed?: number | null;
}

/** Keras' call arguments beyond query and value. */
export interface DenseAttendOptions {
  /** Default: the value. */
  key?: Tensor;
  /** [batch, Tq] padding masks (true = keep): what Keras reads from the tensors' masks. */
  queryMask?: Tensor | null;
  valueMask?: Tensor | null;
  /** Query i attends to keys j <= i only. */
  useCausalMask?: boolean;
  training?: boolean;
  seed?: number;
}

/** Keras' call arguments that apply() takes besides ApplyOptions. */
export interface DenseCallOptions {
  useCausalMask?: boolean;
  returnAttentionScores?: boolean;
}

/** Its keys, which apply() takes and a graph records (callOptionNames). */
const DENSE_CALL_OPTIONS = optionKeys<DenseCallOptions>({ useCausalMask: true, returnAttentionScores: true });

/**
 * Keras BaseDenseAttention: weights = softmax(scores(query, key) - 1e9 * masked), output = weights @ value,
 * rows of masked queries zeroed. Subclasses compute the scores [batch, Tq, Tv].
 */
abstract class DenseAttention extends Layer {
  readonly dropout: number;
  readonly seed: number;
  override supportsMasking = true;
  private readonly generator: RandomStream;

  constructor(args: DenseAttentionArgs) {
    super(args);
    this.dropout = args.dropout ?? 0;
    if (typeof this.dropout !== 'number' || !(this.dropout >= 0 && this.dropout < 1))
      throw new ArgumentError(`${who(this)}: dropout must be a number in [0, 1), got ${JSON.stringify(args.dropout)}`);
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** Scores [batch, Tq, Tv] from query [batch, Tq, dim] and key [batch, Tv, dim]. */
  protected abstract scores(query: Tensor, key: Tensor): Tensor;

  /** [query, value] or [query, value, key] shapes, each (batch, length, dim), checked against each other. */
  protected shapes(inputShape: SymShape | SymShape[]): { query: SymShape; value: SymShape; key: SymShape } {
    const list = Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : null;
    if (!list || (list.length !== 2 && list.length !== 3))
      throw new ArgumentError(
        `${who(this)} must be called on [query, value] or [query, value, key], got ` +
          (list ? `a list of ${list.length}` : `one input ${formatSymShape(inputShape as SymShape)}`),
      );
    const [query, value, key = value] = list;
    const all = `query ${formatSymShape(query)}, value ${formatSymShape(value)}, key ${formatSymShape(key)}`;
    if ([query, value, key].some((s) => s.length !== 3))
      throw new ShapeError(`${who(this)} expects inputs of shape (batch, length, dim), got ${all}`);
    const differ = (a: number | null, b: number | null) => a !== null && b !== null && a !== b;
    if (differ(value[1], key[1]) || differ(query[2], key[2]) || differ(query[0], value[0]) || differ(query[0], key[0]))
      throw new ShapeError(
        `${who(this)} expects one batch size, key and value of one length and query and key of one dim, got ${all}`,
      );
    return { query, value, key };
  }

  /**
   * Keras' call(inputs, mask, training, return_attention_scores, use_causal_mask): the output [batch, Tq, dim_v],
   * or [output, weights [batch, Tq, Tv]] with returnAttentionScores.
   */
  attend(query: Tensor, value: Tensor, options: DenseAttendOptions & { returnAttentionScores: true }): [Tensor, Tensor];
  attend(query: Tensor, value: Tensor, options?: DenseAttendOptions & { returnAttentionScores?: false }): Tensor;
  attend(
    query: Tensor,
    value: Tensor,
    options: DenseAttendOptions & { returnAttentionScores?: boolean } = {},
  ): Tensor | [Tensor, Tensor] {
    const q = asLayerDType(this, query),
      v = asLayerDType(this, value),
      k = options.key ? asLayerDType(this, options.key) : v;
    const shapes = [q.shape, v.shape, k.shape];
    // attend() may be the first use (apply() builds otherwise).
    buildSublayer(this, shapes);
    this.shapes(shapes);
    const [b, tq] = q.shape,
      tv = v.shape[1];
    let scores = this.scores(q, k);
    const masked = this.scoresMask(b, tq, tv, options);
    // Keras subtracts 1e9 from masked scores (no renormalisation), so a fully masked row becomes uniform.
    if (masked) scores = add(scores, mul(sub(1, cast(masked, scores.dtype)), MASKED_LOGIT));
    const weights = softmax(scores, -1);
    let used = weights;
    if (options.training === true && this.dropout > 0) {
      const gen = options.seed === undefined ? this.generator : new RandomStream(mixSeeds(this.seed, options.seed));
      used = dropout(weights, this.dropout, gen);
    }
    let output = matmul(used, v);
    if (options.queryMask) {
      const qm = this.checkMask(options.queryMask, [b, tq], 'queryMask');
      output = mul(output, unsqueeze(cast(qm, output.dtype), 2));
    }
    return options.returnAttentionScores === true ? [output, weights] : output;
  }

  private checkMask(m: Tensor, shape: number[], what: string): Tensor {
    if (m.rank !== 2 || m.shape[0] !== shape[0] || m.shape[1] !== shape[1])
      throw new ShapeError(`${who(this)}: ${what} must have shape ${fmtShape(shape)}, got ${fmtShape(m.shape)}`);
    return toBool(m);
  }

  /** The bool mask [batch or 1, Tq or 1, Tv] of scores that may be attended to (true), or null for all. */
  private scoresMask(b: number, tq: number, tv: number, o: DenseAttendOptions): Tensor | null {
    let mask = o.valueMask ? unsqueeze(this.checkMask(o.valueMask, [b, tv], 'valueMask'), 1) : null;
    if (o.useCausalMask) {
      const allowed = new Uint8Array(tq * tv);
      for (let i = 0; i < tq; i++) for (let j = 0; j <= Math.min(i, tv - 1); j++) allowed[i * tv + j] = 1;
      const causal = tensor(allowed, [1, tq, tv], 'bool');
      mask = mask ? logicalAnd(mask, causal) : causal;
    }
    return mask;
  }

  /**
   * apply() with Keras' call options: `layer.apply([query, value], { useCausalMask: true })` on tensors (with
   * returnAttentionScores, [output, weights]), or on symbolic tensors, where the graph records them (see
   * callOptionNames) and replays them on every run.
   */
  override apply(
    inputs: SymbolicTensor | SymbolicTensor[],
    ctx?: ApplyOptions & DenseCallOptions,
  ): SymbolicOf<ReturnType<this['call']>>;
  override apply(inputs: Tensor | Tensor[], ctx?: ApplyOptions & DenseCallOptions): ReturnType<this['call']>;
  override apply(
    inputs: Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[],
    ctx: ApplyOptions & DenseCallOptions = {},
  ): Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[] {
    return super.apply(inputs as never, ctx);
  }

  override get callOptionNames(): readonly string[] {
    return DENSE_CALL_OPTIONS;
  }

  /** The graph form: padding masks come from the inputs (the key's mask is not used, as in Keras). */
  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor {
    if (!Array.isArray(inputs))
      throw new ArgumentError(
        `${who(this)} must be called on [query, value] or [query, value, key], got one input ${fmtShape(inputs.shape)}`,
      );
    const [query, value, key] = inputs;
    const masks = Array.isArray(mask) ? mask : [];
    const options = { key, queryMask: masks[0], valueMask: masks[1], training: ctx.training, seed: ctx.seed };
    const { useCausalMask, returnAttentionScores } = (this.callOptions ?? {}) as DenseCallOptions;
    // With scores the result is [output, weights]; call()'s declared type stays the common case's.
    if (returnAttentionScores)
      return this.attend(query, value, { ...options, useCausalMask, returnAttentionScores }) as never;
    return this.attend(query, value, { ...options, useCausalMask });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    const { query, value } = this.shapes(inputShape);
    const output = [query[0], query[1], value[2]];
    return this.callOptions?.returnAttentionScores ? [output, [query[0], query[1], value[1]]] : output;
  }

  /** The output keeps the query's mask. */
  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    return firstMask(mask);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), dropout: this.dropout, seed: this.seed };
  }
}

export interface AttentionArgs extends DenseAttentionArgs {
  /** Learn a scalar that multiplies the scores. Default false. */
  useScale?: boolean;
  /** 'dot': query . key; 'concat': w * sum(tanh(query + key)) with a learned scalar w. Default 'dot'. */
  scoreMode?: 'dot' | 'concat';
}

/** Luong-style attention: scores = query @ key^T (times a learned scale when useScale). */
export class Attention extends DenseAttention {
  static override readonly className: string = 'Attention';
  readonly useScale: boolean;
  readonly scoreMode: 'dot' | 'concat';
  /** Made by build(), scalars: the scale (useScale) and the concat score weight (scoreMode 'concat'). */
  scale?: Variable;
  concatScoreWeight?: Variable;

  constructor(args: AttentionArgs = {}) {
    super(args);
    this.useScale = args.useScale ?? false;
    this.scoreMode = oneOf(this, 'scoreMode', args.scoreMode ?? 'dot', ['dot', 'concat']);
  }

  override build(inputShape: SymShape | SymShape[]): void {
    this.shapes(inputShape);
    if (this.useScale) this.scale = this.addWeight('scale', [], 'ones');
    if (this.scoreMode === 'concat') this.concatScoreWeight = this.addWeight('concat_score_weight', [], 'ones');
  }

  protected override scores(query: Tensor, key: Tensor): Tensor {
    if (this.scoreMode === 'dot') {
      const s = matmul(query, permute(key, [0, 2, 1]));
      return this.scale ? mul(s, this.scale.value) : s;
    }
    // [B, Tq, 1, dim] + [B, 1, Tv, dim] -> tanh, summed over dim.
    let pairs = add(unsqueeze(query, 2), unsqueeze(key, 1));
    if (this.scale) pairs = mul(pairs, this.scale.value);
    return mul(sum(tanh(pairs), -1), this.concatScoreWeight!.value);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), useScale: this.useScale, scoreMode: this.scoreMode };
  }
}

export interface AdditiveAttentionArgs extends DenseAttentionArgs {
  /** Learn a per-dim scale of the tanh terms. Default true. */
  useScale?: boolean;
}

/** Bahdanau-style attention: scores = sum(scale * tanh(query + key), dim). */
export class AdditiveAttention extends DenseAttention {
  static override readonly className: string = 'AdditiveAttention';
  readonly useScale: boolean;
  /** Made by build(): [dim] (glorotUniform, as Keras). */
  scale?: Variable;

  constructor(args: AdditiveAttentionArgs = {}) {
    super(args);
    this.useScale = args.useScale ?? true;
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const { query } = this.shapes(inputShape);
    if (query[2] === null)
      throw new ShapeError(`${who(this)}: the query's dim must be known, got ${formatSymShape(query)}`);
    if (this.useScale) this.scale = this.addWeight('scale', [query[2]], 'glorotUniform');
  }

  protected override scores(query: Tensor, key: Tensor): Tensor {
    const t = tanh(add(unsqueeze(query, 2), unsqueeze(key, 1)));
    return sum(this.scale ? mul(t, this.scale.value) : t, -1);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), useScale: this.useScale };
  }
}

registerLayer(Attention);
registerLayer(AdditiveAttention);
