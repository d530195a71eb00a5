// The PII evaluation set, built deterministically from the SpamAssassin emails and a seed: real headers labelled
// by the independent parsers of pii-labels.ts, and, for types the corpus hardly has, generated valid values and
// near misses (a bad check digit, an impossible date, a wrong prefix) inserted into real bodies at known places,
// so their labels are known by construction.
import { philox4x32 } from '../src/ops/random.js';
import { luhnValid, prcIdCheckCharacter } from '../src/privacy/pii-checksums.js';
import type { Email } from '../src/text/index.js';
import { ADDRESS_FIELDS, addressLabels, headerFields, receivedIpLabels, type Label, type Span } from './pii-labels.js';

/** Seeded draws (Philox4x32 on a counter): the same seed builds the same set on every machine. */
export class Draw {
  private n = 0;
  constructor(private readonly seed: number) {}
  /** A float in [0, 1). */
  next(): number {
    const w = philox4x32([this.n++, 0, 0, 0], [this.seed, 0x9e3779b9]);
    return w[0] / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  digits(k: number): string {
    let s = '';
    for (let i = 0; i < k; i++) s += String(this.int(10));
    return s;
  }
  chars(k: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < k; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = UPPER + UPPER.toLowerCase() + '0123456789';

/** The Luhn check digit that makes `body` + digit valid. */
function luhnDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(body + d)) return String(d);
  throw new Error('unreachable');
}

/** Digits grouped: 4-4-4-4 for 16 digits, 4-6-5 for 15 (Amex), joined by sep. */
function groupCard(n: string, sep: string): string {
  const sizes = n.length === 15 ? [4, 6, 5] : [4, 4, 4, 4].concat(n.length > 16 ? [n.length - 16] : []);
  const out: string[] = [];
  let at = 0;
  for (const s of sizes) out.push(n.slice(at, (at += s)));
  return out.join(sep);
}

function card(d: Draw, valid: boolean): string {
  const [prefix, length] = d.pick([
    ['4', 16],
    ['5' + String(1 + d.int(5)), 16],
    ['3' + d.pick(['4', '7']), 15],
    ['6011', 16],
  ] as [string, number][]);
  const body = prefix + d.digits(length - 1 - prefix.length);
  const check = luhnDigit(body);
  const n = body + (valid ? check : String((Number(check) + 1 + d.int(9)) % 10));
  return d.pick(['', ' ', '-']) === '' ? n : groupCard(n, d.pick([' ', '-']));
}

/** ISO 13616 check digits for a country and BBAN: 98 - (BBAN + country + '00' mod 97). */
function ibanFor(country: string, bban: string): string {
  const digits = [...(bban + country + '00')].map((ch) => parseInt(ch, 36)).join('');
  const mod = Number(BigInt(digits) % 97n);
  return country + String(98 - mod).padStart(2, '0') + bban;
}

function iban(d: Draw, valid: boolean): string {
  const bban = d.pick([
    () => ['DE', d.digits(18)],
    () => ['GB', d.chars(4, UPPER) + d.digits(14)],
    () => ['NL', d.chars(4, UPPER) + d.digits(10)],
    () => ['FR', d.digits(10) + d.chars(11, '0123456789ABCDEFGHJK') + d.digits(2)],
    () => ['ES', d.digits(20)],
  ])();
  let s = ibanFor(bban[0], bban[1]);
  if (!valid) {
    const at = 4 + d.int(s.length - 4);
    const c = s[at];
    const changed = /\d/.test(c)
      ? String((Number(c) + 1 + d.int(9)) % 10)
      : c === 'Z'
        ? 'A'
        : UPPER[UPPER.indexOf(c) + 1];
    s = s.slice(0, at) + changed + s.slice(at + 1);
  }
  return d.int(2) ? s : s.replace(/(.{4})(?!$)/g, '$1 ');
}

const REGIONS = ['110105', '310104', '440304', '510107', '330106', '420102', '610113', '370202'];

function prcId(d: Draw, valid: boolean): string {
  const y = 1950 + d.int(55);
  const m = 1 + d.int(12);
  const day = 1 + d.int(28);
  const impossibleDate = !valid && d.int(2) === 0;
  const date = impossibleDate ? `${y}0230` : `${y}${String(m).padStart(2, '0')}${String(day).padStart(2, '0')}`;
  const first17 = d.pick(REGIONS) + date + d.digits(3);
  const check = prcIdCheckCharacter(first17);
  if (valid || impossibleDate) return first17 + check;
  const other = '0123456789X'.replace(check, '');
  return first17 + other[d.int(other.length)];
}

function ssn(d: Draw, valid: boolean): string {
  const area = () => {
    const a = String(1 + d.int(899)).padStart(3, '0');
    return a === '666' ? '665' : a;
  };
  let a = area();
  let g = String(1 + d.int(99)).padStart(2, '0');
  let s = String(1 + d.int(9999)).padStart(4, '0');
  if (!valid) {
    const k = d.int(4);
    if (k === 0) a = '666';
    else if (k === 1) a = '9' + d.digits(2);
    else if (k === 2) g = '00';
    else s = '0000';
  }
  return `${a}-${g}-${s}`;
}

function phone(d: Draw, valid: boolean): string {
  const cn = () => '1' + String(3 + d.int(7)) + d.digits(9);
  const nxx = () => String(2 + d.int(8)) + d.digits(2);
  if (!valid)
    return d.pick([
      () => '1' + d.pick(['0', '1', '2']) + d.digits(9), // no such Chinese mobile prefix
      () => `${1990 + d.int(20)}-0${1 + d.int(9)}-${10 + d.int(18)}`, // a date
      () => `${1 + d.int(9)}.${d.int(10)}.${d.int(10)}.${d.int(10)}.${d.int(10)}`, // a version string
      () => `1${d.digits(2)}-${nxx()}-${d.digits(4)}`, // an area code starting with 1
    ])();
  return d.pick([
    () => cn(),
    () => {
      const n = cn();
      return `+86 ${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
    },
    () => {
      const n = cn();
      return `${n.slice(0, 3)}-${n.slice(3, 7)}-${n.slice(7)}`;
    },
    () => `+44 20 ${d.digits(4)} ${d.digits(4)}`,
    () => `+49 30 ${1 + d.int(9)}${d.digits(6)}`,
    () => `+33 ${1 + d.int(5)} ${d.digits(2)} ${d.digits(2)} ${d.digits(2)} ${d.digits(2)}`,
    () => `+1 (${nxx()}) ${nxx()}-${d.digits(4)}`,
    () => `(${nxx()}) ${nxx()}-${d.digits(4)}`,
    () => `${nxx()}-${nxx()}-${d.digits(4)}`,
    () => `1-800-${nxx()}-${d.digits(4)}`,
  ])();
}

function ipv6(d: Draw, valid: boolean): string {
  const h = () => d.int(65536).toString(16);
  if (!valid)
    return d.pick([
      () => `${d.int(24)}:${10 + d.int(50)}:${10 + d.int(50)}`, // a time
      () => Array.from({ length: 6 }, () => d.int(256).toString(16).padStart(2, '0')).join(':'), // a MAC address
      () => `${h()}::${h()}::${h()}`, // two '::'
    ])();
  return d.pick([
    () => Array.from({ length: 8 }, h).join(':'),
    () => `2001:db8::${h()}:${h()}`,
    () => `fe80::${h()}`,
    () => `::ffff:${d.int(256)}.${d.int(256)}.${d.int(256)}.${d.int(256)}`,
  ])();
}

function ipv4(d: Draw, valid: boolean): string {
  const o = () => String(d.int(256));
  if (valid) return `${o()}.${o()}.${o()}.${o()}`;
  return d.pick([
    () => `${256 + d.int(700)}.${o()}.${o()}.${o()}`, // an octet over 255
    () => `${o()}.${o()}.${o()}.${o()}.${o()}`, // five parts
  ])();
}

/** A secret and, where only part of the text is the secret (password=..., a URL), the text around it. */
function secret(d: Draw, valid: boolean): [string, string, string] {
  if (!valid)
    return d.pick([
      (): [string, string, string] => ['', 'AKIA' + d.chars(15, UPPER + '0123456789'), ''], // one short
      (): [string, string, string] => ['', 'ghp_' + d.chars(20, ALNUM), ''],
      (): [string, string, string] => ['', 'sk_live_' + d.chars(8, ALNUM), ''],
      (): [string, string, string] => ['', 'Password: see the letter we sent', ''],
      (): [string, string, string] => ['', `https://example.com/~${d.chars(5, UPPER.toLowerCase())}@home`, ''],
    ])();
  return d.pick([
    (): [string, string, string] => ['', 'AKIA' + d.chars(16, UPPER + '0123456789'), ''],
    (): [string, string, string] => ['', 'ghp_' + d.chars(36, ALNUM), ''],
    (): [string, string, string] => ['', `xoxb-${d.digits(11)}-${d.digits(12)}-${d.chars(24, ALNUM)}`, ''],
    (): [string, string, string] => ['', 'sk_live_' + d.chars(24, ALNUM), ''],
    (): [string, string, string] => ['', 'AIza' + d.chars(35, ALNUM + '_-'), ''],
    (): [string, string, string] => ['password=', d.chars(10, ALNUM), '&user=me'],
    (): [string, string, string] => ['ftp://admin:', d.chars(9, ALNUM), '@ftp.example.net/'],
  ])();
}

/**
 * Strings of a type's shape made at random, with no check applied either way (an order number laid out as a
 * card, a part number laid out as an SSN): what the checksums and rules must tell apart from real values.
 * Some pass the checks by chance (a random 16-digit number passes Luhn 1 time in 10); they are counted as
 * false positives all the same, since no one's identifier was inserted.
 */
const LOOKALIKES: Partial<Record<SyntheticType, (d: Draw) => string>> = {
  creditCard: (d) => groupCard(d.pick(['4', '5']) + d.digits(15), d.pick([' ', '-'])),
  iban: (d) => (d.int(2) ? 'DE' + d.digits(20) : 'ES' + d.digits(22)),
  prcId: (d) => d.pick(REGIONS) + '19' + d.digits(9) + d.pick([...'0123456789X']),
  usSsn: (d) => `${d.digits(3)}-${d.digits(2)}-${d.digits(4)}`,
  secret: (d) => d.chars(40, '0123456789abcdef'), // a git commit hash
};

export type SyntheticType = 'creditCard' | 'iban' | 'prcId' | 'usSsn' | 'phone' | 'ipv4' | 'ipv6' | 'secret';
export const SYNTHETIC_TYPES: readonly SyntheticType[] = [
  'creditCard',
  'iban',
  'prcId',
  'usSsn',
  'phone',
  'ipv4',
  'ipv6',
  'secret',
];

const CONTEXTS: Record<SyntheticType, string[]> = {
  creditCard: ['Card number: X, expires 09/27', 'Please charge X for the order.', 'cc X'],
  iban: ['IBAN: X', 'Wire the deposit to X before Friday.', 'Bank details X (SWIFT DEUTDEFF)'],
  prcId: ['身份证号码：X', 'ID card X', 'Identity number X.'],
  usSsn: ['SSN: X', 'Social Security number X on file.', 'ssn X'],
  phone: ['Call me on X.', 'Tel: X', 'phone X or e-mail'],
  ipv4: ['The server is at X.', 'ping X', 'Host X is down'],
  ipv6: ['The server is at X.', 'route add X', 'Host X is down'],
  secret: ['the key is X for the build', 'Use X to log in', 'config: X'],
};

/** A value inserted into a body: the type it was made for, what kind of value, its span in the new text. */
export interface Insert extends Span {
  type: SyntheticType;
  /** 'valid': a real-format identifier; 'nearMiss': one check broken; 'lookalike': random, in the type's shape. */
  kind: 'valid' | 'nearMiss' | 'lookalike';
  valid: boolean;
  value: string;
  /** The whole inserted line (context included). */
  line: Span;
}

/**
 * `count` messages drawn from `emails`, each with one generated value on a line of its own, inserted at the start
 * of a line of the body; the value's span is known by construction. Half the values are valid; the rest near
 * misses, or, for types with a LOOKALIKES generator, near misses and lookalikes half each.
 */
export function syntheticSet(emails: Email[], seed: number, count: number): { text: string; insert: Insert }[] {
  const d = new Draw(seed);
  const out: { text: string; insert: Insert }[] = [];
  for (let k = 0; k < count; k++) {
    const email = emails[d.int(emails.length)];
    const type = SYNTHETIC_TYPES[k % SYNTHETIC_TYPES.length];
    const valid = d.int(2) === 0;
    const lookalike = LOOKALIKES[type];
    const kind = valid ? 'valid' : lookalike && d.int(2) === 0 ? 'lookalike' : 'nearMiss';
    const make = { creditCard: card, iban, prcId, usSsn: ssn, phone, ipv4, ipv6 } as const;
    const [pre, value, post] =
      kind === 'lookalike'
        ? ['', lookalike!(d), '']
        : type === 'secret'
          ? secret(d, valid)
          : ['', make[type](d, valid), ''];
    const [before, after] = d.pick(CONTEXTS[type]).split('X');
    const line = `${before}${pre}${value}${post}${after}\n`;
    // The start of a body line: the body starts after the first blank line of the raw message.
    const bodyStart = email.text.length - email.body.length;
    const starts = [bodyStart];
    for (
      let i = email.text.indexOf('\n', bodyStart);
      i >= 0 && i + 1 < email.text.length;
      i = email.text.indexOf('\n', i + 1)
    )
      starts.push(i + 1);
    const at = d.pick(starts);
    const text = email.text.slice(0, at) + line + email.text.slice(at);
    const start = at + before.length + pre.length;
    out.push({
      text,
      insert: {
        type,
        kind,
        valid,
        value,
        start,
        end: start + value.length,
        line: { start: at, end: at + line.length },
      },
    });
  }
  return out;
}

/** The header labels of one message: e-mails of the address fields, IPs of Received fields, and those fields. */
export function headerLabels(raw: string): { labels: Label[]; addressFields: Span[]; receivedFields: Span[] } {
  const fields = headerFields(raw);
  const addressFields = fields.filter((f) => ADDRESS_FIELDS.includes(f.name));
  const receivedFields = fields.filter((f) => f.name === 'received');
  return {
    labels: [
      ...addressFields.flatMap((f) => addressLabels(raw, f)),
      ...receivedFields.flatMap((f) => receivedIpLabels(raw, f)),
    ],
    addressFields,
    receivedFields,
  };
}
