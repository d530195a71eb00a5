// The model card: built from a run record plus the user's optional card.json / intended-use.md, written
// as Markdown and as a standalone HTML page. Figures come only from the record, text only from the user;
// whatever neither provides is shown as missing.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import { readRunRecord, recordHash, type RunRecord, type EvaluationRecord } from '../ledger/record.js';
import type { EncryptionKey } from '../io/encryption.js';
import { profileLines, siNumber } from '../ledger/meter.js';
import { PHASES } from '../autograd/annotations.js';
import type { ClassificationReport } from '../ledger/evaluation.js';
import { fig, num, renderHtml, renderMarkdown, type Block, type Cell, type Doc } from './document.js';
import { lineChart } from './svg.js';
import { complianceMap, trainingFlops, STATUS_TEXT, type ComplianceGroup } from './compliance.js';
import { applicability } from './applicability.js';
import { summarySection, contentsBlock } from './summary.js';
import { distributedSection } from './distributed.js';
import { frontMatter } from './front-matter.js';
import { specText } from '../ledger/model-io.js';
import {
  assumptionsOf,
  digestOf,
  fingerprintsOf,
  platformOf,
  sameAsOf,
  sourceOf,
  validationOf,
} from './record-extras.js';
import { stageRows } from './stage-costs.js';
import { loadUserInfo, type CardUserInfo, type LoadedUserInfo } from './user-info.js';
import { privacySection } from './privacy.js';
import { fairnessBlocks } from './fairness.js';
import { explanationsSection } from './explanations.js';
import { compressionSection } from './compression.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');

interface Ctx {
  r: RunRecord;
  user: CardUserInfo;
  sources: Record<string, string>;
}

function userBlock(ctx: Ctx, field: keyof CardUserInfo, title: string): Block[] {
  const v = ctx.user[field];
  return typeof v === 'string'
    ? [
        { kind: 'heading', level: 3, text: title },
        { kind: 'userText', text: v, source: `Given by the user (${ctx.sources[field] ?? 'card.json'})` },
      ]
    : [];
}

function missingList(ctx: Ctx, fields: [string, string][]): Block[] {
  const missing = fields
    .filter(([path]) => {
      let v: unknown = ctx.user;
      for (const p of path.split('.'))
        v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
      return typeof v !== 'string';
    })
    .map(([path, label]) => `${label} (\`${path}\`)`);
  return missing.length
    ? [
        {
          kind: 'para',
          className: 'note',
          text:
            `Not given: set these in card.json (\`candor card init RUN_DIR\` writes a template): ` +
            `${missing.join('; ')}.`,
        },
      ]
    : [];
}

function modelSection(ctx: Ctx): Block[] {
  const { r, user } = ctx;
  const h = r.training.hyperparameters as Record<string, unknown>;
  const opt = h.optimizer as { className?: string; config?: Record<string, unknown> } | undefined;
  const rows: (Cell | string)[][] = [];
  const userRow = (label: string, field: keyof CardUserInfo) => {
    const v = user[field];
    if (typeof v === 'string') rows.push([label, v, 'user']);
  };
  rows.push(['Name', r.model.name, 'record']);
  userRow('Name given by the user', 'modelName');
  rows.push(['Model class', r.model.className, 'record']);
  userRow('Version', 'version');
  userRow('Provider', 'provider');
  userRow('Licence', 'license');
  userRow('Contact', 'contact');
  userRow('Release', 'release');
  rows.push([
    'Parameters',
    fig(
      `${int(r.model.parameters.total)} (${int(r.model.parameters.trainable)} trainable)`,
      'model.parameters.total',
      r.model.parameters.total,
    ),
    'record',
  ]);
  rows.push([
    'Architecture SHA-256',
    fig(
      r.model.architectureSha256 ?? 'not recorded (subclass model)',
      'model.architectureSha256',
      r.model.architectureSha256 ?? '',
    ),
    'record',
  ]);
  if (opt?.className) rows.push(['Optimizer', `${opt.className} ${JSON.stringify(opt.config ?? {})}`, 'record']);
  if (h.loss !== undefined)
    rows.push([
      'Loss (what training optimises)',
      typeof h.loss === 'string' ? h.loss : JSON.stringify(h.loss),
      'record',
    ]);
  for (const [name, a] of Object.entries(r.model.artifacts ?? {}))
    rows.push([
      `File ${name}`,
      fig(`SHA-256 ${a.sha256} (${int(a.bytes)} bytes)`, `model.artifacts.${name}.sha256`, a.sha256),
      'record',
    ]);
  return [
    { kind: 'heading', level: 2, text: 'Model details', id: 'model' },
    { kind: 'table', header: ['Field', 'Value', 'Source'], rows },
    ...userBlock(ctx, 'description', 'Description'),
    ...ioBlocks(r),
    {
      kind: 'table',
      caption: 'Layers',
      header: ['Layer', 'Class', 'Parameters'],
      rows: r.model.layers.map((l, i) => [
        l.name,
        l.className,
        fig(int(l.parameters), `model.layers.${i}.parameters`, l.parameters),
      ]),
    },
  ];
}

/** The model's inputs and outputs (model.inputs / outputs), never the training targets in their place. */
function ioBlocks(r: RunRecord): Block[] {
  const { inputs, outputs } = r.model;
  if (!inputs || !outputs)
    return [
      {
        kind: 'para',
        className: 'note',
        text:
          'Inputs and outputs: not in this record (model.inputs / outputs are recorded for models whose inputs are ' +
          'known; not for subclass models or records from older versions).',
      },
    ];
  return [
    {
      kind: 'table',
      caption: 'Inputs and outputs (of the model, not the training targets)',
      header: ['Role', 'Name', 'dtype', 'Shape (null: any size)', 'Meaning'],
      rows: [
        ...inputs.map((s) => ['input', s.name, s.dtype, JSON.stringify(s.shape), specText(s)]),
        ...outputs.map((s) => ['output', s.name, s.dtype, JSON.stringify(s.shape), s.meaning ?? specText(s)]),
      ],
    },
  ];
}

function intendedUseSection(ctx: Ctx): Block[] {
  const fields: [keyof CardUserInfo, string][] = [
    ['intendedUse', 'Intended use'],
    ['intendedUsers', 'Intended users'],
    ['outOfScopeUse', 'Out-of-scope use'],
    ['acceptableUsePolicy', 'Acceptable use policy'],
    ['limitations', 'Limitations'],
    ['ethicalConsiderations', 'Ethical considerations'],
    ['modality', 'Modality'],
    ['instructionsForUse', 'Instructions for use'],
    ['humanOversight', 'Human oversight'],
    ['designChoices', 'Design choices'],
  ];
  return [
    { kind: 'heading', level: 2, text: 'Intended use and limitations', id: 'intended-use' },
    ...fields.flatMap(([f, t]) => userBlock(ctx, f, t)),
    ...missingList(
      ctx,
      fields.map(([f, t]) => [f, t]),
    ),
  ];
}

function datasetTable(d: RunRecord['data'][number], key: string): Block[] {
  const fp = fingerprintsOf(d);
  const tensors = [
    ...fp.x.map((t, i) => ({ t, role: fp.x.length > 1 ? `x${i}` : 'x', path: `${key}.x.${i}` })),
    ...fp.y.map((t, i) => ({ t, role: fp.y.length > 1 ? `y${i}` : 'y', path: `${key}.y.${i}` })),
  ];
  const keyed = tensors.some(({ t }) => t.hmacSha256);
  const same = sameAsOf(d);
  const blocks: Block[] = [
    { kind: 'heading', level: 3, text: `Dataset '${d.name}': ${int(d.samples)} samples` },
    ...(same
      ? [
          {
            kind: 'para',
            text: `The same data as dataset '${same}' (equal fingerprints): fit's validationData was the ${same} set.`,
          } as Block,
        ]
      : []),
    {
      kind: 'table',
      header: [
        'Tensor',
        'dtype',
        'Shape',
        'Bytes',
        keyed ? 'Keyed fingerprint of the elements (HMAC-SHA-256)' : 'SHA-256 of the elements',
        ...(keyed ? ['Key id'] : []),
      ],
      rows: tensors.map(({ t, role, path }) => {
        const dg = digestOf(t);
        return [
          role,
          t.dtype,
          `[${t.shape.join(', ')}]`,
          int(t.bytes),
          fig(dg.value, `${path}.${dg.key}`, dg.value),
          ...(keyed ? [t.keyId ?? 'unknown'] : []),
        ];
      }),
    },
  ];
  if (keyed)
    blocks.push({
      kind: 'para',
      className: 'note',
      text:
        'Keyed fingerprints identify the data to whoever holds the key and cannot be inverted by enumerating ' +
        'candidate data without it.',
    });
  const src = sourceOf(d);
  if (src)
    blocks.push({
      kind: 'table',
      caption: `Source: ${src.name}`,
      header: ['Field', 'Value'],
      rows: [
        ['Name', src.name],
        ['Licence', src.licence],
        ['Published at', src.url],
        ...(src.citation ? [['Citation', src.citation]] : []),
        ...(src.note ? [['Note', src.note]] : []),
        ...src.files.map((f, i) => [
          `File ${f.name}`,
          fig(`SHA-256 ${f.sha256} (${int(f.bytes)} bytes, as published)`, `${key}.source.files.${i}.sha256`, f.sha256),
        ]),
      ],
    });
  if (d.description)
    blocks.push({ kind: 'userText', text: d.description, source: 'Description recorded with the data' });
  if (d.labelDistribution) {
    const total = Object.values(d.labelDistribution).reduce((s, v) => s + v, 0);
    blocks.push({
      kind: 'table',
      caption: 'Label distribution',
      header: ['Label', 'Count', 'Share'],
      rows: Object.entries(d.labelDistribution).map(([label, n]) => [
        label,
        fig(int(n), `${key}.labelDistribution.${label}`, n),
        `${((100 * n) / total).toFixed(1)}%`,
      ]),
    });
  } else if (d.labelDistributionWithheld)
    blocks.push({
      kind: 'para',
      className: 'note',
      text:
        'Label distribution: withheld (the default; with the other facts of a record, label counts narrow a ' +
        'guess of the labels). RunRecorder option labelDistribution: true records it.',
    });
  return blocks;
}

function dataSection(ctx: Ctx): Block[] {
  const { r } = ctx;
  const dataFields: [string, string][] = [
    ['data.sources', 'Sources and how the data was obtained'],
    ['data.lawfulness', 'Lawfulness of the sources'],
    ['data.intellectualProperty', 'Intellectual property'],
    ['data.personalInformation', 'Personal information'],
    ['data.preprocessing', 'Curation and cleaning'],
    ['data.qualityMeasures', 'Quality measures'],
    ['data.biasMeasures', 'Bias detection'],
    ['data.otherLegalRequirements', 'Other legal requirements'],
  ];
  const labelFields: [string, string][] = [
    ['labelling.procedure', 'Labelling procedure'],
    ['labelling.rules', 'Labelling rules'],
    ['labelling.qualityAssessment', 'Labelling quality assessment'],
    ['labelling.annotatorTraining', 'Annotator training and supervision'],
  ];
  const statements = (fields: [string, string][]): Block[] =>
    fields.flatMap(([path, title]) => {
      const [group, k] = path.split('.') as ['data' | 'labelling', string];
      const v = (ctx.user[group] as Record<string, string> | undefined)?.[k];
      return v
        ? [
            { kind: 'heading', level: 3, text: title } as Block,
            { kind: 'userText', text: v, source: `Given by the user (${ctx.sources[group] ?? 'card.json'})` } as Block,
          ]
        : [];
    });
  return [
    { kind: 'heading', level: 2, text: 'Data', id: 'data' },
    ...(r.data.length
      ? r.data.flatMap((d, i) => datasetTable(d, `data.${i}`))
      : [{ kind: 'para', className: 'note', text: 'Missing: the record holds no dataset fingerprints.' } as Block]),
    ...statements(dataFields),
    ...statements(labelFields),
    ...missingList(ctx, [...dataFields, ...labelFields]),
  ];
}

function trainingSection(ctx: Ctx): Block[] {
  const { r } = ctx;
  const t = r.training;
  const metrics = t.history.metrics;
  const names = Object.keys(metrics);
  const base = (k: string) => k.replace(/^val_/, '');
  const families = [...new Set(names.map(base))];
  const validation = validationOf(r);
  // A chart of one epoch is a single dot: two epochs at least, else the table says it all.
  const charts: Block[] =
    t.history.epochs.length < 2
      ? [
          {
            kind: 'para',
            className: 'note',
            text:
              `${t.history.epochs.length === 1 ? 'One epoch' : 'No epochs'}: no curves to draw ` +
              '(a chart needs two epochs); the values are in the table below.',
          },
        ]
      : families.map((fam) => ({
          kind: 'figure',
          caption: `${fam} per epoch${names.includes(`val_${fam}`) ? ' (training and validation)' : ''}`,
          svg: lineChart(
            names.filter((k) => base(k) === fam).map((k) => ({ name: k, values: metrics[k] })),
            { title: fam, yLabel: fam },
          ),
        }));
  const history: Block = {
    kind: 'table',
    caption: 'Metric history',
    header: ['Epoch', ...names],
    rows: t.history.epochs.map((e, i) => [
      String(e + 1),
      ...names.map((k) => fig(num(metrics[k][i], 6), `training.history.metrics.${k}.${i}`, metrics[k][i] ?? '')),
    ]),
  };
  return [
    { kind: 'heading', level: 2, text: 'Training', id: 'training' },
    {
      kind: 'table',
      header: ['Field', 'Value'],
      rows: [
        ['Status', r.status === 'completed' ? 'completed' : 'stopped early by a callback'],
        [
          'Epochs',
          `${t.epochs.completed} completed${t.epochs.requested !== null ? ` of ${t.epochs.requested}` : ''}` +
            ` (from epoch ${t.epochs.initial})`,
        ],
        ['Steps', fig(int(t.steps), 'training.steps', t.steps)],
        ['Validation', validation.text],
        ['Started', t.startedAt],
        ['Ended', t.endedAt],
        ['Wall time', fig(`${t.wallSeconds.toFixed(2)} s`, 'training.wallSeconds', t.wallSeconds)],
        ['CPU time', fig(`${t.cpuSeconds.toFixed(2)} s`, 'training.cpuSeconds', t.cpuSeconds)],
        [
          'Seeds',
          Object.keys(t.seeds).length
            ? Object.entries(t.seeds)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')
            : 'none recorded',
        ],
      ],
    },
    {
      kind: 'table',
      caption: 'Hyperparameters',
      header: ['Name', 'Value'],
      rows: Object.entries(t.hyperparameters).map(([k, v]) => [
        k,
        (typeof v === 'string' ? v : JSON.stringify(v)) +
          (k === 'validationSplit' && validation.kind === 'validationData'
            ? " (not used: fit validated on validationData; see 'Validation' above)"
            : ''),
      ]),
    },
    ...charts,
    ...(t.history.epochs.length < 2
      ? [history]
      : [{ kind: 'details', summary: 'Metric history', blocks: [history] } as Block]),
  ];
}

function reportBlocks(e: EvaluationRecord, key: string, rep: ClassificationReport): Block[] {
  const blocks: Block[] = [
    {
      kind: 'table',
      caption: 'Per class',
      header: ['Class', 'Support', 'Precision', 'Recall', 'F1'],
      rows: rep.perClass.map((p, i) => [
        p.label,
        int(p.support),
        fig(num(p.precision), `${key}.perClass.${i}.precision`, p.precision ?? ''),
        fig(num(p.recall), `${key}.perClass.${i}.recall`, p.recall ?? ''),
        num(p.f1),
      ]),
    },
    {
      kind: 'table',
      caption: 'Confusion matrix (rows: true class, columns: predicted)',
      header: ['', ...rep.labels],
      rows: rep.confusion.map((row, i) => [rep.labels[i], ...row.map((v) => int(v))]),
    },
  ];
  if (rep.fairness) blocks.push(...fairnessBlocks(e.name, key, rep.fairness, rep.labels));
  return blocks;
}

function evaluationSection(ctx: Ctx): Block[] {
  const { r } = ctx;
  const head: Block = { kind: 'heading', level: 2, text: 'Evaluation', id: 'evaluation' };
  if (r.evaluation.length === 0)
    return [
      head,
      {
        kind: 'para',
        className: 'note',
        text: 'Missing: the record holds no evaluation. Add one with RunRecorder.evaluate() after fit.',
      },
    ];
  return [
    head,
    ...r.evaluation.flatMap((e, i) => {
      const key = `evaluation.${i}`;
      const blocks: Block[] = [
        { kind: 'heading', level: 3, text: `${e.name} (${e.createdAt})` },
        {
          kind: 'table',
          header: ['Metric', 'Value'],
          rows: Object.entries(e.metrics).map(([k, v]) => [k, fig(num(v, 6), `${key}.metrics.${k}`, v ?? '')]),
        },
      ];
      if (e.data)
        blocks.push({
          kind: 'para',
          text:
            `Evaluated on ${int(e.data.samples)} samples` +
            (e.data.x[0] ? ` (x ${digestOf(e.data.x[0]).label} ${digestOf(e.data.x[0]).value}).` : '.'),
        });
      if (e.report) {
        blocks.push({
          kind: 'table',
          header: ['Overall', 'Value'],
          rows: [
            ['Accuracy', fig(num(e.report.accuracy, 6), `${key}.report.accuracy`, e.report.accuracy)],
            ['Samples', int(e.report.samples)],
          ],
        });
        blocks.push(...reportBlocks(e, `${key}.report`, e.report));
      }
      return blocks;
    }),
  ];
}

/** Compute by stage (Annex IV 2(c): development, training, validation and testing). */
function stagesTable(r: RunRecord): Block {
  const rows = stageRows(r);
  const opt = (v: number | null, f: (x: number) => string) => (v === null ? '-' : f(v));
  return {
    kind: 'table',
    caption: 'By stage of the run',
    header: ['Stage', 'FLOPs', 'Wall s', 'CPU s', 'Energy J', 'Note'],
    rows: rows.map((s) => [
      s.stage,
      s.flops === null ? 'not metered' : s.key ? fig(int(s.flops), s.key, s.flops) : int(s.flops),
      opt(s.wallSeconds, (x) => x.toFixed(2)),
      opt(s.cpuSeconds, (x) => x.toFixed(2)),
      opt(s.joules, (x) => x.toPrecision(3)),
      s.note,
    ]),
  };
}

/** Training FLOPs by layer: forward and backward from the meter's rows (scope = layer path), optimizer apart. */
function layerFlopsTable(r: RunRecord): Block[] {
  if (!r.compute.attribution.phases || !r.compute.attribution.layers) return [];
  const by = new Map<string, { forward: number; backward: number; optimizer: number }>();
  for (const row of r.compute.rows) {
    if (row.phase !== 'forward' && row.phase !== 'backward' && row.phase !== 'optimizer') continue;
    const scope = row.phase === 'optimizer' ? '(optimizer)' : row.scope || '(no layer scope)';
    const acc = by.get(scope) ?? { forward: 0, backward: 0, optimizer: 0 };
    acc[row.phase] += row.flops;
    by.set(scope, acc);
  }
  if (by.size === 0) return [];
  const unscoped = by.get('(no layer scope)');
  // Layers in model order, then what is not a layer (loss, unscoped kernels), the optimizer last.
  const rank = (scope: string) => {
    const i = r.model.layers.findIndex((l) => scope === l.name || scope.endsWith(`/${l.name}`));
    return i >= 0 ? i : scope === '(optimizer)' ? r.model.layers.length + 2 : r.model.layers.length + 1;
  };
  const ordered = [...by].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return [
    {
      kind: 'table',
      caption: 'Training FLOPs by layer (forward, backward; the optimizer apart)',
      header: ['Layer', 'Forward FLOPs', 'Backward FLOPs', 'Total'],
      rows: ordered.map(([scope, a]) => [
        scope,
        int(a.forward),
        int(a.backward),
        int(a.forward + a.backward + a.optimizer),
      ]),
    },
    ...(unscoped && unscoped.backward > 0
      ? [
          {
            kind: 'para',
            className: 'note',
            text:
              'Backward kernels without a layer scope were recorded by a version that did not attribute ' +
              'gradients to layers.',
          } as Block,
        ]
      : []),
  ];
}

/** Where the run ran (bare metal, VM, container), when the energy report says. */
function platformRows(r: RunRecord): string[][] {
  const p = platformOf(r);
  if (!p) return [];
  const detail = [
    p.hypervisor ? `hypervisor ${p.hypervisor}` : '',
    p.container ? `container ${p.container}` : '',
    p.cpuQuota !== undefined ? `CPU quota ${p.cpuQuota} CPUs` : '',
  ].filter(Boolean);
  return [
    ['Platform', `${p.kind}${detail.length ? ` (${detail.join(', ')})` : ''}`],
    ['Platform evidence', p.evidence.join('; ') || 'none recorded'],
  ];
}

function computeSection(ctx: Ctx): Block[] {
  const { r } = ctx;
  const tf = trainingFlops(r);
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Compute and environmental impact', id: 'compute' },
    {
      kind: 'table',
      header: ['Measure', 'Value', 'How it was obtained'],
      rows: [
        [
          'Training compute',
          fig(`${int(tf.flops)} FLOPs (${siNumber(tf.flops)}FLOP)`, tf.key, tf.flops),
          `Counted exactly from the cost model of every kernel: ${tf.caveat}`,
        ],
        [
          'All metered kernels',
          fig(
            `${int(r.compute.total.flops)} FLOPs in ${int(r.compute.total.calls)} calls`,
            'compute.total.flops',
            r.compute.total.flops,
          ),
          'Everything that ran while the recorder was metering',
        ],
        [
          'Kernel time',
          fig(`${(r.compute.total.ms / 1000).toFixed(2)} s`, 'compute.total.ms', r.compute.total.ms),
          'Timed by the dispatcher around each kernel',
        ],
        [
          'Backend',
          `${r.machine.backend.name}: ${r.machine.backend.description}` +
            (r.machine.backend.threads !== null ? `, ${r.machine.backend.threads} threads` : ''),
          'record',
        ],
        [
          'Machine',
          `${r.machine.cpuModel}, ${r.machine.logicalCpus} logical CPUs, ` +
            `${(r.machine.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB`,
          'record',
        ],
      ],
    },
    stagesTable(r),
    ...layerFlopsTable(r),
    {
      kind: 'table',
      caption: 'By phase',
      header: ['Phase', 'Kernel calls', 'FLOPs', 'Kernel ms'],
      rows: PHASES.filter((p) => r.compute.byPhase[p].calls > 0).map((p) => [
        p,
        int(r.compute.byPhase[p].calls),
        fig(int(r.compute.byPhase[p].flops), `compute.byPhase.${p}.flops`, r.compute.byPhase[p].flops),
        r.compute.byPhase[p].ms.toFixed(1),
      ]),
    },
  ];
  const e = r.energy;
  if (!e) {
    blocks.push({
      kind: 'para',
      className: 'note',
      text: 'Missing: energy was not recorded for this run (RunRecorder energy: false).',
    });
  } else {
    blocks.push({
      kind: 'table',
      caption: e.measured ? 'Energy (measured)' : 'Energy (estimated, not measured)',
      header: ['Measure', 'Value'],
      rows: [
        [
          'Method',
          e.measured
            ? 'measured: RAPL energy counters'
            : 'estimated from CPU time and TDP (no energy counter was readable)',
        ],
        ['Energy', fig(`${e.joules.toPrecision(4)} J = ${e.kWh.toPrecision(4)} kWh`, 'energy.joules', e.joules)],
        [
          'Range',
          fig(
            `${e.uncertainty.low.toPrecision(3)} to ${e.uncertainty.high.toPrecision(3)} J`,
            'energy.uncertainty.high',
            e.uncertainty.high,
          ),
        ],
        ['Uncertainty', e.uncertainty.note],
        ['How', e.description],
        ['PUE', String(e.pue)],
        [
          'CPU power used',
          `${e.cpu.model}: TDP ${e.cpu.tdpWatts} W (${e.cpu.tdpSource}) / ` +
            `${e.cpu.threadsPerPackage} threads (${e.cpu.threadsSource}) = ` +
            `${e.cpu.wattsPerThread.toPrecision(3)} W per busy thread`,
        ],
        [
          'DRAM power',
          `${e.dramWattsPerGiB} W/GiB x ${(e.meanMemoryBytes / 2 ** 30).toFixed(2)} GiB mean resident memory`,
        ],
        ...(e.raplUnavailable ? [['Why not measured', e.raplUnavailable]] : []),
        ...platformRows(r),
        [
          'CodeCarbon constant mode, for comparison',
          `${e.codecarbonJoules.toPrecision(4)} J (50% of TDP for the whole run)`,
        ],
      ],
    });
  }
  const assumptions = assumptionsOf(r);
  if (assumptions.length)
    blocks.push({
      kind: 'table',
      caption: 'Assumptions the energy figure rests on',
      header: ['Assumption'],
      rows: assumptions.map((a) => [a]),
    });
  const em = r.emissions;
  if (em) {
    blocks.push({
      kind: 'table',
      caption: 'Emissions',
      header: ['Measure', 'Value'],
      rows: [
        ['CO2-equivalent', fig(`${em.gCO2e.toPrecision(4)} g`, 'emissions.gCO2e', em.gCO2e)],
        ['Range', `${em.low.toPrecision(3)} to ${em.high.toPrecision(3)} g`],
        [
          'Grid carbon intensity',
          fig(
            `${em.grid.gPerKWh} gCO2e/kWh (${em.grid.name}${em.grid.year ? `, ${em.grid.year}` : ''})`,
            'emissions.grid.gPerKWh',
            em.grid.gPerKWh,
          ),
        ],
        ['Source of the intensity', em.grid.source],
        ['Method', em.method],
      ],
    });
  }
  const top = profileLines(r.compute, { sortBy: 'ms' }).slice(0, 10);
  const totalMs = r.compute.total.ms;
  blocks.push({
    kind: 'table',
    caption: 'Where kernel time went (top ops; `candor profile RUN_DIR` prints the full table)',
    header: ['Op', 'Family', 'Calls', 'Total ms', '% time', 'FLOPs'],
    rows: top.map((l) => [
      l.name,
      l.family,
      int(l.calls),
      l.ms.toFixed(1),
      totalMs > 0 ? `${((100 * l.ms) / totalMs).toFixed(1)}%` : '-',
      siNumber(l.flops),
    ]),
  });
  return blocks;
}

function regulatorySection(ctx: Ctx, groups: ComplianceGroup[]): Block[] {
  const all = groups.flatMap((g) => g.items);
  const count = (s: string) => all.filter((i) => i.status === s).length;
  return [
    { kind: 'heading', level: 2, text: 'Regulatory documentation map', id: 'regulatory' },
    {
      kind: 'table',
      id: 'applicability',
      caption: 'Does it apply? (thresholds and dates; the provider decides)',
      header: ['Regime', 'Applies to', 'This model', 'Dates'],
      rows: applicability(ctx.r, ctx.user).map((a) => [a.regime, a.appliesWhen, a.thisModel, a.dates]),
    },
    {
      kind: 'para',
      text:
        'Each item is filled from the run record, given by the user (card.json / intended-use.md), partial, or ' +
        `missing (naming what fills it); nothing is filled in otherwise. ${count('record')} filled from record, ` +
        `${count('user')} given by user, ${count('partial')} partial, ${count('missing')} missing. ` +
        'This map helps assemble documentation; it is not legal advice or a conformity assessment.',
    },
    ...groups.flatMap((g): Block[] => [
      { kind: 'heading', level: 3, text: g.title },
      { kind: 'para', className: 'note', text: g.note },
      {
        kind: 'table',
        header: ['Item', 'Requirement', 'Status', 'Content'],
        rows: g.items.map((i) => [
          i.ref,
          i.requirement,
          STATUS_TEXT[i.status],
          i.key ? fig(i.content, i.key, i.value ?? '') : i.status === 'user' ? `${i.content} (${i.source})` : i.content,
        ]),
        rowAttrs: g.items.map((i) => ({ 'data-item': i.ref, 'data-status': i.status })),
      },
    ]),
  ];
}

export interface CardOptions {
  /** The record's SHA-256 (computed when not given). */
  recordSha256?: string;
}

/** The card as a document (render it with renderMarkdown / renderHtml). */
export function buildCard(
  record: RunRecord,
  user: LoadedUserInfo = { info: {}, sources: {}, files: [] },
  options: CardOptions = {},
): Doc {
  const ctx: Ctx = { r: record, user: user.info, sources: user.sources };
  // A card cannot carry the hash of a record that holds the card's own hashes (record.card, publishRun): it
  // names the record without them, which is also what makes a re-rendered card the same bytes.
  const { card: _cardHashes, ...rendered } = record;
  const hash = options.recordSha256 ?? recordHash(rendered as RunRecord);
  const name = user.info.modelName ?? record.model.name;
  const groups = complianceMap(record, user.info, user.sources);
  // Summary, contents and the regulatory map first; the detailed sections after them.
  const details: Block[] = [
    ...modelSection(ctx),
    ...intendedUseSection(ctx),
    ...dataSection(ctx),
    ...trainingSection(ctx),
    ...evaluationSection(ctx),
    ...privacySection(record),
    ...explanationsSection(record),
    ...compressionSection(record),
    ...computeSection(ctx),
    ...distributedSection(record),
  ];
  if (record.notes.length)
    details.push(
      { kind: 'heading', level: 2, text: 'Notes from the record', id: 'notes' },
      { kind: 'table', header: ['Note'], rows: record.notes.map((n) => [n]) },
    );
  details.push(
    { kind: 'heading', level: 2, text: 'How to check this card', id: 'check' },
    {
      kind: 'para',
      text:
        `Run \`candor verify RUN_DIR\` on the run directory: it checks run.json, this card, the weight files and ` +
        `the signed ledger entry together and names what fails. This card was rendered from run record ` +
        `${record.id}, SHA-256 ${hash} (the record without its card field, which holds this card's hashes).`,
    },
  );
  const head: Block[] = [
    {
      kind: 'para',
      className: 'note',
      text:
        `Run record ${record.id}${record.name ? ` ('${record.name}')` : ''}, written ${record.createdAt}; ` +
        `card by Candor ${record.software.candor}. ` +
        `User-supplied files: ${user.files.length ? user.files.join(', ') : 'none'}.`,
    },
    ...summarySection(record, user.info, groups),
  ];
  const regulatory = regulatorySection(ctx, groups);
  const blocks = [...head, ...contentsBlock([...regulatory, ...details]), ...regulatory, ...details];
  return { title: `Model card: ${name}`, blocks, frontMatter: frontMatter(record, user.info) };
}

export interface WrittenCard {
  markdown: string;
  html: string;
  files: { markdown: string; html: string };
}

/**
 * Reads RUN_DIR/run.json (decrypted with encryptionKey when it is encrypted) and the optional user files; writes
 * card.md and card.html (to outDir, default RUN_DIR), in plain: a card is meant to be published.
 */
export async function writeCard(
  runDir: string,
  { outDir = runDir, encryptionKey }: { outDir?: string; encryptionKey?: EncryptionKey } = {},
): Promise<WrittenCard> {
  const record = await readRunRecord(runDir, { encryptionKey });
  const user = await loadUserInfo(runDir);
  const doc = buildCard(record, user);
  const markdown = renderMarkdown(doc),
    html = renderHtml(doc);
  await mkdir(outDir, { recursive: true });
  const files = { markdown: join(outDir, 'card.md'), html: join(outDir, 'card.html') };
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.html, html);
  return { markdown, html, files };
}
