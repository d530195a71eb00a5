// Next-token choice from a row of logits on the host: greedy, or temperature + top-k + top-p (nucleus)
// sampling driven by one uniform number, so a seeded stream of uniforms makes generation reproducible.
import { ArgumentError } from '../errors.js';
import { RandomStream } from '../ops/random.js';
import { outsideScopes } from '../tensor/storage.js';

export interface SamplingOptions {
  /** Softmax temperature; 0 picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

/** Checks sampling options once, before generating; `op` names the caller in errors. */
export function checkSampling(op: string, { temperature = 1, topK, topP }: SamplingOptions): void {
  if (!(Number.isFinite(temperature) && temperature >= 0))
    throw new ArgumentError(`${op}: temperature must be a finite number >= 0, got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0))
    throw new ArgumentError(`${op}: topK must be a non-negative integer, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1))
    throw new ArgumentError(`${op}: topP must be in (0, 1], got ${topP}`);
}

/** The index of the largest value; the first one on ties. */
export function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The token chosen from `logits` with uniform draw `u` in [0, 1). Candidates are ordered by logit
 * (then index), cut to topK, turned into probabilities at `temperature` (in float64), cut to the
 * nucleus topP, and `u` picks one by inverse CDF. Temperature 0 is argmax and ignores `u`.
 */
export function sampleToken(
  logits: ArrayLike<number>,
  u: number,
  { temperature = 1, topK, topP }: SamplingOptions = {},
): number {
  if (temperature === 0) return argmaxOf(logits);
  const n = logits.length;
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  if (topK) order = order.slice(0, Math.min(topK, n));
  const top = logits[order[0]];
  const probs = order.map((i) => Math.exp((logits[i] - top) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);
  let keep = probs.length;
  if (topP !== undefined && topP < 1) {
    let cum = 0;
    for (keep = 0; keep < probs.length;) {
      cum += probs[keep++];
      if (cum >= topP * total) break;
    }
    total = probs.slice(0, keep).reduce((s, p) => s + p, 0);
  }
  let cum = 0;
  const target = u * total;
  for (let j = 0; j < keep; j++) {
    cum += probs[j];
    if (target < cum) return order[j];
  }
  return order[keep - 1]; // u * total rounding up to the total
}

/** Uniform numbers in [0, 1) from a seeded RandomStream, one per call (drawn in chunks on the host). */
export class UniformStream {
  private readonly gen: RandomStream;
  private chunk: Float64Array = new Float64Array(0);
  private at = 0;
  constructor(seed: number) {
    this.gen = new RandomStream(seed);
  }
  next(): number {
    if (this.at === this.chunk.length) {
      this.chunk = outsideScopes(() => {
        const t = this.gen.uniform([256], 0, 1, 'float64');
        const d = t.dataSync() as Float64Array;
        t.dispose();
        return d;
      });
      this.at = 0;
    }
    return this.chunk[this.at++];
  }
}
