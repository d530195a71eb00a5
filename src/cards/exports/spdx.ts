// An SPDX 3.0.1 document (JSON-LD) with the AI and Dataset profiles' classes from a run record: the model as an
// ai_AIPackage (energy, hyperparameters, metrics, training facts), each dataset as a dataset_DatasetPackage, the
// saved files with their SHA-256, and trainedOn / testedOn relationships. Only what the record (and card.json)
// says is written; see docs/accountability.md for the map.
import { digestsOf } from '../record-extras.js';
import type { RunRecord } from '../../ledger/record.js';
import {
  architectureFamilyOf,
  datasetsOf,
  hyperparametersOf,
  metricsOf,
  stageEnergiesOf,
  trainingSummaryOf,
  wholeSecondsUtc,
  type DatasetFacts,
  type ExportOptions,
} from './facts.js';

type Json = Record<string, unknown>;
export const SPDX_CONTEXT = 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld';
const CREATION_INFO = '_:creationInfo';

/** Drops undefined fields and empty arrays, so an unknown fact leaves no trace. */
function compact(o: Json): Json {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
  );
}

const entry = (key: string, value: string) => ({ type: 'DictionaryEntry', key, value });

/** The hashes of a dataset's tensors as trained on: SHA-256, or a keyed HMAC-SHA256 (algorithm 'other'). */
function tensorHashes(d: DatasetFacts): Json[] {
  return d.tensors.flatMap(({ role, fingerprint: f }) => {
    const what = `${role}: ${f.dtype} [${f.shape.join(', ')}], ${f.bytes} bytes, its elements in row-major order`;
    return digestsOf(f).map((h) =>
      h.key === 'sha256'
        ? { type: 'Hash', algorithm: 'sha256', hashValue: h.value, comment: what }
        : {
            type: 'Hash',
            algorithm: 'other',
            hashValue: h.value,
            comment: `HMAC-SHA256 keyed with Candor fingerprint key ${h.keyId}, of ${what}`,
          },
    );
  });
}

/** The SPDX 3.0.1 JSON-LD document of a run (a plain object; JSON.stringify it to write). */
export function exportSpdx(record: RunRecord, options: ExportOptions = {}): Json {
  const user = options.user ?? {};
  const ns = `urn:candor:run:${record.id}:`;
  const id = (local: string) => ns + local;
  const base = { creationInfo: CREATION_INFO };
  const elements: Json[] = [];
  const relationships: Json[] = [];
  const relate = (from: string, type: string, to: string[]) =>
    relationships.push({
      type: 'Relationship',
      spdxId: id(`relationship-${relationships.length + 1}`),
      ...base,
      from,
      relationshipType: type,
      to,
    });
  // A licence as the user or the data source wrote it, declared by the element it belongs to.
  const declareLicence = (from: string, licence: string | undefined) => {
    if (!licence) return;
    const lid = id(`licence-${elements.length + 1}`);
    elements.push({
      type: 'simplelicensing_LicenseExpression',
      spdxId: lid,
      ...base,
      simplelicensing_licenseExpression: licence,
    });
    relate(from, 'hasDeclaredLicense', [lid]);
  };

  const agent = { type: 'SoftwareAgent', spdxId: id('candor'), ...base, name: `Candor ${record.software.candor}` };
  const tool = { type: 'Tool', spdxId: id('candor-tool'), ...base, name: `candor ${record.software.candor}` };
  const creationInfo = {
    type: 'CreationInfo',
    '@id': CREATION_INFO,
    specVersion: '3.0.1',
    created: wholeSecondsUtc(record.createdAt),
    createdBy: [agent.spdxId],
    createdUsing: [tool.spdxId],
  };
  const supplier = user.provider
    ? { type: 'Organization', spdxId: id('provider'), ...base, name: user.provider }
    : undefined;

  const training = stageEnergiesOf(record).filter((s) => s.stage === 'training');
  const family = architectureFamilyOf(record);
  const model = compact({
    type: 'ai_AIPackage',
    spdxId: id('model'),
    ...base,
    name: user.modelName ?? record.name ?? record.model.name,
    description: user.description,
    software_packageVersion: user.version,
    suppliedBy: supplier?.spdxId,
    builtTime: wholeSecondsUtc(record.training.endedAt),
    software_primaryPurpose: 'model',
    ai_typeOfModel: family ? [family] : undefined,
    ai_energyConsumption: training.length
      ? {
          type: 'ai_EnergyConsumption',
          ai_trainingEnergyConsumption: training.map((s) => ({
            type: 'ai_EnergyConsumptionDescription',
            ai_energyQuantity: s.kWh,
            ai_energyUnit: 'kilowattHour',
          })),
        }
      : undefined,
    ai_hyperparameter: hyperparametersOf(record).map(([k, v]) => entry(k, v)),
    ai_metric: metricsOf(record).map((m) => entry(`${m.evaluation}/${m.metric}`, String(m.value))),
    ai_informationAboutTraining: trainingSummaryOf(record),
    ai_informationAboutApplication: user.intendedUse,
    ai_limitation: user.limitations,
    ai_modelDataPreprocessing: user.data?.preprocessing ? [user.data.preprocessing] : undefined,
    ai_useSensitivePersonalInformation: datasetsOf(record).some(hasPii) ? 'yes' : undefined,
  });
  elements.push(agent, tool, ...(supplier ? [supplier] : []), model);
  declareLicence(model.spdxId as string, user.license);

  Object.entries(record.model.artifacts ?? {}).forEach(([file, a], i) => {
    const fid = id(`file-${i + 1}`);
    elements.push({
      type: 'software_File',
      spdxId: fid,
      ...base,
      name: file,
      verifiedUsing: [{ type: 'Hash', algorithm: 'sha256', hashValue: a.sha256 }],
    });
    relate(model.spdxId as string, 'contains', [fid]);
  });

  const trained: string[] = [];
  const tested: string[] = [];
  for (const d of datasetsOf(record)) {
    const did = id(d.ref);
    const pii = d.pii && Object.entries(d.pii.counts).filter(([, n]) => n > 0);
    elements.push(
      compact({
        type: 'dataset_DatasetPackage',
        spdxId: did,
        ...base,
        name: d.source?.name ?? d.names[0],
        description: d.description,
        comment: `Called ${d.names.map((n) => `'${n}'`).join(', ')} in the run; ${d.samples} samples.`,
        software_primaryPurpose: 'data',
        software_downloadLocation: d.source?.url,
        // Candor sees tensors, not what they depict: the type is not asserted.
        dataset_datasetType: ['noAssertion'],
        dataset_datasetSize: d.bytes,
        verifiedUsing: tensorHashes(d),
        dataset_hasSensitivePersonalInformation: pii?.length ? 'yes' : undefined,
        dataset_anonymizationMethodUsed:
          pii?.length && d.pii!.redaction !== 'none' ? [`PII replaced by ${d.pii!.redaction}s (Candor redaction)`] : [],
      }),
    );
    declareLicence(did, d.source?.licence);
    d.source?.files.forEach((f, i) => {
      const fid = id(`${d.ref}-file-${i + 1}`);
      elements.push({
        type: 'software_File',
        spdxId: fid,
        ...base,
        name: f.name,
        verifiedUsing: [{ type: 'Hash', algorithm: 'sha256', hashValue: f.sha256 }],
      });
      relate(did, 'hasDataFile', [fid]);
    });
    if (d.trainedOn) trained.push(did);
    if (d.testedOn) tested.push(did);
  }
  if (trained.length) relate(model.spdxId as string, 'trainedOn', trained);
  if (tested.length) relate(model.spdxId as string, 'testedOn', tested);

  const all = [...elements, ...relationships];
  const document = {
    type: 'SpdxDocument',
    spdxId: id('document'),
    ...base,
    name: `Candor run ${record.name ?? record.id}`,
    // Only the profiles whose conformance rules this document meets; the AI and Dataset profiles also require
    // licences, a supplier, a download location and a release time that a run record does not know.
    profileConformance: ['core', 'software'],
    rootElement: [model.spdxId],
    element: all.map((e) => e.spdxId),
  };
  return { '@context': SPDX_CONTEXT, '@graph': [creationInfo, document, ...all] };
}

function hasPii(d: DatasetFacts): boolean {
  return d.pii !== undefined && Object.values(d.pii.counts).some((n) => n > 0);
}
