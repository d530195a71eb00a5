// What a run record says about explanations of the trained model: the method, its parameters, the target and
// scores, the completeness gap, the time, a fingerprint of the explained inputs and a bounded summary of the
// attributions (a few samples, pooled and quantised), enough to redraw the maps in the card. The ledger knows
// nothing of explain(): src/explain/record.ts fills these in as plain data, with summarizeAttributions below.
import type { Schema } from './json-schema.js';
import type { TensorFingerprint } from './fingerprint.js';
import type { JsonValue } from './canonical.js';

/**
 * One sample's attributions as stored: `values[i] * scale / QUANTUM` approximates the attribution of element i
 * of the stored map (row-major over `storedShape`), so a map is small integers, readable and compact.
 */
export interface StoredAttribution {
  /** The sample's index in the explained batch. */
  sample: number;
  /** max |attribution| of the stored map (0 when all are 0). */
  scale: number;
  values: number[];
  /** The sum of all the sample's attributions, before any pooling or quantisation. */
  sum: number;
  /** 'features' layout over more than maxValues features: the indices of the stored (largest |value|) ones. */
  indices?: number[];
  /** 'tokens' layout: the token ids of the stored positions (padding, id 0, left out) and their words. */
  tokens?: number[];
  words?: string[];
}

/** A bounded summary of the attributions of a batch (see summarizeAttributions). */
export interface AttributionSummary {
  /** image: [H, W] or [H, W, C] samples, channels summed; tokens: int token ids; features: anything else. */
  layout: 'image' | 'tokens' | 'features';
  /** One sample's attribution shape as explained (no batch axis). */
  shape: number[];
  /** The shape of each stored map: [h, w] (image, after pooling), [t] tokens, [f] features. */
  storedShape: number[];
  /** Quantisation: stored values are integers in [-QUANTUM, QUANTUM]. */
  quantum: number;
  /** What was reduced to fit the bounds, in words ('none' when the stored maps are the attributions). */
  reduction: string;
  /** True when samples, pixels, tokens or features were left out. */
  truncated: boolean;
  samples: StoredAttribution[];
}

/** One explain() result as the record keeps it. */
export interface ExplanationRecord {
  /** explain()'s method name (saliency, integratedGradients, ...). */
  method: string;
  createdAt: string;
  /** A name given by the caller, e.g. 'test digits'. */
  name?: string;
  parameters: Record<string, JsonValue>;
  /** The class explained per sample, or 'custom' for a function target. */
  target: number[] | 'custom';
  logit: boolean;
  /** f(x): the target score per sample (null where not finite). */
  scores: (number | null)[];
  /** |sum of attributions - expected sum| per sample, for methods with a completeness (efficiency) axiom. */
  completenessGap?: (number | null)[];
  seconds: number;
  /** The model's input shape per sample (no batch axis; null for a free dimension), as far as it declares it. */
  inputShape: (number | null)[];
  /** Fingerprint of the explained inputs (shape, dtype, SHA-256 of the bytes). */
  inputs: TensorFingerprint;
  /** True labels of the explained samples, when given. */
  labels?: number[];
  attributions: AttributionSummary;
  details?: Record<string, JsonValue>;
}

/** Stored integers run over [-QUANTUM, QUANTUM]: steps of a thousandth of each map's largest value. */
export const QUANTUM = 1000;

/** Bounds of a summary: samples stored, values stored per sample. */
export interface SummaryLimits {
  /** Default 16. */
  maxSamples?: number;
  /** Default 4096 (a 64 x 64 map). */
  maxValues?: number;
}

const round = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : 0);

function quantise(values: ArrayLike<number>): { scale: number; values: number[] } {
  let scale = 0;
  for (let i = 0; i < values.length; i++) scale = Math.max(scale, Math.abs(values[i]) || 0);
  const q = Array.from(values, (v) => (scale > 0 && Number.isFinite(v) ? Math.round((v / scale) * QUANTUM) : 0));
  return { scale: round(scale), values: q };
}

/** [H, W, C] (or [H, W]) -> [h, w]: channels summed, then blocks of `factor` x `factor` averaged. */
function poolImage(data: ArrayLike<number>, offset: number, h: number, w: number, c: number, factor: number) {
  const ph = Math.ceil(h / factor),
    pw = Math.ceil(w / factor);
  const out = new Float64Array(ph * pw);
  const counts = new Float64Array(ph * pw);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += data[offset + (y * w + x) * c + k];
      const j = Math.floor(y / factor) * pw + Math.floor(x / factor);
      out[j] += s;
      counts[j]++;
    }
  for (let j = 0; j < out.length; j++) out[j] /= counts[j];
  return { map: out, shape: [ph, pw] };
}

/**
 * A bounded summary of attributions [N, ...]: the first maxSamples samples; images ([N, H, W] or [N, H, W, C]
 * with C <= 4) with channels summed and pooled to at most maxValues pixels; token inputs (`tokens`: the ids,
 * [N, T]) without padding and at most maxValues tokens; other inputs flattened, keeping the maxValues largest
 * |values| with their indices. Each map is quantised to integers (see StoredAttribution); each sample's exact
 * sum is kept, so completeness can still be checked.
 */
export function summarizeAttributions(
  attributions: ArrayLike<number>,
  shape: readonly number[],
  {
    tokens,
    vocabulary,
    maxSamples = 16,
    maxValues = 4096,
  }: SummaryLimits & { tokens?: ArrayLike<number>; vocabulary?: readonly string[] } = {},
): AttributionSummary {
  const n = shape[0] ?? 1;
  const one = shape.slice(1);
  const size = one.reduce((a, b) => a * b, 1);
  const kept = Math.min(n, maxSamples);
  const notes: string[] = [];
  if (kept < n) notes.push(`first ${kept} of ${n} samples`);
  const image = !tokens && (one.length === 2 || (one.length === 3 && one[2] <= 4)) && one[0] > 1 && one[1] > 1;
  const layout: AttributionSummary['layout'] = tokens ? 'tokens' : image ? 'image' : 'features';
  const samples: StoredAttribution[] = [];
  let storedShape: number[] = [];
  let truncated = kept < n;
  for (let i = 0; i < kept; i++) {
    const offset = i * size;
    let sum = 0;
    for (let j = 0; j < size; j++) sum += attributions[offset + j];
    const entry = { sample: i, sum: round(sum) };
    if (layout === 'image') {
      const [h, w, c = 1] = one;
      const factor = Math.max(1, Math.ceil(Math.sqrt((h * w) / maxValues)));
      const { map, shape: pooled } = poolImage(attributions, offset, h, w, c, factor);
      storedShape = pooled;
      if (i === 0) {
        if (c > 1) notes.push(`${c} channels summed`);
        if (factor > 1) notes.push(`${factor} x ${factor} pixel blocks averaged`);
      }
      samples.push({ ...entry, ...quantise(map) });
    } else if (layout === 'tokens') {
      const ids: number[] = [],
        values: number[] = [];
      for (let j = 0; j < size && ids.length < maxValues; j++)
        if (tokens![offset + j] !== 0) {
          ids.push(tokens![offset + j]);
          values.push(attributions[offset + j]);
        }
      let nonPadding = 0;
      for (let j = 0; j < size; j++) if (tokens![offset + j] !== 0) nonPadding++;
      if (nonPadding > ids.length) truncated = true;
      storedShape = [size];
      samples.push({
        ...entry,
        ...quantise(values),
        tokens: ids,
        ...(vocabulary ? { words: ids.map((t) => vocabulary[t] ?? `#${t}`) } : {}),
      });
    } else {
      storedShape = [size];
      if (size <= maxValues)
        samples.push({ ...entry, ...quantise(Array.from({ length: size }, (_, j) => attributions[offset + j])) });
      else {
        const order = Array.from({ length: size }, (_, j) => j)
          .sort((a, b) => Math.abs(attributions[offset + b]) - Math.abs(attributions[offset + a]))
          .slice(0, maxValues)
          .sort((a, b) => a - b);
        samples.push({ ...entry, ...quantise(order.map((j) => attributions[offset + j])), indices: order });
      }
    }
  }
  if (layout === 'tokens') notes.push('padding tokens (id 0) left out');
  if (layout === 'tokens' && truncated && kept === n) notes.push(`at most ${maxValues} tokens per sample`);
  if (layout === 'features' && size > maxValues) {
    truncated = true;
    notes.push(`the ${maxValues} largest |attributions| of ${size} per sample`);
  }
  return {
    layout,
    shape: one,
    storedShape,
    quantum: QUANTUM,
    reduction: notes.length ? notes.join('; ') : 'none',
    truncated,
    samples,
  };
}

/** The stored map of one sample, dequantised (features outside `indices` are 0). */
export function storedAttributionMap(summary: AttributionSummary, s: StoredAttribution): Float64Array {
  const out = new Float64Array(s.indices ? summary.storedShape.reduce((a, b) => a * b, 1) : s.values.length);
  s.values.forEach((q, i) => (out[s.indices ? s.indices[i] : i] = (q * s.scale) / summary.quantum));
  return out;
}

/** The list with `entry` added; an earlier entry of the same name and method (when named) is replaced. */
export function withExplanation(list: readonly ExplanationRecord[] | undefined, entry: ExplanationRecord) {
  const same = (e: ExplanationRecord) => e.name !== undefined && e.name === entry.name && e.method === entry.method;
  return [...(list ?? []).filter((e) => !same(e)), entry];
}

const count = { type: 'integer', minimum: 0 };
const ints = { type: 'array', items: { type: 'integer' } };
const nullableNumbers = { type: 'array', items: { type: ['number', 'null'] } };

/** The run record schema's `explanations` items (see run-record-schema.ts). */
export const EXPLANATION_SCHEMA: Schema = {
  type: 'object',
  required: [
    'method',
    'createdAt',
    'parameters',
    'target',
    'logit',
    'scores',
    'seconds',
    'inputShape',
    'inputs',
    'attributions',
  ],
  additionalProperties: false,
  properties: {
    method: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    name: { type: 'string' },
    parameters: { type: 'object' },
    target: { anyOf: [ints, { const: 'custom' }] },
    logit: { type: 'boolean' },
    scores: nullableNumbers,
    completenessGap: nullableNumbers,
    seconds: { type: 'number', minimum: 0 },
    inputShape: { type: 'array', items: { anyOf: [count, { type: 'null' }] } },
    inputs: { $ref: '#/$defs/tensor' },
    labels: ints,
    attributions: {
      type: 'object',
      required: ['layout', 'shape', 'storedShape', 'quantum', 'reduction', 'truncated', 'samples'],
      additionalProperties: false,
      properties: {
        layout: { enum: ['image', 'tokens', 'features'] },
        shape: { type: 'array', items: count },
        storedShape: { type: 'array', items: count },
        quantum: { type: 'integer', minimum: 1 },
        reduction: { type: 'string' },
        truncated: { type: 'boolean' },
        samples: {
          type: 'array',
          items: {
            type: 'object',
            required: ['sample', 'scale', 'values', 'sum'],
            additionalProperties: false,
            properties: {
              sample: count,
              scale: { type: 'number', minimum: 0 },
              values: ints,
              sum: { type: 'number' },
              indices: { type: 'array', items: count },
              tokens: ints,
              words: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    details: { type: 'object' },
  },
};
