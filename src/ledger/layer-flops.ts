// FLOPs by layer and phase: where a run's compute went, each layer's forward and backward side by side,
// with the loss, the optimizer and the metrics as lines of their own. Read from a meter snapshot's rows
// (a live meter's or a run record's `compute`), so a card and `candor profile --by layer` show the same.
import { PHASES, type Phase } from '../autograd/annotations.js';
import { siNumber, type MeterSnapshot } from './meter.js';

/** One layer path's FLOPs by phase, and its kernel time. */
export interface LayerFlops {
  /** The layer path ('loss', 'optimizer', 'metrics' for theirs; '(no layer)' for work outside every one). */
  layer: string;
  /** FLOPs per phase (forward, backward, optimizer, evaluate, other). */
  flops: Record<Phase, number>;
  /** All the layer's FLOPs. */
  total: number;
  /** Kernel time in milliseconds. */
  ms: number;
}

/** FLOPs by layer path and phase, most FLOPs first. */
export function layerFlops(snapshot: Pick<MeterSnapshot, 'rows'>): LayerFlops[] {
  const lines = new Map<string, LayerFlops>();
  for (const r of snapshot.rows) {
    const layer = r.scope === '' ? '(no layer)' : r.scope;
    let line = lines.get(layer);
    if (!line) {
      const flops = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
      lines.set(layer, (line = { layer, flops, total: 0, ms: 0 }));
    }
    line.flops[r.phase] += r.flops;
    line.total += r.flops;
    line.ms += r.ms;
  }
  return [...lines.values()].sort((a, b) => b.total - a.total || a.layer.localeCompare(b.layer));
}

/**
 * The table of layerFlops: one line per layer path with its forward, backward, optimizer, evaluate and
 * other FLOPs (phases no row has are left out), its share of all FLOPs and its kernel time.
 */
export function formatLayerFlops(snapshot: Pick<MeterSnapshot, 'rows'>, options: { limit?: number } = {}): string {
  const all = layerFlops(snapshot);
  const shown = options.limit !== undefined ? all.slice(0, Math.max(0, options.limit)) : all;
  const phases = PHASES.filter((p) => all.some((l) => l.flops[p] !== 0));
  const total = all.reduce((s, l) => s + l.total, 0);
  const header = ['Layer', ...phases.map((p) => `${p[0].toUpperCase()}${p.slice(1)}`), 'Total', '% FLOPs', 'ms'];
  const row = (name: string, flops: (p: Phase) => number, sum: number, ms: number): string[] => [
    name,
    ...phases.map((p) => siNumber(flops(p))),
    siNumber(sum),
    total > 0 ? `${((100 * sum) / total).toFixed(1)}%` : '-',
    ms.toFixed(2),
  ];
  const body = shown.map((l) => row(l.layer, (p) => l.flops[p], l.total, l.ms));
  const foot = row(
    'Total',
    (p) => all.reduce((s, l) => s + l.flops[p], 0),
    total,
    all.reduce((s, l) => s + l.ms, 0),
  );
  const widths = header.map((h, i) => Math.max(h.length, foot[i].length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [fmt(header), rule, ...body.map(fmt)];
  if (shown.length < all.length) lines.push(`... ${all.length - shown.length} more`);
  lines.push(rule, fmt(foot));
  return lines.join('\n');
}
