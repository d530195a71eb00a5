// `candor card init`: a card.json template with every field the card reads, each preceded by a '//' comment
// key saying what it is for and which regulatory items it fills. The reader (user-info.ts) drops '//' keys
// and empty strings, so the template is valid as written and each field counts once it is filled in.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { ArgumentError } from '../errors.js';
import { CARD_FILE } from './user-info.js';

/** [field, what to write, where it shows]; nested fields as 'group.field'. */
export const CARD_FIELDS: [string, string][] = [
  ['modelName', 'The name the card uses for the model (default: the model name in the record).'],
  ['version', 'Version of the model or system. EU AI Act Annex IV 1(a).'],
  ['provider', 'Who provides the model (person or organisation). Annex IV 1(a).'],
  ['license', 'Licence of the model, an SPDX identifier where there is one (e.g. "apache-2.0"). Annex XI 1.1(f).'],
  ['contact', 'Whom to contact about the model.'],
  ['release', 'Date of release and how the model is distributed. Annex XI 1.1(c).'],
  ['description', 'A few sentences on what the model is.'],
  ['intendedUse', 'Tasks the model is for, and the AI systems it can be part of. Annex IV 1(a), XI 1.1(a).'],
  ['intendedUsers', 'Who is meant to use it.'],
  ['outOfScopeUse', 'Uses it is not meant or not fit for.'],
  ['acceptableUsePolicy', 'The acceptable use policy. Annex XI 1.1(b).'],
  ['limitations', 'Known limitations and foreseeable unintended outcomes. Annex IV 3.'],
  ['ethicalConsiderations', 'Ethical considerations.'],
  ['modality', 'Modality of inputs and outputs: text, image, audio, tabular, ... Annex XI 1.1(e).'],
  ['integration', 'What is needed to integrate the model (instructions, infrastructure, tools). Annex XI 1.2(a).'],
  ['designChoices', 'Key design choices, their rationale and assumptions. Annex IV 2(b), XI 1.2(b).'],
  ['deploymentHardware', 'Hardware the system is meant to run on. Annex IV 1(e).'],
  ['instructionsForUse', 'Instructions for use for deployers. Annex IV 1(h).'],
  ['humanOversight', 'Human oversight measures. Annex IV 2(e).'],
  ['cybersecurity', 'Cybersecurity measures. Annex IV 2(h).'],
  ['metricsRationale', 'Why the metrics used are appropriate. Annex IV 4.'],
  ['riskManagement', 'The risk management system (Article 9). Annex IV 5.'],
  ['postMarketMonitoring', 'The post-market monitoring plan. Annex IV 9.'],
  [
    'securityAssessment',
    'Security assessment and algorithm filing (PRC Measures Art. 17), or why the service needs none.',
  ],
  ['trainingType', '"pre-training" or "fine-tuning" (Hugging Face co2_eq_emissions.training_type).'],
  ['testSignOff.by', 'The person responsible for the test results, who signs them off. Annex IV 2(g).'],
  ['testSignOff.role', 'Their role.'],
  ['testSignOff.date', 'The date of the sign-off (YYYY-MM-DD).'],
  ['data.sources', 'Where the data comes from; how it was obtained and selected. Annex IV 2(d); PRC Art. 19.'],
  ['data.lawfulness', 'Why using it is lawful (licences, consent, legal basis). PRC Art. 7(1).'],
  ['data.intellectualProperty', "How others' intellectual property rights are respected. PRC Art. 7(2)."],
  ['data.personalInformation', 'Personal information in the data and its legal basis. PRC Art. 7(3).'],
  ['data.preprocessing', 'Cleaning, filtering and other curation. Annex IV 2(d), XI 1.2(c).'],
  ['data.qualityMeasures', 'Measures for truthfulness, accuracy, objectivity, diversity. PRC Art. 7(4).'],
  [
    'data.biasMeasures',
    'Measures to detect unsuitable sources and biases, and against discrimination. XI 1.2(c); PRC Art. 4(2).',
  ],
  ['data.otherLegalRequirements', 'Other legal requirements the data meets (PRC Art. 7(5)).'],
  ['labelling.procedure', 'How labels were produced. Annex IV 2(d).'],
  ['labelling.rules', 'The labelling rules. PRC Art. 8.'],
  ['labelling.qualityAssessment', 'How label quality was assessed and spot-checked. PRC Art. 8.'],
  ['labelling.annotatorTraining', 'Training and supervision of the people who labelled. PRC Art. 8.'],
];

/** The template's text: JSON with a '//' comment key before each field, every field "". */
export function cardTemplate(): string {
  const root: Record<string, unknown> = {
    '//':
      'Candor card.json: what only the people responsible for a model can say. Fill in what you can; ' +
      '"" means not given (the card then names the field as missing). Keys starting with // are comments.',
  };
  for (const [path, doc] of CARD_FIELDS) {
    const parts = path.split('.');
    let into = root;
    if (parts.length === 2) into = (root[parts[0]] ??= {}) as Record<string, unknown>;
    const field = parts[parts.length - 1];
    into[`//${field}`] = doc;
    into[field] = '';
  }
  return JSON.stringify(root, null, 2) + '\n';
}

/** Writes DIR/card.json from the template; refuses to overwrite one unless force. Returns the path. */
export async function writeCardTemplate(dir: string, { force = false }: { force?: boolean } = {}): Promise<string> {
  const file = join(dir, CARD_FILE);
  if (existsSync(file) && !force)
    throw new ArgumentError(`card init: ${file} exists; remove it or pass --force to overwrite it`);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(file, cardTemplate());
  return file;
}
