// The regulatory map: items of the EU AI Act (Annex XI Section 1 for general-purpose models, Annex IV
// for high-risk systems) and of the PRC Interim Measures for the Management of Generative AI Services
// (Art. 4(2), 7, 8, 17, 19, with the PIPL on personal information), each filled from the run record, given by
// the user (card.json), partial (the record holds part; the rest is named), or missing (naming the card.json
// field or recorder option that fills it).
// An item has exactly one possible source, so its status is never a guess; nothing is invented.
import type { RunRecord } from '../ledger/record.js';
import { siNumber } from '../ledger/meter.js';
import type { CardUserInfo } from './user-info.js';
import { auditText, piiText, privacyMeasuresText } from './privacy.js';
import { specText } from '../ledger/model-io.js';
import { digestOf, trainingDataOf, validationOf } from './record-extras.js';
import { stagesText } from './stage-costs.js';

export type ItemStatus = 'record' | 'user' | 'partial' | 'missing';

export const STATUS_TEXT: Record<ItemStatus, string> = {
  record: 'filled from record',
  user: 'given by user',
  partial: 'partial',
  missing: 'missing',
};

export interface ComplianceItem {
  ref: string;
  requirement: string;
  status: ItemStatus;
  /** The content (record summary or the user's text); for a missing item, what fills it. */
  content: string;
  /** For partial and missing items: what is missing and which card.json field or recorder option fills it. */
  missing?: string;
  /** For record items: the record field shown, and its exact value when it is one number. */
  key?: string;
  value?: number;
  /** Where the user's text came from (card.json / intended-use.md). */
  source?: string;
}

export interface ComplianceGroup {
  title: string;
  note: string;
  items: ComplianceItem[];
}

type RecordFill = { text: string; key?: string; value?: number; partial?: string };
type FromRecord = {
  record: (r: RunRecord, info: CardUserInfo) => RecordFill | undefined;
  /** What puts it in the record, for the missing item's text. */
  hint?: string;
};
type FromUser = { user: string };
interface ItemDef {
  ref: string;
  requirement: string;
  fill: FromRecord | FromUser;
}

const short = (h: string | null | undefined) => (h ? `${h.slice(0, 12)}...` : '');
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Training FLOPs as the card states them: by phase when marked, else everything metered during fit. */
export function trainingFlops(r: RunRecord): { flops: number; key: string; caveat: string } {
  if (r.compute.attribution.phases)
    return {
      flops: r.compute.trainingFlops,
      key: 'compute.trainingFlops',
      caveat: 'forward + backward + optimizer kernels',
    };
  return {
    flops: r.compute.total.flops,
    key: 'compute.total.flops',
    caveat: 'all kernels metered during fit (phases were not marked, so validation and metrics are included)',
  };
}

function energyText(r: RunRecord): string | undefined {
  const e = r.energy;
  if (!e) return undefined;
  const how = e.measured ? 'measured with RAPL counters' : 'estimated, not measured';
  const range = `${e.uncertainty.low.toPrecision(3)}-${e.uncertainty.high.toPrecision(3)} J`;
  return `${e.kWh.toPrecision(3)} kWh (${e.joules.toPrecision(4)} J), ${how}; range ${range}`;
}

function dataText(r: RunRecord): string | undefined {
  if (r.data.length === 0) return undefined;
  return r.data
    .map((d) => {
      const classes = d.labelDistribution ? `, ${Object.keys(d.labelDistribution).length} classes` : '';
      const x = d.x
        .map((t) => {
          const dg = digestOf(t);
          return `${t.dtype} [${t.shape.join(', ')}] ${dg.label.replace(/ \(key .*\)$/, '')} ${short(dg.value)}`;
        })
        .join('; ');
      return `${d.name}: ${int(d.samples)} samples, x ${x}${classes}`;
    })
    .join('. ');
}

function methodText(r: RunRecord): string {
  const h = r.training.hyperparameters as Record<string, unknown>;
  const opt = h.optimizer as { className?: string; config?: { learningRate?: unknown } } | undefined;
  const parts = [
    opt?.className
      ? `optimizer ${opt.className}` +
        (typeof opt.config?.learningRate === 'number' ? ` (learning rate ${opt.config.learningRate})` : '')
      : undefined,
    h.loss !== undefined ? `loss ${typeof h.loss === 'string' ? h.loss : JSON.stringify(h.loss)}` : undefined,
    `${r.training.epochs.completed} epochs, ${int(r.training.steps)} steps`,
    h.batchSize !== undefined ? `batch size ${h.batchSize}` : undefined,
  ];
  return parts.filter(Boolean).join(', ');
}

function evaluationText(r: RunRecord): string | undefined {
  if (r.evaluation.length === 0) return undefined;
  return r.evaluation
    .map(
      (e) =>
        `${e.name}: ${Object.entries(e.metrics)
          .map(([k, v]) => `${k} ${v === null ? 'n/a' : Number(v.toPrecision(4))}`)
          .join(', ')}`,
    )
    .join('; ');
}

function fairnessText(r: RunRecord): string | undefined {
  const withGroups = r.evaluation.filter((e) => e.report?.fairness);
  if (withGroups.length === 0) return undefined;
  return withGroups
    .map((e) => {
      const f = e.report!.fairness!;
      const v = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
      const accuracy = f.groups.map((g) => `${g.group} ${g.accuracy.toFixed(3)}`).join(', ');
      return (
        `${e.name}, by ${f.attribute}: accuracy ${accuracy}; ` +
        `demographic-parity difference ${v(f.demographicParityDifference.value)}; ` +
        `equal-opportunity difference ${v(f.equalOpportunityDifference.value)}` +
        (f.equalizedOddsDifference ? `; equalised-odds difference ${v(f.equalizedOddsDifference.value)}` : '') +
        (f.fourFifthsRule?.passes === false ? '; fails the four-fifths rule' : '')
      );
    })
    .join('; ');
}

/** Fills an item from a summary of the record, or leaves it missing (with `hint`) when the record has none. */
function fromSummary(summary: (r: RunRecord) => string | undefined, hint?: string): FromRecord {
  return {
    record: (r) => {
      const text = summary(r);
      return text ? { text } : undefined;
    },
    ...(hint ? { hint } : {}),
  };
}

/** The model's inputs and outputs: from model.inputs / outputs; partial (inputs from the data) without them. */
function formatFill(r: RunRecord): RecordFill | undefined {
  const { inputs, outputs } = r.model;
  if (inputs && outputs)
    return {
      text:
        `inputs ${inputs.map((s) => `${s.name} ${specText(s)}`).join(', ')}; ` +
        `outputs ${outputs.map((s) => `${s.name} ${specText(s)}${s.meaning ? ` (${s.meaning})` : ''}`).join(', ')}`,
    };
  const d = trainingDataOf(r);
  if (!d) return undefined;
  const per = (t: { shape: number[]; dtype: string }) => `${t.dtype} [${t.shape.slice(1).join(', ')}] per sample`;
  return {
    text: `inputs ${d.x.map(per).join(', ')} (from the training data)`,
    partial:
      'the outputs are not in this record (model.outputs: recorded for models with known inputs, ' +
      'not for subclass models or older records)',
  };
}

/** Dated test logs from the record; a responsible person's sign-off comes only from card.json. */
function testLogFill(r: RunRecord, info: CardUserInfo): RecordFill | undefined {
  if (r.evaluation.length === 0) return undefined;
  const logs =
    r.evaluation.map((e) => `${e.name} at ${e.createdAt}`).join('; ') +
    `; per-epoch history of ${Object.keys(r.training.history.metrics).join(', ')}`;
  const s = info.testSignOff;
  if (s?.by && s.date)
    return { text: `${logs}; signed off by ${s.by}${s.role ? ` (${s.role})` : ''} on ${s.date} (card.json)` };
  return {
    text: logs,
    partial:
      "a responsible person's dated sign-off of the test logs (set `testSignOff.by`, `testSignOff.role` and " +
      '`testSignOff.date` in card.json)',
  };
}

const EU_XI: ItemDef[] = [
  {
    ref: 'XI §1.1(a)',
    requirement: 'Tasks the model is intended to perform; AI systems it can be integrated in',
    fill: { user: 'intendedUse' },
  },
  { ref: 'XI §1.1(b)', requirement: 'Acceptable use policies', fill: { user: 'acceptableUsePolicy' } },
  { ref: 'XI §1.1(c)', requirement: 'Date of release and methods of distribution', fill: { user: 'release' } },
  {
    ref: 'XI §1.1(d)',
    requirement: 'Architecture and number of parameters',
    fill: {
      record: (r) => ({
        text:
          `${r.model.className} '${r.model.name}', ${r.model.layers.length} layers, ` +
          `${int(r.model.parameters.total)} parameters` +
          (r.model.architectureSha256 ? `; architecture SHA-256 ${short(r.model.architectureSha256)}` : ''),
        key: 'model.parameters.total',
        value: r.model.parameters.total,
      }),
    },
  },
  { ref: 'XI §1.1(e)', requirement: 'Modality of inputs and outputs (text, image, ...)', fill: { user: 'modality' } },
  {
    ref: 'XI §1.1(e)',
    requirement: 'Format of inputs and outputs',
    fill: { record: formatFill, hint: 'RunRecorder records dataset fingerprints and model.inputs / outputs' },
  },
  { ref: 'XI §1.1(f)', requirement: 'Licence', fill: { user: 'license' } },
  {
    ref: 'XI §1.2(a)',
    requirement: 'Technical means (instructions, infrastructure, tools) to integrate the model',
    fill: { user: 'integration' },
  },
  {
    ref: 'XI §1.2(b)',
    requirement: 'Training methodology and what the model is optimised for',
    fill: { record: (r) => ({ text: methodText(r) }) },
  },
  { ref: 'XI §1.2(b)', requirement: 'Key design choices, rationale and assumptions', fill: { user: 'designChoices' } },
  {
    ref: 'XI §1.2(c)',
    requirement: 'Number of data points, scope and main characteristics of the data',
    fill: fromSummary(dataText, 'RunRecorder fingerprints the data fit trains on'),
  },
  {
    ref: 'XI §1.2(c)',
    requirement: 'Type and provenance of the data; how it was obtained and selected',
    fill: { user: 'data.sources' },
  },
  { ref: 'XI §1.2(c)', requirement: 'Curation methods (cleaning, filtering)', fill: { user: 'data.preprocessing' } },
  {
    ref: 'XI §1.2(c)',
    requirement: 'Measures to detect unsuitable data sources and identifiable biases',
    fill: { user: 'data.biasMeasures' },
  },
  {
    ref: 'XI §1.2(d)',
    requirement: 'Computational resources used to train (floating-point operations)',
    fill: {
      record: (r) => {
        const t = trainingFlops(r);
        return { text: `${int(t.flops)} FLOPs (${siNumber(t.flops)}FLOP; ${t.caveat})`, key: t.key, value: t.flops };
      },
    },
  },
  {
    ref: 'XI §1.2(d)',
    requirement: 'Training time',
    fill: {
      record: (r) => ({
        text:
          `${r.training.wallSeconds.toFixed(1)} s wall clock (${r.training.startedAt} to ${r.training.endedAt}), ` +
          `${r.training.cpuSeconds.toFixed(1)} s CPU`,
        key: 'training.wallSeconds',
        value: r.training.wallSeconds,
      }),
    },
  },
  {
    ref: 'XI §1.2(d)',
    requirement: 'Other relevant details of training (hardware, software)',
    fill: {
      record: (r) => ({
        text:
          `${r.machine.cpuModel}, ${r.machine.logicalCpus} logical CPUs, ` +
          `backend ${r.machine.backend.name} (${r.machine.backend.description}); ` +
          `Candor ${r.software.candor}, Node ${r.software.node}`,
      }),
    },
  },
  {
    ref: 'XI §1.2(e)',
    requirement: 'Known or estimated energy consumption',
    fill: {
      record: (r) => {
        const t = energyText(r);
        return t ? { text: t, key: 'energy.joules', value: r.energy!.joules } : undefined;
      },
      hint: 'RunRecorder option energy (on by default) records it',
    },
  },
];

const EU_IV: ItemDef[] = [
  { ref: 'IV 1(a)', requirement: 'Intended purpose', fill: { user: 'intendedUse' } },
  { ref: 'IV 1(a)', requirement: 'Provider and version of the system', fill: { user: 'provider' } },
  {
    ref: 'IV 1(c)',
    requirement: 'Versions of relevant software',
    fill: {
      record: (r) => ({
        text:
          `Candor ${r.software.candor}, Node ${r.software.node} (V8 ${r.software.v8}), ` +
          `${r.software.platform}/${r.software.arch}, backend ${r.machine.backend.name}`,
      }),
    },
  },
  { ref: 'IV 1(e)', requirement: 'Hardware the system is intended to run on', fill: { user: 'deploymentHardware' } },
  { ref: 'IV 1(h)', requirement: 'Instructions for use for the deployer', fill: { user: 'instructionsForUse' } },
  {
    ref: 'IV 2(a)',
    requirement: 'Methods and steps of development (training procedure and tools)',
    fill: { record: (r) => ({ text: `trained with Candor ${r.software.candor} fit(): ${methodText(r)}` }) },
  },
  { ref: 'IV 2(b)', requirement: 'Key design choices, rationale and assumptions', fill: { user: 'designChoices' } },
  {
    ref: 'IV 2(c)',
    requirement: 'System architecture',
    fill: {
      record: (r) => ({
        text: `${r.model.className} with layers ${r.model.layers.map((l) => `${l.name} (${l.className})`).join(', ')}`,
        key: 'model.parameters.total',
        value: r.model.parameters.total,
      }),
    },
  },
  {
    ref: 'IV 2(c)',
    requirement: 'Computational resources used to develop, train, test and validate',
    fill: {
      record: (r) => {
        const t = trainingFlops(r);
        const text =
          `${stagesText(r)}; fit took ${r.training.wallSeconds.toFixed(1)} s ` +
          `on ${r.machine.cpuModel} (${r.machine.backend.name} backend)`;
        const unmetered = text.includes('not metered');
        return {
          text,
          key: t.key,
          value: t.flops,
          ...(unmetered ? { partial: 'the compute of the stages marked "not metered" (record.stages holds it)' } : {}),
        };
      },
    },
  },
  {
    ref: 'IV 2(d)',
    requirement: 'Training data: general description, scope and main characteristics',
    fill: fromSummary(dataText, 'RunRecorder fingerprints the data fit trains on'),
  },
  {
    ref: 'IV 2(d)',
    requirement: 'Provenance of the data; how it was obtained and selected',
    fill: { user: 'data.sources' },
  },
  { ref: 'IV 2(d)', requirement: 'Labelling procedures', fill: { user: 'labelling.procedure' } },
  { ref: 'IV 2(d)', requirement: 'Data cleaning methodologies', fill: { user: 'data.preprocessing' } },
  {
    ref: 'IV 2(d); Art. 10(2)(c)',
    requirement: 'Data preparation: personal data found in the training data and how it was redacted',
    fill: fromSummary(piiText, 'a PIIRedactor over the data, then redactor.record(recorder)'),
  },
  {
    ref: 'Art. 10(5)(b)',
    requirement: 'State-of-the-art privacy-preserving measures for personal data, including pseudonymisation',
    fill: fromSummary(privacyMeasuresText, 'DP-SGD training or a PIIRedactor records the measures'),
  },
  { ref: 'IV 2(e)', requirement: 'Human oversight measures', fill: { user: 'humanOversight' } },
  {
    ref: 'IV 2(g)',
    requirement: 'Validation and testing data and their main characteristics',
    fill: {
      record: (r) => {
        const ds = r.evaluation.filter((e) => e.data);
        const v = validationOf(r);
        const parts = ds.map((e) => {
          const x = e.data!.x[0];
          const dg = x ? digestOf(x) : undefined;
          const digest = dg ? `${dg.label.replace(/ \(key .*\)$/, '')} ${short(dg.value)}` : 'no fingerprint';
          return `${e.name}: ${int(e.data!.samples)} samples, ${digest}`;
        });
        if (v.kind !== 'none') parts.push(`validation: ${v.text}`);
        return parts.length ? { text: parts.join('; ') } : undefined;
      },
      hint: 'RunRecorder.evaluate() after fit records the test data',
    },
  },
  {
    ref: 'IV 2(g)',
    requirement: 'Metrics used to measure accuracy',
    fill: fromSummary(evaluationText, 'RunRecorder.evaluate() after fit records them'),
  },
  {
    ref: 'IV 2(g)',
    requirement: 'Potentially discriminatory impacts',
    fill: fromSummary(fairnessText, 'RunRecorder.evaluate(..., { groups }) records per-group results'),
  },
  {
    ref: 'IV 2(g)',
    requirement: 'Test logs and reports, dated and signed by the responsible persons',
    fill: { record: testLogFill, hint: 'RunRecorder.evaluate() after fit records dated test results' },
  },
  { ref: 'IV 2(h)', requirement: 'Cybersecurity measures', fill: { user: 'cybersecurity' } },
  {
    ref: 'IV 2(h); Art. 15(5)',
    requirement: 'Tests against confidentiality attacks on the training data (membership inference)',
    fill: fromSummary(auditText, 'privacy.membershipAudit records one'),
  },
  {
    ref: 'IV 3',
    requirement: 'Degrees of accuracy for specific persons or groups',
    fill: fromSummary(fairnessText, 'RunRecorder.evaluate(..., { groups }) records per-group accuracy'),
  },
  {
    ref: 'IV 3',
    requirement: 'Capabilities and limitations in performance; foreseeable unintended outcomes',
    fill: { user: 'limitations' },
  },
  { ref: 'IV 4', requirement: 'Appropriateness of the performance metrics', fill: { user: 'metricsRationale' } },
  { ref: 'IV 5', requirement: 'Risk management system (Article 9)', fill: { user: 'riskManagement' } },
  { ref: 'IV 9', requirement: 'Post-market monitoring plan', fill: { user: 'postMarketMonitoring' } },
];

const PRC: ItemDef[] = [
  {
    ref: 'Art. 4(2)',
    requirement:
      'Effective measures against discrimination (ethnicity, belief, nationality, region, sex, age, ' +
      'occupation, health) in algorithm design, training data selection, model generation and optimisation',
    fill: { user: 'data.biasMeasures' },
  },
  {
    ref: 'Art. 7(1)',
    requirement: 'Training data and foundation models have lawful sources',
    fill: { user: 'data.lawfulness' },
  },
  {
    ref: 'Art. 7(2)',
    requirement: "No infringement of others' intellectual property rights",
    fill: { user: 'data.intellectualProperty' },
  },
  {
    ref: 'Art. 7(3)',
    requirement: 'Consent or other lawful basis for personal information',
    fill: { user: 'data.personalInformation' },
  },
  {
    ref: 'Art. 7(3); PIPL Art. 51(3)',
    requirement: 'Technical security measures for personal information, such as de-identification',
    fill: fromSummary(privacyMeasuresText, 'DP-SGD training or a PIIRedactor records the measures'),
  },
  {
    ref: 'Art. 7(3); PIPL Art. 51',
    requirement: 'Personal information in the training data (types and amounts found)',
    fill: fromSummary(piiText, 'a PIIRedactor over the data, then redactor.record(recorder)'),
  },
  {
    ref: 'Art. 7(4)',
    requirement: 'Measures for the quality of training data (truthfulness, accuracy, objectivity, diversity)',
    fill: { user: 'data.qualityMeasures' },
  },
  {
    ref: 'Art. 7(5)',
    requirement:
      'Other requirements of laws and regulations on training data (Cybersecurity Law, Data Security Law, PIPL) ' +
      'and of the competent authorities',
    fill: { user: 'data.otherLegalRequirements' },
  },
  { ref: 'Art. 8', requirement: 'Clear, specific, operable labelling rules', fill: { user: 'labelling.rules' } },
  {
    ref: 'Art. 8',
    requirement: 'Labelling quality assessment and spot checks of label accuracy',
    fill: { user: 'labelling.qualityAssessment' },
  },
  {
    ref: 'Art. 8',
    requirement: 'Training and supervision of labelling personnel',
    fill: { user: 'labelling.annotatorTraining' },
  },
  {
    ref: 'Art. 17',
    requirement:
      'Security assessment and algorithm filing, for services with public-opinion attributes or ' +
      'social-mobilisation capacity',
    fill: { user: 'securityAssessment' },
  },
  { ref: 'Art. 19', requirement: 'Source of the training data (for the authorities)', fill: { user: 'data.sources' } },
  {
    ref: 'Art. 19',
    requirement: 'Scale and type of the training data (for the authorities)',
    fill: fromSummary(dataText, 'RunRecorder fingerprints the data fit trains on'),
  },
];

function userValue(info: CardUserInfo, path: string): string | undefined {
  let v: unknown = info;
  for (const part of path.split('.'))
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function fill(defs: ItemDef[], r: RunRecord, info: CardUserInfo, sources: Record<string, string>): ComplianceItem[] {
  return defs.map((d) => {
    const base = { ref: d.ref, requirement: d.requirement };
    if ('record' in d.fill) {
      const got = d.fill.record(r, info);
      if (!got) {
        const missing = `not in the record${d.fill.hint ? ` (${d.fill.hint})` : ''}`;
        return {
          ...base,
          status: 'missing' as const,
          content: `Not in the record${d.fill.hint ? ` (${d.fill.hint})` : ''}`,
          missing,
        };
      }
      return {
        ...base,
        status: got.partial ? ('partial' as const) : ('record' as const),
        content: got.partial ? `${got.text}. Missing: ${got.partial}` : got.text,
        ...(got.partial ? { missing: got.partial } : {}),
        ...(got.key ? { key: got.key } : {}),
        ...(got.value !== undefined ? { value: got.value } : {}),
      };
    }
    const text = userValue(info, d.fill.user);
    const missing = `not given: set \`${d.fill.user}\` in card.json`;
    return text
      ? { ...base, status: 'user' as const, content: text, source: sources[d.fill.user.split('.')[0]] ?? 'card.json' }
      : { ...base, status: 'missing' as const, content: `Not given: set \`${d.fill.user}\` in card.json`, missing };
  });
}

/** Every regulatory item, filled from the record or the user's file, or marked missing. */
export function complianceMap(
  r: RunRecord,
  info: CardUserInfo,
  sources: Record<string, string> = {},
): ComplianceGroup[] {
  return [
    {
      title: 'EU AI Act, Annex XI Section 1: technical documentation of general-purpose AI models',
      note:
        'Points 1(a)-(f) and 2(a)-(e). Section 2 (models with systemic risk: evaluation strategies, ' +
        'adversarial testing) is not covered by a training record.',
      items: fill(EU_XI, r, info, sources),
    },
    {
      title: 'EU AI Act, Annex IV: technical documentation of high-risk AI systems',
      note:
        'The items a training run can inform; points 6-8 (changes, harmonised standards, ' +
        'declaration of conformity) are outside a run record.',
      items: fill(EU_IV, r, info, sources),
    },
    {
      title: 'PRC Interim Measures for the Management of Generative AI Services (2023): data, labelling, assessment',
      note:
        'Articles 4(2), 7, 8, 17 and 19; Art. 7(3) points to the Personal Information Protection Law (PIPL), whose ' +
        'Art. 51 asks for measures such as de-identification. In force 15 Aug 2023; they apply to generative AI ' +
        'services offered to the public in the PRC; whether they apply to this model is for the provider to judge.',
      items: fill(PRC, r, info, sources),
    },
  ];
}
