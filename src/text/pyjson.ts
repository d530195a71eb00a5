// Python-compatible JSON for the Keras tokenizer format: json.dumps's exact text, and order-keeping parsing.
//
// Keras' Tokenizer.to_json() nests json.dumps() strings whose key order carries meaning (word_counts'
// order breaks count ties). JS objects put integer-like keys ('1', '42') first, so ordered data is
// kept in arrays of entries here and parsed with a scanner that keeps the text's order.
import { FormatError } from '../io/safetensors.js';

/** A JSON value whose objects are ordered entry lists (so integer-like keys keep their place). */
export type PyJson = null | boolean | number | string | PyJson[] | { entries: [string, PyJson][] };

/** A string as Python's json.dumps writes it (ensure_ascii: non-ASCII as \uXXXX, surrogate pairs split). */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** json.dumps(value) with Python's default separators (', ' and ': '); integers only for numbers. */
export function pyDumps(value: PyJson): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FormatError(`pyDumps: cannot write ${value} as JSON`);
    return String(value);
  }
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyDumps).join(', ')}]`;
  return `{${value.entries.map(([k, v]) => `${pyString(k)}: ${pyDumps(v)}`).join(', ')}}`;
}

/**
 * The entries of a flat JSON object {"key": number, ...} in the order written. `what` names the
 * field in errors. Values must be numbers; this is all the Keras tokenizer's nested strings hold.
 * A key written twice is an error (Keras never writes one; Python would silently keep the last).
 */
export function parseOrderedCounts(text: string, what: string): [string, number][] {
  const fail = (why: string): never => {
    throw new FormatError(`Tokenizer.fromJSON: ${what} is not a flat JSON object of numbers (${why})`);
  };
  const token = /\s*("(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}:,])/y;
  const seen = new Set<string>();
  const next = (): string => {
    const m = token.exec(text);
    if (!m) fail(`unexpected text at offset ${token.lastIndex}`);
    return m![1];
  };
  const out: [string, number][] = [];
  if (next() !== '{') fail('expected "{"');
  let t = next();
  if (t === '}') return finish();
  for (;;) {
    if (!t.startsWith('"')) fail(`expected a key, got ${t}`);
    let key = '';
    try {
      key = JSON.parse(t) as string;
    } catch {
      fail(`the key ${t.slice(0, 40)} is not a JSON string`);
    }
    if (seen.has(key)) fail(`the key ${t.slice(0, 40)} is written twice`);
    seen.add(key);
    if (next() !== ':') fail('expected ":"');
    const v = next();
    if (!/^-?\d/.test(v)) fail(`the value of ${t} is not a number`);
    out.push([key, Number(v)]);
    t = next();
    if (t === '}') return finish();
    if (t !== ',') fail(`expected "," or "}", got ${t}`);
    t = next();
  }
  function finish(): [string, number][] {
    if (text.slice(token.lastIndex).trim() !== '') fail('text after the closing "}"');
    return out;
  }
}
