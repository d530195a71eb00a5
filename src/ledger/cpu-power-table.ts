// Published CPU power figures, each with its source: TDP and hardware threads per package of common server,
// desktop and laptop CPUs (used on bare metal), and Cloud Carbon Footprint's per-vCPU idle and full-load watts
// by microarchitecture (used on virtual machines), plus how a CPU is mapped to its microarchitecture.

/** A CPU microarchitecture (generation) key; several CPU models share one. */
export type CpuGeneration =
  | 'sandy-bridge'
  | 'ivy-bridge'
  | 'haswell'
  | 'broadwell'
  | 'skylake'
  | 'cascade-lake'
  | 'coffee-lake'
  | 'ice-lake'
  | 'sapphire-rapids'
  | 'emerald-rapids'
  | 'epyc-1'
  | 'epyc-2'
  | 'epyc-3'
  | 'epyc-4'
  | 'epyc-5'
  | 'graviton'
  | 'graviton-2';

export type CpuVendor = 'AMD' | 'Intel' | 'ARM';

export interface CpuSpec {
  /** Model as it appears in /proc/cpuinfo once trademarks and clock are removed, e.g. 'AMD EPYC 7763'. */
  model: string;
  tdpWatts: number;
  /** Hardware threads per package. */
  threads: number;
  /** Microarchitecture, when the part is a server CPU whose generation the per-vCPU table knows. */
  generation?: CpuGeneration;
  /** Where the TDP and thread count come from (name and URL). */
  source: string;
}

const CODECARBON_CPU_POWER =
  "CodeCarbon's cpu_power.csv (TDP), https://github.com/mlco2/codecarbon/blob/master/codecarbon/data/hardware/" +
  "cpu_power.csv; threads from the vendors' specifications";
const AMD_SPECS =
  "AMD's processor specifications, https://www.amd.com/en/products/specifications/server-processor.html " +
  '(Default TDP, # of Threads; as exported in CodeCarbon cpu_dataset_builder/amd_cpu_server_dataset.csv, ' +
  'commit b05965e4)';
const AMD_DESKTOP_SPECS =
  "AMD's processor specifications, https://www.amd.com/en/products/specifications/processors.html " +
  '(Default TDP, # of Threads; as exported in CodeCarbon cpu_dataset_builder/amd_cpu_desktop_dataset.csv, ' +
  'commit b05965e4)';
const INTEL_ARK =
  'Intel ARK, https://ark.intel.com (TDP or Processor Base Power, total cores; as exported in CodeCarbon ' +
  'cpu_dataset_builder/intel_cpu_ark_dataset.csv, commit b05965e4); threads = 2 x cores (Hyper-Threading)';
const INTEL_ARK_CLIENT =
  'Intel ARK, https://ark.intel.com (Processor Base Power and total threads of the product page)';

type Row = [model: string, tdpWatts: number, threads: number, generation?: CpuGeneration];
const rows = (source: string, list: Row[]): CpuSpec[] =>
  list.map(([model, tdpWatts, threads, generation]) => ({
    model,
    tdpWatts,
    threads,
    ...(generation ? { generation } : {}),
    source,
  }));

/** Common CPUs with TDP and threads per package, each with its source. */
export const CPU_TABLE: readonly CpuSpec[] = [
  ...rows(AMD_SPECS, [
    // EPYC 7001 (Naples, Zen), 7002 (Rome, Zen 2), 7003 (Milan, Zen 3), 9004 (Genoa / Bergamo, Zen 4), 9005 (Turin)
    ['AMD EPYC 7551', 180, 64, 'epyc-1'],
    ['AMD EPYC 7601', 180, 64, 'epyc-1'],
    ['AMD EPYC 7452', 155, 64, 'epyc-2'],
    ['AMD EPYC 7502', 180, 64, 'epyc-2'],
    ['AMD EPYC 7702', 200, 128, 'epyc-2'],
    ['AMD EPYC 7742', 225, 128, 'epyc-2'],
    ['AMD EPYC 7H12', 280, 128, 'epyc-2'],
    ['AMD EPYC 7313', 155, 32, 'epyc-3'],
    ['AMD EPYC 7413', 180, 48, 'epyc-3'],
    ['AMD EPYC 7513', 200, 64, 'epyc-3'],
    ['AMD EPYC 7543', 225, 64, 'epyc-3'],
    ['AMD EPYC 75F3', 280, 64, 'epyc-3'],
    ['AMD EPYC 7713', 225, 128, 'epyc-3'],
    ['AMD EPYC 7763', 280, 128, 'epyc-3'],
    ['AMD EPYC 9354', 280, 64, 'epyc-4'],
    ['AMD EPYC 9454', 290, 96, 'epyc-4'],
    ['AMD EPYC 9554', 360, 128, 'epyc-4'],
    ['AMD EPYC 9634', 290, 168, 'epyc-4'],
    ['AMD EPYC 9654', 360, 192, 'epyc-4'],
    ['AMD EPYC 9754', 360, 256, 'epyc-4'],
    ['AMD EPYC 9355', 280, 64, 'epyc-5'],
    ['AMD EPYC 9455', 300, 96, 'epyc-5'],
    ['AMD EPYC 9555', 360, 128, 'epyc-5'],
    ['AMD EPYC 9655', 400, 192, 'epyc-5'],
    ['AMD EPYC 9755', 500, 256, 'epyc-5'],
    ['AMD EPYC 9965', 500, 384, 'epyc-5'],
  ]),
  // Google's custom Rome part (not on amd.com).
  ...rows(CODECARBON_CPU_POWER, [['AMD EPYC 7B12', 240, 128, 'epyc-2']]),
  ...rows(AMD_DESKTOP_SPECS, [
    ['AMD Ryzen 5 5600', 65, 12],
    ['AMD Ryzen 7 5800X3D', 105, 16],
    ['AMD Ryzen 7 5700U', 15, 16],
    ['AMD Ryzen 5 7600X', 105, 12],
    ['AMD Ryzen 7 7700X', 105, 16],
    ['AMD Ryzen 7 7800X3D', 120, 16],
    ['AMD Ryzen 7 7840U', 28, 16],
    ['AMD Ryzen 9 7950X', 170, 32],
    ['AMD Ryzen 7 9700X', 65, 16],
    ['AMD Ryzen 9 9950X', 170, 32],
  ]),
  ...rows(CODECARBON_CPU_POWER, [
    ['AMD Ryzen 5 3600', 65, 12],
    ['AMD Ryzen 5 5600X', 65, 12],
    ['AMD Ryzen 7 3700X', 65, 16],
    ['AMD Ryzen 7 5800X', 105, 16],
    ['AMD Ryzen 9 3900X', 105, 24],
    ['AMD Ryzen 9 3950X', 105, 32],
    ['AMD Ryzen 9 5900X', 105, 24],
    ['AMD Ryzen 9 5950X', 105, 32],
    ['AMD Ryzen Threadripper 3990X', 280, 128],
    ['Intel Xeon Platinum 8171M', 165, 52, 'skylake'],
    ['Intel Xeon Platinum 8180', 205, 56, 'skylake'],
    ['Intel Xeon Gold 6154', 200, 36, 'skylake'],
    ['Intel Xeon Silver 4116', 85, 24, 'skylake'],
    ['Intel Xeon Platinum 8259CL', 210, 48, 'cascade-lake'],
    ['Intel Xeon Platinum 8260', 165, 48, 'cascade-lake'],
    ['Intel Xeon Platinum 8280', 205, 56, 'cascade-lake'],
    ['Intel Xeon E5-2673 v3', 110, 24, 'haswell'],
    ['Intel Xeon E5-2680 v4', 120, 28, 'broadwell'],
    ['Intel Xeon E5-2690 v2', 130, 20, 'ivy-bridge'],
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
  ]),
  ...rows(INTEL_ARK, [
    // 3rd (Ice Lake), 4th (Sapphire Rapids) and 5th (Emerald Rapids) generation Xeon Scalable
    ['Intel Xeon Silver 4314', 135, 32, 'ice-lake'],
    ['Intel Xeon Gold 6338', 205, 64, 'ice-lake'],
    ['Intel Xeon Gold 6348', 235, 56, 'ice-lake'],
    ['Intel Xeon Platinum 8358', 250, 64, 'ice-lake'],
    ['Intel Xeon Platinum 8380', 270, 80, 'ice-lake'],
    ['Intel Xeon Gold 5418Y', 185, 48, 'sapphire-rapids'],
    ['Intel Xeon Gold 6430', 270, 64, 'sapphire-rapids'],
    ['Intel Xeon Gold 6448Y', 225, 64, 'sapphire-rapids'],
    ['Intel Xeon Platinum 8468', 350, 96, 'sapphire-rapids'],
    ['Intel Xeon Platinum 8480+', 350, 112, 'sapphire-rapids'],
    ['Intel Xeon Platinum 8490H', 350, 120, 'sapphire-rapids'],
    ['Intel Xeon Gold 5520+', 205, 56, 'emerald-rapids'],
    ['Intel Xeon Gold 6548Y+', 250, 64, 'emerald-rapids'],
    ['Intel Xeon Platinum 8580', 350, 120, 'emerald-rapids'],
    ['Intel Xeon Platinum 8592+', 350, 128, 'emerald-rapids'],
  ]),
  ...rows(INTEL_ARK_CLIENT, [
    ['Intel Core i5-12400', 65, 12],
    ['Intel Core i7-12700K', 125, 20],
    ['Intel Core i7-1260P', 28, 16],
    ['Intel Core i5-13600K', 125, 20],
    ['Intel Core i7-13700K', 125, 24],
    ['Intel Core i9-13900K', 125, 32],
    ['Intel Core i7-1360P', 28, 16],
    ['Intel Core i9-14900K', 125, 32],
    ['Intel Core Ultra 7 155H', 28, 22],
  ]),
];

// ---- Per-vCPU power on cloud virtual machines ----

/** Watts drawn per vCPU (hardware thread) of a microarchitecture, idle and at full load, with the source. */
export interface VcpuPower {
  generation: CpuGeneration | 'average';
  /** Name as the source gives it, e.g. 'AMD EPYC 2nd Gen'. */
  name: string;
  vendor: CpuVendor | 'any';
  /** Watts per vCPU at idle (SPECpower active idle). */
  minWatts: number;
  /** Watts per vCPU at 100% utilisation. */
  maxWatts: number;
  source: string;
}

/** Where the per-vCPU figures come from. */
export const CCF_SOURCE =
  'Cloud Carbon Footprint, packages/core/src/compute/ComputeProcessorTypes.ts (min_watts_avg, max_watts_avg), ' +
  'https://github.com/cloud-carbon-footprint/cloud-carbon-footprint, derived from SPECpower_ssj2008 results ' +
  '(https://www.cloudcarbonfootprint.org/docs/methodology)';
const CCF_AWS_AVERAGE =
  'Cloud Carbon Footprint, packages/aws/src/domain/AwsFootprintEstimationConstants.ts (MIN_WATTS_AVG, ' +
  'MAX_WATTS_AVG: used for an unknown microarchitecture), https://github.com/cloud-carbon-footprint/' +
  'cloud-carbon-footprint';

/** Cloud Carbon Footprint's per-vCPU figures (CPUs only; CCF has none yet for Ice Lake and later or EPYC 4th+). */
export const VCPU_POWER_TABLE: readonly VcpuPower[] = (
  [
    ['sandy-bridge', 'Sandy Bridge', 'Intel', 2.17, 8.58],
    ['ivy-bridge', 'Ivy Bridge', 'Intel', 3.04, 8.25],
    ['haswell', 'Haswell', 'Intel', 1, 4.74],
    ['broadwell', 'Broadwell', 'Intel', 0.71, 3.69],
    ['skylake', 'Skylake', 'Intel', 0.65, 4.26],
    ['cascade-lake', 'Cascade Lake', 'Intel', 0.64, 3.97],
    ['coffee-lake', 'Coffee Lake', 'Intel', 1.14, 5.42],
    ['epyc-1', 'AMD EPYC 1st Gen', 'AMD', 0.82, 2.55],
    ['epyc-2', 'AMD EPYC 2nd Gen', 'AMD', 0.47, 1.69],
    ['epyc-3', 'AMD EPYC 3rd Gen', 'AMD', 0.45, 2.02],
    ['graviton', 'AWS Graviton', 'ARM', 0.47, 1.69],
    ['graviton-2', 'AWS Graviton2', 'ARM', 0.47, 1.69],
  ] as [CpuGeneration, string, CpuVendor, number, number][]
).map(([generation, name, vendor, minWatts, maxWatts]) => ({
  generation,
  name,
  vendor,
  minWatts,
  maxWatts,
  source: CCF_SOURCE,
}));

/** CCF's figure for a VM whose microarchitecture is unknown (its AWS average). */
export const VCPU_POWER_AVERAGE: VcpuPower = {
  generation: 'average',
  name: 'average of the microarchitectures AWS uses',
  vendor: 'any',
  minWatts: 0.74,
  maxWatts: 3.5,
  source: CCF_AWS_AVERAGE,
};

/** What /proc/cpuinfo says about the CPU, as far as a microarchitecture can be told from it. */
export interface CpuIdentity {
  model: string;
  /** 'AuthenticAMD', 'GenuineIntel', ... (vendor_id), when known. */
  vendorId?: string;
  /** The 'cpu family' and 'model' numbers, when known. */
  family?: number;
  modelNumber?: number;
}

/** The CPU's vendor from its vendor_id or model name. */
export function cpuVendor(cpu: CpuIdentity): CpuVendor | undefined {
  const v = `${cpu.vendorId ?? ''} ${cpu.model}`;
  if (/AuthenticAMD|\bAMD\b/i.test(v)) return 'AMD';
  if (/GenuineIntel|\bIntel\b/i.test(v)) return 'Intel';
  if (/Graviton|Neoverse|\bARM\b|aarch64/i.test(v)) return 'ARM';
  return undefined;
}

/**
 * The CPU's microarchitecture, from the model name (EPYC 7xx2 is Rome, Xeon Gold 63xx is Ice Lake, ...) or,
 * where a VM hides the name ('AMD EPYC'), from the cpuid family and model numbers; undefined when unknown.
 */
export function cpuGeneration(cpu: CpuIdentity): CpuGeneration | undefined {
  const m = cpu.model.replace(/\((R|TM|tm|r)\)/g, '');
  const epyc = /EPYC\s+([79])\w\w(\d)\b/i.exec(m);
  if (epyc) {
    const gen = Number(epyc[2]);
    if (epyc[1] === '7' && gen >= 1 && gen <= 3) return `epyc-${gen}` as CpuGeneration;
    if (epyc[1] === '9' && (gen === 4 || gen === 5)) return `epyc-${gen}` as CpuGeneration;
  }
  const scalable = /Xeon\s*(?:Platinum|Gold|Silver|Bronze)\s+\d(\d)\d\d/i.exec(m);
  if (scalable) {
    const gens: CpuGeneration[] = ['skylake', 'skylake', 'cascade-lake', 'ice-lake', 'sapphire-rapids'];
    const g = Number(scalable[1]);
    if (g >= 1 && g <= 5) return g === 5 ? 'emerald-rapids' : gens[g];
  }
  const e5 = /Xeon\s*(?:CPU\s*)?E5-\d{4}\w?\s*(v\d)?/i.exec(m);
  if (e5) return ({ v2: 'ivy-bridge', v3: 'haswell', v4: 'broadwell' } as const)[e5[1] ?? ''] ?? 'sandy-bridge';
  if (/Graviton2/i.test(m)) return 'graviton-2';
  if (/Graviton/i.test(m)) return 'graviton';
  const { family, modelNumber: n } = cpu;
  if (family === undefined || n === undefined) return undefined;
  const vendor = cpuVendor(cpu);
  if (vendor === 'AMD') {
    // AMD's family numbers: 17h Zen / Zen 2, 19h Zen 3 / Zen 4, 1Ah Zen 5 (server models only matter here).
    if (family === 0x17) return n < 0x30 ? 'epyc-1' : 'epyc-2';
    if (family === 0x19) return n < 0x10 ? 'epyc-3' : 'epyc-4';
    if (family === 0x1a) return 'epyc-5';
  }
  if (vendor === 'Intel' && family === 6) {
    // Intel's server model numbers (family 6): the Xeon-SP / Xeon E5 dies.
    const byModel: Record<number, CpuGeneration> = {
      0x2d: 'sandy-bridge',
      0x3e: 'ivy-bridge',
      0x3f: 'haswell',
      0x4f: 'broadwell',
      0x55: 'cascade-lake',
      0x6a: 'ice-lake',
      0x8f: 'sapphire-rapids',
      0xcf: 'emerald-rapids',
    };
    return byModel[n];
  }
  return undefined;
}
