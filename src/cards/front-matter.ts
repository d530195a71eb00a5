// Hugging Face model-card metadata (the YAML front matter of a README.md on the Hub): license, datasets,
// metrics, tags and co2_eq_emissions { emissions (grams CO2e), source, training_type, geographical_location,
// hardware_used }, as the Hub's model card spec names them (huggingface.co/docs/hub/model-cards-co2). Only
// what the record or card.json says is written; a field neither gives is left out.
import type { RunRecord } from '../ledger/record.js';
import type { CardUserInfo } from './user-info.js';
import { sourceOf } from './record-extras.js';

type Yaml = string | number | string[] | { [k: string]: string | number };

/** YAML text of a flat map of scalars, string lists and one-level maps; strings as JSON (valid YAML). */
export function yamlText(map: Record<string, Yaml>): string {
  const scalar = (v: string | number) => (typeof v === 'number' ? String(v) : JSON.stringify(v));
  const lines: string[] = [];
  for (const [k, v] of Object.entries(map)) {
    if (Array.isArray(v)) lines.push(`${k}:`, ...v.map((x) => `  - ${scalar(x)}`));
    else if (typeof v === 'object') lines.push(`${k}:`, ...Object.entries(v).map(([kk, x]) => `  ${kk}: ${scalar(x)}`));
    else lines.push(`${k}: ${scalar(v)}`);
  }
  return lines.join('\n');
}

export function huggingFaceMetadata(r: RunRecord, u: CardUserInfo): Record<string, Yaml> {
  const meta: Record<string, Yaml> = {};
  if (u.license) meta.license = u.license.trim().toLowerCase();
  meta.library_name = 'candor';
  meta.tags = ['candor', r.model.className.toLowerCase()];
  const datasets = [...new Set(r.data.map((d) => sourceOf(d)?.name).filter((n): n is string => !!n))];
  if (datasets.length) meta.datasets = datasets;
  const metrics = [...new Set(r.evaluation.flatMap((e) => Object.keys(e.metrics)).filter((m) => m !== 'loss'))];
  if (metrics.length) meta.metrics = metrics;
  const em = r.emissions;
  if (em) {
    const co2: Record<string, string | number> = {
      emissions: Number(em.gCO2e.toPrecision(4)),
      source:
        `Candor run record ${r.id}: energy${r.stages?.length ? ' of the whole run' : ''} ` +
        `${r.energy?.measured ? 'measured (RAPL)' : 'estimated'} x grid ` +
        `intensity ${em.grid.gPerKWh} g/kWh (${em.grid.name})`,
    };
    if (u.trainingType) co2.training_type = u.trainingType;
    co2.geographical_location = em.grid.name;
    const d = r.distributed;
    co2.hardware_used =
      (d ? `${d.worldSize} processes on ${d.hosts.length} host(s) like this: ` : '') +
      `${r.machine.cpuModel}, ${r.machine.logicalCpus} logical CPUs`;
    meta.co2_eq_emissions = co2;
  }
  return meta;
}

export function frontMatter(r: RunRecord, u: CardUserInfo): string {
  return yamlText(huggingFaceMetadata(r, u));
}
