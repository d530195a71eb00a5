// A decoder-only Transformer language model (GPT-2 layout) and text generation with a key/value cache.
//
// ids [batch, T] -> token Embedding + learnt PositionEmbedding -> dropout -> numLayers pre-norm causal
// TransformerDecoder blocks (GELU feed-forward) -> final LayerNormalization -> logits [batch, T, vocab]
// by an output projection that is the token embedding transposed (tied, the default) or its own Dense.
//
// generate() feeds one new position per step: each block keeps its self-attention keys and values
// (TransformerDecoder.decode with a cache), so step t costs O(t) attention instead of re-running the
// whole prefix. Generation conditions on the last contextLength tokens; once the text is longer than
// that, positions shift every step and each step recomputes its window (as the uncached path does).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { tensor } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { reshape, sliceAxis, transpose } from '../ops/views.js';
import { drawSeed } from '../ops/random.js';
import {
  registerLayer,
  type CallContext,
  type Layer,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../nn/layer.js';
import type { InitializerSpec } from '../nn/initializers.js';
import { Model } from '../train/model.js';
import { Embedding } from '../nn/layers/embedding.js';
import { PositionEmbedding } from '../nn/layers/positional.js';
import { TransformerDecoder } from '../nn/layers/transformer.js';
import { LayerNormalization } from '../nn/layers/layer-norm.js';
import { Dense } from '../nn/layers/dense.js';
import { Dropout } from '../nn/layers/dropout.js';
import { buildSublayer } from '../nn/layers/sublayers.js';
import type { AttentionCache } from '../nn/layers/attention.js';
import { checkSampling, sampleToken, UniformStream, type SamplingOptions } from './sampling.js';

export interface GPTArgs extends LayerArgs {
  vocabSize: number;
  /** The longest context (number of learnt positions). */
  contextLength: number;
  /** Width of the residual stream (embedding size). */
  hiddenDim: number;
  numHeads: number;
  numLayers: number;
  /** Feed-forward hidden width; default 4 * hiddenDim. */
  intermediateDim?: number;
  /** Dropout after the embeddings, on attention probabilities and on each residual branch. Default 0. */
  dropout?: number;
  /** Output projection = token embedding transposed (GPT-2). Default true. */
  tieEmbeddings?: boolean;
  /** Default 1e-5. */
  layerNormEpsilon?: number;
  /** Seed of the dropout masks; default drawn from the global stream. */
  seed?: number | null;
}

/** GPT-2's initialisation: N(0, 0.02) for every kernel and embedding. */
const GPT2_INIT: InitializerSpec = { className: 'RandomNormal', config: { mean: 0, stddev: 0.02 } };

export class GPT extends Model {
  static override readonly className: string = 'GPT';
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly hiddenDim: number;
  readonly numHeads: number;
  readonly numLayers: number;
  readonly intermediateDim: number;
  readonly dropoutRate: number;
  readonly tieEmbeddings: boolean;
  readonly layerNormEpsilon: number;
  readonly seed: number;
  // Sublayers, in weight order; names derive from the model's, so saved weights load by name.
  readonly tokenEmbedding: Embedding;
  readonly positionEmbedding: PositionEmbedding;
  readonly embeddingDropout: Dropout;
  readonly blocks: TransformerDecoder[];
  readonly finalNorm: LayerNormalization;
  readonly head?: Dense;

  constructor(args: GPTArgs) {
    super({ name: args.name, trainable: args.trainable, dtype: args.dtype });
    const int = (what: string, v: number | undefined, min = 1): number => {
      if (!Number.isInteger(v) || (v as number) < min)
        throw new ArgumentError(`GPT '${this.name}': ${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return v as number;
    };
    this.vocabSize = int('vocabSize', args.vocabSize, 2);
    this.contextLength = int('contextLength', args.contextLength);
    this.hiddenDim = int('hiddenDim', args.hiddenDim);
    this.numHeads = int('numHeads', args.numHeads);
    this.numLayers = int('numLayers', args.numLayers, 0);
    this.intermediateDim = int('intermediateDim', args.intermediateDim ?? 4 * this.hiddenDim);
    if (this.hiddenDim % this.numHeads !== 0)
      throw new ArgumentError(
        `GPT '${this.name}': hiddenDim ${this.hiddenDim} must be a multiple of numHeads ${this.numHeads}`,
      );
    this.dropoutRate = args.dropout ?? 0;
    this.tieEmbeddings = args.tieEmbeddings ?? true;
    this.layerNormEpsilon = args.layerNormEpsilon ?? 1e-5;
    this.seed = args.seed ?? drawSeed();

    const n = (suffix: string) => ({ name: `${this.name}/${suffix}`, dtype: this.dtype });
    const seq: SymShape = [null, null, this.hiddenDim];
    this.tokenEmbedding = new Embedding({
      ...n('token_embedding'),
      inputDim: this.vocabSize,
      outputDim: this.hiddenDim,
      embeddingsInitializer: GPT2_INIT,
    });
    this.positionEmbedding = new PositionEmbedding({
      ...n('position_embedding'),
      sequenceLength: this.contextLength,
      initializer: GPT2_INIT,
    });
    this.embeddingDropout = new Dropout({ ...n('embeddings_dropout'), rate: this.dropoutRate, seed: this.seed });
    this.blocks = Array.from(
      { length: this.numLayers },
      (_, i) =>
        new TransformerDecoder({
          ...n(`transformer_layer_${i}`),
          intermediateDim: this.intermediateDim,
          numHeads: this.numHeads,
          dropout: this.dropoutRate,
          activation: 'gelu',
          layerNormEpsilon: this.layerNormEpsilon,
          normalizeFirst: true,
          kernelInitializer: GPT2_INIT,
          seed: this.seed + i + 1,
        }),
    );
    this.finalNorm = new LayerNormalization({ ...n('layer_norm'), epsilon: this.layerNormEpsilon });
    if (!this.tieEmbeddings)
      this.head = new Dense({ ...n('lm_head'), units: this.vocabSize, kernelInitializer: GPT2_INIT });
    // Everything is built now (shapes are known), so weights exist for summary(), save and load.
    buildSublayer(this.tokenEmbedding, [null, null]);
    for (const l of [this.positionEmbedding, this.embeddingDropout, ...this.blocks, this.finalNorm])
      buildSublayer(l, seq);
    if (this.head) buildSublayer(this.head, seq);
    this.built = true;
  }

  override get layers(): Layer[] {
    return [
      this.tokenEmbedding,
      this.positionEmbedding,
      this.embeddingDropout,
      ...this.blocks,
      this.finalNorm,
      ...(this.head ? [this.head] : []),
    ];
  }

  /** Checks ids [batch, T] with 1 <= T <= contextLength. */
  private checkIds(ids: Tensor): void {
    if (ids.rank !== 2 || ids.shape[1] < 1 || ids.shape[1] > this.contextLength) {
      throw new ShapeError(
        `GPT '${this.name}' expects token ids [batch, T] with 1 <= T <= contextLength ${this.contextLength}, ` +
          `got ${fmtShape(ids.shape)}`,
      );
    }
  }

  /** The residual stream after the final norm: ids [batch, T] -> [batch, T, hiddenDim]. */
  hiddenStates(ids: Tensor, ctx: CallContext = { training: false }): Tensor {
    this.checkIds(ids);
    let x = this.positionEmbedding.call(this.tokenEmbedding.call(ids, ctx), ctx);
    x = this.embeddingDropout.call(x, ctx);
    for (const block of this.blocks) x = block.decode(x, { training: ctx.training, seed: ctx.seed });
    return this.finalNorm.call(x, ctx);
  }

  /** Hidden states [batch, T, hiddenDim] -> logits [batch, T, vocabSize]. */
  logits(h: Tensor): Tensor {
    if (this.head) return this.head.call(h, { training: false });
    const [b, t, d] = h.shape;
    // Tied: h @ E^T; matmul folds the transposed view into its kernel rather than copying E.
    return reshape(matmul(reshape(h, [b * t, d]), transpose(this.tokenEmbedding.embeddings!.value)), [
      b,
      t,
      this.vocabSize,
    ]);
  }

  /** Logits [batch, T, vocabSize] for ids [batch, T]. */
  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    const ids = Array.isArray(inputs) ? inputs[0] : inputs;
    return this.logits(this.hiddenStates(ids, ctx));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as SymShape;
    return [s[0], s[1], this.vocabSize];
  }

  /**
   * Runs the blocks over `ids` [1, T] placed at positions start .. start + T - 1, given each block's
   * cache of the earlier positions (null: none yet); returns the last position's logits [1, 1, vocab]
   * and the grown caches. This is the incremental-decoding path: with T = 1 it costs one position.
   */
  decodeStep(
    ids: Tensor,
    start: number,
    caches: readonly (AttentionCache | null)[],
  ): { logits: Tensor; caches: AttentionCache[] } {
    if (caches.length !== this.blocks.length)
      throw new ArgumentError(
        `GPT '${this.name}': decodeStep needs one cache per block (${this.blocks.length}), got ${caches.length}`,
      );
    if (ids.rank !== 2 || start + ids.shape[1] > this.contextLength)
      throw new ShapeError(
        `GPT '${this.name}': decodeStep got ids ${fmtShape(ids.shape)} at position ${start}; ` +
          `positions must stay below contextLength ${this.contextLength}`,
      );
    const ctx: CallContext = { training: false };
    const t = ids.shape[1];
    let x = add(this.tokenEmbedding.call(ids, ctx), this.positionEmbedding.encoding(t, start));
    const grown = this.blocks.map((block, i) => {
      const r = block.decode(x, {}, caches[i]);
      x = r.output;
      return r.cache;
    });
    const last = sliceAxis(x, 1, t - 1, t);
    return { logits: this.logits(this.finalNorm.call(last, ctx)), caches: grown };
  }

  override getConfig(): LayerConfig {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: this.dtype,
      vocabSize: this.vocabSize,
      contextLength: this.contextLength,
      hiddenDim: this.hiddenDim,
      numHeads: this.numHeads,
      numLayers: this.numLayers,
      intermediateDim: this.intermediateDim,
      dropout: this.dropoutRate,
      tieEmbeddings: this.tieEmbeddings,
      layerNormEpsilon: this.layerNormEpsilon,
      seed: this.seed,
    };
  }

  static override fromConfig<T extends Layer>(this: new (args: never) => T, config: LayerConfig): T {
    return new this(config as never);
  }
}
registerLayer(GPT);

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampling stream (one uniform per token); default drawn from the global stream. */
  seed?: number;
  /** Use the key/value cache (default true); false re-runs the whole window for every token. */
  useCache?: boolean;
  /** Stop after emitting this token (it is included in the result). */
  stopToken?: number;
}

/**
 * Continues `promptIds` by up to maxNewTokens tokens and returns the new ones. Each token is chosen from
 * the next-token logits given the last contextLength tokens (greedy at temperature 0, else sampled with
 * temperature / topK / topP). Cached and uncached generation choose the same tokens.
 */
export function generate(model: GPT, promptIds: ArrayLike<number>, options: GenerateOptions): number[] {
  const { maxNewTokens, useCache = true, stopToken } = options;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
    throw new ArgumentError(`generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  if (promptIds.length === 0) throw new ArgumentError('generate: the prompt needs at least one token');
  checkSampling('generate', options);
  const uniforms = new UniformStream(options.seed ?? drawSeed());
  const seq = Array.from(promptIds);
  const out: number[] = [];
  const window = () => seq.slice(Math.max(0, seq.length - model.contextLength));
  const ids = (xs: number[]) => tensor(Int32Array.from(xs), [1, xs.length]);
  let caches: AttentionCache[] | null = null;
  /** The last position's logits as host numbers; with the cache, feeding only what the cache lacks. */
  const nextLogits = (): ArrayLike<number> =>
    noGrad(() => {
      if (!useCache) {
        return tidy(() => {
          const h = model.hiddenStates(ids(window()));
          return model.logits(sliceAxis(h, 1, h.shape[1] - 1, h.shape[1])).dataSync();
        });
      }
      // A cache covers positions 0 .. seq.length - 2 while the text fits the context; past that the
      // window slides and is recomputed from scratch (positions changed).
      const fits = caches !== null && seq.length <= model.contextLength;
      const r = tidy(() =>
        fits
          ? model.decodeStep(ids(seq.slice(-1)), seq.length - 1, caches!)
          : model.decodeStep(
              ids(window()),
              0,
              model.blocks.map(() => null),
            ),
      );
      dispose(caches);
      caches = r.caches;
      try {
        return r.logits.dataSync();
      } finally {
        r.logits.dispose();
      }
    });
  try {
    for (let i = 0; i < maxNewTokens; i++) {
      const next = sampleToken(nextLogits(), uniforms.next(), options);
      seq.push(next);
      out.push(next);
      if (next === stopToken) break;
    }
  } finally {
    dispose(caches);
  }
  return out;
}
