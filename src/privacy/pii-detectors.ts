// The PII detectors: for each type a coarse candidate regex and a validator that accepts, narrows or refuses a
// candidate (checksums, issuer ranges, octet ranges, structure). Linear time by construction: every pattern's
// quantifiers are bounded or act on a character class the next token cannot match (no nested quantifiers),
// and each pattern opens with a lookbehind that refuses to start inside a token, so a hostile run of
// candidate characters is scanned a bounded number of times.
import { cardValid, ibanValid, IBAN_LENGTHS, prcIdValid, ssnValid } from './pii-checksums.js';

export type PIIType = 'email' | 'phone' | 'creditCard' | 'iban' | 'ipv4' | 'ipv6' | 'prcId' | 'usSsn' | 'secret';

/** Every type the scanner knows, in the order results and counts list them. */
export const PII_TYPES: readonly PIIType[] = [
  'email',
  'phone',
  'creditCard',
  'iban',
  'ipv4',
  'ipv6',
  'prcId',
  'usSsn',
  'secret',
];

export interface Detector {
  type: PIIType;
  /** Overlaps go to the lower rank: secrets, then checksum-validated numbers, then the rest, phones last. */
  rank: number;
  /** A global regex ('g', plus 'd' where a capture group is the span) finding candidates. */
  re: RegExp;
  /** The span [start, end) to report for candidate m, or null to refuse it. */
  accept(m: RegExpExecArray, text: string): [number, number] | null;
}

// ------------------------------------------------------------------------------------------------ email

// The local part: RFC 5322 atext less characters that more often delimit an address in prose (/ ? { } |); leading
// punctuation (a quote, dots) is dropped in acceptEmail.
const EMAIL_RE = /(?<![A-Za-z0-9._%+=\-#&$!~*^`'])[A-Za-z0-9._%+=\-#&$!~*^`']{1,64}@[A-Za-z0-9.\-]{1,253}/g;

function acceptEmail(m: RegExpExecArray): [number, number] | null {
  const at = m[0].indexOf('@');
  let local = m[0].slice(0, at);
  const lead = /^[.%+=\-#&$!~*^`']*/.exec(local)![0].length; // "...name@x.org", "'name@x.org'"
  local = local.slice(lead);
  const domain = m[0].slice(at + 1).replace(/[.\-]+$/, ''); // a sentence's full stop is not part of it
  if (local === '' || local.endsWith('.') || local.includes('..')) return null;
  const labels = domain.split('.');
  if (labels.length < 2 || labels.some((l) => l === '' || l.startsWith('-') || l.endsWith('-'))) return null;
  const tld = labels[labels.length - 1];
  if (!/^[A-Za-z]{2,63}$/.test(tld) && !/^xn--[A-Za-z0-9\-]{1,59}$/.test(tld)) return null;
  return [m.index + lead, m.index + at + 1 + domain.length];
}

// ------------------------------------------------------------------------------------------------ phone

/** Digit groups of a phone candidate and where each ends, with whether each separator is empty. */
interface Group {
  digits: string;
  end: number;
  /** The separator before this group, parentheses removed ('' when the groups touch or only a paren). */
  sep: string;
  /** Whether the group sits in parentheses. */
  paren: boolean;
  /** Whether no parenthesis is open after this group. */
  closed: boolean;
}

function phoneGroups(s: string, from: number): Group[] {
  const groups: Group[] = [];
  let i = from;
  while (i < s.length) {
    if (groups.length > 0 && !groups[groups.length - 1].closed) return groups; // "(0 20)": one group per paren
    let sep = '';
    let paren = false;
    while (i < s.length && !isDigit(s.charCodeAt(i))) {
      const c = s[i++];
      if (c === '(' && !paren) paren = true;
      else if (c === '(' || c === ')' || sep !== '')
        return groups; // "()", a stray ")", two separators
      else sep = c;
    }
    if (i === s.length) break;
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    const digits = s.slice(start, i);
    let closed = !paren;
    if (paren && s[i] === ')') {
      i++;
      closed = true;
    }
    groups.push({ digits, end: i, sep, paren, closed });
  }
  return groups;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Whether groups g form a phone number: international (+ or 00), a Chinese mobile, or a NANP number. */
function phoneValid(g: Group[], plus: boolean): boolean {
  if (!g[g.length - 1].closed) return false;
  const digits = g.map((x) => x.digits).join('');
  const lens = g.map((x) => x.digits.length).join(',');
  if (plus || (g[0].digits.startsWith('00') && !g[0].paren)) {
    const n = plus ? digits : digits.slice(2);
    if (n.length < 8 || n.length > 15 || n[0] === '0') return false;
    return g.length >= 2 || n.length >= 10;
  }
  const parens = g.some((x) => x.paren);
  if (!parens && /^1[3-9]\d{9}$/.test(digits) && (lens === '11' || lens === '3,4,4')) return true; // Chinese mobile
  // NANP: [1] (NPA) NXX-XXXX, NPA and NXX starting 2-9, each group set apart (the NPA may be in parentheses).
  const leadingOne = lens === '1,3,3,4' && g[0].digits === '1' && !g[0].paren;
  if (!leadingOne && lens !== '3,3,4') return false;
  const [npa, nxx, line] = leadingOne ? g.slice(1) : g;
  if (nxx.paren || line.paren || !/^[2-9]/.test(npa.digits) || !/^[2-9]/.test(nxx.digits)) return false;
  if (leadingOne && npa.sep === '' && !npa.paren) return false;
  return (npa.paren || nxx.sep !== '') && line.sep !== '';
}

// Not right after a digit group ("4502 0097 ..." inside a longer run of digit groups is no phone number).
const PHONE_RE = /(?<![\w+.\-\/@$])(?<!\d[ .\-])(?:\+|00)?\(?\d[\d ().\-]{4,24}\d(?!\w)/g;

function acceptPhone(m: RegExpExecArray): [number, number] | null {
  const s = m[0];
  const plus = s[0] === '+';
  const groups = phoneGroups(s, plus ? 1 : 0);
  const intl = plus || s.startsWith('00');
  // The longest run of whole groups that is a phone number: "555-123-4567 - 555-987-6543" gives the first.
  // Only runs with a possible digit count are checked (8-15 international, 10 or 11 otherwise).
  let digits = 0;
  const counts = groups.map((g) => (digits += g.digits.length));
  for (let k = groups.length; k >= 1; k--) {
    const n = counts[k - 1] - (intl && !plus ? 2 : 0);
    if ((intl ? n >= 8 && n <= 15 : n === 10 || n === 11) && phoneValid(groups.slice(0, k), plus))
      return [m.index, m.index + groups[k - 1].end];
  }
  return null;
}

// ---------------------------------------------------------------------------------------- payment cards

const CARD_RE = /(?<![\w.\-])(?<!\d[ \-])\d[\d \-]{11,35}\d(?!\w)/g;

/** Digit groups separated by single spaces or dashes (one kind per number); the longest prefix that is a card. */
function acceptCard(m: RegExpExecArray): [number, number] | null {
  const s = m[0];
  if (s < '2' || s >= '7') return null; // no issuer's numbers start with 0, 1, 7, 8 or 9
  let digits = '';
  let sep = '';
  let best: number | null = null;
  for (let i = 0; i < s.length && digits.length < 19; i++) {
    const c = s[i];
    if (c === ' ' || c === '-') {
      if ((sep !== '' && c !== sep) || s[i + 1] === ' ' || s[i + 1] === '-') break; // mixed or doubled
      sep = c;
      continue;
    }
    digits += c;
    const groupEnd = i + 1 === s.length || s[i + 1] === ' ' || s[i + 1] === '-';
    if (groupEnd && digits.length >= 13 && cardValid(digits)) best = i + 1;
  }
  return best === null ? null : [m.index, m.index + best];
}

// ------------------------------------------------------------------------------------------------- IBAN

const IBAN_RE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}[A-Z0-9 ]{10,40}/g;

/** The country's length of characters, in electronic form or printed in groups of four, mod-97 checked. */
function acceptIban(m: RegExpExecArray, text: string): [number, number] | null {
  const s = m[0];
  const length = IBAN_LENGTHS[s.slice(0, 2)];
  if (length === undefined) return null;
  const spaced = s[4] === ' ';
  let iban = s.slice(0, 4);
  let i = 4;
  while (iban.length < length && i < s.length) {
    if (s[i] === ' ') {
      if (!spaced || iban.length % 4 !== 0 || s[i - 1] === ' ') return null;
    } else iban += s[i];
    i++;
  }
  const end = m.index + i;
  if (iban.length !== length || /[A-Za-z0-9]/.test(text[end] ?? '')) return null;
  return ibanValid(iban) ? [m.index, end] : null;
}

// ------------------------------------------------------------------------------------------- IP addresses

/** An IPv4 octet as written: 0-255 without leading zeros. */
function octet(s: string): boolean {
  return s.length > 0 && s.length <= 3 && /^\d+$/.test(s) && Number(s) <= 255 && (s.length === 1 || s[0] !== '0');
}

export function ipv4Valid(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every(octet);
}

const IPV4_RE = /(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\.?\d|\w)/g;

/** The eight 16-bit groups of an IPv6 address (full, compressed with ::, or ending in IPv4), or null. */
export function ipv6Groups(s: string): number[] | null {
  const halves = s.split('::');
  if (halves.length > 2 || !/[0-9A-Fa-f]/.test(s)) return null;
  const parse = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const words = part.split(':');
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (last && i === words.length - 1 && w.includes('.')) {
        if (!ipv4Valid(w)) return null;
        const o = w.split('.').map(Number);
        out.push(o[0] * 256 + o[1], o[2] * 256 + o[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(w)) out.push(parseInt(w, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1], true) : [];
  if (!head || !tail) return null;
  const n = head.length + tail.length;
  if (halves.length === 1) return n === 8 ? head : null;
  return n <= 7 ? [...head, ...new Array<number>(8 - n).fill(0), ...tail] : null;
}

// Not inside a word or after a colon, except the colon of a mail header's address literal, [IPv6:::1].
const IPV6_RE = /(?<![\w.])(?<!(?<![Ii][Pp][Vv]6):)(?=[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:.]{2,45}/g;

/** The candidate, or it less a trailing ':' or '.' (punctuation of the sentence), when that is an address. */
function acceptIpv6(m: RegExpExecArray, text: string): [number, number] | null {
  let s = m[0];
  const end = m.index + s.length;
  if (/[\w]/.test(text[end] ?? '')) return null;
  for (let trim = 0; trim < 2 && s.length > 1; trim++) {
    if (ipv6Groups(s)) return [m.index, m.index + s.length];
    if (!/[.:]$/.test(s) || s.endsWith('::')) return null;
    s = s.slice(0, -1);
  }
  return ipv6Groups(s) ? [m.index, m.index + s.length] : null;
}

// ---------------------------------------------------------------------------------- national identifiers

const PRC_ID_RE = /(?<!\w)\d{17}[\dXx](?!\w)/g;
const SSN_RE = /(?<![\w\-])(\d{3})-(\d{2})-(\d{4})(?![\w\-])/g;

// ------------------------------------------------------------------------------------------------ secrets

/** Credentials by their issuer's format; the whole token is the match. */
const TOKEN_RE = new RegExp(
  [
    '(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])', // AWS access key id
    '(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])', // GitHub tokens
    '(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])', // GitHub fine-grained tokens
    '(?<![A-Za-z0-9])xox[bpoars]-[A-Za-z0-9\\-]{10,250}', // Slack
    '(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])', // Stripe secret / restricted
    '(?<![A-Za-z0-9_\\-])AIza[0-9A-Za-z_\\-]{35}(?![A-Za-z0-9_\\-])', // Google API key
  ].join('|'),
  'g',
);

/** `password=...`, `api_key: "..."`: the value is the match (the name stays readable). */
const ASSIGNMENT_RE = new RegExp(
  '(?<![A-Za-z0-9_])(?:password|passwd|pwd|secret|client[_\\-]?secret|api[_\\-]?key|apikey|access[_\\-]?key|' +
    'secret[_\\-]?key|private[_\\-]?key|access[_\\-]?token|auth[_\\-]?token|token)' +
    '(["\']?)[ \\t]{0,3}([:=])[ \\t]{0,3}(["\']?)([^\\s"\'&;,<>]{1,256})',
  'gid',
);

function acceptAssignment(m: RegExpExecArray): [number, number] | null {
  // A colon only in quoted (JSON) or config form: `Password: see below` in prose is not a password.
  if (m[2] === ':' && m[1] === '' && m[3] === '') return null;
  if (/^[*x.]+$|^\$\{|^%\(/i.test(m[4])) return null; // masked or a template placeholder
  const [start, end] = m.indices![4];
  return [start, end];
}

/** scheme://user:password@host: the password is the match. */
const URL_PASSWORD_RE =
  /(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,15}:\/\/[^\s\/:@]{1,128}:([^\s\/@]{1,128})@(?=[\w\[])/dg;

const PEM_BEGIN_RE = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END_RE = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;

/**
 * Private-key PEM blocks, header to footer (or the header and its base64 lines when the footer is missing).
 * The footer search only moves forward, so many headers without footers still cost linear time.
 */
export function pemBlocks(text: string): [number, number][] {
  const out: [number, number][] = [];
  PEM_BEGIN_RE.lastIndex = 0;
  PEM_END_RE.lastIndex = 0;
  let end: RegExpExecArray | null | undefined;
  for (let m = PEM_BEGIN_RE.exec(text); m !== null; m = PEM_BEGIN_RE.exec(text)) {
    const from = m.index + m[0].length;
    if (end === undefined || (end !== null && end.index < from)) {
      PEM_END_RE.lastIndex = from;
      end = PEM_END_RE.exec(text);
    }
    const blockEnd = end ? end.index + end[0].length : from + /^[A-Za-z0-9+\/=\s]*/.exec(text.slice(from))![0].length;
    out.push([m.index, blockEnd]);
    PEM_BEGIN_RE.lastIndex = blockEnd;
  }
  return out;
}

const span = (m: RegExpExecArray): [number, number] => [m.index, m.index + m[0].length];

export const DETECTORS: readonly Detector[] = [
  { type: 'secret', rank: 0, re: TOKEN_RE, accept: span },
  { type: 'secret', rank: 0, re: ASSIGNMENT_RE, accept: acceptAssignment },
  { type: 'secret', rank: 0, re: URL_PASSWORD_RE, accept: (m) => [m.indices![1][0], m.indices![1][1]] },
  { type: 'creditCard', rank: 1, re: CARD_RE, accept: acceptCard },
  { type: 'iban', rank: 1, re: IBAN_RE, accept: acceptIban },
  { type: 'prcId', rank: 1, re: PRC_ID_RE, accept: (m) => (prcIdValid(m[0]) ? span(m) : null) },
  { type: 'usSsn', rank: 2, re: SSN_RE, accept: (m) => (ssnValid(m[1], m[2], m[3]) ? span(m) : null) },
  { type: 'email', rank: 2, re: EMAIL_RE, accept: acceptEmail },
  { type: 'ipv6', rank: 2, re: IPV6_RE, accept: acceptIpv6 },
  { type: 'ipv4', rank: 2, re: IPV4_RE, accept: (m) => (ipv4Valid(m[0]) ? span(m) : null) },
  { type: 'phone', rank: 3, re: PHONE_RE, accept: acceptPhone },
];
