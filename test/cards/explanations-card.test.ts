// The model card's explanations section: image explanations become heatmaps whose PNG pixels follow the diverging
// scale (the largest positive value full red, the largest negative full blue, zero white), text explanations
// become coloured tokens with their words, the figures shown match the record, and a card without explanations
// has no such section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import * as c from '../../src/index.js';
import { buildCard } from '../../src/cards/card.js';
import { renderHtml, renderMarkdown } from '../../src/cards/document.js';
import { divergingColour } from '../../src/cards/explanations.js';
import { explanationRecord } from '../../src/explain/record.js';
import { validateRunRecord, type RunRecord } from '../../src/ledger/record.js';
import type { Explanation } from '../../src/explain/types.js';
import { tinyRun } from '../ledger/fixtures.js';
import { checkFigures, findAll, parseHtml, textOf, type El } from './html.js';

function fakeExplanation(method: Explanation['method'], attributions: c.Tensor, gap?: number[]): Explanation {
  const n = attributions.shape[0];
  return {
    method,
    attributions,
    target: Array.from({ length: n }, (_, i) => i + 3),
    logit: false,
    scores: Array.from({ length: n }, (_, i) => 0.5 + i / 10),
    parameters: { steps: 8 },
    seconds: 0.0125,
    ...(gap ? { completenessGap: gap } : {}),
  };
}

function decodeDataUri(href: string): PNG {
  assert.match(href, /^data:image\/png;base64,/);
  return PNG.sync.read(Buffer.from(href.slice('data:image/png;base64,'.length), 'base64'));
}

const pixel = (png: PNG, x: number, y: number) =>
  Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));

test('image explanations render as heatmaps on the diverging scale; tokens as coloured words', async () => {
  const run = await tinyRun({ evaluate: false });
  try {
    // Two 3 x 4 single-channel maps: sample 0 has +2 at (0, 1), -1 at (2, 3), 0 elsewhere.
    const values = new Float32Array(2 * 12);
    values[1] = 2;
    values[11] = -1;
    values[12 + 5] = 0.5;
    const images = c.tensor(new Float32Array(24).fill(0.25), [2, 3, 4, 1]);
    const image = explanationRecord(
      fakeExplanation('integratedGradients', c.tensor(values, [2, 3, 4, 1]), [1e-6, 2e-6]),
      {
        inputs: images,
        labels: [3, 4],
        name: 'two images',
      },
    );
    const tokens = c.tensor(Int32Array.from([4, 2, 9, 0, 0]), [1, 5], 'int32');
    const text = explanationRecord(fakeExplanation('saliency', c.tensor([0.5, -1, 0.25, 0, 0], [1, 5])), {
      inputs: tokens,
      vocabulary: ['', '[UNK]', 'meeting', 'x', 'free', 'y', 'z', 'w', 'v', 'prize'],
    });
    const record: RunRecord = { ...run.record, explanations: [image, text] };
    validateRunRecord(JSON.parse(JSON.stringify(record)));
    const html = renderHtml(buildCard(record));
    const root = parseHtml(html);
    checkFigures(html, record);
    const heading = findAll(root, (e) => e.tag === 'h2' && e.attrs.id === 'explanations');
    assert.equal(heading.length, 1);
    // Heatmaps: one <image> per sample, tagged with sample and target.
    const cells = findAll(root, (e) => e.tag === 'g' && e.attrs['data-sample'] !== undefined);
    assert.deepEqual(
      cells.map((g) => [g.attrs['data-sample'], g.attrs['data-target']]),
      [
        ['0', '3'],
        ['1', '4'],
      ],
    );
    const img = findAll(cells[0], (e) => e.tag === 'image')[0];
    const png = decodeDataUri(img.attrs.href);
    assert.deepEqual([png.width, png.height], [4, 3]);
    assert.deepEqual(pixel(png, 1, 0), divergingColour(1));
    assert.deepEqual(pixel(png, 1, 0), [178, 24, 43]);
    // -1 of a map whose largest |value| is 2: halfway to blue.
    assert.deepEqual(pixel(png, 3, 2), divergingColour(-0.5));
    assert.deepEqual(pixel(png, 0, 0), [255, 255, 255]);
    const other = decodeDataUri(findAll(cells[1], (e) => e.tag === 'image')[0].attrs.href);
    assert.deepEqual(pixel(other, 1, 1), [178, 24, 43]);
    assert.match(textOf(cells[0]), /#0 class 3.*f\(x\) 0\.5 label 3.*gap 1\.0e-6/);
    // Tokens: the words (padding left out) on their colours.
    const words = findAll(root, (e) => e.tag === 'g' && e.attrs['data-token'] !== undefined);
    assert.deepEqual(
      words.map((g) => [g.attrs['data-token'], Number(g.attrs['data-value'])]),
      [
        ['free', 0.5],
        ['meeting', -1],
        ['prize', 0.25],
      ],
    );
    const fill = (g: El) => (g.children.find((k) => typeof k !== 'string' && k.tag === 'rect') as El).attrs.fill;
    assert.equal(fill(words[1]), '#2166ac');
    const hex = (t: number) =>
      `#${divergingColour(t)
        .map((v) => v.toString(16).padStart(2, '0'))
        .join('')}`;
    assert.deepEqual(words.map(fill), [hex(0.5), hex(-1), hex(0.25)]);
    // The table says what each figure is.
    const tables = textOf(root);
    assert.match(tables, /Completeness gap \(max over samples\)2\.0e-6 at sample 1/);
    assert.match(tables, /not defined for this method/);
    assert.match(renderMarkdown(buildCard(record)), /## Explanations/);
    // No explanations, no section.
    assert.doesNotMatch(renderHtml(buildCard(run.record)), /id="explanations"/);
    c.dispose([images, tokens]);
  } finally {
    run.dispose();
  }
});
