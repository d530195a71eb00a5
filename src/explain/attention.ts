// Attention maps (the probabilities of every MultiHeadAttention layer a forward pass runs, inside Transformer
// blocks and GPT too) and attention rollout (Abnar & Zuidema 2020) through the layers.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import type { Layer } from '../nn/layer.js';
import { MultiHeadAttention, withAttentionScoresHook } from '../nn/layers/attention.js';
import * as o from '../ops/index.js';

export interface AttentionMap {
  /** The MultiHeadAttention layer's name (a Transformer block's: '<block>/self_attention', '/cross_attention'). */
  layer: string;
  /** Softmax probabilities [N, heads, T, S]: each query row sums to 1 (0 for a fully masked query). */
  scores: Tensor;
}

export interface AttentionMapsOptions {
  /** Only the maps of this MultiHeadAttention layer, or of those inside this layer (a block). Default all. */
  layer?: string;
  /** Samples per forward pass. Default 64. */
  batchSize?: number;
}

const DEFAULT_BATCH = 64;

/** The MultiHeadAttention layers whose maps are kept: all of the model's, or those named by (or in) `name`. */
function selectedLayers(model: Layer, name: string | undefined): Set<Layer> {
  const all = model.flattenLayers();
  const attention = all.filter((l) => l instanceof MultiHeadAttention);
  if (attention.length === 0)
    throw new ArgumentError(`attentionMaps: model '${model.name}' has no MultiHeadAttention layers`);
  if (name === undefined) return new Set(attention);
  const named = all.find((l) => l.name === name);
  const inside = named ? named.flattenLayers().filter((l) => l instanceof MultiHeadAttention) : [];
  if (inside.length === 0)
    throw new ArgumentError(
      `attentionMaps: ${named ? `layer '${name}' holds no attention` : `no layer named '${name}'`} in model ` +
        `'${model.name}'; its MultiHeadAttention layers: ${attention.map((l) => `'${l.name}'`).join(', ')}`,
    );
  return new Set(inside);
}

/** Rows start..start+count-1 of every input. */
function rowsOf(inputs: readonly Tensor[], start: number, count: number): Tensor[] {
  return inputs.map((x) => o.slice(x, [start, ...x.shape.slice(1).map(() => 0)], [count, ...x.shape.slice(1)]));
}

/**
 * The attention probabilities [N, heads, T, S] of each MultiHeadAttention computation in one inference
 * forward pass of `model` on `inputs` (one tensor, or one per model input, samples first), in the order
 * they run; a layer called twice gives two maps. The model's outputs are those of an ordinary forward.
 */
export function attentionMaps(
  model: Layer,
  inputs: Tensor | readonly Tensor[],
  options: AttentionMapsOptions = {},
): AttentionMap[] {
  const list = inputs instanceof Tensor ? [inputs] : [...inputs];
  if (list.length === 0 || !list.every((x) => x instanceof Tensor && x.rank >= 1))
    throw new ArgumentError('attentionMaps: inputs must be a Tensor [samples, ...] or a list of them');
  const n = list[0].shape[0];
  if (n === 0 || list.some((x) => x.shape[0] !== n))
    throw new ShapeError(
      `attentionMaps: inputs must share a positive number of samples, got ${list.map((x) => fmtShape(x.shape))}`,
    );
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError(`attentionMaps: batchSize must be a positive integer, got ${String(options.batchSize)}`);
  const selected = selectedLayers(model, options.layer);
  const names: string[] = [];
  const batches: Tensor[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const seen: string[] = [];
    const part = noGrad(() =>
      tidy(() => {
        const captured: Tensor[] = [];
        const rows = rowsOf(list, start, count);
        withAttentionScoresHook(
          (layer, scores) => {
            if (!selected.has(layer)) return;
            seen.push(layer.name);
            captured.push(scores);
          },
          () => model.apply(rows.length === 1 ? rows[0] : rows, { training: false }),
        );
        return captured;
      }),
    );
    batches.push(part);
    if (start === 0) names.push(...seen);
    else if (seen.join() !== names.join()) {
      dispose(batches);
      throw new ArgumentError(
        `attentionMaps: the attention layers run differ between batches (${names} vs ${seen}); use one batch`,
      );
    }
  }
  if (names.length === 0)
    throw new ArgumentError(
      `attentionMaps: no selected attention layer ran in model '${model.name}''s forward pass` +
        (options.layer ? ` (layer '${options.layer}')` : ''),
    );
  if (batches.length === 1) return names.map((layer, i) => ({ layer, scores: batches[0][i] }));
  const joined = names.map((_, i) =>
    o.concat(
      batches.map((b) => b[i]),
      0,
    ),
  );
  dispose(batches);
  return names.map((layer, i) => ({ layer, scores: joined[i] }));
}

export type HeadFusion = 'mean' | 'max' | 'min';

export interface AttentionRolloutOptions {
  /** Add the identity for the residual connection around each attention, then renormalise rows. Default true. */
  residual?: boolean;
  /** How each layer's heads combine. Default 'mean' (Abnar & Zuidema). */
  headFusion?: HeadFusion;
  /**
   * The query position whose rollout row is the relevance: an index (negative counts from the end), or 'mean'
   * over all positions. Default -1, the last position (a causal language model's next-token prediction); a
   * [CLS] classifier's is 0.
   */
  query?: number | 'mean';
}

export interface AttentionRollout {
  /** [N, T, S]: how much each position of the last layer draws on each input token through all layers. */
  rollout: Tensor;
  /** [N, S]: the rollout row of the chosen query position (or the mean row); sums to 1 when rows do. */
  relevance: Tensor;
  /** The query position used (an index from 0, or 'mean'). */
  query: number | 'mean';
}

const FUSIONS: readonly HeadFusion[] = ['mean', 'max', 'min'];

/**
 * Attention rollout (Abnar & Zuidema 2020) over maps in the order the layers run (attentionMaps' result, or
 * tensors [N, heads, T, S]): per layer the heads are fused, A = fuse(heads) (+ I with residual) with rows
 * renormalised to sum to 1, and rollout = A_L ... A_2 A_1. Each layer's S must be the previous layer's T.
 */
export function attentionRollout(
  maps: readonly (AttentionMap | Tensor)[],
  options: AttentionRolloutOptions = {},
): AttentionRollout {
  const op = 'attentionRollout';
  const residual = options.residual ?? true;
  const headFusion = options.headFusion ?? 'mean';
  if (!FUSIONS.includes(headFusion))
    throw new ArgumentError(`${op}: headFusion must be one of ${FUSIONS.join(', ')}, got ${String(headFusion)}`);
  if (!Array.isArray(maps) || maps.length === 0)
    throw new ArgumentError(`${op}: expected a non-empty list of attention maps (attentionMaps' result)`);
  const tensors = maps.map((m, i) => {
    const t = m instanceof Tensor ? m : (m as AttentionMap | undefined)?.scores;
    if (!(t instanceof Tensor) || t.rank !== 4)
      throw new ShapeError(
        `${op}: map ${i} must be probabilities [samples, heads, T, S], got ` +
          (t instanceof Tensor ? fmtShape(t.shape) : typeof t),
      );
    return t;
  });
  const label = (i: number) =>
    maps[i] instanceof Tensor ? `map ${i}` : `map ${i} ('${(maps[i] as AttentionMap).layer}')`;
  tensors.forEach((t, i) => {
    const [n, , q, s] = t.shape;
    if (n !== tensors[0].shape[0])
      throw new ShapeError(`${op}: ${label(i)} has ${n} samples, map 0 has ${tensors[0].shape[0]}`);
    if (residual && q !== s)
      throw new ShapeError(
        `${op}: ${label(i)} is [${t.shape}], not self-attention (T = S), so no residual identity can be added; ` +
          'give residual: false or leave cross-attention maps out',
      );
    if (i > 0 && s !== tensors[i - 1].shape[2])
      throw new ShapeError(
        `${op}: ${label(i)} attends over ${s} positions but ${label(i - 1)} gives ${tensors[i - 1].shape[2]}`,
      );
  });
  const [n, , t] = tensors[tensors.length - 1].shape;
  const s = tensors[0].shape[3];
  const given = options.query ?? -1;
  if (given !== 'mean' && !(Number.isInteger(given) && given >= -t && given < t))
    throw new ArgumentError(`${op}: query must be 'mean' or a position in ${-t}..${t - 1}, got ${String(given)}`);
  const query = given === 'mean' ? 'mean' : given < 0 ? given + t : given;
  return tidy(() => {
    let rollout: Tensor | undefined;
    for (const map of tensors) {
      let a = headFusion === 'mean' ? o.mean(map, 1) : headFusion === 'max' ? o.max(map, 1) : o.min(map, 1);
      if (residual) a = o.add(a, o.eye(a.shape[1], a.shape[2], 0, a.dtype));
      // Rows of fully masked queries sum to 0 and stay 0.
      a = o.div(a, o.maximum(o.sum(a, -1, true), 1e-30));
      rollout = rollout ? o.matmul(a, rollout) : a;
    }
    const relevance =
      query === 'mean' ? o.mean(rollout!, 1) : o.reshape(o.slice(rollout!, [0, query, 0], [n, 1, s]), [n, s]);
    return { rollout: rollout!, relevance, query };
  });
}
