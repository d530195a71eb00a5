// The cost of a distributed run in one record: merges what each rank measured (its meter snapshot, CPU time and
// energy report) into the sums the run record carries, keeping each rank's figures in record.distributed.ranks.
// Energy is not a plain sum: every rank's report charges power its host draws once (a VM estimate charges the idle
// watts of every vCPU it sees; RAPL reads the whole machine), so each host's share of that is counted once.
import type { EnergyReport, VcpuWatts } from './energy.js';
import { summarize, type MeterRow, type MeterSnapshot } from './meter.js';
import type { DistributedRecord, RankFigures } from './distributed.js';

/** What one rank sends to rank 0 at the end of fit (through allgatherJson). */
export interface RankContribution {
  figures: Omit<RankFigures, 'energyJoules'>;
  /** The rank's meter snapshot over its fit; null when it metered nothing. */
  compute: MeterSnapshot | null;
  /** The rank's energy report (its whole recording); null when energy is off. */
  energy: EnergyReport | null;
}

/** The run's cluster, as the strategy and the world describe it. */
export type ClusterInfo = Pick<DistributedRecord, 'worldSize' | 'strategy' | 'mode' | 'staleness' | 'transport'>;

export interface MergedCluster {
  distributed: DistributedRecord;
  /** The ranks' snapshots summed row by row (phase x layer x op). */
  compute: MeterSnapshot;
  /** CPU seconds summed over ranks. */
  cpuSeconds: number;
  /** The ranks' energy summed, each host's idle power (or machine-wide reading) once; null when rank 0's is. */
  energy: EnergyReport | null;
  /** The record's note saying what is summed and what is rank 0's own. */
  note: string;
}

/** Meter snapshots summed: rows of the same phase, layer and op add up, and the totals are rebuilt from them. */
export function sumSnapshots(snapshots: readonly MeterSnapshot[]): MeterSnapshot {
  const rows = new Map<string, MeterRow>();
  for (const s of snapshots)
    for (const r of s.rows) {
      const key = JSON.stringify([r.phase, r.scope, r.op]);
      const acc = rows.get(key);
      if (!acc) rows.set(key, { ...r });
      else {
        acc.calls += r.calls;
        acc.flops += r.flops;
        acc.bytes += r.bytes;
        acc.ms += r.ms;
        acc.fused ||= r.fused;
      }
    }
  return summarize([...rows.values()], [...new Set(snapshots.flatMap((s) => s.backends))].sort());
}

/** How a report relates to its host: 'rapl' reads the whole machine, 'vm' charges every vCPU's idle power. */
function kindOf(r: EnergyReport): 'rapl' | 'vm' | 'cpu-time' {
  return r.method === 'rapl' ? 'rapl' : r.vcpu ? 'vm' : 'cpu-time';
}

/** A rank's energy after its host's shared part is split: joules and range (PUE in), components (before PUE). */
interface RankEnergy {
  joules: number;
  low: number;
  high: number;
  components: Record<string, number>;
  codecarbonJoules: number;
}

const scaled = (c: EnergyReport['components'], f: number): Record<string, number> =>
  Object.fromEntries(Object.entries(c).map(([k, v]) => [k, (v ?? 0) * f]));

/**
 * The energy of the ranks of one host whose reports are of one kind. 'cpu-time' estimates (TDP per busy thread,
 * DRAM per resident byte) charge only the rank's own use: summed as they are. A 'vm' estimate charges the idle
 * watts of all the VM's vCPUs for the rank's wall time: each rank keeps its busy part and DRAM, and the host's
 * largest idle charge is split equally among its ranks. 'rapl' reads the whole machine: the host's largest reading
 * (the longest window) is split among its ranks by CPU time (equally when none used any). CodeCarbon's
 * constant-mode figure (half the TDP for the wall time) is a whole-machine figure too: split like RAPL's.
 */
export function hostEnergy(reports: readonly { energy: EnergyReport; cpuSeconds: number }[]): RankEnergy[] {
  const n = reports.length;
  const cpu = reports.reduce((s, r) => s + r.cpuSeconds, 0);
  const weight = (i: number) => (cpu > 0 ? reports[i].cpuSeconds / cpu : 1 / n);
  const largest = (f: (r: EnergyReport) => number) => Math.max(...reports.map((r) => f(r.energy)));
  const codecarbon = largest((r) => r.codecarbonJoules);
  const kind = kindOf(reports[0].energy);
  if (kind === 'rapl') {
    const ref = reports.map((r) => r.energy).reduce((a, b) => (b.joules > a.joules ? b : a));
    return reports.map((_, i) => ({
      joules: ref.joules * weight(i),
      low: ref.uncertainty.low * weight(i),
      high: ref.uncertainty.high * weight(i),
      components: scaled(ref.components, weight(i)),
      codecarbonJoules: codecarbon * weight(i),
    }));
  }
  if (kind === 'cpu-time')
    return reports.map(({ energy: e }) => ({
      joules: e.joules,
      low: e.uncertainty.low,
      high: e.uncertainty.high,
      components: scaled(e.components, 1),
      codecarbonJoules: codecarbon / n,
    }));
  // 'vm': idle = vCPUs x wall x idle watts (x the run's kernel-time share when apportioned), PUE on the joules.
  const idle = (e: EnergyReport, w: (v: NonNullable<EnergyReport['vcpu']>) => VcpuWatts) =>
    e.vcpu!.vcpus * e.wallSeconds * w(e.vcpu!).minWatts * (e.attribution?.share ?? 1);
  const hostIdle = {
    central: largest((e) => idle(e, (v) => v.central)),
    low: largest((e) => idle(e, (v) => v.low)),
    high: largest((e) => idle(e, (v) => v.high)),
  };
  return reports.map(({ energy: e }) => {
    const own = { central: idle(e, (v) => v.central), low: idle(e, (v) => v.low), high: idle(e, (v) => v.high) };
    const moved = (k: 'central' | 'low' | 'high') => hostIdle[k] / n - own[k];
    const components = scaled(e.components, 1);
    if (components.cpu !== undefined) components.cpu += moved('central');
    return {
      joules: e.joules + moved('central') * e.pue,
      low: e.uncertainty.low + moved('low') * e.pue,
      high: e.uncertainty.high + moved('high') * e.pue,
      components,
      codecarbonJoules: codecarbon / n,
    };
  });
}

/** The rule hostEnergy applies, in one sentence for the record's assumptions. */
export const HOST_ENERGY_RULE =
  "A host's power is counted once, not once per rank: a VM estimate charges the idle watts of every vCPU the " +
  "rank sees for its wall time, so each host's largest idle charge is split equally among its ranks (each keeps " +
  "its own busy and memory part); a RAPL reading covers the whole machine, so each host's largest reading is " +
  'split among its ranks by CPU time; CPU-time estimates (TDP per busy thread) have no idle part and are summed. ' +
  "CodeCarbon's whole-machine comparison figure is split as RAPL's.";

/** The ranks' energy summed (see hostEnergy), per rank and as one report built on rank 0's. */
function clusterEnergy(
  contributions: readonly RankContribution[],
  notes: string[],
): { report: EnergyReport | null; byRank: Map<number, number> } {
  const byRank = new Map<number, number>();
  const base = contributions.find((c) => c.figures.rank === 0)?.energy ?? null;
  if (!base) return { report: null, byRank };
  const withEnergy = contributions.filter((c) => c.energy);
  const missing = contributions.filter((c) => !c.energy).map((c) => c.figures.rank);
  if (missing.length) notes.push(`Ranks ${missing.join(', ')} recorded no energy: the energy sum leaves them out`);
  const groups = new Map<string, RankContribution[]>();
  for (const c of withEnergy) {
    const key = JSON.stringify([c.figures.host, kindOf(c.energy!)]);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const sum = { joules: 0, low: 0, high: 0, codecarbonJoules: 0, components: {} as Record<string, number> };
  for (const group of groups.values()) {
    const split = hostEnergy(group.map((c) => ({ energy: c.energy!, cpuSeconds: c.energy!.cpuSeconds })));
    split.forEach((e, i) => {
      byRank.set(group[i].figures.rank, e.joules);
      sum.joules += e.joules;
      sum.low += e.low;
      sum.high += e.high;
      sum.codecarbonJoules += e.codecarbonJoules;
      for (const [k, v] of Object.entries(e.components)) sum.components[k] = (sum.components[k] ?? 0) + v;
    });
  }
  const reports = withEnergy.map((c) => c.energy!);
  const oneMethod = reports.every((r) => r.method === base.method);
  const hosts = new Set(withEnergy.map((c) => c.figures.host)).size;
  const summed =
    `Summed over ${withEnergy.length} ranks on ${hosts} host${hosts > 1 ? 's' : ''} ` +
    `(each rank's figure: record.distributed.ranks)`;
  return {
    byRank,
    report: {
      ...base,
      method: oneMethod ? base.method : 'estimate',
      measured: reports.every((r) => r.measured),
      description: `${summed}. Rank 0's figure: ${base.description}`,
      joules: sum.joules,
      kWh: sum.joules / 3.6e6,
      components: sum.components,
      uncertainty: { low: sum.low, high: sum.high, note: `${base.uncertainty.note} ${summed}.` },
      cpuSeconds: reports.reduce((s, r) => s + r.cpuSeconds, 0),
      meanMemoryBytes: reports.reduce((s, r) => s + r.meanMemoryBytes, 0),
      codecarbonJoules: sum.codecarbonJoules,
      assumptions: [
        ...base.assumptions,
        `${summed}; wall time, platform, CPU and per-vCPU figures above are rank 0's. ${HOST_ENERGY_RULE}`,
        ...(oneMethod ? [] : ['The ranks used different energy methods: the sum mixes them.']),
      ],
    },
  };
}

/**
 * Merges the contributions of a run's ranks (one per rank, any order) into the record's sums and its
 * `distributed` section. Rank 0's energy report is the base of the summed one (its platform, CPU and wall time).
 */
export function mergeCluster(info: ClusterInfo, contributions: readonly RankContribution[]): MergedCluster {
  const ranks = [...contributions].sort((a, b) => a.figures.rank - b.figures.rank);
  const notes: string[] = [];
  if (ranks.length < info.worldSize)
    notes.push(`Only ${ranks.length} of the ${info.worldSize} ranks sent their figures; the sums are theirs`);
  const { report, byRank } = clusterEnergy(ranks, notes);
  const hosts: DistributedRecord['hosts'] = [];
  for (const { figures: f } of ranks) {
    const h = hosts.find((x) => x.host === f.host);
    if (h) h.ranks.push(f.rank);
    else hosts.push({ host: f.host, ranks: [f.rank] });
  }
  const rankFigures: RankFigures[] = ranks.map(({ figures: f }) => ({
    ...f,
    energyJoules: report ? (byRank.get(f.rank) ?? null) : null,
  }));
  const compute = sumSnapshots(ranks.flatMap((c) => (c.compute ? [c.compute] : [])));
  const cpuSeconds = rankFigures.reduce((s, f) => s + f.cpuSeconds, 0);
  const distributed: DistributedRecord = {
    worldSize: info.worldSize,
    strategy: info.strategy,
    ...(info.mode !== undefined ? { mode: info.mode } : {}),
    ...(info.staleness !== undefined ? { staleness: info.staleness } : {}),
    transport: info.transport,
    hosts,
    bytesCommunicated: {
      sent: rankFigures.reduce((s, f) => s + f.bytesSent, 0),
      received: rankFigures.reduce((s, f) => s + f.bytesReceived, 0),
    },
    ranks: rankFigures,
  };
  const note =
    `Distributed run (${info.strategy}, ${info.worldSize} ranks on ${hosts.length} host` +
    `${hosts.length > 1 ? 's' : ''}): record.compute, record.training.cpuSeconds and record.energy (so the ` +
    "emissions) are the sums over the ranks, whose own figures are in record.distributed.ranks; each host's " +
    "idle power is counted once (see record.energy.assumptions). record.training's wall time, steps and history " +
    "and record.stages are rank 0's" +
    (notes.length ? `. ${notes.join('. ')}` : '');
  return { distributed, compute, cpuSeconds, energy: report, note };
}
