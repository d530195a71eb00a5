// plotModel: an SVG of the layer graph, parsed here as XML (well-formed, balanced tags), with one box per
// layer showing its name, class and shapes, one arrow per connection, and rows in graph order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { rejects } from '../helpers.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Element[];
}

/** A strict little XML parser (elements, quoted attributes, text, the five entities): throws on anything else. */
function parseXml(xml: string): Element {
  const root: Element = { name: '#root', attrs: {}, text: '', children: [] };
  const stack = [root];
  const entity = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|apos);|&|</g, (m, e?: string) => {
      if (!e) throw new Error(`unescaped ${m}`);
      return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e]!;
    });
  const token = /<\/([\w:-]+)\s*>|<([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < xml.length) {
    token.lastIndex = at;
    m = token.exec(xml);
    if (!m) throw new Error(`malformed XML at ${at}: ${xml.slice(at, at + 40)}`);
    at = token.lastIndex;
    const top = stack[stack.length - 1];
    if (m[1]) {
      if (top.name !== m[1]) throw new Error(`</${m[1]}> closes <${top.name}>`);
      stack.pop();
    } else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const [, k, v] of m[3].matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (k in attrs) throw new Error(`duplicate attribute ${k}`);
        attrs[k] = entity(v);
      }
      const el: Element = { name: m[2], attrs, text: '', children: [] };
      top.children.push(el);
      if (!m[4]) stack.push(el);
    } else top.text += entity(m[5]);
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> is not closed`);
  const elements = root.children;
  if (elements.length !== 1 || root.text.trim() !== '') throw new Error('expected one root element');
  return elements[0];
}

const all = (e: Element, name: string): Element[] => [
  ...(e.name === name ? [e] : []),
  ...e.children.flatMap((ch) => all(ch, name)),
];

test('plotModel writes an SVG of a two-input, two-output functional graph with names, classes and shapes', async () => {
  const title = c.input({ shape: [3], name: 'title' });
  const body = c.input({ shape: [2], name: 'body' });
  const joined = new c.Concatenate({ name: 'joined' }).apply([title, body]) as c.SymbolicTensor;
  const priority = new c.Dense({ units: 1, name: 'priority' }).apply(joined) as c.SymbolicTensor;
  const department = new c.Dense({ units: 3, name: 'department' }).apply(joined) as c.SymbolicTensor;
  const model = new c.Model({ inputs: [title, body], outputs: [priority, department], name: 'tickets<&>' });
  const dir = mkdtempSync(join(tmpdir(), 'candor-plot-'));
  try {
    const path = join(dir, 'model.svg');
    const svg = await c.plotModel(model, path, { showShapes: true });
    assert.equal(readFileSync(path, 'utf8'), svg);
    const doc = parseXml(svg);
    assert.equal(doc.name, 'svg');
    assert.equal(doc.attrs.xmlns, 'http://www.w3.org/2000/svg');
    assert.equal(all(doc, 'title')[0].text, 'tickets<&>', 'names are escaped');
    const boxes = all(doc, 'g').filter((g) => g.attrs.class === 'layer');
    assert.deepEqual(boxes.map((g) => g.attrs.id).sort(), ['body', 'department', 'joined', 'priority', 'title']);
    assert.equal(all(doc, 'rect').length, 5, 'one box per layer');
    const edges = all(doc, 'path').filter((p) => p.attrs.class === 'edge');
    assert.equal(edges.length, 4, 'title->joined, body->joined, joined->priority, joined->department');
    const textOf = (id: string) =>
      all(
        boxes.find((g) => g.attrs.id === id)!,
        'text',
      ).map((t) => t.text);
    assert.deepEqual(textOf('joined'), ['joined (Concatenate)', '(None, 3), (None, 2) -> (None, 5)']);
    assert.deepEqual(textOf('department'), ['department (Dense)', '(None, 5) -> (None, 3)']);
    assert.deepEqual(textOf('title'), ['title (InputLayer)', '(None, 3)']);
    // Rows by depth: inputs above the merge, the merge above both heads.
    const y = (id: string) =>
      Number(
        all(
          boxes.find((g) => g.attrs.id === id)!,
          'rect',
        )[0].attrs.y,
      );
    assert.equal(y('title'), y('body'));
    assert.ok(y('title') < y('joined') && y('joined') < y('priority'));
    assert.equal(y('priority'), y('department'));
    // Each edge ends at the top of the box it points to.
    const ends = edges.map((p) => Number(p.attrs.d.split(' ').at(-1)!.split(',')[1]));
    assert.deepEqual(ends.sort(), [y('joined'), y('joined'), y('priority'), y('priority')].sort());
    // Without shapes: one line per box.
    assert.deepEqual(
      all(parseXml(c.modelToSvg(model)), 'text')
        .map((t) => t.text)
        .filter((t) => t.startsWith('(')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plotModel draws a Sequential as a chain and rejects what it cannot plot', async () => {
  const seq = new c.Sequential([
    c.layers.dense({ units: 4, inputShape: [3], name: 'hidden' }),
    c.layers.dense({ units: 2, name: 'out' }),
  ]);
  const doc = parseXml(c.modelToSvg(seq, { showShapes: true, showDtype: true }));
  assert.equal(all(doc, 'rect').length, 3, 'the input and two layers');
  assert.equal(all(doc, 'path').filter((p) => p.attrs.class === 'edge').length, 2);
  assert.ok(all(doc, 'text').some((t) => t.text === '(None, 3) -> (None, 4)'));
  assert.ok(all(doc, 'text').some((t) => t.text === 'float32'));
  assert.throws(
    () => c.modelToSvg(seq, { show_shapes: true } as never),
    /^ArgumentError: plotModel: unknown option 'show_shapes'; did you mean 'showShapes'\?/,
  );
  class Custom extends c.Model {
    override call(x: c.Tensor | c.Tensor[]) {
      return x;
    }
  }
  await rejects(
    () => c.plotModel(new Custom(), '/nonexistent/x.svg'),
    c.ArgumentError,
    /^plotModel: model 'custom' is a subclass model/,
  );
});
