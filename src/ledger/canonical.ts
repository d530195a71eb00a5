// Canonical JSON (RFC 8785 JCS style) and SHA-256: the basis of every hash in records and the ledger.
// Object keys are sorted by UTF-16 code units, there is no whitespace, numbers and strings are written
// as ECMAScript's JSON.stringify writes them. So a value hashes the same however its keys were ordered
// and however it was pretty-printed on disk.
import { createHash } from 'node:crypto';
import { CanonicalJsonError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * The canonical JSON text of `value`. Object properties whose value is undefined are left out (as
 * JSON.stringify does, so a value and its parsed file agree); everything else that JSON cannot carry
 * exactly (NaN, Infinity, undefined in arrays, functions, bigints, cycles) throws CanonicalJsonError
 * rather than being silently changed.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  const stack = new Set<object>();
  const write = (v: unknown, path: string): void => {
    if (v === null) {
      parts.push('null');
      return;
    }
    switch (typeof v) {
      case 'boolean':
        parts.push(v ? 'true' : 'false');
        return;
      case 'string':
        parts.push(JSON.stringify(v));
        return;
      case 'number':
        if (!Number.isFinite(v))
          throw new CanonicalJsonError(
            `canonicalJson: ${path} is ${v}, which JSON cannot represent; record it as null with a note`,
          );
        parts.push(JSON.stringify(v));
        return;
      case 'object':
        break;
      default:
        throw new CanonicalJsonError(`canonicalJson: ${path} is a ${typeof v}, which JSON cannot represent`);
    }
    const obj = v as object;
    if (stack.has(obj)) throw new CanonicalJsonError(`canonicalJson: ${path} refers back to itself (a cycle)`);
    stack.add(obj);
    if (Array.isArray(obj)) {
      parts.push('[');
      obj.forEach((item, i) => {
        if (item === undefined) throw new CanonicalJsonError(`canonicalJson: ${path}[${i}] is undefined`);
        if (i > 0) parts.push(',');
        write(item, `${path}[${i}]`);
      });
      parts.push(']');
    } else {
      if (ArrayBuffer.isView(obj))
        throw new CanonicalJsonError(`canonicalJson: ${path} is a typed array; convert it to a plain array`);
      const keys = Object.keys(obj)
        .filter((k) => (obj as Record<string, unknown>)[k] !== undefined)
        .sort();
      parts.push('{');
      keys.forEach((k, i) => {
        if (i > 0) parts.push(',');
        parts.push(JSON.stringify(k), ':');
        write((obj as Record<string, unknown>)[k], `${path}.${k}`);
      });
      parts.push('}');
    }
    stack.delete(obj);
  };
  write(value, '$');
  return parts.join('');
}

/** Lower-case hex SHA-256 of bytes or of a string's UTF-8 encoding. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the canonical JSON of `value`. */
export function hashJson(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * A JSON-safe copy of `value`: non-finite numbers become null (the caller notes where that matters),
 * undefined object properties are dropped, typed arrays become plain arrays.
 */
export function jsonSafe(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : null));
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && typeof v !== 'function') out[k] = jsonSafe(v);
    return out;
  }
  return null;
}
