// Energy of a run: measured from RAPL counters (/sys/class/powercap/intel-rapl*) where they can be
// read, otherwise estimated: on a virtual machine from published per-vCPU watts (Cloud Carbon Footprint's,
// idle to full load at the utilisation seen), elsewhere from the process's CPU time and the CPU's TDP; plus
// DRAM power, times a PUE. The report always says which method was used, on which platform, how uncertain
// it is and every assumption it rests on; an estimate is never labelled a measurement.
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';
import {
  CPU_TABLE,
  VCPU_POWER_AVERAGE,
  VCPU_POWER_TABLE,
  cpuGeneration,
  cpuVendor,
  type CpuSpec,
} from './cpu-power-table.js';
import { detectPlatform, type Platform } from './platform.js';

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

export { CPU_TABLE };
export type { CpuSpec };

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
  /** vendor_id ('AuthenticAMD', 'GenuineIntel'), 'cpu family' and 'model' numbers, when /proc/cpuinfo has them. */
  vendorId?: string;
  family?: number;
  modelNumber?: number;
}

/** CPU model and thread counts from /proc/cpuinfo (or node:os where it is missing). */
export function readCpuInfo(cpuinfoPath = '/proc/cpuinfo'): CpuInfo {
  let text = '';
  try {
    text = readFileSync(cpuinfoPath, 'utf8');
  } catch {
    // not Linux: fall back on node:os below
  }
  // One 'processor' entry per online logical CPU (x86 and ARM alike); node:os where there are none.
  const logicalCpus = (text.match(/^processor\s*:\s*\d+\s*$/gm) ?? []).length || cpus().length || 1;
  const field = (key: string) => new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  const model = field('model name') ?? field('Processor') ?? cpus()[0]?.model ?? 'unknown CPU';
  const int = (key: string) => {
    const v = Number(field(key));
    return Number.isInteger(v) && v >= 0 ? v : undefined;
  };
  const siblings = int('siblings');
  const vendorId = field('vendor_id');
  const family = int('cpu family');
  const modelNumber = int('model');
  return {
    model,
    logicalCpus,
    ...(siblings ? { threadsPerPackage: siblings } : {}),
    ...(vendorId ? { vendorId } : {}),
    ...(family !== undefined ? { family } : {}),
    ...(modelNumber !== undefined ? { modelNumber } : {}),
  };
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
        ? [spec.tdpWatts, `table (${spec.model}; ${spec.source})`]
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

// ---- Virtual machines: per-vCPU watts ----

/** Watts per vCPU, idle and at full load, and where the pair comes from. */
export interface VcpuWatts {
  minWatts: number;
  maxWatts: number;
  /** What the figure is, or how it was derived from the table (names only). */
  basis: string;
  /** Where its numbers come from (names and URLs). */
  source: string;
}

/** The per-vCPU figures of a VM estimate: the central one and the two ends of the range. */
export interface VcpuPowerRange {
  central: VcpuWatts;
  low: VcpuWatts;
  high: VcpuWatts;
}

const fmtW = (w: number) => `${+w.toFixed(3)} W`;

/**
 * Per-vCPU watts for a VM's CPU. Central: Cloud Carbon Footprint's figure for its microarchitecture, or (none
 * known, or none published for it) the mean of CCF's figures for its vendor, or CCF's average for an unknown
 * one. Low: the lowest idle and full-load figures of the vendor's microarchitectures. High: the highest idle
 * figure and the highest of the vendor's full-load figures and the TDP per thread of the CPU (or, its model
 * unknown, of the table's server parts of its generation or vendor): a busy thread drawing its whole share
 * of the package's TDP.
 */
export function vcpuPowerRange(cpu: CpuInfo, user?: { minWatts: number; maxWatts: number }): VcpuPowerRange {
  const spec = lookupCpu(cpu.model);
  const vendor = cpuVendor(cpu);
  const generation = spec?.generation ?? cpuGeneration(cpu);
  const ofVendor = VCPU_POWER_TABLE.filter((v) => v.vendor === vendor);
  const pool = ofVendor.length ? ofVendor : VCPU_POWER_TABLE;
  const own = VCPU_POWER_TABLE.find((v) => v.generation === generation);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const names = pool.map((v) => v.name).join(', ');
  const central: VcpuWatts = user
    ? { ...user, basis: 'user (EnergyOptions.vcpuWatts)', source: 'user' }
    : own
      ? { minWatts: own.minWatts, maxWatts: own.maxWatts, basis: own.name, source: own.source }
      : ofVendor.length
        ? {
            minWatts: mean(pool.map((v) => v.minWatts)),
            maxWatts: mean(pool.map((v) => v.maxWatts)),
            basis:
              `mean of Cloud Carbon Footprint's ${vendor} figures (${names}): ` +
              (generation ? `none is published for ${generation}` : 'the microarchitecture is not known'),
            source: pool[0].source,
          }
        : {
            minWatts: VCPU_POWER_AVERAGE.minWatts,
            maxWatts: VCPU_POWER_AVERAGE.maxWatts,
            basis: VCPU_POWER_AVERAGE.name,
            source: VCPU_POWER_AVERAGE.source,
          };
  // The TDP per thread of the CPU, else the highest of the table's server parts of its generation (or vendor).
  const parts = spec
    ? [spec]
    : CPU_TABLE.filter((c) => c.generation && (generation ? c.generation === generation : cpuVendor(c) === vendor));
  const tdp = parts.length
    ? parts.reduce((a, b) => (b.tdpWatts / b.threads > a.tdpWatts / a.threads ? b : a))
    : undefined;
  const tdpPerThread = tdp ? tdp.tdpWatts / tdp.threads : 0;
  const lowMin = Math.min(central.minWatts, ...pool.map((v) => v.minWatts));
  const lowMax = Math.min(central.maxWatts, ...pool.map((v) => v.maxWatts));
  const highMin = Math.max(central.minWatts, ...pool.map((v) => v.minWatts));
  const poolMax = Math.max(...pool.map((v) => v.maxWatts));
  const highMax = Math.max(central.maxWatts, poolMax, tdpPerThread);
  return {
    central,
    low: {
      minWatts: lowMin,
      maxWatts: lowMax,
      basis:
        `the lowest idle and full-load figures of Cloud Carbon Footprint's ${vendor ?? 'CPU'} ` +
        `microarchitectures (${names})`,
      source: pool[0].source,
    },
    high: {
      minWatts: highMin,
      maxWatts: highMax,
      basis:
        `the highest idle figure of those microarchitectures and the highest of their full-load figures ` +
        `(${fmtW(poolMax)})` +
        (tdp
          ? ` and the TDP per thread of ${spec ? 'this CPU' : `the table's ${generation ?? vendor} server parts`} ` +
            `(${tdp.model}: ${tdp.tdpWatts} W / ${tdp.threads} threads = ${fmtW(tdpPerThread)})`
          : ''),
      source: pool[0].source + (tdp ? `; TDP: ${tdp.source}` : ''),
    },
  };
}

export interface VmEstimateInput {
  cpuSeconds: number;
  wallSeconds: number;
  meanMemoryBytes: number;
  /** vCPUs the process may use (its share of the VM). */
  vcpus: number;
  watts: VcpuWatts;
  dramWattsPerGiB?: number;
  pue?: number;
}

/**
 * Cloud Carbon Footprint's arithmetic for a VM: vCPUs x wall time x (min + utilisation x (max - min)) with
 * utilisation = CPU time / (wall x vCPUs) (at most 1), i.e. vCPUs x wall x min + CPU time x (max - min); + DRAM;
 * x PUE.
 */
export function estimateVmEnergy({
  cpuSeconds,
  wallSeconds,
  meanMemoryBytes,
  vcpus,
  watts,
  dramWattsPerGiB = DRAM_WATTS_PER_GIB,
  pue = 1,
}: VmEstimateInput): Omit<Estimate, 'codecarbonJoules'> & { utilization: number } {
  for (const [k, v] of Object.entries({ cpuSeconds, wallSeconds, meanMemoryBytes, vcpus, dramWattsPerGiB })) {
    if (!(Number.isFinite(v) && v >= 0))
      throw new ArgumentError(`estimateVmEnergy: ${k} must be a non-negative number, got ${v}`);
  }
  checkPue(pue);
  // The vCPUs cannot be busier than full: CPU time beyond vCPUs x wall (threads the quota does not bound, clock
  // skew) is charged at full load, as the utilisation is capped at 1, so the low and high figures bracket it.
  const busy = wallSeconds > 0 && vcpus > 0 ? Math.min(cpuSeconds, vcpus * wallSeconds) : cpuSeconds;
  const utilization = wallSeconds > 0 && vcpus > 0 ? busy / (wallSeconds * vcpus) : 1;
  const cpuJoules = vcpus * wallSeconds * watts.minWatts + busy * (watts.maxWatts - watts.minWatts);
  const dramJoules = wallSeconds * (meanMemoryBytes / 2 ** 30) * dramWattsPerGiB;
  const itJoules = cpuJoules + dramJoules;
  return { cpuJoules, dramJoules, itJoules, joules: itJoules * pue, utilization };
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
  /** Watts per vCPU (idle and full load) for a virtual machine, overriding the table's figure. */
  vcpuWatts?: { minWatts: number; maxWatts: number };
  /** The platform, overriding detection (detectPlatform). */
  platform?: Platform;
  /**
   * Root under which /proc and /sys are read (default '/'): platform detection, /proc/cpuinfo and the
   * powercap tree; tests point it at fake trees. cpuinfoPath and powercapRoot override their parts.
   */
  root?: string;
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
  /** Where the run ran (bare metal, VM, container); absent in records written before it was recorded. */
  platform: Platform;
  /** Every assumption the figure rests on, one sentence each, with its source. */
  assumptions: string[];
  /** The per-vCPU figures used, when the estimate is a VM's (platform.kind 'virtual-machine'). */
  vcpu?: VcpuEstimate;
}

/** The per-vCPU part of a VM estimate. */
export interface VcpuEstimate {
  /** vCPUs the process may use: the logical CPUs it sees, or fewer under a cgroup quota. */
  vcpus: number;
  /** CPU time / (wall time x vCPUs), in [0, 1]. */
  utilization: number;
  central: VcpuWatts;
  low: VcpuWatts;
  high: VcpuWatts;
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

  private platform?: Platform;
  private cpuInfo?: CpuInfo;

  start(): this {
    const method = this.options.method ?? 'auto';
    const root = this.options.root ?? '/';
    if (method !== 'estimate') {
      const probe = probeRapl(this.options.powercapRoot ?? join(root, 'sys/class/powercap'));
      if (probe.domains.length > 0) this.rapl = new RaplCounter(probe.domains);
      else if (method === 'rapl')
        throw new ArgumentError(`EnergyMeter: method 'rapl' was requested but RAPL is unavailable: ${probe.reason}`);
      else this.raplUnavailable = probe.reason;
    } else {
      this.raplUnavailable = 'not attempted (method: estimate)';
    }
    this.platform = this.options.platform ?? detectPlatform(root);
    this.cpuInfo = readCpuInfo(this.options.cpuinfoPath ?? join(root, 'proc/cpuinfo'));
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
    if (!this.started || !this.platform || !this.cpuInfo)
      throw new ArgumentError(`EnergyMeter: ${op}() before start()`);
    this.sample();
    const wallSeconds = (this.now() - this.t0) / 1000;
    const c = this.cpuNow();
    const cpuSeconds = (c.user - this.cpu0.user + c.system - this.cpu0.system) / 1e6;
    const meanMemoryBytes = this.memSum / this.memCount;
    const pue = this.options.pue ?? 1;
    const dramWattsPerGiB = this.options.dramWattsPerGiB ?? DRAM_WATTS_PER_GIB;
    const platform = this.platform;
    const info = this.cpuInfo;
    const cpu = cpuPower(info, this.options);
    const estimate = estimateEnergy({ cpuSeconds, wallSeconds, meanMemoryBytes, cpu, dramWattsPerGiB, pue });
    const common = {
      pue,
      wallSeconds,
      cpuSeconds,
      meanMemoryBytes,
      cpu,
      dramWattsPerGiB,
      codecarbonJoules: estimate.codecarbonJoules,
      platform,
    };
    const where =
      `Platform: ${platform.kind}` +
      (platform.hypervisor ? ` (${platform.hypervisor})` : '') +
      (platform.container ? `, in a container (${platform.container})` : '') +
      `; evidence: ${platform.evidence.join('; ') || 'none'}.`;
    const dram =
      `Memory: ${dramWattsPerGiB} W per GiB of the process's mean resident memory for the wall time ` +
      "(CodeCarbon's 3 W per 8 GB, https://github.com/mlco2/codecarbon, kept for all of Candor's figures; Cloud " +
      "Carbon Footprint's 0.392 W/GB is within 5%); the host's other memory is not charged.";
    const facility =
      pue === 1
        ? 'PUE 1.0: the IT equipment only; cooling and power-supply losses of the facility are not included.'
        : `PUE ${pue} (given): the facility's overhead is added as a factor on the IT energy.`;
    const excluded =
      "Not included: disks, network, GPUs, fans and other host components, the hypervisor's own work, " +
      'and embodied (manufacturing) emissions.';
    if (this.rapl) {
      const domains = this.rapl.joules();
      const pkg = domains.filter((d) => d.kind === 'package').reduce((s, d) => s + d.joules, 0);
      const dramJ = domains.filter((d) => d.kind === 'dram').reduce((s, d) => s + d.joules, 0);
      const joules = (pkg + dramJ) * pue;
      const covers =
        'RAPL counters cover whole CPU packages (and their DRAM where a dram zone exists): every process ' +
        "running on them and their idle power are included; this process's share is not isolated.";
      return {
        method: 'rapl',
        measured: true,
        description:
          `Measured with RAPL energy counters (${domains.map((d) => d.name).join(', ')})` +
          `${pue !== 1 ? `, times PUE ${pue}` : ''}. ${covers}`,
        joules,
        kWh: joules / 3.6e6,
        components: { package: pkg, ...(domains.some((d) => d.kind === 'dram') ? { dram: dramJ } : {}) },
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
        assumptions: [
          where,
          covers,
          ...(platform.kind === 'virtual-machine'
            ? [
                'On a virtual machine RAPL is usually absent; where a hypervisor passes the counters through they ' +
                  "may count the host's packages, shared with other guests.",
              ]
            : []),
          `RAPL accuracy: within about ±${RAPL_RELATIVE_UNCERTAINTY * 100}% of wall-plug meters for package ` +
            'energy on recent CPUs (Khan et al., "RAPL in Action", ACM TOMPECS 2018).',
          facility,
          excluded,
        ],
      };
    }
    const raplNote = `RAPL not used: ${this.raplUnavailable ?? 'unavailable'}.`;
    if (platform.kind === 'virtual-machine') {
      const visible = info.logicalCpus;
      const quota = platform.cpuQuota;
      const vcpus = Math.max(quota !== undefined ? Math.min(quota, visible) : visible, 0);
      const range = vcpuPowerRange(info, this.options.vcpuWatts);
      const at = (watts: VcpuWatts) =>
        estimateVmEnergy({ cpuSeconds, wallSeconds, meanMemoryBytes, vcpus, watts, dramWattsPerGiB, pue });
      const mid = at(range.central);
      const low = at(range.low).joules;
      const high = at(range.high).joules;
      const u = mid.utilization;
      return {
        method: 'estimate',
        measured: false,
        description:
          `Estimated, not measured, for a virtual machine: ${vcpus} vCPUs x wall ${wallSeconds.toFixed(2)} s x ` +
          `(${fmtW(range.central.minWatts)} idle + utilisation ${(u * 100).toFixed(1)}% x ` +
          `(${fmtW(range.central.maxWatts)} - ${fmtW(range.central.minWatts)})) per vCPU, as Cloud Carbon ` +
          `Footprint estimates VMs, + DRAM ${dramWattsPerGiB} W/GiB x mean resident memory, x PUE ${pue}.`,
        joules: mid.joules,
        kWh: mid.joules / 3.6e6,
        components: { cpu: mid.cpuJoules, dram: mid.dramJoules },
        uncertainty: {
          low,
          high,
          note:
            `From the per-vCPU table's spread: low uses ${range.low.basis} ` +
            `(${fmtW(range.low.minWatts)} idle, ${fmtW(range.low.maxWatts)} full load); high uses ` +
            `${range.high.basis} (${fmtW(range.high.minWatts)} idle, ${fmtW(range.high.maxWatts)} full load). ` +
            'The VM does not say what its host draws; the figures are averages of SPECpower servers.',
        },
        raplUnavailable: this.raplUnavailable,
        vcpu: { vcpus, utilization: u, ...range },
        ...common,
        assumptions: [
          where,
          `CPU: '${info.model}'` +
            (info.family !== undefined ? ` (cpu family ${info.family}, model ${info.modelNumber})` : '') +
            '; ' +
            `per-vCPU power: ${range.central.basis}: ${fmtW(range.central.minWatts)} idle, ` +
            `${fmtW(range.central.maxWatts)} at full load (${range.central.source}).`,
          'Power at the utilisation seen is interpolated linearly between idle and full load (min + utilisation x ' +
            '(max - min)), as Cloud Carbon Footprint does (https://www.cloudcarbonfootprint.org/docs/methodology).',
          `Utilisation = CPU time / (wall time x vCPUs) = ${cpuSeconds.toFixed(2)} s / ` +
            `(${wallSeconds.toFixed(2)} s x ${vcpus}); the idle power of the ${vcpus} vCPUs the process may use ` +
            `(${quota !== undefined ? `cgroup quota ${quota}, ` : ''}${visible} visible) is charged for the whole ` +
            "wall time, as CCF charges a VM's vCPU-hours.",
          "One vCPU is one hardware thread of the host; the host's other components and other guests are not " +
            'charged to this run.',
          `Range: low ${low.toPrecision(3)} J from ${range.low.basis} (${range.low.source}); high ` +
            `${high.toPrecision(3)} J from ${range.high.basis} (${range.high.source}).`,
          dram,
          facility,
          raplNote + ' On a virtual machine RAPL is usually absent.',
          excluded,
        ],
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
      assumptions: [
        where,
        `CPU: '${info.model}'; TDP ${cpu.tdpWatts} W (${cpu.tdpSource}) over ${cpu.threadsPerPackage} hardware ` +
          `threads (${cpu.threadsSource}) = ${cpu.wattsPerThread.toFixed(3)} W per busy thread.`,
        "Only the process's CPU time is charged: each busy thread draws its share of the package's TDP; the " +
          "package's idle power and other processes are left out.",
        ...(platform.cpuQuota !== undefined
          ? [`A cgroup quota allows ${platform.cpuQuota} CPUs; CPU time already counts only what was used.`]
          : []),
        `Range: a factor of ${f} either way (TDP is a design limit, not a measured draw).`,
        dram,
        facility,
        raplNote,
        excluded,
      ],
    };
  }
}
