// emissions.csv in CodeCarbon's format: its columns in its order and its units (kWh, kg CO2e, W, s), one row
// per run, appended beside run.json, so tools that read CodeCarbon's output read Candor's.
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { ArgumentError } from '../errors.js';
import { GRID_INTENSITY } from './carbon.js';
import { withFileLock } from './lock.js';
import { writeRunRecord, type RunRecord } from './record.js';
import type { EncryptionKey } from '../io/encryption.js';

export const EMISSIONS_CSV_FILE = 'emissions.csv';

/**
 * CodeCarbon's columns, in the order of the fields of its EmissionsData dataclass
 * (codecarbon/output_methods/emissions_data.py at github.com/mlco2/codecarbon, commit b05965e4, 2026-08-08).
 * Units as its emissions_tracker.py fills them: duration s, emissions kg CO2e, emissions_rate kg/s, *_power W,
 * *_energy and energy_consumed kWh (PUE included), water_consumed L, ram_total_size and ram_used_gb GB.
 */
export const CODECARBON_COLUMNS = [
  'timestamp',
  'project_name',
  'run_id',
  'experiment_id',
  'duration',
  'emissions',
  'emissions_rate',
  'cpu_power',
  'gpu_power',
  'ram_power',
  'cpu_energy',
  'gpu_energy',
  'ram_energy',
  'energy_consumed',
  'water_consumed',
  'country_name',
  'country_iso_code',
  'region',
  'cloud_provider',
  'cloud_region',
  'os',
  'python_version',
  'codecarbon_version',
  'cpu_count',
  'cpu_model',
  'gpu_count',
  'gpu_model',
  'longitude',
  'latitude',
  'ram_total_size',
  'tracking_mode',
  'cpu_utilization_percent',
  'gpu_utilization_percent',
  'ram_utilization_percent',
  'ram_used_gb',
  'on_cloud',
  'pue',
  'wue',
] as const;

export type EmissionsColumn = (typeof CODECARBON_COLUMNS)[number];

/** Cloud providers as CodeCarbon names them, by the hypervisor the platform detection names. */
const CLOUDS: Record<string, string> = {
  'Amazon EC2': 'aws',
  'Google Compute Engine': 'gcp',
  'Microsoft Hyper-V (Azure)': 'azure',
};

/** One CSV field: quoted (RFC 4180) when it holds a comma, quote, CR or LF. */
export function csvField(v: string | number): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The record's row: the run's energy (record.energy: its whole life, fingerprinting, training, validation, testing,
 * saving, ..., the sum of record.stages, as a CodeCarbon tracker started with the run and stopped at its last write
 * would report it) and emissions, in CodeCarbon's units.
 */
export function emissionsRow(record: RunRecord): Record<EmissionsColumn, string | number> {
  const e = record.energy;
  const em = record.emissions;
  if (!e || !em)
    throw new ArgumentError(`writeEmissionsCsv: run ${record.id} has no energy or emissions (energy was off)`);
  const kWh = (j: number | undefined) => ((j ?? 0) * e.pue) / 3.6e6;
  const cpuJoules = e.components.cpu ?? e.components.package ?? 0;
  const wall = e.wallSeconds;
  const kg = em.gCO2e / 1000;
  const grid = GRID_INTENSITY.get(em.grid.region);
  const cloud = e.platform?.hypervisor ? CLOUDS[e.platform.hypervisor] : undefined;
  const gb = (bytes: number) => bytes / 2 ** 30;
  const vcpus = e.vcpu?.vcpus ?? record.machine.logicalCpus;
  return {
    // CodeCarbon writes local time without a zone ('%Y-%m-%dT%H:%M:%S') when it stops; this is the record's last
    // write (the end of the span record.energy covers) in UTC.
    timestamp: record.createdAt.slice(0, 19),
    project_name: record.name ?? 'candor',
    run_id: record.id,
    experiment_id: '',
    duration: wall,
    emissions: kg,
    emissions_rate: wall > 0 ? kg / wall : 0,
    cpu_power: wall > 0 ? cpuJoules / wall : 0,
    gpu_power: 0,
    ram_power: wall > 0 ? (e.components.dram ?? 0) / wall : 0,
    cpu_energy: kWh(cpuJoules),
    gpu_energy: 0,
    ram_energy: kWh(e.components.dram),
    energy_consumed: e.kWh,
    water_consumed: 0,
    country_name: grid && grid.region !== 'WORLD' ? grid.name : '',
    country_iso_code: grid && grid.region !== 'WORLD' ? grid.region : '',
    region: '',
    cloud_provider: cloud ?? '',
    cloud_region: '',
    os: `${record.software.platform}-${record.software.arch}`,
    python_version: '',
    codecarbon_version: '',
    cpu_count: record.machine.logicalCpus,
    cpu_model: record.machine.cpuModel,
    gpu_count: 0,
    gpu_model: '',
    longitude: '',
    latitude: '',
    ram_total_size: gb(record.machine.totalMemoryBytes),
    // 'machine': RAPL counts the whole package; 'process': the process's CPU time and memory.
    tracking_mode: e.method === 'rapl' ? 'machine' : 'process',
    cpu_utilization_percent: wall > 0 && vcpus > 0 ? Math.min(100, (100 * e.cpuSeconds) / (wall * vcpus)) : 0,
    gpu_utilization_percent: 0,
    ram_utilization_percent: (100 * e.meanMemoryBytes) / record.machine.totalMemoryBytes,
    ram_used_gb: gb(e.meanMemoryBytes),
    on_cloud: cloud ? 'Y' : 'N',
    pue: e.pue,
    wue: 0,
  };
}

/**
 * Appends the record's row to dir/emissions.csv (header first when the file is new or empty), atomically and
 * under a lock; a row of the same run is replaced. A file whose header holds other columns is renamed to
 * emissions.csv.bak (emissions.csv_0.bak, ... when taken) and a new file is started, as CodeCarbon does.
 * Returns the path and the backup's, if any.
 */
export async function writeEmissionsCsv(record: RunRecord, dir: string): Promise<{ file: string; backup?: string }> {
  const row = emissionsRow(record);
  const file = join(dir, EMISSIONS_CSV_FILE);
  const header = CODECARBON_COLUMNS.join(',');
  const line = CODECARBON_COLUMNS.map((c) => csvField(row[c])).join(',');
  return withFileLock(file, async () => {
    const old = existsSync(file) ? await readFile(file, 'utf8') : '';
    let backup: string | undefined;
    let body = old;
    if (old.trim() !== '' && old.split(/\r?\n/, 1)[0] !== header) {
      // Other columns (or CodeCarbon's in another order, which would misplace every value): another format.
      backup = join(dir, `${EMISSIONS_CSV_FILE}.bak`);
      for (let i = 0; existsSync(backup); i++) backup = join(dir, `${EMISSIONS_CSV_FILE}_${i}.bak`);
      await rename(file, backup);
      body = '';
    }
    if (body.trim() === '') body = '';
    // One row per run: finish() may run more than once (model.save, then publishing); the newer row replaces
    // the older, as CodeCarbon's on_csv_write 'update' does by run_id. A run id is a UUID: no quoting to undo.
    else
      body =
        body
          .split(/\r?\n/)
          .filter((l) => l !== '' && !l.includes(`,${record.id},`))
          .join('\n') + '\n';
    const text = (body === '' ? `${header}\n` : body.endsWith('\n') ? body : `${body}\n`) + `${line}\n`;
    await writeFileAtomic(file, text);
    return { file, ...(backup ? { backup } : {}) };
  });
}

/**
 * Writes run.json to `dir` and, beside a plain one with energy recorded, the run's emissions.csv row (never beside an
 * encrypted run.json: the row would leak its figures), so the row always follows the record as written. Returns
 * run.json's path and whether the row was written.
 */
export async function writeRunFiles(
  record: RunRecord,
  dir: string,
  options: { encryptionKey?: EncryptionKey } = {},
): Promise<{ file: string; emissions: boolean }> {
  const file = await writeRunRecord(record, dir, options);
  const emissions = record.energy !== null && record.emissions !== null && options.encryptionKey === undefined;
  if (emissions) await writeEmissionsCsv(record, dir);
  return { file, emissions };
}
