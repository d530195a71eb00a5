// The card's account of a run trained across several processes: world size, strategy, hosts, bytes communicated
// and each rank's FLOPs, CPU time, energy and bytes, with their sums (what record.compute and record.energy hold).
import type { RunRecord } from '../ledger/record.js';
import type { DistributedRecord, RankFigures } from '../ledger/distributed.js';
import { siNumber } from '../ledger/meter.js';
import { fig, num, type Block, type Cell } from './document.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const bytes = (n: number) => `${siNumber(n)}B`;

/** 'data-parallel' or 'parameter-server (async, staleness 2)'. */
function strategyText(d: DistributedRecord): string {
  const extra = [d.mode, d.staleness !== undefined ? `staleness ${d.staleness}` : undefined].filter(Boolean);
  return d.strategy + (extra.length ? ` (${extra.join(', ')})` : '');
}

/** The Summary table's line: undefined for a run in one process. */
export function distributedSummary(r: RunRecord): Cell | undefined {
  const d = r.distributed;
  if (!d) return undefined;
  const sent = d.bytesCommunicated.sent;
  return fig(
    `${strategyText(d)} on ${d.worldSize} ranks, ${d.hosts.length} host${d.hosts.length > 1 ? 's' : ''}, ` +
      `${bytes(sent)} sent over ${d.transport}; compute, CPU time and energy above are the sums over the ranks`,
    'distributed.worldSize',
    d.worldSize,
  );
}

function rankRow(f: RankFigures, i: number): (Cell | string)[] {
  return [
    String(f.rank),
    f.host,
    f.role,
    int(f.samples),
    int(f.steps),
    fig(int(f.flops), `distributed.ranks.${i}.flops`, f.flops),
    f.cpuSeconds.toFixed(2),
    f.wallSeconds.toFixed(2),
    f.energyJoules === null ? 'n/a' : fig(num(f.energyJoules), `distributed.ranks.${i}.energyJoules`, f.energyJoules),
    bytes(f.bytesSent),
    bytes(f.bytesReceived),
    f.commSeconds.toFixed(2),
  ];
}

/** The section "Distributed training"; none for a run in one process. */
export function distributedSection(r: RunRecord): Block[] {
  const d = r.distributed;
  if (!d) return [];
  const sum = (f: (x: RankFigures) => number) => d.ranks.reduce((s, x) => s + f(x), 0);
  const joules = d.ranks.every((f) => f.energyJoules !== null) ? sum((f) => f.energyJoules ?? 0) : null;
  return [
    { kind: 'heading', level: 2, text: 'Distributed training', id: 'distributed' },
    {
      kind: 'para',
      text:
        `Trained ${strategyText(d)} on ${d.worldSize} processes (MPI ranks). The record's compute, CPU time and ` +
        "energy, and so the emissions, are the sums over the ranks below; each host's idle power is counted once " +
        "(the energy assumptions say how). Wall time, steps, metric history and stages are rank 0's.",
    },
    {
      kind: 'table',
      header: ['Measure', 'Value'],
      rows: [
        ['World size', fig(String(d.worldSize), 'distributed.worldSize', d.worldSize)],
        ['Strategy', strategyText(d)],
        ['Transport', d.transport],
        ['Hosts', d.hosts.map((h) => `${h.host} (ranks ${h.ranks.join(', ')})`).join('; ')],
        [
          'Bytes communicated',
          fig(
            `${bytes(d.bytesCommunicated.sent)} sent, ${bytes(d.bytesCommunicated.received)} received (all ranks)`,
            'distributed.bytesCommunicated.sent',
            d.bytesCommunicated.sent,
          ),
        ],
      ],
    },
    {
      kind: 'table',
      caption: 'By rank',
      header: [
        'Rank',
        'Host',
        'Role',
        'Samples',
        'Steps',
        'FLOPs',
        'CPU s',
        'Wall s',
        'Energy J',
        'Sent',
        'Received',
        'Comm s',
      ],
      rows: [
        ...d.ranks.map(rankRow),
        [
          'Sum',
          `${d.hosts.length} host${d.hosts.length > 1 ? 's' : ''}`,
          '',
          int(sum((f) => f.samples)),
          int(sum((f) => f.steps)),
          fig(int(r.compute.total.flops), 'compute.total.flops', r.compute.total.flops),
          r.training.cpuSeconds.toFixed(2),
          '',
          joules === null || !r.energy ? 'n/a' : fig(num(r.energy.joules), 'energy.joules', r.energy.joules),
          bytes(d.bytesCommunicated.sent),
          bytes(d.bytesCommunicated.received),
          sum((f) => f.commSeconds).toFixed(2),
        ],
      ],
    },
  ];
}
