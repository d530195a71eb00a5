// The model card's compression section: for each compression in record.compression, what was done, the model's
// size, accuracy, latency and energy per 1,000 predictions before and after, and each layer's sparsity and bits.
import type { RunRecord } from '../ledger/record.js';
import type { CompressionRecord, ModelMeasurement } from '../ledger/compression.js';
import { fig, num, type Block, type Cell } from './document.js';

const ROWS: { label: string; field: keyof ModelMeasurement; show: (v: number) => string }[] = [
  { label: 'Accuracy', field: 'accuracy', show: (v) => `${num(v * 100)}%` },
  { label: 'Weights file', field: 'bytes', show: (v) => `${Math.round(v).toLocaleString('en-US')} bytes` },
  { label: 'Parameters', field: 'parameters', show: (v) => Math.round(v).toLocaleString('en-US') },
  { label: 'Predict, batch 1', field: 'msBatch1', show: (v) => `${num(v, 3)} ms` },
  { label: 'Predict, batch 256', field: 'msBatch256', show: (v) => `${num(v, 3)} ms` },
  { label: 'Energy per 1,000 predictions', field: 'joulesPer1000', show: (v) => `${num(v, 3)} J` },
];

function measurementRows(c: CompressionRecord, i: number): (Cell | string)[][] {
  return ROWS.map(({ label, field, show }) => {
    const cell = (side: 'before' | 'after'): Cell | string => {
      const v = c[side][field];
      return typeof v === 'number' ? fig(show(v), `compression.${i}.${side}.${field}`, v) : 'n/a';
    };
    const before = c.before[field],
      after = c.after[field];
    const ratio =
      typeof before === 'number' && typeof after === 'number' && before > 0 ? `${num(after / before, 3)}x` : '';
    return [label, cell('before'), cell('after'), ratio];
  });
}

function layerRows(c: CompressionRecord): string[][] {
  return c.layers.map((l) => [
    l.name,
    l.className,
    `${l.parameters.before.toLocaleString('en-US')} -> ${l.parameters.after.toLocaleString('en-US')}`,
    l.units ? `${l.units.before} -> ${l.units.after}` : '',
    l.sparsity === undefined ? '' : `${num(l.sparsity * 100, 3)}%`,
    l.weightBits === undefined ? '' : String(l.weightBits),
    l.activationBits === undefined ? '' : String(l.activationBits),
  ]);
}

/** The card's section on record.compression (nothing when there is none). */
export function compressionSection(record: RunRecord): Block[] {
  const list = record.compression ?? [];
  if (list.length === 0) return [];
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Compression', id: 'compression' },
    {
      kind: 'para',
      text:
        'How the model was made smaller or faster, and what it cost. Before and after were measured in the same ' +
        'process on the same machine and data; latencies are medians of whole predict calls, energy is the ' +
        "run's energy meter over at least 5,000 predictions at batch 256.",
    },
  ];
  list.forEach((c, i) => {
    blocks.push(
      { kind: 'heading', level: 3, text: `${c.method}${c.name ? ` (${c.name})` : ''}` },
      {
        kind: 'para',
        text: `${c.description} Evaluated on ${c.evaluatedOn}. Parameters: ${JSON.stringify(c.parameters)}.`,
      },
      { kind: 'table', header: ['Figure', 'Before', 'After', 'After / before'], rows: measurementRows(c, i) },
    );
    if (c.layers.length)
      blocks.push({
        kind: 'table',
        header: ['Layer', 'Class', 'Parameters', 'Units', 'Sparsity', 'Weight bits', 'Activation bits'],
        rows: layerRows(c),
      });
  });
  return blocks;
}
