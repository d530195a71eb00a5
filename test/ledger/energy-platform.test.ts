// Energy on virtual machines and containers: platform detection over fake /proc and /sys trees, the per-vCPU
// estimate against a hand computation from the table, its range, bare metal's TDP path and cgroup quotas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EnergyMeter, lookupCpu, readCpuInfo, vcpuPowerRange } from '../../src/ledger/energy.js';
import { cgroupCpuQuota, detectPlatform } from '../../src/ledger/platform.js';
import { CPU_TABLE, VCPU_POWER_TABLE, cpuGeneration } from '../../src/ledger/cpu-power-table.js';
import { RUN_RECORD_SCHEMA } from '../../src/ledger/run-record-schema.js';
import { JsonSchemaValidator } from '../../src/ledger/json-schema.js';

const GiB = 2 ** 30;

/** A fake filesystem root: { 'proc/cpuinfo': text, ... }; returns its path and a cleanup. */
function fakeRoot(files: Record<string, string>): { root: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'candor-root-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

/** /proc/cpuinfo with `n` processors of this model (and cpuid family / model numbers), with or without the flag. */
function cpuinfo(model: string, n: number, o: { vendor: string; family: number; model: number; vm: boolean }): string {
  const flags = `fpu vme de pse tsc msr sse sse2 ht syscall nx lm avx avx2${o.vm ? ' hypervisor' : ''} lahf_lm`;
  return Array.from(
    { length: n },
    (_, i) =>
      `processor\t: ${i}\nvendor_id\t: ${o.vendor}\ncpu family\t: ${o.family}\nmodel\t\t: ${o.model}\n` +
      `model name\t: ${model}\nsiblings\t: ${n}\nflags\t\t: ${flags}\n`,
  ).join('\n');
}

/** A meter over `root` whose clock, CPU time and memory are set by the test: 2 s wall, 3 s CPU, 1 GiB. */
function runMeter(root: string, extra: Record<string, unknown> = {}) {
  let t = 0,
    cpu = { user: 0, system: 0 };
  const meter = new EnergyMeter({
    root,
    clock: () => t,
    cpuUsage: () => cpu,
    memoryBytes: () => GiB,
    ...extra,
  }).start();
  t = 2000;
  cpu = { user: 2.5e6, system: 0.5e6 };
  return meter.stop();
}

const KVM_EPYC = {
  // A KVM guest on a Rome host that hides the model name, as many clouds do; cpu family 23 model 49 is Rome.
  'proc/cpuinfo': cpuinfo('AMD EPYC', 2, { vendor: 'AuthenticAMD', family: 23, model: 49, vm: true }),
  'sys/class/dmi/id/sys_vendor': 'QEMU\n',
  'sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n',
  'proc/1/cgroup': '0::/init.scope\n',
};

test('platform: a KVM guest is a virtual machine, named by its DMI vendor, with the evidence listed', () => {
  const fake = fakeRoot(KVM_EPYC);
  try {
    const p = detectPlatform(fake.root);
    assert.equal(p.kind, 'virtual-machine');
    assert.equal(p.hypervisor, 'QEMU');
    assert.equal(p.container, undefined);
    assert.equal(p.cpuQuota, undefined);
    assert.ok(p.evidence.some((e) => /'hypervisor'/.test(e)));
    assert.ok(p.evidence.some((e) => e === "/sys/class/dmi/id/sys_vendor = 'QEMU'"));
  } finally {
    fake.done();
  }
});

test('VM energy: 2-vCPU EPYC guest, figure and range equal the hand computation from the per-vCPU table', () => {
  const fake = fakeRoot(KVM_EPYC);
  try {
    const r = runMeter(fake.root);
    assert.equal(r.platform.kind, 'virtual-machine');
    assert.equal(r.method, 'estimate');
    assert.equal(r.measured, false);
    // By hand, from Cloud Carbon Footprint's table: Rome (EPYC 2nd Gen) 0.47 W idle, 1.69 W full load per vCPU;
    // energy = vCPUs x wall x min + CPU time x (max - min) + DRAM 0.375 W/GiB x 1 GiB x wall.
    const rome = VCPU_POWER_TABLE.find((v) => v.generation === 'epyc-2')!;
    assert.deepEqual([rome.minWatts, rome.maxWatts], [0.47, 1.69]);
    const dram = 2 * 1 * 0.375;
    const byHand = 2 * 2 * 0.47 + 3 * (1.69 - 0.47) + dram;
    assert.ok(Math.abs(r.joules - byHand) < 1e-12, `${r.joules} vs ${byHand}`);
    assert.equal(r.vcpu?.vcpus, 2);
    assert.equal(r.vcpu?.utilization, 3 / (2 * 2));
    // Low: the lowest AMD idle (3rd Gen 0.45) and full-load (2nd Gen 1.69) figures. High: the highest AMD idle
    // figure (1st Gen 0.82) and the highest of the full-load figures (1st Gen 2.55) and the TDP per thread of the
    // table's Rome parts (EPYC 7502: 180 W / 64 threads = 2.8125 W).
    const low = 2 * 2 * 0.45 + 3 * (1.69 - 0.45) + dram;
    const high = 2 * 2 * 0.82 + 3 * (180 / 64 - 0.82) + dram;
    assert.ok(Math.abs(r.uncertainty.low - low) < 1e-12, `${r.uncertainty.low} vs ${low}`);
    assert.ok(Math.abs(r.uncertainty.high - high) < 1e-12, `${r.uncertainty.high} vs ${high}`);
    assert.ok(r.uncertainty.low <= byHand && byHand <= r.uncertainty.high, 'the range contains the figure');
    // The old estimate (CodeCarbon's 85 W default TDP over the 2 visible threads) lies far above the range.
    assert.ok((85 / 2) * 3 > 5 * r.uncertainty.high);
    // Every assumption is listed, with its source.
    const text = r.assumptions.join('\n');
    assert.match(text, /AMD EPYC 2nd Gen/);
    assert.match(text, /github\.com\/cloud-carbon-footprint/);
    assert.match(text, /min \+ utilisation x \(max - min\)/);
    assert.match(text, /0\.375 W per GiB/);
    assert.match(text, /PUE 1\.0/);
    assert.match(text, /RAPL is usually absent/);
    assert.match(r.description, /^Estimated, not measured, for a virtual machine/);
  } finally {
    fake.done();
  }
});

test('VM energy: the record validates with platform, assumptions and vcpu; a cgroup quota caps the vCPUs', () => {
  const fake = fakeRoot({ ...KVM_EPYC, 'sys/fs/cgroup/cpu.max': '100000 100000\n' });
  try {
    const r = runMeter(fake.root);
    assert.equal(r.platform.cpuQuota, 1);
    assert.equal(r.vcpu?.vcpus, 1, 'min(quota 1, 2 visible)');
    assert.equal(r.vcpu?.utilization, 1, 'CPU time above wall x vCPUs is clamped');
    // The report as the run record keeps it validates against the record's energy schema.
    const defs = (RUN_RECORD_SCHEMA as { $defs: Record<string, unknown> }).$defs;
    new JsonSchemaValidator({ $ref: '#/$defs/energy', $defs: defs }).assert(JSON.parse(JSON.stringify(r)), 'energy');
  } finally {
    fake.done();
  }
});

test('VM energy: CPU time above vCPUs x wall is charged at full load; the range still brackets the figure', () => {
  // 3 s of CPU time in 2 s of wall time on the 1 vCPU a cgroup quota allows (threads the quota does not bound):
  // unclamped, Rome's figure (0.47-1.69 W) fell below the low end (0.45-1.69 W), whose idle part is lower.
  const fake = fakeRoot({ ...KVM_EPYC, 'sys/fs/cgroup/cpu.max': '100000 100000\n' });
  try {
    const r = runMeter(fake.root);
    assert.equal(r.vcpu?.vcpus, 1);
    const dram = 2 * 1 * 0.375;
    // By hand: 1 vCPU x 2 s at full load (the busy time is min(3 s, 1 x 2 s) = 2 s) + DRAM.
    const at = (min: number, max: number) => 1 * 2 * min + 2 * (max - min) + dram;
    assert.ok(Math.abs(r.joules - at(0.47, 1.69)) < 1e-12, `${r.joules} vs ${at(0.47, 1.69)}`);
    assert.ok(Math.abs(r.uncertainty.low - at(0.45, 1.69)) < 1e-12);
    assert.ok(Math.abs(r.uncertainty.high - at(0.82, 180 / 64)) < 1e-12);
    assert.ok(r.uncertainty.low <= r.joules && r.joules <= r.uncertainty.high, JSON.stringify(r.uncertainty));
  } finally {
    fake.done();
  }
});

test('bare metal with a known CPU uses its TDP per thread from the table, with the source named', () => {
  const fake = fakeRoot({
    'proc/cpuinfo': cpuinfo('Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz', 4, {
      vendor: 'GenuineIntel',
      family: 6,
      model: 106,
      vm: false,
    }),
    'sys/class/dmi/id/sys_vendor': 'Dell Inc.\n',
    'sys/class/dmi/id/product_name': 'PowerEdge R750\n',
  });
  try {
    const r = runMeter(fake.root);
    assert.equal(r.platform.kind, 'bare-metal');
    assert.equal(r.vcpu, undefined);
    assert.equal(r.cpu.tdpWatts, 270);
    assert.equal(r.cpu.threadsPerPackage, 80);
    assert.match(r.cpu.tdpSource, /ark\.intel\.com/);
    assert.ok(Math.abs(r.joules - (3 * 270) / 80 - 2 * 0.375) < 1e-12);
    assert.deepEqual([r.uncertainty.low, r.uncertainty.high], [r.joules / 2, r.joules * 2]);
    assert.ok(r.assumptions.some((a) => /TDP 270 W/.test(a)));
  } finally {
    fake.done();
  }
});

test('containers: /.dockerenv and cgroup v2 cpu.max; podman; kubernetes with cgroup v1 cfs quota', () => {
  const bare = cpuinfo('AMD Ryzen 9 7950X 16-Core Processor', 4, {
    vendor: 'AuthenticAMD',
    family: 25,
    model: 97,
    vm: false,
  });
  const docker = fakeRoot({
    'proc/cpuinfo': bare,
    '.dockerenv': '',
    'proc/self/cgroup': '0::/\n',
    'sys/fs/cgroup/cpu.max': '150000 100000\n',
    'proc/self/mountinfo': '500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/x\n',
  });
  const podman = fakeRoot({ 'proc/cpuinfo': bare, 'run/.containerenv': '', 'sys/fs/cgroup/cpu.max': 'max 100000\n' });
  const k8s = fakeRoot({
    'proc/cpuinfo': bare,
    'proc/1/cgroup': '12:cpu,cpuacct:/kubepods/burstable/pod1/abc\n',
    'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n',
    'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
  });
  try {
    const d = detectPlatform(docker.root);
    assert.deepEqual([d.kind, d.container, d.cpuQuota], ['container', 'docker', 1.5]);
    assert.ok(d.evidence.some((e) => /overlay/.test(e)));
    const r = runMeter(docker.root);
    assert.equal(r.cpu.tdpWatts, 170, 'a container on bare metal keeps the TDP path');
    assert.ok(r.assumptions.some((a) => /cgroup quota allows 1\.5 CPUs/.test(a)));
    const p = detectPlatform(podman.root);
    assert.deepEqual([p.kind, p.container, p.cpuQuota], ['container', 'podman', undefined]);
    const k = detectPlatform(k8s.root);
    assert.deepEqual([k.kind, k.container, k.cpuQuota], ['container', 'kubernetes', 0.5]);
    assert.equal(cgroupCpuQuota(k8s.root)?.cpus, 0.5);
  } finally {
    docker.done();
    podman.done();
    k8s.done();
  }
});

test('a VM in a container (this kind of machine): hypervisor flag + /.dockerenv; no /proc at all is unknown', () => {
  const fake = fakeRoot({
    'proc/cpuinfo': cpuinfo('AMD EPYC', 2, { vendor: 'AuthenticAMD', family: 26, model: 2, vm: true }),
    '.dockerenv': '',
  });
  const empty = fakeRoot({});
  try {
    const p = detectPlatform(fake.root);
    assert.deepEqual([p.kind, p.hypervisor, p.container], ['virtual-machine', undefined, 'docker']);
    // Zen 5 has no published per-vCPU figure: the mean of the AMD figures, and the range spans all of them
    // up to the TDP per thread of the table's Zen 5 server parts.
    const range = vcpuPowerRange(readCpuInfo(join(fake.root, 'proc/cpuinfo')));
    assert.ok(Math.abs(range.central.minWatts - (0.82 + 0.47 + 0.45) / 3) < 1e-12);
    assert.ok(Math.abs(range.central.maxWatts - (2.55 + 1.69 + 2.02) / 3) < 1e-12);
    assert.match(range.central.basis, /none is published for epyc-5/);
    const zen5 = CPU_TABLE.filter((c) => c.generation === 'epyc-5').map((c) => c.tdpWatts / c.threads);
    assert.equal(range.high.maxWatts, Math.max(...zen5));
    assert.equal(range.low.minWatts, 0.45);
    const u = detectPlatform(empty.root);
    assert.equal(u.kind, 'unknown');
  } finally {
    fake.done();
    empty.done();
  }
});

test('microarchitecture from model names and cpuid numbers; the extended CPU table', () => {
  const gen = (model: string, family?: number, modelNumber?: number, vendorId?: string) =>
    cpuGeneration({ model, family, modelNumber, vendorId });
  assert.equal(gen('AMD EPYC 7B12 64-Core Processor'), 'epyc-2');
  assert.equal(gen('AMD EPYC 7R13 Processor'), 'epyc-3');
  assert.equal(gen('AMD EPYC 9654 96-Core Processor'), 'epyc-4');
  assert.equal(gen('AMD EPYC 9R45'), 'epyc-5');
  assert.equal(gen('Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz'), 'cascade-lake');
  assert.equal(gen('Intel(R) Xeon(R) Gold 6154 CPU'), 'skylake');
  assert.equal(gen('Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz'), 'ice-lake');
  assert.equal(gen('Intel(R) Xeon(R) Platinum 8488C'), 'sapphire-rapids');
  assert.equal(gen('Intel(R) Xeon(R) Platinum 8592+'), 'emerald-rapids');
  assert.equal(gen('Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz'), 'broadwell');
  assert.equal(gen('Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz'), 'sandy-bridge');
  assert.equal(gen('AMD EPYC', 25, 1, 'AuthenticAMD'), 'epyc-3');
  assert.equal(gen('AMD EPYC', 25, 17, 'AuthenticAMD'), 'epyc-4');
  assert.equal(gen('Intel Xeon Processor (Icelake)', 6, 106, 'GenuineIntel'), 'ice-lake');
  assert.equal(gen('AMD Ryzen 9 7950X'), undefined);
  assert.equal(lookupCpu('AMD EPYC 9654 96-Core Processor')?.threads, 192);
  assert.equal(lookupCpu('Intel(R) Xeon(R) Platinum 8480+')?.tdpWatts, 350);
  assert.equal(lookupCpu('13th Gen Intel(R) Core(TM) i9-13900K')?.threads, 32);
  for (const c of CPU_TABLE) assert.ok(c.source.length > 20 && c.tdpWatts > 0 && c.threads > 0, c.model);
  for (const v of VCPU_POWER_TABLE) assert.ok(v.minWatts < v.maxWatts && /https:\/\//.test(v.source), v.name);
});
