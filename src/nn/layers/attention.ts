// MultiHeadAttention (Keras; Vaswani et al. 2017) with Keras' EinsumDense weight shapes.
import type { Tensor } from '../../tensor/tensor.js';
import { add, logicalAnd } from '../../ops/elementwise.js';
import { dropout } from '../../ops/families/dropout.js';
import { matmul } from '../../ops/linalg.js';
import { concat } from '../../ops/indexing.js';
import { attention } from '../../ops/families/attention.js';
import { attendValues, attentionProbs } from '../../ops/families/attention.js';
import { reshape, unsqueeze } from '../../ops/views.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type ApplyOptions,
  type SymbolicOf,
  type SymbolicTensor,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import { firstMask, toBool, type MaskArg } from '../masking.js';
import { asLayerDType, initializerConfig, positiveInt, regularizerConfig, who } from './common.js';
import { buildSublayer } from './sublayers.js';

// MultiHeadAttention (Keras; Vaswani et al. 2017): per-head projections of query, key and value, scaled
// dot-product attention softmax(q k^T / sqrt(keyDim) + mask) v, and an output projection. Weights have
// Keras' EinsumDense shapes, so they map one to one: query/key/value kernels [features, heads, dim] with
// biases [heads, dim], output kernel [heads, valueDim, outputDim] with bias [outputDim].

export interface MultiHeadAttentionArgs extends LayerArgs {
  numHeads: number;
  /** Size of each head's query and key. */
  keyDim: number;
  /** Size of each head's value; default keyDim. */
  valueDim?: number | null;
  /** Dropout on the attention probabilities while training. Default 0. */
  dropout?: number;
  useBias?: boolean;
  /** Size of the output's last axis; default the query's. */
  outputShape?: number | null;
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  kernelRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
  /** Seed of the attention-dropout masks (as Dropout's); default one drawn from the global stream. */
  seed?: number | null;
}

/** Projected keys and values of earlier positions, for incremental decoding: [batch, length, heads, dim]. */
export interface AttentionCache {
  readonly key: Tensor;
  readonly value: Tensor;
}

/** Keras' call arguments beyond query and value. */
export interface AttendOptions {
  /** Default: the value. */
  key?: Tensor;
  /** [batch, T, S] (or broadcastable, e.g. [batch, 1, S]); true = may attend. */
  attentionMask?: Tensor | null;
  /** Padding masks [batch, T] / [batch, S] (what Keras reads from the tensors' masks). */
  queryMask?: Tensor | null;
  valueMask?: Tensor | null;
  keyMask?: Tensor | null;
  /** Query i attends to keys j <= i only (j <= i + cache length with a cache). */
  useCausalMask?: boolean;
  training?: boolean;
  seed?: number;
}

/**
 * The attention output [batch, T, outputDim], the probabilities [batch, heads, T, S] when asked for and, with a
 * cache, the grown cache.
 */
export interface AttentionResult {
  output: Tensor;
  scores?: Tensor;
  cache?: AttentionCache;
}

/**
 * Sees the probabilities [batch, heads, T, S] of every MultiHeadAttention computation under way, however the
 * layer is reached (apply, attend, a Transformer block, GPT): explanations read attention maps through it.
 */
export type AttentionScoresHook = (layer: MultiHeadAttention, scores: Tensor) => void;
let scoresHook: AttentionScoresHook | undefined;

/**
 * Runs fn with `hook` seeing every attention computation's probabilities (hooks nest). The layers' outputs are
 * the same bits as without a hook: the probabilities are computed beside the fused op, not instead of it, and
 * without a hook nothing extra runs.
 */
export function withAttentionScoresHook<T>(hook: AttentionScoresHook, fn: () => T): T {
  const outer = scoresHook;
  scoresHook = outer
    ? (layer, scores) => {
        hook(layer, scores);
        outer(layer, scores);
      }
    : hook;
  try {
    return fn();
  } finally {
    scoresHook = outer;
  }
}

/** The call option apply() takes and a graph records (callOptionNames); returnAttentionScores is attend()'s. */
const MHA_CALL_OPTIONS: readonly string[] = ['useCausalMask'];

export class MultiHeadAttention extends Layer {
  static override readonly className: string = 'MultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly outputShape: number | null;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer?: Regularizer;
  readonly biasRegularizer?: Regularizer;
  readonly seed: number;
  override supportsMasking = true;
  /** Made by build(), in Keras order: query, key, value, attention_output (kernel then bias). */
  queryKernel?: Variable;
  queryBias?: Variable;
  keyKernel?: Variable;
  keyBias?: Variable;
  valueKernel?: Variable;
  valueBias?: Variable;
  outputKernel?: Variable;
  outputBias?: Variable;
  private readonly generator: RandomStream;

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    this.numHeads = positiveInt(this, 'numHeads', args.numHeads);
    this.keyDim = positiveInt(this, 'keyDim', args.keyDim);
    this.valueDim = positiveInt(this, 'valueDim', args.valueDim ?? this.keyDim);
    this.dropout = args.dropout ?? 0;
    if (typeof this.dropout !== 'number' || !(this.dropout >= 0 && this.dropout < 1))
      throw new ArgumentError(`${who(this)}: dropout must be a number in [0, 1), got ${JSON.stringify(args.dropout)}`);
    this.useBias = args.useBias ?? true;
    this.outputShape = args.outputShape == null ? null : positiveInt(this, 'outputShape', args.outputShape);
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform');
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros');
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer);
    this.biasRegularizer = getRegularizer(args.biasRegularizer);
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** [query, value] or [query, value, key] shapes, each (batch, length, features) with features known. */
  private shapes(inputShape: SymShape | SymShape[]): { query: SymShape; value: SymShape; key: SymShape } {
    const list = Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : null;
    if (!list || (list.length !== 2 && list.length !== 3)) {
      throw new ArgumentError(
        `${who(this)} must be called on [query, value] or [query, value, key], got ` +
          (list ? `a list of ${list.length}` : `one input ${formatSymShape(inputShape as SymShape)}`),
      );
    }
    const [query, value, key = value] = list;
    const names = ['query', 'value', 'key'];
    [query, value, key].forEach((s, i) => {
      if (s.length !== 3)
        throw new ShapeError(
          `${who(this)} expects ${names[i]} of shape (batch, length, features), got ${formatSymShape(s)}`,
        );
    });
    if (value[1] !== null && key[1] !== null && value[1] !== key[1])
      throw new ShapeError(
        `${who(this)}: key and value must have the same length, ` +
          `got key ${formatSymShape(key)} and value ${formatSymShape(value)}`,
      );
    const built = this.queryKernel
      ? [this.queryKernel.shape[0], this.valueKernel!.shape[0], this.keyKernel!.shape[0]]
      : null;
    [query, value, key].forEach((s, i) => {
      if (s[2] === null)
        throw new ShapeError(
          `${who(this)}: the feature dimension of ${names[i]} must be known, got ${formatSymShape(s)}`,
        );
      if (built && s[2] !== built[i])
        throw new ShapeError(
          `${who(this)} was built for ${names[i]} features ${built[i]}, got ${names[i]} ${formatSymShape(s)}`,
        );
    });
    return { query, value, key };
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const { query, value, key } = this.shapes(inputShape);
    const h = this.numHeads;
    const w = (name: string, shape: number[], kernel: boolean) =>
      this.addWeight(name, shape, kernel ? this.kernelInitializer : this.biasInitializer, {
        regularizer: kernel ? this.kernelRegularizer : this.biasRegularizer,
      });
    this.queryKernel = w('query/kernel', [query[2]!, h, this.keyDim], true);
    if (this.useBias) this.queryBias = w('query/bias', [h, this.keyDim], false);
    this.keyKernel = w('key/kernel', [key[2]!, h, this.keyDim], true);
    if (this.useBias) this.keyBias = w('key/bias', [h, this.keyDim], false);
    this.valueKernel = w('value/kernel', [value[2]!, h, this.valueDim], true);
    if (this.useBias) this.valueBias = w('value/bias', [h, this.valueDim], false);
    const out = this.outputShape ?? query[2]!;
    this.outputKernel = w('attention_output/kernel', [h, this.valueDim, out], true);
    if (this.useBias) this.outputBias = w('attention_output/bias', [out], false);
  }

  /** x [batch, len, features] @ kernel [features, heads, dim] + bias -> [batch, len, heads, dim] (one matmul). */
  private project(x: Tensor, kernel: Variable, bias: Variable | undefined): Tensor {
    const [features, heads, dim] = kernel.shape;
    const [b, len] = x.shape;
    let y = matmul(reshape(x, [b * len, features]), reshape(kernel.value, [features, heads * dim]));
    if (bias) y = add(y, reshape(bias.value, [heads * dim]));
    return reshape(y, [b, len, heads, dim]);
  }

  /**
   * The combined boolean mask [batch or 1, T or 1, S] (Keras _compute_attention_mask): the explicit mask
   * AND query padding (rows) AND value/key padding (columns); null when none is given. Causality is
   * the attention op's own flag.
   */
  private attentionMask(b: number, t: number, s: number, o: AttendOptions): Tensor | null {
    const check = (m: Tensor, shape: number[], what: string) => {
      const ok =
        m.rank === shape.length &&
        m.shape.every((d, i) => d === shape[i] || (d === 1 && i < shape.length - 1 && what === 'attentionMask'));
      if (!ok)
        throw new ShapeError(
          `${who(this)}: ${what} must have shape ${fmtShape(shape)}` +
            `${what === 'attentionMask' ? ' (or 1 on the batch/query axes)' : ''}, got ${fmtShape(m.shape)}`,
        );
      return toBool(m);
    };
    const parts: Tensor[] = [];
    if (o.attentionMask) parts.push(check(o.attentionMask, [b, t, s], 'attentionMask'));
    if (o.queryMask) parts.push(unsqueeze(check(o.queryMask, [b, t], 'queryMask'), 2));
    if (o.valueMask) parts.push(unsqueeze(check(o.valueMask, [b, s], 'valueMask'), 1));
    if (o.keyMask) parts.push(unsqueeze(check(o.keyMask, [b, s], 'keyMask'), 1));
    return parts.length === 0 ? null : parts.reduce((acc, m) => logicalAnd(acc, m));
  }

  /**
   * The attention computation with all of Keras' call arguments. `cache` holds projected keys/values of
   * earlier positions, which the new ones are appended to; null starts a cache. With either, the result
   * carries the grown cache. The probabilities are returned (and computed as a tensor of their own)
   * only when `withScores`; otherwise, and without attention dropout, one fused attention op runs.
   */
  compute(
    query: Tensor,
    value: Tensor,
    options: AttendOptions = {},
    cache?: AttentionCache | null,
    withScores = true,
  ): AttentionResult {
    const key = options.key ?? value;
    // attend() may be the first use (apply() builds otherwise).
    buildSublayer(this, [query.shape, value.shape, key.shape]);
    this.shapes([query.shape, value.shape, key.shape]);
    const q0 = asLayerDType(this, query),
      v0 = asLayerDType(this, value),
      k0 = asLayerDType(this, key);
    const [b, t] = q0.shape;
    // [batch, len, heads, dim] projections.
    const q = this.project(q0, this.queryKernel!, this.queryBias);
    let k = this.project(k0, this.keyKernel!, this.keyBias);
    let v = this.project(v0, this.valueKernel!, this.valueBias);
    const offset = cache ? cache.key.shape[1] : 0;
    if (cache) {
      if (cache.key.rank !== 4 || cache.key.shape[0] !== b || cache.value.shape[1] !== offset)
        throw new ShapeError(
          `${who(this)}: the cache must hold keys and values [${b}, length, ${this.numHeads}, dim], ` +
            `got ${fmtShape(cache.key.shape)} and ${fmtShape(cache.value.shape)}`,
        );
      k = concat([cache.key, k], 1);
      v = concat([cache.value, v], 1);
    }
    const s = k.shape[1];
    const mask = this.attentionMask(b, t, s, options);
    // The query is scaled by 1 / sqrt(keyDim) before the product, as Keras does.
    const params = { scale: 1 / Math.sqrt(this.keyDim), causal: options.useCausalMask ?? false, offset };
    const dropsProbs = options.training === true && this.dropout > 0;
    let context: Tensor, scores: Tensor | undefined;
    if (!withScores && !dropsProbs) {
      context = attention(q, k, v, mask, params);
      if (scoresHook) scoresHook(this, attentionProbs(q, k, mask, params));
    } else {
      scores = attentionProbs(q, k, mask, params);
      let probs = scores;
      if (dropsProbs) {
        const gen = options.seed === undefined ? this.generator : new RandomStream(mixSeeds(this.seed, options.seed));
        probs = dropout(scores, this.dropout, gen);
      }
      context = attendValues(probs, v);
      if (scoresHook) scoresHook(this, scores);
    }
    // [b, t, h, dv] -> [b * t, h * dv] @ [h * dv, out].
    const out = this.outputKernel!.shape[2];
    let output = matmul(
      reshape(context, [b * t, this.numHeads * this.valueDim]),
      reshape(this.outputKernel!.value, [this.numHeads * this.valueDim, out]),
    );
    if (this.outputBias) output = add(output, this.outputBias.value);
    return {
      output: reshape(output, [b, t, out]),
      ...(scores ? { scores } : {}),
      ...(cache !== undefined ? { cache: { key: k, value: v } } : {}),
    };
  }

  /**
   * Keras' call(query, value, key, attention_mask, return_attention_scores, training, use_causal_mask):
   * the output [batch, T, outputDim], or [output, scores [batch, heads, T, S]] with returnAttentionScores.
   */
  attend(query: Tensor, value: Tensor, options: AttendOptions & { returnAttentionScores: true }): [Tensor, Tensor];
  attend(query: Tensor, value: Tensor, options?: AttendOptions & { returnAttentionScores?: false }): Tensor;
  attend(
    query: Tensor,
    value: Tensor,
    options: AttendOptions & { returnAttentionScores?: boolean } = {},
  ): Tensor | [Tensor, Tensor] {
    const returnScores = options.returnAttentionScores === true;
    const { output, scores } = this.compute(query, value, options, undefined, returnScores);
    return returnScores ? [output, scores!] : output;
  }

  /** Incremental decoding: attends from the new positions to the cached and new keys; returns the grown cache. */
  attendCached(
    query: Tensor,
    value: Tensor,
    cache: AttentionCache | null,
    options: AttendOptions = {},
  ): { output: Tensor; cache: AttentionCache } {
    const r = this.compute(query, value, options, cache, false);
    return { output: r.output, cache: r.cache! };
  }

  /**
   * apply() with Keras' call option: `layer.apply([query, value], { useCausalMask: true })`, on tensors or in a
   * functional graph, which records it (see callOptionNames) and replays it on every run.
   */
  override apply(
    inputs: SymbolicTensor | SymbolicTensor[],
    ctx?: ApplyOptions & { useCausalMask?: boolean },
  ): SymbolicOf<ReturnType<this['call']>>;
  override apply(inputs: Tensor | Tensor[], ctx?: ApplyOptions & { useCausalMask?: boolean }): ReturnType<this['call']>;
  override apply(
    inputs: Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[],
    ctx: ApplyOptions & { useCausalMask?: boolean } = {},
  ): Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[] {
    return super.apply(inputs as never, ctx);
  }

  override get callOptionNames(): readonly string[] {
    return MHA_CALL_OPTIONS;
  }

  /** The graph form: inputs [query, value] or [query, value, key]; padding masks come from the inputs. */
  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor {
    if (!Array.isArray(inputs))
      throw new ArgumentError(
        `${who(this)} must be called on [query, value] or [query, value, key], ` +
          `got one input ${formatSymShape(inputs.shape)}`,
      );
    const [query, value, key] = inputs;
    const masks = Array.isArray(mask) ? mask : [];
    // Keras: the key's mask defaults to the value's when no key is given (the key is the value).
    return this.attend(query, value, {
      key,
      queryMask: masks[0],
      valueMask: masks[1],
      keyMask: key ? masks[2] : null,
      useCausalMask: this.callOptions?.useCausalMask,
      training: ctx.training,
      seed: ctx.seed,
    });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const { query } = this.shapes(inputShape);
    return [query[0], query[1], this.outputShape ?? query[2]];
  }

  /** The output keeps the query's mask. */
  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    return firstMask(mask);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      dropout: this.dropout,
      useBias: this.useBias,
      outputShape: this.outputShape,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
      seed: this.seed,
    };
  }
}

registerLayer(MultiHeadAttention);
