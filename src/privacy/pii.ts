// PII scanning and redaction of text: scanPII finds e-mail addresses, phone numbers, payment cards, IBANs, IP
// addresses, PRC identity numbers, US SSNs and secrets; redactPII replaces them by a type tag ([EMAIL]) or a keyed
// pseudonym (<EMAIL_1a2b3c4d5e6f>, HMAC-SHA256 of the normalised value); PIIRedactor does so as a Dataset map,
// counting what it replaced per type for the run record (counts only, never the values).
import { createHmac } from 'node:crypto';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { StringTensor } from '../nn/preprocessing/string-tensor.js';
import { DETECTORS, PII_TYPES, ipv6Groups, pemBlocks, type PIIType } from './pii-detectors.js';

export { PII_TYPES, type PIIType } from './pii-detectors.js';

/** One PII value found in a text: its type and where it is (text.slice(start, end) === value). */
export interface PIIMatch {
  type: PIIType;
  start: number;
  end: number;
  value: string;
}

export interface ScanOptions {
  /** The types to look for (default: all of PII_TYPES). */
  types?: readonly PIIType[];
}

export interface RedactOptions extends ScanOptions {
  /** 'tag' replaces a value by [TYPE]; 'pseudonym' by <TYPE_hmac>, one token per value (default 'tag'). */
  mode?: 'tag' | 'pseudonym';
  /** The HMAC key of pseudonym mode (at least 16 bytes; a string is read as UTF-8). Keep it secret. */
  key?: string | Uint8Array;
}

/** Per-type counts of the values found, with every requested type present (0 when none). */
export type PIICounts = Partial<Record<PIIType, number>>;

/** The least key size for pseudonyms: a shorter key could be found by trying keys against known values. */
export const MIN_PSEUDONYM_KEY_BYTES = 16;

const TAGS: Record<PIIType, string> = {
  email: 'EMAIL',
  phone: 'PHONE',
  creditCard: 'CREDIT_CARD',
  iban: 'IBAN',
  ipv4: 'IPV4',
  ipv6: 'IPV6',
  prcId: 'PRC_ID',
  usSsn: 'US_SSN',
  secret: 'SECRET',
};

function checkTypes(op: string, types: readonly PIIType[] | undefined): readonly PIIType[] {
  if (types === undefined) return PII_TYPES;
  if (!Array.isArray(types)) throw new ArgumentError(`${op}: types must be an array of PII types`);
  for (const t of types)
    if (!PII_TYPES.includes(t))
      throw new ArgumentError(`${op}: unknown PII type '${t}'; known: ${PII_TYPES.join(', ')}`);
  return types;
}

/**
 * The PII in `text`, ordered by start. Overlapping candidates are resolved deterministically: a secret
 * beats everything, then checksum-validated numbers (cards, IBANs, PRC IDs), then the other types, phones
 * last; within a rank the longer match wins, then the earlier one.
 */
export function scanPII(text: string, options: ScanOptions = {}): PIIMatch[] {
  if (typeof text !== 'string') throw new ArgumentError(`scanPII: expected a string, got ${typeof text}`);
  const types = checkTypes('scanPII', options.types);
  const found: (PIIMatch & { rank: number })[] = [];
  if (types.includes('secret')) for (const [start, end] of pemBlocks(text)) found.push(match('secret', 0, start, end));
  for (const d of DETECTORS) {
    if (!types.includes(d.type)) continue;
    const re = d.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const span = d.accept(m, text);
      if (span) found.push(match(d.type, d.rank, span[0], span[1]));
      // Go on after an accepted span (which may be shorter than the candidate), else one character on.
      re.lastIndex = span && span[1] > m.index ? span[1] : m.index + 1;
    }
  }
  function match(type: PIIType, rank: number, start: number, end: number): PIIMatch & { rank: number } {
    return { type, start, end, value: text.slice(start, end), rank };
  }
  found.sort(
    (a, b) =>
      a.rank - b.rank ||
      b.end - b.start - (a.end - a.start) ||
      a.start - b.start ||
      PII_TYPES.indexOf(a.type) - PII_TYPES.indexOf(b.type),
  );
  // Greedy in that order: keep a match unless it overlaps one kept already (kept is sorted by start).
  const kept: PIIMatch[] = [];
  for (const { rank: _, ...m } of found) {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid].start < m.start) lo = mid + 1;
      else hi = mid;
    }
    if ((lo > 0 && kept[lo - 1].end > m.start) || (lo < kept.length && kept[lo].start < m.end)) continue;
    kept.splice(lo, 0, m);
  }
  return kept;
}

/** The value in a canonical form, so the same identifier written two ways gets the same pseudonym. */
function normalise(type: PIIType, value: string): string {
  switch (type) {
    case 'email':
    case 'ipv4':
      return value.toLowerCase();
    case 'phone': {
      const digits = value.replace(/\(0\)/, '').replace(/\D/g, '');
      if (value.startsWith('+')) return `+${digits}`;
      if (digits.startsWith('00')) return `+${digits.slice(2)}`;
      if (digits.length === 11 && /^1[3-9]/.test(digits)) return `+86${digits}`;
      return `+1${digits.slice(-10)}`;
    }
    case 'creditCard':
    case 'usSsn':
      return value.replace(/\D/g, '');
    case 'iban':
      return value.replace(/ /g, '').toUpperCase();
    case 'ipv6':
      // The eight groups in hex (token() may be handed any string: then the value as written).
      return (
        ipv6Groups(value)
          ?.map((g) => g.toString(16))
          .join(':') ?? value.toLowerCase()
      );
    case 'prcId':
      return value.toUpperCase();
    case 'secret':
      return value;
  }
}

function checkKey(op: string, key: string | Uint8Array | undefined): Buffer {
  if (key === undefined)
    throw new ArgumentError(`${op}: mode 'pseudonym' needs a key (a secret string or bytes, >= 16 bytes)`);
  if (typeof key !== 'string' && !(key instanceof Uint8Array))
    throw new ArgumentError(`${op}: key must be a string or a Uint8Array, got ${typeof key}`);
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (bytes.length < MIN_PSEUDONYM_KEY_BYTES)
    throw new ArgumentError(
      `${op}: the pseudonym key has ${bytes.length} bytes; at least ${MIN_PSEUDONYM_KEY_BYTES} are needed ` +
        '(a short key can be recovered by trying keys against values one knows)',
    );
  return bytes;
}

/**
 * A reusable redaction: options checked once, and the counts of every text it redacted summed in `counts`.
 * As a Dataset map it redacts strings, StringTensors, arrays and objects of them (e.g. { x, y } batches of
 * text), passing numeric tensors through:
 *
 *   const redactor = new PIIRedactor({ mode: 'pseudonym', key });
 *   const clean = textDataset.map(redactor.map);
 *   await model.fit(clean, { epochs: 1, callbacks: [recorder] });
 *   await redactor.record(recorder); // or redactor.record(model.runRecorder!) after fit
 *
 * The run record then holds `privacy.pii = { counts, redaction }`: counts per type, never a value. Counts
 * grow on every pass over the data; reset() between passes to record one pass.
 */
export class PIIRedactor {
  readonly mode: 'tag' | 'pseudonym';
  readonly types: readonly PIIType[];
  /** Values replaced so far, per type (every requested type present). */
  readonly counts: Record<string, number>;
  private readonly key?: Buffer;

  constructor(options: RedactOptions = {}) {
    const mode = options.mode ?? 'tag';
    if (mode !== 'tag' && mode !== 'pseudonym')
      throw new ArgumentError(`PIIRedactor: mode must be 'tag' or 'pseudonym', got '${String(mode)}'`);
    this.mode = mode;
    this.types = checkTypes('PIIRedactor', options.types);
    if (mode === 'pseudonym') this.key = checkKey('PIIRedactor', options.key);
    else if (options.key !== undefined)
      throw new ArgumentError("PIIRedactor: a key is only used with mode 'pseudonym'; mode is 'tag'");
    this.counts = Object.fromEntries(this.types.map((t) => [t, 0]));
  }

  /** The token that replaces a value: [TYPE], or <TYPE_x> with x the first 12 hex digits of the HMAC. */
  token(type: PIIType, value: string): string {
    if (!this.key) return `[${TAGS[type]}]`;
    const h = createHmac('sha256', this.key)
      .update(`${type}\u0000${normalise(type, value)}`)
      .digest('hex');
    return `<${TAGS[type]}_${h.slice(0, 12)}>`;
  }

  /** `text` with its PII replaced; adds what it found to `counts`. */
  redact(text: string): string {
    if (typeof text !== 'string') throw new ArgumentError(`PIIRedactor.redact: expected a string, got ${typeof text}`);
    const matches = scanPII(text, { types: this.types });
    let out = '';
    let at = 0;
    for (const m of matches) {
      out += text.slice(at, m.start) + this.token(m.type, m.value);
      at = m.end;
      this.counts[m.type]++;
    }
    return out + text.slice(at);
  }

  /** Redacts a Dataset element (bound: pass it as `dataset.map(redactor.map)`). */
  readonly map = <T>(element: T): T => this.redactValue(element) as T;

  private redactValue(v: unknown): unknown {
    if (typeof v === 'string') return this.redact(v);
    if (v instanceof StringTensor)
      return new StringTensor(
        v.values.map((s) => this.redact(s)),
        v.shape,
      );
    if (v instanceof Tensor || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((e) => this.redactValue(e));
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new ArgumentError(
        `PIIRedactor.map: cannot look inside a ${(v as object).constructor?.name ?? 'object'}; ` +
          'elements must be strings, StringTensors, tensors, or arrays / plain objects of them',
      );
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, this.redactValue(e)]));
  }

  /** Sets the counts back to 0 (e.g. to count one pass of a dataset iterated several times). */
  reset(): void {
    for (const t of this.types) this.counts[t] = 0;
  }

  /** Notes the counts and the redaction mode in a run record (a RunRecorder, or model.runRecorder after fit). */
  async record(recorder: {
    notePII(counts: Record<string, number>, redaction: 'tag' | 'pseudonym' | 'none'): Promise<void>;
  }): Promise<void> {
    await recorder.notePII(this.counts, this.mode);
  }
}

/** `text` with its PII replaced by type tags or keyed pseudonyms, and the count of each type replaced. */
export function redactPII(text: string, options: RedactOptions = {}): { text: string; counts: PIICounts } {
  const redactor = new PIIRedactor(options);
  return { text: redactor.redact(text), counts: { ...redactor.counts } };
}
