// Energy of a run: measured from RAPL counters (/sys/class/powercap/intel-rapl*) where they can be
// read, otherwise estimated from the process's CPU time and the CPU's TDP plus DRAM power, times a PUE.
// The report always says which method was used and how uncertain it is; an estimate is never labelled
// a measurement.
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';

// ---- RAPL ----

/** One RAPL zone counted by Candor: a CPU package, or the DRAM attached to it. */
export interface RaplDomain {
  /** Directory name, e.g. 'intel-rapl:0' or 'intel-rapl:0:2'. */
  zone: string;
  /** The zone's `name` file: 'package-0', 'dram', ... */
  name: string;
  kind: 'package' | 'dram';
  path: string;
  /** The counter wraps to 0 after this many microjoules. */
  maxEnergyUj: number;
}

export interface RaplProbe {
  domains: RaplDomain[];
  /** Why RAPL cannot be used here, when `domains` is empty. */
  reason?: string;
}

export const DEFAULT_POWERCAP_ROOT = '/sys/class/powercap';

function readNumber(path: string): number {
  const v = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isFinite(v) || v < 0) throw new Error(`${path} does not hold a non-negative number`);
  return v;
}

/**
 * Finds the readable package and DRAM zones under `root`. Core, uncore and psys zones are skipped:
 * core and uncore lie inside the package's figure and psys covers the package again, so counting them
 * would count energy twice. AMD Zen CPUs appear under the same 'intel-rapl' driver.
 */
export function probeRapl(root = DEFAULT_POWERCAP_ROOT): RaplProbe {
  let entries: string[];
  try {
    entries = readdirSync(root)
      .filter((e) => /^intel-rapl:\d+(:\d+)*$/.test(e))
      .sort();
  } catch {
    return {
      domains: [],
      reason:
        `${root} does not exist (no powercap/RAPL interface: not Linux, a VM or container without it, ` +
        'or an unsupported CPU)',
    };
  }
  if (entries.length === 0) return { domains: [], reason: `${root} has no intel-rapl zones` };
  const domains: RaplDomain[] = [];
  const problems: string[] = [];
  for (const zone of entries) {
    const path = join(root, zone);
    let name: string;
    try {
      name = readFileSync(join(path, 'name'), 'utf8').trim();
    } catch {
      continue;
    }
    const kind = name.startsWith('package') ? 'package' : name === 'dram' ? 'dram' : undefined;
    if (!kind) continue;
    try {
      readNumber(join(path, 'energy_uj'));
      domains.push({ zone, name, kind, path, maxEnergyUj: readNumber(join(path, 'max_energy_range_uj')) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'EACCES'
          ? 'permission denied (energy_uj is root-only on kernels patched for CVE-2020-8694)'
          : (e as Error).message;
      problems.push(`${join(path, 'energy_uj')}: ${why}`);
    }
  }
  if (domains.some((d) => d.kind === 'package')) return { domains };
  return { domains: [], reason: problems.length ? problems.join('; ') : `${root} has no package zone` };
}

/** Microjoules between two readings of a counter that wraps to 0 after `maxUj` (at most one wrap). */
export function counterDeltaUj(previous: number, next: number, maxUj: number): number {
  return next >= previous ? next - previous : maxUj - previous + next;
}

/**
 * Accumulates the energy of RAPL domains across counter wraps. Call sample() more often than the
 * counter can wrap (minutes at full load; EnergyMeter samples at least every second during fit).
 */
export class RaplCounter {
  private readonly last: number[];
  private readonly totalUj: number[];
  /** Times each domain's counter wrapped. */
  readonly wraps: number[];

  constructor(readonly domains: readonly RaplDomain[]) {
    if (domains.length === 0) throw new ArgumentError('RaplCounter: no RAPL domains given');
    this.last = domains.map((d) => readNumber(join(d.path, 'energy_uj')));
    this.totalUj = domains.map(() => 0);
    this.wraps = domains.map(() => 0);
  }

  sample(): void {
    this.domains.forEach((d, i) => {
      const now = readNumber(join(d.path, 'energy_uj'));
      if (now < this.last[i]) this.wraps[i]++;
      this.totalUj[i] += counterDeltaUj(this.last[i], now, d.maxEnergyUj);
      this.last[i] = now;
    });
  }

  /** Joules per domain since construction (as of the last sample). */
  joules(): { zone: string; name: string; kind: 'package' | 'dram'; joules: number; wraps: number }[] {
    return this.domains.map((d, i) => ({
      zone: d.zone,
      name: d.name,
      kind: d.kind,
      joules: this.totalUj[i] / 1e6,
      wraps: this.wraps[i],
    }));
  }
}

// ---- CPU power from TDP ----

export interface CpuSpec {
  /** Model as it appears in /proc/cpuinfo once trademarks and clock are removed, e.g. 'AMD EPYC 7763'. */
  model: string;
  tdpWatts: number;
  /** Hardware threads per package. */
  threads: number;
}

/**
 * A small table of common CPUs. TDP from CodeCarbon's codecarbon/data/hardware/cpu_power.csv (which
 * CodeCarbon also uses); threads per package from the vendors' specifications.
 */
export const CPU_TABLE: readonly CpuSpec[] = (
  [
    ['AMD EPYC 7313', 155, 32],
    ['AMD EPYC 7452', 155, 64],
    ['AMD EPYC 7502', 180, 64],
    ['AMD EPYC 7543', 225, 64],
    ['AMD EPYC 7702', 200, 128],
    ['AMD EPYC 7713', 225, 128],
    ['AMD EPYC 7742', 225, 128],
    ['AMD EPYC 7763', 280, 128],
    ['AMD EPYC 7B12', 240, 128],
    ['AMD EPYC 7H12', 280, 128],
    ['AMD Ryzen 5 3600', 65, 12],
    ['AMD Ryzen 5 5600X', 65, 12],
    ['AMD Ryzen 7 3700X', 65, 16],
    ['AMD Ryzen 7 5800X', 105, 16],
    ['AMD Ryzen 9 3900X', 105, 24],
    ['AMD Ryzen 9 3950X', 105, 32],
    ['AMD Ryzen 9 5900X', 105, 24],
    ['AMD Ryzen 9 5950X', 105, 32],
    ['AMD Ryzen Threadripper 3990X', 280, 128],
    ['Intel Xeon Platinum 8171M', 165, 52],
    ['Intel Xeon Platinum 8180', 205, 56],
    ['Intel Xeon Platinum 8259CL', 210, 48],
    ['Intel Xeon Platinum 8260', 165, 48],
    ['Intel Xeon Platinum 8280', 205, 56],
    ['Intel Xeon Gold 6154', 200, 36],
    ['Intel Xeon Silver 4116', 85, 24],
    ['Intel Xeon E5-2673 v3', 110, 24],
    ['Intel Xeon E5-2680 v4', 120, 28],
    ['Intel Xeon E5-2690 v2', 130, 20],
    ['Intel Xeon W-2195', 140, 36],
    ['Intel Xeon W-3175X', 255, 56],
    ['Intel Core i5-1135G7', 28, 8],
    ['Intel Core i5-8250U', 15, 8],
    ['Intel Core i5-9600K', 95, 6],
    ['Intel Core i7-1165G7', 28, 8],
    ['Intel Core i7-7700K', 91, 8],
    ['Intel Core i7-8700K', 95, 12],
    ['Intel Core i7-9700K', 95, 8],
    ['Intel Core i7-9750H', 45, 12],
    ['Intel Core i7-10750H', 45, 12],
    ['Intel Core i9-9900K', 95, 16],
    ['Intel Core i9-10900K', 125, 20],
    ['Intel Core i9-11900K', 125, 16],
  ] as [string, number, number][]
).map(([model, tdpWatts, threads]) => ({ model, tdpWatts, threads }));

/** CodeCarbon's TDP for a CPU it does not know. */
export const DEFAULT_TDP_WATTS = 85;
/** CodeCarbon's constant-mode assumption: a CPU it cannot measure draws half its TDP. */
export const CODECARBON_TDP_FRACTION = 0.5;
/** CodeCarbon's DRAM power: 3 W per 8 GB, i.e. 0.375 W per GB (applied here per GiB of resident memory). */
export const DRAM_WATTS_PER_GIB = 0.375;
/** carbontracker's data-centre PUE (Uptime Institute's 2018 global average); Candor's default is 1.0. */
export const DATA_CENTRE_PUE = 1.58;

/** 'Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz' -> 'Intel Xeon E5-2680 v4'. */
export function normalizeCpuModel(model: string): string {
  return model
    .replace(/\((R|TM|tm|r)\)/g, '')
    .replace(/@.*$/, '')
    .replace(/\b(CPU|Processor|\d+-Core)\b/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The table entry whose model name appears (as whole words) in `model`, the longest when several do. */
export function lookupCpu(model: string, table: readonly CpuSpec[] = CPU_TABLE): CpuSpec | undefined {
  const name = normalizeCpuModel(model);
  const hits = table.filter((c) => new RegExp(`(^|\\s)${escapeRe(c.model)}(?![\\w-])`, 'i').test(name));
  return hits.sort((a, b) => b.model.length - a.model.length)[0];
}

export interface CpuInfo {
  model: string;
  /** Logical CPUs this process can see. */
  logicalCpus: number;
  /** Hardware threads per package as /proc/cpuinfo reports them ('siblings'), when it does. */
  threadsPerPackage?: number;
}

/** CPU model and thread counts from /proc/cpuinfo (or node:os where it is missing). */
export function readCpuInfo(cpuinfoPath = '/proc/cpuinfo'): CpuInfo {
  const logicalCpus = cpus().length || 1;
  let text = '';
  try {
    text = readFileSync(cpuinfoPath, 'utf8');
  } catch {
    // not Linux: fall back on node:os below
  }
  const field = (key: string) => new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  const model = field('model name') ?? field('Processor') ?? cpus()[0]?.model ?? 'unknown CPU';
  const siblings = Number(field('siblings'));
  return { model, logicalCpus, ...(Number.isInteger(siblings) && siblings > 0 ? { threadsPerPackage: siblings } : {}) };
}

export interface CpuPower {
  model: string;
  tdpWatts: number;
  threadsPerPackage: number;
  /** TDP / threads: the draw attributed to one busy hardware thread. */
  wattsPerThread: number;
  /** Where the TDP came from. */
  tdpSource: string;
  /** Where the thread count came from. */
  threadsSource: string;
}

export interface CpuPowerOptions {
  /** Your CPU's TDP in watts (overrides the table). */
  tdpWatts?: number;
  /** Hardware threads per package (overrides the table and /proc/cpuinfo). */
  threadsPerPackage?: number;
  /** Watts per busy hardware thread (overrides everything above). */
  wattsPerThread?: number;
}

function positive(what: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0))
    throw new ArgumentError(`energy: ${what} must be a positive number, got ${v}`);
}

/** The per-thread power figure and where each part of it came from. */
export function cpuPower(info: CpuInfo, options: CpuPowerOptions = {}): CpuPower {
  positive('tdpWatts', options.tdpWatts);
  positive('threadsPerPackage', options.threadsPerPackage);
  positive('wattsPerThread', options.wattsPerThread);
  const spec = lookupCpu(info.model);
  const [tdpWatts, tdpSource] =
    options.tdpWatts !== undefined
      ? [options.tdpWatts, 'user']
      : spec
        ? [spec.tdpWatts, `table (${spec.model}; CodeCarbon cpu_power.csv)`]
        : [
            DEFAULT_TDP_WATTS,
            `default: '${info.model}' is not in the table; CodeCarbon's ${DEFAULT_TDP_WATTS} W for unknown CPUs`,
          ];
  const [threadsPerPackage, threadsSource] =
    options.threadsPerPackage !== undefined
      ? [options.threadsPerPackage, 'user']
      : spec
        ? [spec.threads, `table (${spec.model})`]
        : info.threadsPerPackage !== undefined
          ? [info.threadsPerPackage, "/proc/cpuinfo 'siblings' (in a VM: the VM's vCPUs, not the host package)"]
          : [info.logicalCpus, 'logical CPUs visible to Node'];
  const wattsPerThread = options.wattsPerThread ?? tdpWatts / threadsPerPackage;
  return {
    model: info.model,
    tdpWatts,
    threadsPerPackage,
    wattsPerThread,
    tdpSource: options.wattsPerThread !== undefined ? 'user (watts per thread)' : tdpSource,
    threadsSource,
  };
}

// ---- The estimate ----

export interface EstimateInput {
  /** User + system CPU seconds of the process (process.cpuUsage). */
  cpuSeconds: number;
  wallSeconds: number;
  /** Mean resident memory of the process over the run, in bytes. */
  meanMemoryBytes: number;
  cpu: Pick<CpuPower, 'tdpWatts' | 'wattsPerThread'>;
  dramWattsPerGiB?: number;
  pue?: number;
}

export interface Estimate {
  cpuJoules: number;
  dramJoules: number;
  /** cpu + dram: the IT equipment's energy, before PUE. */
  itJoules: number;
  /** itJoules x PUE. */
  joules: number;
  /** CodeCarbon's constant mode for comparison: the whole CPU at 50% of TDP for the wall time, + DRAM, x PUE. */
  codecarbonJoules: number;
}

/** The fallback arithmetic: CPU time x watts per thread + DRAM W/GiB x GiB x wall time, all x PUE. */
export function estimateEnergy({
  cpuSeconds,
  wallSeconds,
  meanMemoryBytes,
  cpu,
  dramWattsPerGiB = DRAM_WATTS_PER_GIB,
  pue = 1,
}: EstimateInput): Estimate {
  for (const [k, v] of Object.entries({ cpuSeconds, wallSeconds, meanMemoryBytes, dramWattsPerGiB })) {
    if (!(Number.isFinite(v) && v >= 0))
      throw new ArgumentError(`estimateEnergy: ${k} must be a non-negative number, got ${v}`);
  }
  checkPue(pue);
  const cpuJoules = cpuSeconds * cpu.wattsPerThread;
  const dramJoules = wallSeconds * (meanMemoryBytes / 2 ** 30) * dramWattsPerGiB;
  const itJoules = cpuJoules + dramJoules;
  return {
    cpuJoules,
    dramJoules,
    itJoules,
    joules: itJoules * pue,
    codecarbonJoules: (wallSeconds * CODECARBON_TDP_FRACTION * cpu.tdpWatts + dramJoules) * pue,
  };
}

function checkPue(pue: number): void {
  if (!(Number.isFinite(pue) && pue >= 1)) throw new ArgumentError(`energy: PUE must be a number >= 1, got ${pue}`);
}

// ---- The meter ----

export type EnergyMethod = 'rapl' | 'estimate';

export interface EnergyOptions extends CpuPowerOptions {
  /** 'auto' (default): RAPL when readable, else the estimate. */
  method?: 'auto' | EnergyMethod;
  /** Power usage effectiveness of the facility (default 1.0; carbontracker uses 1.58 for data centres). */
  pue?: number;
  dramWattsPerGiB?: number;
  /** Injectable for tests. */
  powercapRoot?: string;
  cpuinfoPath?: string;
  clock?: () => number;
  cpuUsage?: () => { user: number; system: number };
  memoryBytes?: () => number;
}

export interface EnergyReport {
  method: EnergyMethod;
  /** True only for RAPL counters; an estimate is never a measurement. */
  measured: boolean;
  /** One sentence saying what the figure is. */
  description: string;
  /** Total energy including PUE. */
  joules: number;
  kWh: number;
  pue: number;
  /** Energy before PUE, by component. */
  components: { cpu?: number; package?: number; dram?: number };
  uncertainty: { low: number; high: number; note: string };
  wallSeconds: number;
  cpuSeconds: number;
  meanMemoryBytes: number;
  /** The per-thread CPU power used (estimate) or the CPU seen (both). */
  cpu: CpuPower;
  dramWattsPerGiB: number;
  /** RAPL zones read, with wraps seen. */
  domains?: { zone: string; name: string; kind: 'package' | 'dram'; joules: number; wraps: number }[];
  /** Why RAPL was not used, when it was not. */
  raplUnavailable?: string;
  /** CodeCarbon's constant-mode figure for the same run, for comparison (an estimate too). */
  codecarbonJoules: number;
  /** How the process's energy was attributed to the run (see apportionEnergy). */
  attribution?: EnergyAttribution;
}

/**
 * The run's share of the process's energy. RAPL and CPU time see the whole process (RAPL the whole
 * machine), not one run; when other kernels ran in the process during the run (concurrent fits), the
 * figures are scaled by the run's share of the kernel time.
 */
export interface EnergyAttribution {
  /** 'process': nothing else ran kernels meanwhile, the figures are the process's; 'kernel-time share': scaled. */
  method: 'process' | 'kernel-time share';
  /** The factor applied to the process's figures (1 for 'process'). */
  share: number;
  /** Kernel milliseconds of this run and of the whole process during the run. */
  runKernelMs: number;
  processKernelMs: number;
  note: string;
}

/**
 * Attributes a process's energy to one run by its share of the kernel time (runKernelMs of
 * processKernelMs, both over the run). Kernels of concurrent fits in one process do not overlap (each
 * runs synchronously on the JS thread), so kernel time splits the busy compute; time outside kernels
 * (JS work, idle, DRAM) is split in the same ratio, an approximation the note states. With no foreign
 * kernel the report is returned with attribution 'process' and unscaled figures. A scaled figure is
 * never labelled measured: RAPL measured the machine, the share is an estimate.
 */
export function apportionEnergy(report: EnergyReport, runKernelMs: number, processKernelMs: number): EnergyReport {
  const foreign = processKernelMs - runKernelMs;
  if (!(foreign > 1e-9 * Math.max(1, processKernelMs)))
    return {
      ...report,
      attribution: {
        method: 'process',
        share: 1,
        runKernelMs,
        processKernelMs,
        note: "No other kernel ran in this process during the run: the figures are the whole process's.",
      },
    };
  const share = Math.min(1, Math.max(0, runKernelMs / processKernelMs));
  const scale = (v: number | undefined) => (v === undefined ? undefined : v * share);
  const components = Object.fromEntries(
    Object.entries(report.components).map(([k, v]) => [k, scale(v)]),
  ) as EnergyReport['components'];
  const joules = report.joules * share;
  return {
    ...report,
    measured: false,
    description:
      `${report.description} Other work ran kernels in this process during the run, so this run is ` +
      `attributed ${(share * 100).toFixed(1)}% of those figures, its share of the kernel time.`,
    joules,
    kWh: joules / 3.6e6,
    components,
    uncertainty: {
      low: report.uncertainty.low * share,
      high: report.uncertainty.high * share,
      note:
        `${report.uncertainty.note} Apportioned by kernel time: work outside kernels (JS, idle power, ` +
        'DRAM) is split in the same ratio, which adds uncertainty not in this range.',
    },
    codecarbonJoules: report.codecarbonJoules * share,
    attribution: {
      method: 'kernel-time share',
      share,
      runKernelMs,
      processKernelMs,
      note:
        `Concurrent work in this process: ${foreign.toFixed(1)} ms of other kernels beside this run's ` +
        `${runKernelMs.toFixed(1)} ms. Joules, components, uncertainty and the CodeCarbon figure are scaled ` +
        "by the share; cpuSeconds, wallSeconds and RAPL domains are the process's.",
    },
  };
}

/** Factor by which the TDP estimate may be off either way (TDP is a design limit, not a measured draw). */
export const ESTIMATE_UNCERTAINTY_FACTOR = 2;
/** Relative error of RAPL package energy against wall-plug meters on recent CPUs, as usually reported. */
export const RAPL_RELATIVE_UNCERTAINTY = 0.05;

/**
 * Measures (RAPL) or estimates the energy between start() and stop(). sample() keeps RAPL counters from
 * wrapping twice unseen and samples memory; call it periodically (RunRecorder does, at most once a second).
 */
export class EnergyMeter {
  private readonly options: EnergyOptions;
  private rapl?: RaplCounter;
  private raplUnavailable?: string;
  private t0 = 0;
  private cpu0 = { user: 0, system: 0 };
  private memSum = 0;
  private memCount = 0;
  private started = false;

  constructor(options: EnergyOptions = {}) {
    if (options.method !== undefined && !['auto', 'rapl', 'estimate'].includes(options.method))
      throw new ArgumentError(`EnergyMeter: method must be auto, rapl or estimate, got '${options.method}'`);
    checkPue(options.pue ?? 1);
    this.options = options;
  }

  private now(): number {
    return (this.options.clock ?? performance.now.bind(performance))();
  }
  private cpuNow(): { user: number; system: number } {
    return (this.options.cpuUsage ?? process.cpuUsage)();
  }
  private memoryNow(): number {
    return (this.options.memoryBytes ?? (() => process.memoryUsage().rss))();
  }

  start(): this {
    const method = this.options.method ?? 'auto';
    if (method !== 'estimate') {
      const probe = probeRapl(this.options.powercapRoot);
      if (probe.domains.length > 0) this.rapl = new RaplCounter(probe.domains);
      else if (method === 'rapl')
        throw new ArgumentError(`EnergyMeter: method 'rapl' was requested but RAPL is unavailable: ${probe.reason}`);
      else this.raplUnavailable = probe.reason;
    } else {
      this.raplUnavailable = 'not attempted (method: estimate)';
    }
    this.t0 = this.now();
    this.cpu0 = this.cpuNow();
    this.memSum = this.memoryNow();
    this.memCount = 1;
    this.started = true;
    return this;
  }

  sample(): void {
    if (!this.started) return;
    this.rapl?.sample();
    this.memSum += this.memoryNow();
    this.memCount++;
  }

  stop(): EnergyReport {
    const report = this.current('stop');
    this.started = false;
    return report;
  }

  /** The report from start() to now, while the meter keeps running (per-epoch figures read it). */
  current(op = 'current'): EnergyReport {
    if (!this.started) throw new ArgumentError(`EnergyMeter: ${op}() before start()`);
    this.sample();
    const wallSeconds = (this.now() - this.t0) / 1000;
    const c = this.cpuNow();
    const cpuSeconds = (c.user - this.cpu0.user + c.system - this.cpu0.system) / 1e6;
    const meanMemoryBytes = this.memSum / this.memCount;
    const pue = this.options.pue ?? 1;
    const dramWattsPerGiB = this.options.dramWattsPerGiB ?? DRAM_WATTS_PER_GIB;
    const cpu = cpuPower(readCpuInfo(this.options.cpuinfoPath), this.options);
    const estimate = estimateEnergy({ cpuSeconds, wallSeconds, meanMemoryBytes, cpu, dramWattsPerGiB, pue });
    const common = {
      pue,
      wallSeconds,
      cpuSeconds,
      meanMemoryBytes,
      cpu,
      dramWattsPerGiB,
      codecarbonJoules: estimate.codecarbonJoules,
    };
    if (this.rapl) {
      const domains = this.rapl.joules();
      const pkg = domains.filter((d) => d.kind === 'package').reduce((s, d) => s + d.joules, 0);
      const dram = domains.filter((d) => d.kind === 'dram').reduce((s, d) => s + d.joules, 0);
      const joules = (pkg + dram) * pue;
      return {
        method: 'rapl',
        measured: true,
        description:
          `Measured with RAPL energy counters (${domains.map((d) => d.name).join(', ')})` +
          `${pue !== 1 ? `, times PUE ${pue}` : ''}. The counters cover the whole CPU package(s) and DRAM, so ` +
          'they include idle power and any other process running meanwhile.',
        joules,
        kWh: joules / 3.6e6,
        components: { package: pkg, ...(domains.some((d) => d.kind === 'dram') ? { dram } : {}) },
        uncertainty: {
          low: joules * (1 - RAPL_RELATIVE_UNCERTAINTY),
          high: joules * (1 + RAPL_RELATIVE_UNCERTAINTY),
          note:
            `RAPL is typically within ±${RAPL_RELATIVE_UNCERTAINTY * 100}% of wall-plug meters for package ` +
            "energy; the figure is an upper bound on this process's share when other work ran on the machine; " +
            'power supply losses are not included.',
        },
        domains,
        ...common,
      };
    }
    const f = ESTIMATE_UNCERTAINTY_FACTOR;
    return {
      method: 'estimate',
      measured: false,
      description:
        `Estimated, not measured: CPU time ${cpuSeconds.toFixed(2)} s x ${cpu.wattsPerThread.toFixed(2)} W per ` +
        `hardware thread (TDP ${cpu.tdpWatts} W / ${cpu.threadsPerPackage} threads) + DRAM ${dramWattsPerGiB} ` +
        `W/GiB x mean resident memory, x PUE ${pue}.`,
      joules: estimate.joules,
      kWh: estimate.joules / 3.6e6,
      components: { cpu: estimate.cpuJoules, dram: estimate.dramJoules },
      uncertainty: {
        low: estimate.joules / f,
        high: estimate.joules * f,
        note:
          `Could be off by a factor of ${f} either way: TDP is a design limit, not a measured draw; real draw ` +
          'varies with load, clock, SMT and idle power, which this estimate leaves out. ' +
          "CodeCarbon's constant mode (50% of TDP for the whole run) gives " +
          `${(estimate.codecarbonJoules / 3.6e3).toFixed(4)} Wh for comparison.`,
      },
      raplUnavailable: this.raplUnavailable,
      ...common,
    };
  }
}
