// The one kind of name registry (optimizers, losses, metrics, schedules, activations, initializers, layer
// classes): Keras-style lookup that accepts camelCase, snake_case and any capitalisation, an ArgumentError
// with the nearest name when nothing matches, and the check that rejects unknown option keys.
import { ArgumentError, fmtValue } from './errors.js';

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}

/** The known name nearest to `name` (after normalizeName), when it is near enough to be a likely typo. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = normalizeName(name);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(lower, normalizeName(k));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(lower.length / 3)) ? best : undefined;
}

/** "; did you mean 'x'? Known: a, b, c" — for error messages about an unknown name. */
export function suggest(name: string, known: readonly string[]): string {
  const best = nearestName(name, known);
  return `${best === undefined ? '' : `; did you mean '${best}'?`} Known: ${known.join(', ')}`;
}

/** 'categorical_crossentropy', 'CategoricalCrossentropy' and 'categoricalCrossentropy' all normalise alike. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[_\-\s]/g, '');
}

/** A table from canonical names (and aliases) to entries, matched after normalizeName. */
export class Registry<T> {
  private readonly byKey = new Map<string, { name: string; value: T }>();
  private readonly canonical: string[] = [];

  /** @param op the function that looks names up, and `what` the kind of entry, both for messages. */
  constructor(
    private readonly op: string,
    private readonly what: string,
  ) {}

  /** Adds an entry; adding a name again replaces its entry (a re-registered custom class, say). */
  add(name: string, value: T, aliases: readonly string[] = []): this {
    if (!this.canonical.includes(name)) this.canonical.push(name);
    for (const n of [name, ...aliases]) this.byKey.set(normalizeName(n), { name, value });
    return this;
  }

  get names(): readonly string[] {
    return this.canonical;
  }

  find(name: string): { name: string; value: T } | undefined {
    return this.byKey.get(normalizeName(name));
  }

  /** The entry for `name`; an unknown name throws an ArgumentError with the nearest valid name. */
  get(name: string): { name: string; value: T } {
    if (typeof name !== 'string')
      throw new ArgumentError(`${this.op}: expected a ${this.what} name, got ${typeof name}`);
    const hit = this.find(name);
    if (hit) return hit;
    throw new ArgumentError(`${this.op}: unknown ${this.what} '${name}'${suggest(name, this.canonical)}`);
  }
}

/**
 * Rejects option keys a function does not know (a misspelt 'learning_rate' must not be silently
 * ignored), naming the nearest known key. This is the one check of every public options object.
 */
export function checkOptions(op: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(`${op}: expected an options object, got ${fmtValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = nearestName(key, allowed);
    // 'batch_size' for 'batchSize': the Keras (Python) spelling of a valid option.
    const note = near !== undefined && normalizeName(near) === normalizeName(key) ? ' (options are camelCase)' : '';
    const hint = near === undefined ? '; known' : `; did you mean '${near}'?${note} Known`;
    throw new ArgumentError(`${op}: unknown option '${key}'${hint}: ${allowed.join(', ')}`);
  }
}

/**
 * The keys of an options interface, written as `{ key: true, ... }` so that the compiler checks the list
 * against the interface: a key missing from it or not in the interface does not compile.
 */
export function optionKeys<T extends object>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}
