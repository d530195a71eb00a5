// What only people can say about a model (intended use, limitations, data provenance and lawfulness,
// labelling rules, oversight), read from an optional card.json (and/or intended-use.md) in the run
// directory. Candor shows this text as written and marks it "given by the user"; it never fills it in.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonSchemaValidator, type Schema } from '../ledger/json-schema.js';
import { RecordError } from '../ledger/errors.js';

export const CARD_FILE = 'card.json';
export const INTENDED_USE_FILE = 'intended-use.md';

export interface DataStatement {
  /** Where the data comes from and how it was obtained and selected. */
  sources?: string;
  /** Why its use is lawful (licences, consent, legal basis). */
  lawfulness?: string;
  intellectualProperty?: string;
  personalInformation?: string;
  /** Cleaning, filtering and other curation. */
  preprocessing?: string;
  /** Measures for the data's accuracy, objectivity and diversity. */
  qualityMeasures?: string;
  /** Measures to detect unsuitable sources and identifiable biases. */
  biasMeasures?: string;
  /** Other legal and regulatory requirements met by the training data (PRC Measures Art. 7(5)). */
  otherLegalRequirements?: string;
}

/** A responsible person's sign-off of the test logs (EU AI Act Annex IV 2(g)): a statement, not a signature. */
export interface TestSignOff {
  by?: string;
  role?: string;
  /** When they signed off (ISO 8601 date). */
  date?: string;
}

export interface LabellingStatement {
  /** How labels were produced. */
  procedure?: string;
  rules?: string;
  qualityAssessment?: string;
  annotatorTraining?: string;
}

export interface CardUserInfo {
  modelName?: string;
  version?: string;
  provider?: string;
  license?: string;
  contact?: string;
  /** Release date and distribution. */
  release?: string;
  description?: string;
  intendedUse?: string;
  intendedUsers?: string;
  outOfScopeUse?: string;
  acceptableUsePolicy?: string;
  limitations?: string;
  ethicalConsiderations?: string;
  /** Input and output modality (text, image, ...). */
  modality?: string;
  integration?: string;
  designChoices?: string;
  deploymentHardware?: string;
  instructionsForUse?: string;
  humanOversight?: string;
  cybersecurity?: string;
  metricsRationale?: string;
  riskManagement?: string;
  postMarketMonitoring?: string;
  /** Security assessment and algorithm filing (PRC Measures Art. 17), or why none is needed. */
  securityAssessment?: string;
  /** 'pre-training' or 'fine-tuning' (Hugging Face co2_eq_emissions.training_type). */
  trainingType?: string;
  testSignOff?: TestSignOff;
  data?: DataStatement;
  labelling?: LabellingStatement;
}

const str = { type: 'string', minLength: 1 };
const obj = (keys: string[]) => ({
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(keys.map((k) => [k, str])),
});

export const CARD_USER_SCHEMA: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Candor card.json (what the people responsible for a model say about it)',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    ...obj([
      'modelName',
      'version',
      'provider',
      'license',
      'contact',
      'release',
      'description',
      'intendedUse',
      'intendedUsers',
      'outOfScopeUse',
      'acceptableUsePolicy',
      'limitations',
      'ethicalConsiderations',
      'modality',
      'integration',
      'designChoices',
      'deploymentHardware',
      'instructionsForUse',
      'humanOversight',
      'cybersecurity',
      'metricsRationale',
      'riskManagement',
      'postMarketMonitoring',
      'securityAssessment',
      'trainingType',
    ]).properties,
    testSignOff: obj(['by', 'role', 'date']),
    data: obj([
      'sources',
      'lawfulness',
      'intellectualProperty',
      'personalInformation',
      'preprocessing',
      'qualityMeasures',
      'biasMeasures',
      'otherLegalRequirements',
    ]),
    labelling: obj(['procedure', 'rules', 'qualityAssessment', 'annotatorTraining']),
  },
};

const validator = new JsonSchemaValidator(CARD_USER_SCHEMA);

export interface LoadedUserInfo {
  info: CardUserInfo;
  /** Which file each top-level field came from, for the "given by the user" marks. */
  sources: Record<string, string>;
  files: string[];
}

/**
 * card.json as written by `candor card init`: keys starting with '//' are comments and "" means not given;
 * both are dropped (recursively) before the file is checked, so a half-filled template is valid.
 */
export function withoutCommentsAndBlanks(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('//') || (typeof v === 'string' && v.trim() === '')) continue;
    const kept = withoutCommentsAndBlanks(v);
    if (typeof kept === 'object' && kept !== null && !Array.isArray(kept) && Object.keys(kept).length === 0) continue;
    out[k] = kept;
  }
  return out;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RecordError(`card: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads card.json and intended-use.md from `dir` when they exist (neither is required). */
export async function loadUserInfo(dir: string): Promise<LoadedUserInfo> {
  const info: CardUserInfo = {};
  const sources: Record<string, string> = {};
  const files: string[] = [];
  const json = await readOptional(join(dir, CARD_FILE));
  if (json !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new RecordError(`card: ${join(dir, CARD_FILE)} is not valid JSON: ${(e as Error).message}`);
    }
    value = withoutCommentsAndBlanks(value);
    const problems = validator.validate(value);
    if (problems.length)
      throw new RecordError(
        `card: ${join(dir, CARD_FILE)} does not match the card.json format: ${problems.join('; ')}`,
      );
    Object.assign(info, value);
    delete (info as Record<string, unknown>).$schema;
    for (const k of Object.keys(info)) sources[k] = CARD_FILE;
    files.push(CARD_FILE);
  }
  const md = await readOptional(join(dir, INTENDED_USE_FILE));
  if (md !== undefined && md.trim() !== '') {
    files.push(INTENDED_USE_FILE);
    if (info.intendedUse === undefined) {
      info.intendedUse = md.trim();
      sources.intendedUse = INTENDED_USE_FILE;
    }
  }
  return { info, sources, files };
}
