// A minimal HTML parser for tests: builds an element tree, checks that every element is closed in order,
// and decodes the five entities the card writer uses.
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
