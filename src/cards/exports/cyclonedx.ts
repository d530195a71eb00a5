// A CycloneDX 1.6 ML-BOM (JSON) from a run record: the model as a 'machine-learning-model' component with its
// model card (parameters, metrics, environmental considerations), its saved files' SHA-256, and the datasets as
// 'data' components. Only what the record (and card.json) says is written; see docs/accountability.md for the map.
import type { RunRecord } from '../../ledger/record.js';
import { digestsOf } from '../record-extras.js';
import {
  approachOf,
  architectureFamilyOf,
  datasetsOf,
  inputFormatsOf,
  metricsOf,
  modelArchitectureOf,
  stageEnergiesOf,
  taskOf,
  trainingSummaryOf,
  type DatasetFacts,
  type ExportOptions,
} from './facts.js';

type Json = Record<string, unknown>;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** CycloneDX's energy activities; a stage with another name is 'other', its name in a property. */
const ACTIVITIES: Record<string, string> = {
  training: 'training',
  validation: 'validation',
  'fine-tuning': 'fine-tuning',
};

const prop = (name: string, value: string | number | boolean) => ({ name: `candor:${name}`, value: String(value) });

/** Drops undefined fields and empty arrays/objects, so an unknown fact leaves no trace. */
function compact<T extends Json>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(
      ([, v]) =>
        v !== undefined &&
        !(Array.isArray(v) && v.length === 0) &&
        !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0),
    ),
  ) as T;
}

function datasetComponent(d: DatasetFacts): Json {
  const source = d.source;
  const fingerprints = d.tensors.map(({ role, fingerprint: f }) =>
    prop(
      `fingerprint:${role}`,
      [
        `${f.dtype} [${f.shape.join(', ')}], ${f.bytes} bytes`,
        ...digestsOf(f).map((h) => `${h.label} ${h.value}`),
      ].join('; '),
    ),
  );
  const pii = d.pii && Object.entries(d.pii.counts).filter(([, n]) => n > 0);
  return compact({
    type: 'data',
    'bom-ref': d.ref,
    name: source?.name ?? d.names[0],
    description: d.description,
    licenses: source ? [{ license: { name: source.licence } }] : undefined,
    externalReferences: source?.url ? [{ type: 'distribution', url: source.url }] : undefined,
    // The files as published, each with its SHA-256.
    components: source?.files.map((f) =>
      compact({
        type: 'file',
        'bom-ref': `${d.ref}/${f.name}`,
        name: f.name,
        hashes: [{ alg: 'SHA-256', content: f.sha256 }],
        properties: [prop('bytes', f.bytes)],
      }),
    ),
    data: [
      compact({
        type: 'dataset',
        name: d.names.join(', '),
        contents: { properties: [prop('samples', d.samples), prop('bytes', d.bytes), ...fingerprints] },
        sensitiveData: pii?.length
          ? pii.map(([type, n]) => `${n} ${type} found by Candor's PII scan (redaction: ${d.pii!.redaction})`)
          : undefined,
      }),
    ],
    properties: [prop('names', d.names.join(', ')), ...(source?.citation ? [prop('citation', source.citation)] : [])],
  });
}

function modelComponent(record: RunRecord, datasets: DatasetFacts[], options: ExportOptions): Json {
  const user = options.user ?? {};
  const approach = approachOf(record);
  const metrics = metricsOf(record).map((m) => ({ type: m.metric, value: String(m.value), slice: m.evaluation }));
  const energy = stageEnergiesOf(record).map((s) => ({
    activity: ACTIVITIES[s.stage] ?? 'other',
    // Who supplied the electricity is not known to the run: no providers rather than invented ones.
    energyProviders: [],
    activityEnergyCost: { value: s.kWh, unit: 'kWh' },
    ...(s.tCO2e !== undefined ? { co2CostEquivalent: { value: s.tCO2e, unit: 'tCO2eq' } } : {}),
    properties: [prop('stage', s.stage)],
  }));
  // platform and assumptions are issue 12's additions to the energy report; older records lack them.
  const e = record.energy as (RunRecord['energy'] & { platform?: { kind: string }; assumptions?: string[] }) | null;
  const artifacts = Object.entries(record.model.artifacts ?? {});
  return compact({
    type: 'machine-learning-model',
    'bom-ref': 'model',
    name: user.modelName ?? record.name ?? record.model.name,
    version: user.version,
    description: user.description,
    supplier: user.provider ? { name: user.provider } : undefined,
    licenses: user.license ? [{ license: { name: user.license } }] : undefined,
    // The saved files (weights, architecture), each with its SHA-256 as written.
    components: artifacts.map(([file, a]) => ({
      type: 'file',
      'bom-ref': `model/${file}`,
      name: file,
      hashes: [{ alg: 'SHA-256', content: a.sha256 }],
      properties: [prop('bytes', a.bytes)],
    })),
    modelCard: compact({
      modelParameters: compact({
        approach: approach ? { type: approach } : undefined,
        task: taskOf(record),
        architectureFamily: architectureFamilyOf(record),
        modelArchitecture: modelArchitectureOf(record),
        datasets: datasets.map((d) => ({ ref: d.ref })),
        inputs: inputFormatsOf(record).map((format) => ({ format })),
      }),
      quantitativeAnalysis: compact({ performanceMetrics: metrics }),
      considerations: compact({
        users: user.intendedUsers ? [user.intendedUsers] : undefined,
        useCases: user.intendedUse ? [user.intendedUse] : undefined,
        technicalLimitations: user.limitations ? [user.limitations] : undefined,
        environmentalConsiderations: compact({
          energyConsumptions: energy,
          properties: e
            ? [
                prop('energy:method', e.method),
                prop('energy:measured', e.measured),
                prop('energy:description', e.description),
                prop('energy:lowKWh', e.uncertainty.low / 3.6e6),
                prop('energy:highKWh', e.uncertainty.high / 3.6e6),
                ...(record.emissions ? [prop('emissions:grid', record.emissions.grid.name)] : []),
                ...(e.platform ? [prop('energy:platform', e.platform.kind)] : []),
                ...(e.assumptions ?? []).map((a) => prop('energy:assumption', a)),
              ]
            : undefined,
        }),
      }),
      properties: [prop('training', trainingSummaryOf(record))],
    }),
    properties: [
      prop('run:id', record.id),
      prop('parameters', record.model.parameters.total),
      prop('trainingFlops', record.compute.trainingFlops),
      ...(record.model.architectureSha256 ? [prop('architecture:sha256', record.model.architectureSha256)] : []),
    ],
  });
}

/** The CycloneDX 1.6 JSON BOM of a run (a plain object; JSON.stringify it to write). */
export function exportCycloneDx(record: RunRecord, options: ExportOptions = {}): Json {
  const datasets = datasetsOf(record);
  return compact({
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    // The run's id is a UUID: the BOM's serial number is it, so one run has one BOM identity.
    serialNumber: UUID.test(record.id) ? `urn:uuid:${record.id}` : undefined,
    version: 1,
    metadata: {
      timestamp: record.createdAt,
      tools: { components: [{ type: 'library', name: 'candor', version: record.software.candor }] },
    },
    components: [modelComponent(record, datasets, options), ...datasets.map(datasetComponent)],
  });
}
