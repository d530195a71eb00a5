// Line charts as inline SVG (training curves): no scripts, no fonts or images fetched, so the card
// stays a standalone file.
import { htmlEscape } from './document.js';

export interface Series {
  name: string;
  /** One value per epoch; null (not recorded) is skipped: the line joins the values on either side. */
  values: readonly (number | null)[];
}

const PALETTE = ['#1f5fa8', '#d0602a', '#2e8b57', '#8a3fa0', '#b8860b', '#4a4a4a'];

/** Short tick labels: 0.0123 -> '0.0123', 12345 -> '1.23e+4'. */
function tick(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

/** A line chart of `series` against epochs 1..n with a legend; each series is one <polyline data-series=...>. */
export function lineChart(
  series: readonly Series[],
  {
    title,
    width = 560,
    height = 260,
    yLabel = '',
  }: { title: string; width?: number; height?: number; yLabel?: string },
): string {
  const left = 56,
    right = 130,
    top = 28,
    bottom = 36;
  const plotW = width - left - right,
    plotH = height - top - bottom;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  let lo = all.length ? Math.min(...all) : 0,
    hi = all.length ? Math.max(...all) : 1;
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 0.5;
    hi += Math.abs(hi) * 0.1 || 0.5;
  }
  const x = (i: number) => left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * plotH;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
      `role="img" aria-label="${htmlEscape(title)}" font-family="sans-serif" font-size="11">`,
    `<title>${htmlEscape(title)}</title>`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold">${htmlEscape(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#bbb"/>`,
  ];
  for (const v of [lo, (lo + hi) / 2, hi]) {
    parts.push(
      `<line x1="${left - 4}" y1="${f(y(v))}" x2="${left}" y2="${f(y(v))}" stroke="#888"/>`,
      `<text x="${left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${tick(v)}</text>`,
    );
  }
  const xticks = n <= 10 ? Array.from({ length: n }, (_, i) => i) : [0, Math.floor((n - 1) / 2), n - 1];
  for (const i of xticks)
    parts.push(`<text x="${f(x(i))}" y="${top + plotH + 14}" text-anchor="middle">${i + 1}</text>`);
  parts.push(`<text x="${left + plotW / 2}" y="${height - 4}" text-anchor="middle">epoch</text>`);
  if (yLabel)
    parts.push(
      `<text x="12" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 12 ${top + plotH / 2})">` +
        `${htmlEscape(yLabel)}</text>`,
    );
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const pts = s.values.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${f(x(i))},${f(y(v))}`));
    const drawn = pts.filter((p) => p !== null);
    parts.push(
      `<polyline data-series="${htmlEscape(s.name)}" data-points="${drawn.length}" fill="none" stroke="${color}" ` +
        `stroke-width="2" points="${drawn.join(' ')}"/>`,
    );
    pts.forEach((p) => {
      if (p) {
        const [cx, cy] = p.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
    });
    const ly = top + 8 + k * 16;
    parts.push(
      `<line x1="${left + plotW + 10}" y1="${ly}" x2="${left + plotW + 28}" y2="${ly}" ` +
        `stroke="${color}" stroke-width="2"/>`,
      `<text x="${left + plotW + 32}" y="${ly + 4}">${htmlEscape(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
