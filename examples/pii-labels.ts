// Labels for the PII evaluation, made without the scanner: e-mail addresses of From / To / Cc / Reply-To by an
// RFC 5322 address-list tokenizer, IP addresses of Received headers by a delimiter tokenizer checked with
// node:net's own address parsers. Spans are offsets into the raw message.
import { isIPv4, isIPv6 } from 'node:net';

export interface Span {
  start: number;
  end: number;
}

export interface Label extends Span {
  type: 'email' | 'ipv4' | 'ipv6';
  value: string;
}

/** A header field of the raw message: its name and the span of its (possibly folded) value. */
export interface Field extends Span {
  name: string;
}

/** The header fields, up to the first empty line; continuation lines (starting with space or tab) fold in. */
export function headerFields(raw: string): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < raw.length) {
    const nl = raw.indexOf('\n', at);
    const lineEnd = nl < 0 ? raw.length : nl;
    const line = raw.slice(at, lineEnd).replace(/\r$/, '');
    if (line === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) fields[fields.length - 1].end = lineEnd;
    else {
      const colon = line.indexOf(':');
      if (colon > 0 && /^[\x21-\x39\x3b-\x7e]+$/.test(line.slice(0, colon)))
        fields.push({ name: line.slice(0, colon).toLowerCase(), start: at + colon + 1, end: lineEnd });
    }
    at = lineEnd + 1;
  }
  return fields;
}

// ------------------------------------------------------------------------------------- RFC 5322 addresses

type TokenKind = 'atom' | 'quoted' | 'comment' | 'angle' | 'literal' | 'special' | 'space';
interface Token extends Span {
  kind: TokenKind;
  /** The inner text of quoted strings, comments, angle-addrs and literals; the text otherwise. */
  text: string;
}

// atext of RFC 5322 3.2.3, plus '.', which dot-atoms join; '@' and the other specials stand alone.
const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\x80-\uffff]/;

/** Tokens of an address-list (RFC 5322 3.4): comments nest; quoted strings and comments take backslash escapes. */
function tokenize(s: string, offset: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, text: string) =>
    out.push({ kind, start: offset + start, end: offset + end, text });
  while (i < s.length) {
    const c = s[i];
    const start = i;
    if (/\s/.test(c)) {
      while (i < s.length && /\s/.test(s[i])) i++;
      push('space', start, i, ' ');
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
      i = Math.min(i + 1, s.length);
      push('quoted', start, i, s.slice(start + 1, i - 1));
    } else if (c === '(') {
      let depth = 0;
      do {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')') depth--;
        i++;
      } while (i < s.length && depth > 0);
      push('comment', start, i, s.slice(start + 1, i - 1));
    } else if (c === '<' || c === '[') {
      const close = s.indexOf(c === '<' ? '>' : ']', i);
      i = close < 0 ? s.length : close + 1;
      push(c === '<' ? 'angle' : 'literal', start, i, s.slice(start + 1, close < 0 ? s.length : close));
    } else if (ATEXT.test(c)) {
      while (i < s.length && ATEXT.test(s[i])) i++;
      push('atom', start, i, s.slice(start, i));
    } else {
      i++;
      push('special', start, i, c);
    }
  }
  return out;
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\uffff]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\uffff]+)*$/;

/** Whether s is an addr-spec: dot-atom or quoted local part, '@', dot-atom domain (literals not counted). */
export function isAddrSpec(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at <= 0) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  return (DOT_ATOM.test(local) || /^"[^"]*"$/.test(local)) && DOT_ATOM.test(domain);
}

/**
 * The addr-specs of an address-list field value: the content of each angle-addr, each bare addr-spec (atoms
 * joined by '@' with no space), and addresses written in a display name (quoted) or a comment, word by word,
 * since those are e-mail addresses in the text too. A leading source route (@a,@b:) is not part of the address.
 */
export function addressLabels(raw: string, field: Span): Label[] {
  const tokens = tokenize(raw.slice(field.start, field.end), field.start);
  const labels: Label[] = [];
  const add = (start: number, end: number) => {
    const value = raw.slice(start, end);
    if (isAddrSpec(value)) labels.push({ type: 'email', start, end, value });
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'angle') {
      const inner = t.text.replace(/^@[^:]*:/, '');
      const lead = t.text.length - inner.length + (inner.length - inner.trimStart().length);
      add(t.start + 1 + lead, t.start + 1 + lead + inner.trim().length);
    } else if (t.kind === 'quoted' || t.kind === 'comment') {
      // Words of a display name or comment that are addresses, less quotes or brackets around them
      // ("'ilug@linux.ie'" as Outlook writes it): found on reading the first disagreements by hand.
      const word = /[^\s]+/g;
      for (let w = word.exec(t.text); w !== null; w = word.exec(t.text)) {
        const inner = w[0].replace(/^['\[(<]+/, '');
        const lead = w[0].length - inner.length;
        const core = inner.replace(/[')\]>,;:.]+$/, '');
        add(t.start + 1 + w.index + lead, t.start + 1 + w.index + lead + core.length);
      }
    } else if (t.kind === 'atom' && tokens[i + 1]?.text === '@' && tokens[i + 2]?.kind === 'atom') {
      // local '@' domain, adjacent tokens: a bare addr-spec (or one used as a phrase).
      add(t.start, tokens[i + 2].end);
      i += 2;
    }
  }
  return labels;
}

// ---------------------------------------------------------------------------------- Received header IPs

/**
 * IP addresses in a Received field: the field is cut at whitespace and the delimiters ( ) [ ] < > ; , / = " @ ?
 * and each piece that node:net reads as an IPv4 or IPv6 address is one (an "IPv6:" prefix removed; a piece
 * with a port, 1.2.3.4:25, split at its colon).
 */
export function receivedIpLabels(raw: string, field: Span): Label[] {
  const labels: Label[] = [];
  const value = raw.slice(field.start, field.end);
  const piece = /[^\s()[\]<>;,/="@?]+/g;
  for (let m = piece.exec(value); m !== null; m = piece.exec(value)) {
    let text = m[0];
    let start = field.start + m.index;
    if (/^ipv6:/i.test(text)) {
      text = text.slice(5);
      start += 5;
    }
    const trimmed = text.replace(/\.$/, ''); // a full stop after the address
    if (isIPv6(trimmed)) labels.push({ type: 'ipv6', start, end: start + trimmed.length, value: trimmed });
    else if (isIPv4(trimmed)) labels.push({ type: 'ipv4', start, end: start + trimmed.length, value: trimmed });
    else if (/^[\d.]+:\d+$/.test(trimmed) && isIPv4(trimmed.split(':')[0])) {
      const ip = trimmed.split(':')[0];
      labels.push({ type: 'ipv4', start, end: start + ip.length, value: ip });
    }
  }
  return labels;
}

/** The fields labelled for each type: address fields for e-mails, Received fields for IPs. */
export const ADDRESS_FIELDS = ['from', 'to', 'cc', 'reply-to'];
