// The cost of a distributed run in one record, from synthetic per-rank figures: compute summed row by row, CPU
// time and bytes summed, each host's idle power (VM estimate) or machine-wide reading (RAPL) counted once against
// a hand computation, CPU-time estimates summed as they are, and the `distributed` sub-schema's accepts / rejects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnergyMeter, type EnergyReport } from '../../src/ledger/energy.js';
import { summarize, type MeterRow } from '../../src/ledger/meter.js';
import { mergeCluster, sumSnapshots, type RankContribution } from '../../src/ledger/cluster-merge.js';
import { DISTRIBUTED_SCHEMA } from '../../src/ledger/distributed.js';
import { JsonSchemaValidator } from '../../src/ledger/json-schema.js';

const GiB = 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), 'candor-cluster-'));
const cpuinfo = join(dir, 'cpuinfo');
// A 4-vCPU guest: each rank's VM estimate charges 4 vCPUs' idle watts for its wall time.
writeFileSync(
  cpuinfo,
  [0, 1, 2, 3]
    .map((i) => `processor\t: ${i}\nmodel name\t: Test CPU\nsiblings\t: 4\nflags\t\t: hypervisor\n`)
    .join('\n'),
);
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A report over `wall` s with `cpu` s of CPU time and 1 GiB resident, on a VM (1 W idle, 4 W busy per vCPU). */
function vmReport(wall: number, cpu: number, kind: 'virtual-machine' | 'bare-metal' = 'virtual-machine'): EnergyReport {
  let t = 0,
    us = 0;
  const meter = new EnergyMeter({
    method: 'estimate',
    platform: { kind, evidence: [] },
    cpuinfoPath: cpuinfo,
    vcpuWatts: { minWatts: 1, maxWatts: 4 },
    clock: () => t,
    cpuUsage: () => ({ user: us, system: 0 }),
    memoryBytes: () => GiB,
  }).start();
  t = wall * 1000;
  us = cpu * 1e6;
  return meter.stop();
}

const row = (op: string, flops: number, phase: MeterRow['phase'] = 'forward'): MeterRow => ({
  phase,
  scope: 'dense',
  op,
  family: 'matmul',
  fused: false,
  calls: 1,
  flops,
  bytes: 10,
  ms: 1,
});

function rank(
  r: number,
  host: string,
  energy: EnergyReport | null,
  o: { flops?: number; cpu?: number; role?: 'worker' | 'server' } = {},
): RankContribution {
  const flops = o.flops ?? 100 * (r + 1);
  return {
    figures: {
      rank: r,
      host,
      role: o.role ?? 'worker',
      samples: 10,
      steps: 5,
      flops,
      cpuSeconds: o.cpu ?? energy?.cpuSeconds ?? 1,
      wallSeconds: energy?.wallSeconds ?? 2,
      bytesSent: 1000 + r,
      bytesReceived: 2000 + r,
      commSeconds: 0.5,
    },
    compute: summarize([row('matmul', flops), row('add', 1, 'backward')], ['native']),
    energy,
  };
}

const info = { worldSize: 2, strategy: 'data-parallel' as const, transport: 'mpi (test)' };

test('sumSnapshots: rows of the same phase, layer and op add up; totals rebuilt', () => {
  const s = sumSnapshots([
    summarize([row('matmul', 5), row('add', 1)], ['js']),
    summarize([row('matmul', 7)], ['native']),
  ]);
  assert.equal(s.total.flops, 13);
  assert.equal(s.rows.find((r) => r.op === 'matmul')!.flops, 12);
  assert.equal(s.rows.find((r) => r.op === 'matmul')!.calls, 2);
  assert.deepEqual(s.backends, ['js', 'native']);
});

test('one VM host, two ranks: the idle watts of its vCPUs are charged once, split between the ranks', () => {
  const a = vmReport(10, 8),
    b = vmReport(9, 7);
  // By hand: 4 vCPUs x 1 W idle x the longer wall (10 s), once; each rank's busy part 3 W x its CPU time, and its
  // memory 0.375 W/GiB x 1 GiB x its wall time.
  const idle = 4 * 10 * 1;
  const own = (wall: number, cpu: number) => cpu * 3 + wall * 0.375;
  assert.ok(Math.abs(a.joules - (4 * 10 + own(10, 8))) < 1e-9, 'the per-rank report charges all 4 vCPUs idle');
  const m = mergeCluster(info, [rank(1, 'h', b), rank(0, 'h', a)]);
  const want = idle + own(10, 8) + own(9, 7);
  assert.ok(Math.abs(m.energy!.joules - want) < 1e-9, `${m.energy!.joules} vs ${want}`);
  assert.ok(m.energy!.joules < a.joules + b.joules - 35, 'not the naive sum, which counts the idle power twice');
  const [r0, r1] = m.distributed.ranks;
  assert.ok(Math.abs(r0.energyJoules! - (idle / 2 + own(10, 8))) < 1e-9);
  assert.ok(Math.abs(r1.energyJoules! - (idle / 2 + own(9, 7))) < 1e-9);
  assert.ok(Math.abs(r0.energyJoules! + r1.energyJoules! - m.energy!.joules) < 1e-9, 'the ranks sum to the total');
  assert.ok(Math.abs(m.energy!.components.cpu! - (idle + 8 * 3 + 7 * 3)) < 1e-9);
  assert.ok(m.energy!.uncertainty.low <= m.energy!.joules && m.energy!.joules <= m.energy!.uncertainty.high);
  assert.equal(m.energy!.cpuSeconds, 15);
  assert.equal(m.energy!.wallSeconds, 10, "rank 0's wall time: the run's span");
  assert.ok(m.energy!.assumptions.some((s) => /counted once, not once per rank/.test(s)));
  assert.match(m.energy!.description, /^Summed over 2 ranks on 1 host/);
});

test('two VM hosts: each host charges its own idle power once', () => {
  const m = mergeCluster({ ...info, worldSize: 4 }, [
    rank(0, 'a', vmReport(10, 8)),
    rank(1, 'a', vmReport(10, 6)),
    rank(2, 'b', vmReport(8, 5)),
    rank(3, 'b', vmReport(6, 5)),
  ]);
  const want = 4 * 10 + 4 * 8 + 3 * (8 + 6 + 5 + 5) + 0.375 * (10 + 10 + 8 + 6);
  assert.ok(Math.abs(m.energy!.joules - want) < 1e-9, `${m.energy!.joules} vs ${want}`);
  assert.deepEqual(m.distributed.hosts, [
    { host: 'a', ranks: [0, 1] },
    { host: 'b', ranks: [2, 3] },
  ]);
});

test('CPU-time estimates (bare metal, TDP per thread) have no idle part: summed as they are', () => {
  const a = vmReport(10, 8, 'bare-metal'),
    b = vmReport(9, 7, 'bare-metal');
  assert.equal(a.vcpu, undefined);
  const m = mergeCluster(info, [rank(0, 'h', a), rank(1, 'h', b)]);
  assert.ok(Math.abs(m.energy!.joules - (a.joules + b.joules)) < 1e-9);
});

test('RAPL on one host reads the whole machine: the largest reading once, split by CPU time', () => {
  const rapl = (joules: number, cpu: number): EnergyReport => ({
    ...vmReport(10, cpu, 'bare-metal'),
    method: 'rapl',
    measured: true,
    joules,
    components: { package: joules },
    uncertainty: { low: joules * 0.95, high: joules * 1.05, note: 'rapl' },
  });
  const m = mergeCluster(info, [rank(0, 'h', rapl(300, 6)), rank(1, 'h', rapl(290, 2))]);
  assert.equal(m.energy!.joules, 300);
  assert.equal(m.energy!.measured, true);
  assert.deepEqual(
    m.distributed.ranks.map((r) => r.energyJoules),
    [225, 75],
  );
  assert.ok(Math.abs(m.energy!.uncertainty.high - 315) < 1e-9);
});

test('mergeCluster: FLOPs, CPU time and bytes are the sums; ranks without energy are named', () => {
  const m = mergeCluster({ ...info, worldSize: 3, strategy: 'parameter-server', mode: 'async', staleness: 2 }, [
    rank(0, 'h', vmReport(4, 2)),
    rank(1, 'h', vmReport(4, 3)),
    rank(2, 'h', null, { role: 'server', cpu: 1 }),
  ]);
  assert.equal(m.compute.total.flops, m.distributed.ranks.reduce((s, r) => s + r.flops, 0) + 3);
  assert.equal(m.compute.rows.find((r) => r.op === 'matmul')!.flops, 100 + 200 + 300);
  assert.equal(m.cpuSeconds, 2 + 3 + 1);
  assert.deepEqual(m.distributed.bytesCommunicated, { sent: 3003, received: 6003 });
  assert.deepEqual([m.distributed.mode, m.distributed.staleness], ['async', 2]);
  assert.equal(m.distributed.ranks[2].energyJoules, null);
  assert.match(m.note, /Ranks 2 recorded no energy/);
  assert.match(m.note, /^Distributed run \(parameter-server, 3 ranks on 1 host\)/);
  // Rank 0 without energy (RunRecorder energy: false): the record has none either.
  const off = mergeCluster(info, [rank(0, 'h', null), rank(1, 'h', vmReport(4, 3))]);
  assert.equal(off.energy, null);
  assert.deepEqual(
    off.distributed.ranks.map((r) => r.energyJoules),
    [null, null],
  );
});

test('the distributed sub-schema accepts a merged record and rejects malformed ones', () => {
  const v = new JsonSchemaValidator(DISTRIBUTED_SCHEMA);
  const good = mergeCluster(info, [rank(0, 'h', vmReport(4, 2)), rank(1, 'h', vmReport(4, 3))]).distributed;
  assert.deepEqual(v.validate(JSON.parse(JSON.stringify(good))), []);
  const bad = (edit: (d: Record<string, any>) => void) => {
    const d = JSON.parse(JSON.stringify(good));
    edit(d);
    return v.validate(d).length;
  };
  assert.ok(bad((d) => (d.ranks[0].role = 'boss')));
  assert.ok(bad((d) => (d.strategy = 'model-parallel')));
  assert.ok(bad((d) => (d.ranks = [])));
  assert.ok(bad((d) => (d.bytesCommunicated.sent = -1)));
  assert.ok(bad((d) => delete d.ranks[1].flops));
  assert.ok(bad((d) => (d.hosts[0].extra = 1)));
  assert.ok(bad((d) => (d.worldSize = 0)));
});
