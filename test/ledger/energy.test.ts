// Energy and emissions: RAPL over a fake powercap tree (with a counter wrap) gives exact joules; the
// TDP fallback's arithmetic; CPU lookup; grid intensity and CO2e.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EnergyMeter,
  counterDeltaUj,
  cpuPower,
  estimateEnergy,
  lookupCpu,
  normalizeCpuModel,
  probeRapl,
  DEFAULT_TDP_WATTS,
} from '../../src/ledger/energy.js';
import { co2eGrams, gridIntensity, WORLD_AVERAGE } from '../../src/ledger/carbon.js';

const GiB = 2 ** 30;

function fakePowercap(): { root: string; set: (zone: string, uj: number) => void; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'candor-rapl-'));
  const zone = (name: string, label: string, uj: number, max: number) => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'name'), `${label}\n`);
    writeFileSync(join(root, name, 'energy_uj'), `${uj}\n`);
    writeFileSync(join(root, name, 'max_energy_range_uj'), `${max}\n`);
  };
  zone('intel-rapl:0', 'package-0', 262_143_000_000, 262_143_328_850);
  zone('intel-rapl:0:0', 'core', 7, 262_143_328_850); // inside the package: must not be added
  zone('intel-rapl:0:2', 'dram', 100, 65_712_999_613);
  zone('intel-rapl:1', 'psys', 5, 262_143_328_850); // the platform again: must not be added
  mkdirSync(join(root, 'intel-rapl')); // the control-type directory, not a zone
  return {
    root,
    set: (z, uj) => writeFileSync(join(root, z, 'energy_uj'), `${uj}\n`),
    done: () => rmSync(root, { recursive: true, force: true }),
  };
}

test('RAPL: package + DRAM joules across a counter wrap, exactly, x PUE; core and psys are not double-counted', () => {
  const fake = fakePowercap();
  try {
    const probe = probeRapl(fake.root);
    assert.deepEqual(
      probe.domains.map((d) => [d.zone, d.kind]),
      [
        ['intel-rapl:0', 'package'],
        ['intel-rapl:0:2', 'dram'],
      ],
    );
    let t = 0;
    const meter = new EnergyMeter({
      powercapRoot: fake.root,
      pue: 1.5,
      clock: () => t,
      cpuUsage: () => ({ user: 0, system: 0 }),
      memoryBytes: () => GiB,
    }).start();
    // The package counter wraps between start and the first sample: 328,850 uJ to the top, then 500,000.
    fake.set('intel-rapl:0', 500_000);
    fake.set('intel-rapl:0:2', 1_000_100);
    fake.set('intel-rapl:0:0', 999_999_999);
    fake.set('intel-rapl:1', 999_999_999);
    t = 1000;
    meter.sample();
    fake.set('intel-rapl:0', 2_828_850);
    fake.set('intel-rapl:0:2', 2_000_100);
    t = 2000;
    const r = meter.stop();
    const pkg = (328_850 + 500_000 + 2_328_850) / 1e6,
      dram = 2_000_000 / 1e6;
    assert.equal(r.method, 'rapl');
    assert.equal(r.measured, true);
    assert.equal(r.components.package, pkg);
    assert.equal(r.components.dram, dram);
    assert.equal(r.joules, (pkg + dram) * 1.5);
    assert.equal(r.kWh, r.joules / 3.6e6);
    assert.deepEqual(
      r.domains!.map((d) => [d.name, d.wraps]),
      [
        ['package-0', 1],
        ['dram', 0],
      ],
    );
    assert.equal(r.wallSeconds, 2);
    assert.match(r.description, /^Measured with RAPL/);
    assert.match(r.uncertainty.note, /upper bound/);
    assert.ok(r.uncertainty.low < r.joules && r.joules < r.uncertainty.high);
  } finally {
    fake.done();
  }
});

test('counterDeltaUj: plain increase and one wrap', () => {
  assert.equal(counterDeltaUj(10, 25, 100), 15);
  assert.equal(counterDeltaUj(90, 5, 100), 15);
  assert.equal(counterDeltaUj(7, 7, 100), 0);
});

test('no RAPL: auto falls back to the estimate and says why; method rapl refuses', () => {
  const missing = join(tmpdir(), 'candor-no-such-powercap');
  const probe = probeRapl(missing);
  assert.equal(probe.domains.length, 0);
  assert.match(probe.reason!, /does not exist/);
  const r = new EnergyMeter({ powercapRoot: missing }).start().stop();
  assert.equal(r.method, 'estimate');
  assert.equal(r.measured, false);
  assert.match(r.raplUnavailable!, /does not exist/);
  assert.throws(() => new EnergyMeter({ powercapRoot: missing, method: 'rapl' }).start(), /RAPL is unavailable/);
  // A zone whose counter cannot be read is skipped with the reason.
  const fake = fakePowercap();
  try {
    rmSync(join(fake.root, 'intel-rapl:0', 'energy_uj'));
    assert.match(probeRapl(fake.root).reason!, /intel-rapl:0\/energy_uj/);
  } finally {
    fake.done();
  }
});

test('fallback arithmetic: CPU time x W/thread + DRAM W/GiB x GiB x wall, x PUE; and CodeCarbon constant mode', () => {
  const e = estimateEnergy({
    cpuSeconds: 10,
    wallSeconds: 20,
    meanMemoryBytes: 2 * GiB,
    cpu: { tdpWatts: 100, wattsPerThread: 12.5 },
    dramWattsPerGiB: 0.375,
    pue: 1.2,
  });
  assert.equal(e.cpuJoules, 125);
  assert.equal(e.dramJoules, 15);
  assert.equal(e.itJoules, 140);
  assert.equal(e.joules, 168);
  assert.equal(e.codecarbonJoules, (20 * 0.5 * 100 + 15) * 1.2);
  assert.throws(
    () =>
      estimateEnergy({ cpuSeconds: -1, wallSeconds: 1, meanMemoryBytes: 0, cpu: { tdpWatts: 1, wattsPerThread: 1 } }),
    /cpuSeconds/,
  );
  assert.throws(
    () =>
      estimateEnergy({
        cpuSeconds: 1,
        wallSeconds: 1,
        meanMemoryBytes: 0,
        cpu: { tdpWatts: 1, wattsPerThread: 1 },
        pue: 0.9,
      }),
    /PUE/,
  );
});

function cpuinfoFile(text: string): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'candor-cpuinfo-'));
  writeFileSync(join(dir, 'cpuinfo'), text);
  return { path: join(dir, 'cpuinfo'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('EnergyMeter estimate: TDP from the table, injected clock / CPU time / memory give the exact figure', () => {
  const info = cpuinfoFile(
    'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz\nsiblings\t: 2\n',
  );
  try {
    let t = 0,
      cpu = { user: 1e6, system: 0 };
    const meter = new EnergyMeter({
      method: 'estimate',
      // The TDP path is bare metal's; without this the platform detected on the test machine (a VM here) would
      // pick the per-vCPU path (test/ledger/energy-platform.test.ts covers that one).
      platform: { kind: 'bare-metal', evidence: ['given by the test'] },
      cpuinfoPath: info.path,
      clock: () => t,
      cpuUsage: () => cpu,
      memoryBytes: () => GiB,
    }).start();
    t = 4000;
    cpu = { user: 9e6, system: 2e6 };
    const r = meter.stop();
    assert.equal(r.method, 'estimate');
    assert.equal(r.measured, false);
    assert.equal(r.cpuSeconds, 10);
    assert.equal(r.cpu.tdpWatts, 210);
    assert.equal(r.cpu.threadsPerPackage, 48, 'threads from the table, not the VM-sized siblings');
    assert.equal(r.cpu.wattsPerThread, 210 / 48);
    assert.equal(r.components.cpu, (10 * 210) / 48);
    assert.equal(r.components.dram, 4 * 1 * 0.375);
    assert.equal(r.joules, (10 * 210) / 48 + 1.5);
    assert.deepEqual([r.uncertainty.low, r.uncertainty.high], [r.joules / 2, r.joules * 2]);
    assert.match(r.description, /^Estimated, not measured/);
    assert.equal(r.codecarbonJoules, 4 * 0.5 * 210 + 1.5);
  } finally {
    info.done();
  }
});

test('CPU power: unknown model -> CodeCarbon default TDP over /proc/cpuinfo siblings; user overrides win', () => {
  const unknown = cpuPower({ model: 'AMD EPYC', logicalCpus: 2, threadsPerPackage: 2 });
  assert.equal(unknown.tdpWatts, DEFAULT_TDP_WATTS);
  assert.equal(unknown.wattsPerThread, DEFAULT_TDP_WATTS / 2);
  assert.match(unknown.tdpSource, /not in the table/);
  assert.match(unknown.threadsSource, /siblings/);
  assert.equal(cpuPower({ model: 'x', logicalCpus: 8 }).threadsPerPackage, 8);
  const user = cpuPower(
    { model: 'AMD EPYC 7763 64-Core Processor', logicalCpus: 2 },
    { tdpWatts: 200, threadsPerPackage: 100 },
  );
  assert.deepEqual([user.tdpWatts, user.threadsPerPackage, user.wattsPerThread, user.tdpSource], [200, 100, 2, 'user']);
  assert.equal(cpuPower({ model: 'x', logicalCpus: 1 }, { wattsPerThread: 3 }).wattsPerThread, 3);
  assert.throws(() => cpuPower({ model: 'x', logicalCpus: 1 }, { tdpWatts: -5 }), /tdpWatts/);
});

test('CPU lookup normalizes /proc/cpuinfo names and matches whole model numbers only', () => {
  assert.equal(normalizeCpuModel('Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz'), 'Intel Xeon E5-2680 v4');
  assert.equal(lookupCpu('Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz')?.tdpWatts, 120);
  assert.equal(lookupCpu('AMD EPYC 7763 64-Core Processor')?.threads, 128);
  assert.equal(lookupCpu('AMD Ryzen 9 5950X 16-Core Processor')?.tdpWatts, 105);
  assert.equal(lookupCpu('Intel(R) Core(TM) i9-10900K CPU @ 3.70GHz')?.tdpWatts, 125);
  assert.equal(lookupCpu('Intel(R) Core(TM) i9-10900KF CPU @ 3.70GHz'), undefined, 'KF is another part');
  assert.equal(lookupCpu('AMD EPYC 77631'), undefined);
  assert.equal(lookupCpu('AMD EPYC'), undefined);
});

test('grid intensity: world average by default, regions by ISO code, user figures with their source', () => {
  assert.equal(gridIntensity({}, {}), WORLD_AVERAGE);
  assert.equal(WORLD_AVERAGE.gPerKWh, 475);
  assert.equal(gridIntensity({ region: 'fr' }, {}).gPerKWh, 67.39);
  assert.equal(gridIntensity({ region: 'DEU' }, {}).name, 'Germany');
  assert.match(gridIntensity({ region: 'USA' }, {}).source, /CodeCarbon/);
  assert.equal(gridIntensity({}, { CANDOR_REGION: 'SE' }).region, 'SWE');
  const user = gridIntensity({}, { CANDOR_GRID_INTENSITY: '120', CANDOR_REGION: 'FR' });
  assert.deepEqual([user.region, user.gPerKWh, user.source], ['USER', 120, 'user (CANDOR_GRID_INTENSITY)']);
  assert.equal(gridIntensity({ gPerKWh: 30, source: 'my utility, 2024' }, {}).source, 'my utility, 2024');
  assert.throws(() => gridIntensity({ region: 'XX' }, {}), /no figure for region 'XX'/);
  assert.throws(() => gridIntensity({ gPerKWh: -1 }, {}), /non-negative/);
  assert.equal(co2eGrams(3.6e6, WORLD_AVERAGE), 475);
  assert.equal(co2eGrams(1.8e6, gridIntensity({ region: 'NO' }, {})), 27.55 / 2);
});
