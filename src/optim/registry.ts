// Name registries shared by optimizers, losses and metrics: Keras-style lookup that accepts camelCase,
// snake_case and any capitalisation, and an ArgumentError with the nearest name when nothing matches.
// (Shared by nn/losses.ts and train/metrics.ts too; it could move next to nn/names.ts.)
import { ArgumentError, fmtValue } from '../errors.js';
import { suggest } from '../nn/names.js';

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

  add(name: string, value: T, aliases: readonly string[] = []): this {
    this.canonical.push(name);
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
 * ignored), naming the nearest known key.
 */
export function checkOptions(op: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(`${op}: expected an options object, got ${fmtValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new ArgumentError(`${op}: unknown option '${key}'${suggest(key, allowed)}`);
  }
}
