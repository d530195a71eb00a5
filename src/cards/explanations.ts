// The model card's explanations section, and the drawings it is made of: heatmaps of signed attributions on a
// diverging scale (blue: lowers the target score, white: none, red: raises it) as inline PNG data URIs in SVG,
// coloured tokens for text models, and a strip for other features. No scripts, nothing fetched: the page stays
// standalone. Figures come only from record.explanations (a bounded, quantised summary of each map).
import { createRequire } from 'node:module';
import type { RunRecord } from '../ledger/record.js';
import { storedAttributionMap, type ExplanationRecord, type StoredAttribution } from '../ledger/explanation.js';
import { fig, htmlEscape } from './document.js';
import type { Block, Cell } from './document.js';
import { digestOf } from './record-extras.js';

const num = (n: number | null | undefined, digits = 3) =>
  n === null || n === undefined
    ? 'n/a'
    : n !== 0 && Math.abs(n) < 1e-3
      ? n.toExponential(1)
      : String(Number(n.toPrecision(digits)));

/** RdBu (ColorBrewer), from -1 (blue) through 0 (white) to +1 (red). */
const STOPS: [number, number, number][] = [
  [33, 102, 172],
  [103, 169, 207],
  [209, 229, 240],
  [255, 255, 255],
  [253, 219, 199],
  [239, 138, 98],
  [178, 24, 43],
];

/** The colour of t in [-1, 1] on the diverging scale (clamped; NaN is white). */
export function divergingColour(t: number): [number, number, number] {
  const x = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  const pos = ((x + 1) / 2) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  return [0, 1, 2].map((k) => Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]))) as [
    number,
    number,
    number,
  ];
}

const hex = ([r, g, b]: [number, number, number]) => `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;

let pngModule: typeof import('pngjs') | undefined;
/** PNG bytes of an RGBA image, as a data URI (pngjs, loaded on first use). */
export function pngDataUri(rgba: Uint8Array, width: number, height: number): string {
  pngModule ??= createRequire(import.meta.url)('pngjs') as typeof import('pngjs');
  const png = new pngModule.PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return `data:image/png;base64,${pngModule.PNG.sync.write(png).toString('base64')}`;
}

/** A heatmap [h, w] of signed values as a PNG data URI; `scale` (default max |value|) maps to full colour. */
export function heatmapImage(values: ArrayLike<number>, h: number, w: number, scale?: number): string {
  let s = scale ?? 0;
  if (scale === undefined) for (let i = 0; i < h * w; i++) s = Math.max(s, Math.abs(values[i]) || 0);
  const rgba = new Uint8Array(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = divergingColour(s > 0 ? values[i] / s : 0);
    rgba.set([r, g, b, 255], i * 4);
  }
  return pngDataUri(rgba, w, h);
}

/** An image [h, w, c] (c 1, 3 or 4; values in [0, 1]) as a PNG data URI. */
export function pictureImage(values: ArrayLike<number>, h: number, w: number, c = 1): string {
  const rgba = new Uint8Array(h * w * 4);
  const byte = (v: number) => Math.round(255 * Math.max(0, Math.min(1, v || 0)));
  for (let i = 0; i < h * w; i++) {
    const px = (k: number) => byte(values[i * c + Math.min(k, c - 1)]);
    rgba.set(c >= 3 ? [px(0), px(1), px(2), 255] : [px(0), px(0), px(0), 255], i * 4);
  }
  return pngDataUri(rgba, w, h);
}

/** One cell of an image grid: an image (data URI) of `width` x `height` pixels and lines of text under it. */
export interface GridCell {
  image: string;
  width: number;
  height: number;
  lines?: string[];
  /** data-* attributes of the cell's <g> (for tests and tools). */
  data?: Record<string, string | number>;
}

/**
 * Rows of images as one SVG, each image scaled to `cell` pixels on its longer side (nearest neighbour, so pixels
 * stay visible), with optional column headings and a label before each row.
 */
export function imageGrid(
  rows: { label?: string; cells: GridCell[] }[],
  { columns, cell = 84, title }: { columns?: string[]; cell?: number; title: string },
): string {
  const lines = Math.max(0, ...rows.flatMap((r) => r.cells.map((c) => c.lines?.length ?? 0)));
  const left = rows.some((r) => r.label) ? 70 : 4;
  const top = columns ? 22 : 4;
  const cw = cell + 12,
    ch = cell + 8 + 13 * lines;
  const width = left + cw * Math.max(1, ...rows.map((r) => r.cells.length));
  const height = top + ch * rows.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
      `role="img" aria-label="${htmlEscape(title)}" font-family="sans-serif" font-size="11">`,
    `<title>${htmlEscape(title)}</title>`,
  ];
  columns?.forEach((c, j) =>
    parts.push(`<text x="${left + j * cw + cell / 2}" y="14" text-anchor="middle">${htmlEscape(c)}</text>`),
  );
  rows.forEach((row, i) => {
    const y = top + i * ch;
    if (row.label) parts.push(`<text x="4" y="${y + cell / 2}">${htmlEscape(row.label)}</text>`);
    row.cells.forEach((c, j) => {
      const x = left + j * cw;
      const k = cell / Math.max(c.width, c.height);
      const data = Object.entries(c.data ?? {})
        .map(([name, v]) => ` data-${name}="${htmlEscape(String(v))}"`)
        .join('');
      parts.push(
        `<g${data}><image href="${c.image}" x="${x}" y="${y}" width="${c.width * k}" height="${c.height * k}" ` +
          `preserveAspectRatio="none" style="image-rendering:pixelated"/>` +
          `<rect x="${x}" y="${y}" width="${c.width * k}" height="${c.height * k}" fill="none" stroke="#999"/>`,
      );
      (c.lines ?? []).forEach((t, l) =>
        parts.push(`<text x="${x}" y="${y + cell + 12 + 13 * l}">${htmlEscape(t)}</text>`),
      );
      parts.push('</g>');
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Tokens on backgrounds coloured by their attribution (scaled to max |value|), wrapped to `width` pixels, as one
 * SVG; each token is a <g data-token data-value> with a rect and its text.
 */
export function tokensSvg(
  words: readonly string[],
  values: ArrayLike<number>,
  { width = 760, title, label }: { width?: number; title: string; label?: string },
): string {
  let scale = 0;
  for (let i = 0; i < words.length; i++) scale = Math.max(scale, Math.abs(values[i]) || 0);
  const charW = 7.2,
    lineH = 20,
    pad = 3;
  const parts: string[] = [];
  let x = 4,
    y = label ? 20 : 4;
  if (label) parts.push(`<text x="4" y="13" fill="#555">${htmlEscape(label)}</text>`);
  words.forEach((w, i) => {
    const tw = Math.max(1, w.length) * charW + 2 * pad;
    if (x + tw > width - 4 && x > 4) {
      x = 4;
      y += lineH + 4;
    }
    const v = values[i];
    const colour = hex(divergingColour(scale > 0 ? v / scale : 0));
    parts.push(
      `<g data-token="${htmlEscape(w)}" data-value="${Number(v.toPrecision(4))}">` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${tw.toFixed(1)}" height="${lineH}" rx="3" fill="${colour}"/>` +
        `<text x="${(x + pad).toFixed(1)}" y="${y + 14}">${htmlEscape(w)}</text></g>`,
    );
    x += tw + 4;
  });
  const height = y + lineH + 4;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" aria-label="${htmlEscape(title)}" font-family="monospace" font-size="12">` +
    `<title>${htmlEscape(title)}</title>${parts.join('')}</svg>`
  );
}

/** The diverging scale as a bar from -max to +max. */
export function colourLegend(): string {
  const steps = 40;
  const rects = Array.from({ length: steps }, (_, i) => {
    const colour = hex(divergingColour((2 * (i + 0.5)) / steps - 1));
    return `<rect x="${60 + i * 5}" y="4" width="5" height="12" fill="${colour}"/>`;
  }).join('');
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 380 20" width="380" height="20" role="img" ' +
    'aria-label="Colour scale" font-family="sans-serif" font-size="11"><title>Colour scale</title>' +
    `<text x="0" y="14">lowers</text>${rects}<text x="266" y="14">raises the score</text></svg>`
  );
}

const METHOD_TEXT: Record<string, string> = {
  saliency: 'Saliency (gradient of the target score)',
  gradientXInput: 'Gradient x input',
  integratedGradients: 'Integrated Gradients (Sundararajan et al. 2017)',
  smoothGrad: 'SmoothGrad (Smilkov et al. 2017)',
  gradCam: 'Grad-CAM (Selvaraju et al. 2017)',
  occlusion: 'Occlusion (Zeiler and Fergus 2014)',
  lime: 'LIME (Ribeiro et al. 2016)',
  kernelShap: 'KernelSHAP (Lundberg and Lee 2017)',
  shapley: 'Exact Shapley values',
};

function targetText(e: ExplanationRecord, i: number): string {
  if (e.target === 'custom') return 'custom';
  return `${e.logit ? 'logit ' : 'class '}${e.target[i] ?? e.target[0]}`;
}

/** Lines under one sample's map: target, score, label, gap. */
function sampleLines(e: ExplanationRecord, s: StoredAttribution): string[] {
  const i = s.sample;
  return [
    `#${i} ${targetText(e, i)}`,
    `f(x) ${num(e.scores[i])}${e.labels ? ` label ${e.labels[i]}` : ''}`,
    ...(e.completenessGap ? [`gap ${num(e.completenessGap[i], 2)}`] : []),
  ];
}

/** The drawing of one explanation's stored maps: heatmaps, tokens or a feature strip per sample. */
export function explanationFigure(e: ExplanationRecord): string {
  const a = e.attributions;
  const title = `${METHOD_TEXT[e.method] ?? e.method}${e.name ? `: ${e.name}` : ''}`;
  if (a.layout === 'tokens')
    return a.samples
      .map((s) =>
        tokensSvg(s.words ?? (s.tokens ?? []).map((t) => `#${t}`), storedAttributionMap(a, s), {
          title,
          label: sampleLines(e, s).join(', '),
        }),
      )
      .join('');
  const [h, w] = a.layout === 'image' ? a.storedShape : [1, a.storedShape[0]];
  const cells = a.samples.map((s) => ({
    image: heatmapImage(storedAttributionMap(a, s), h, w),
    width: w,
    height: h,
    lines: sampleLines(e, s),
    data: { sample: s.sample, target: e.target === 'custom' ? 'custom' : (e.target[s.sample] ?? '') },
  }));
  const perRow = a.layout === 'image' ? 8 : 1;
  const rows = [];
  for (let i = 0; i < cells.length; i += perRow) rows.push({ cells: cells.slice(i, i + perRow) });
  return imageGrid(rows, { title, cell: a.layout === 'image' ? 84 : Math.min(640, Math.max(84, w * 4)) });
}

function gapSummary(e: ExplanationRecord, i: number): (Cell | string)[] {
  const gaps = (e.completenessGap ?? []).filter((g): g is number => g !== null);
  if (!e.completenessGap)
    return ['Completeness gap', 'not defined for this method (no axiom says what its attributions sum to)'];
  if (gaps.length === 0) return ['Completeness gap', 'not finite'];
  const worst = e.completenessGap.indexOf(Math.max(...gaps));
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  return [
    'Completeness gap (max over samples)',
    fig(
      `${num(e.completenessGap[worst], 2)} at sample ${worst}, mean ${num(mean, 2)} ` +
        '(|sum of attributions - the score difference they should add up to|)',
      `explanations.${i}.completenessGap.${worst}`,
      e.completenessGap[worst]!,
    ),
  ];
}

/** The card's section on the explanations in record.explanations (nothing when there are none). */
/** The inputs explained: shape, dtype and their digest, named as what it is (keyed HMAC or an old plain SHA-256). */
function inputsRow(e: ExplanationRecord, i: number): (Cell | string)[] {
  const d = digestOf(e.inputs);
  return [
    'Inputs explained',
    fig(
      `[${e.inputs.shape.join(', ')}] ${e.inputs.dtype}, ${d.label} ${d.value}`,
      `explanations.${i}.inputs.${d.key}`,
      d.value,
    ),
  ];
}

export function explanationsSection(record: RunRecord): Block[] {
  const list = record.explanations ?? [];
  if (list.length === 0) return [];
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Explanations', id: 'explanations' },
    {
      kind: 'para',
      text:
        'Attributions of the trained model: how much each input element (pixel, token, feature) moved the ' +
        'explained score. Red raises it, blue lowers it; each map is scaled to its own largest |value|. ' +
        'The record keeps a bounded, quantised summary of each map (as the table says), and a fingerprint of ' +
        'the inputs explained.',
    },
    { kind: 'figure', svg: colourLegend(), caption: 'Colour scale of the maps below' },
  ];
  list.forEach((e, i) => {
    const a = e.attributions;
    blocks.push(
      { kind: 'heading', level: 3, text: `${METHOD_TEXT[e.method] ?? e.method}${e.name ? `: ${e.name}` : ''}` },
      {
        kind: 'table',
        header: ['Field', 'Value'],
        rows: [
          ['Method', fig(e.method, `explanations.${i}.method`, e.method)],
          ['Target', e.target === 'custom' ? 'a custom function of the outputs' : e.logit ? 'logit' : 'output'],
          ['Parameters', JSON.stringify(e.parameters)],
          gapSummary(e, i),
          ['Time', fig(`${num(e.seconds)} s`, `explanations.${i}.seconds`, e.seconds)],
          inputsRow(e, i),
          ['Model input shape', `[${e.inputShape.map((d) => d ?? 'any').join(', ')}]`],
          [
            'Stored maps',
            `${a.samples.length} samples, ${a.layout} [${a.storedShape.join(', ')}]; reduction: ${a.reduction}`,
          ],
          ['Recorded', e.createdAt],
        ],
      },
      {
        kind: 'figure',
        svg: explanationFigure(e),
        caption: `${e.method}: ${a.samples.length} sample${a.samples.length === 1 ? '' : 's'}`,
      },
    );
  });
  return blocks;
}
