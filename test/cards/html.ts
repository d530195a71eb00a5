// A minimal HTML parser for tests: builds an element tree, checks that every element is closed in order,
// and decodes the five entities the card writer uses; and checks of a card's tagged figures and regulatory map.
import assert from 'node:assert/strict';
export interface El {
  tag: string;
  attrs: Record<string, string>;
  children: (El | string)[];
}

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'line', 'circle', 'rect', 'polyline', 'path']);

export function decode(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Parses the document; throws when a tag is left open or closed out of order. */
export function parseHtml(html: string): El {
  const root: El = { tag: '#root', attrs: {}, children: [] };
  const stack: El[] = [root];
  const re = /<!DOCTYPE[^>]*>|<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>|([^<]+)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(html))) {
    if (m.index !== consumed)
      throw new Error(`unparseable HTML at offset ${consumed}: ${html.slice(consumed, consumed + 40)}`);
    consumed = re.lastIndex;
    const [whole, close, tag, attrText, selfClose, text] = m;
    if (whole.startsWith('<!DOCTYPE')) continue;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      top.children.push(decode(text));
      continue;
    }
    const name = tag.toLowerCase();
    if (close) {
      if (top.tag !== name) throw new Error(`</${name}> closes <${top.tag}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) attrs[a[1]] = decode(a[2] ?? '');
    const el: El = { tag: name, attrs, children: [] };
    top.children.push(el);
    if (!selfClose && !VOID.has(name)) stack.push(el);
  }
  if (consumed !== html.length) throw new Error('trailing unparseable HTML');
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].tag}>`);
  return root;
}

export function textOf(el: El | string): string {
  return typeof el === 'string' ? el : el.children.map(textOf).join('');
}

export function findAll(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    if (pred(c)) out.push(c);
    findAll(c, pred, out);
  }
  return out;
}

/** The value at a dotted path of the record ('data.0.x.0.sha256'). */
export function at(record: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[k]), record);
}

export function figures(html: string): El[] {
  return findAll(parseHtml(html), (e) => e.attrs['data-key'] !== undefined);
}

/** Asserts that every figure the page tags with a record path shows that exact value; returns them. */
export function checkFigures(html: string, record: unknown): El[] {
  const tagged = figures(html);
  for (const el of tagged) {
    const key = el.attrs['data-key'],
      shown = el.attrs['data-value'];
    const v = at(record, key);
    assert.notEqual(v, undefined, `${key} is not a record path`);
    if (typeof v === 'number') assert.equal(Number(shown), v, key);
    else assert.equal(shown, v === null ? '' : String(v), key);
  }
  return tagged;
}

export function statusOf(html: string): Map<string, string[]> {
  const rows = findAll(parseHtml(html), (e) => e.tag === 'tr' && e.attrs['data-item'] !== undefined);
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const req = textOf(r.children[1] as El);
    out.set(`${r.attrs['data-item']} ${req}`, [
      r.attrs['data-status'],
      textOf(r.children[2] as El),
      textOf(r.children[3] as El),
    ]);
  }
  return out;
}
