// The model card: built from a run record plus the user's optional card.json / intended-use.md, written
// as Markdown and as a standalone HTML page. Figures come only from the record, text only from the user;
// whatever neither provides is shown as missing.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import { readRunRecord, recordHash, type RunRecord, type EvaluationRecord } from '../ledger/record.js';
import type { EncryptionKey } from '../io/encryption.js';
import { profileLines, siNumber } from '../ledger/meter.js';
import { digestText } from '../ledger/fingerprint.js';
import { PHASES } from '../autograd/annotations.js';
import type { ClassificationReport } from '../ledger/evaluation.js';
import { fig, num, renderHtml, renderMarkdown, type Block, type Cell, type Doc } from './document.js';
import { lineChart } from './svg.js';
import { complianceMap, trainingFlops, STATUS_TEXT } from './compliance.js';
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
    .map(([, label]) => label);
  return missing.length
    ? [
        {
          kind: 'para',
          className: 'note',
          text: `Missing (not given by the user in card.json): ${missing.join('; ')}.`,
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
  const tensors = [
    ...d.x.map((t, i) => ({ t, role: d.x.length > 1 ? `x${i}` : 'x', path: `${key}.x.${i}` })),
    ...(d.y ?? []).map((t, i) => ({ t, role: d.y!.length > 1 ? `y${i}` : 'y', path: `${key}.y.${i}` })),
  ];
  const blocks: Block[] = [
    { kind: 'heading', level: 3, text: `Dataset '${d.name}': ${int(d.samples)} samples` },
    {
      kind: 'table',
      header: ['Tensor', 'dtype', 'Shape', 'Bytes', "Fingerprint (HMAC-SHA256 under the user's key)"],
      rows: tensors.map(({ t, role, path }) => [
        role,
        t.dtype,
        `[${t.shape.join(', ')}]`,
        int(t.bytes),
        fig(
          t.hmacSha256 ?? `SHA-256 ${t.sha256}`,
          `${path}.${t.hmacSha256 ? 'hmacSha256' : 'sha256'}`,
          t.hmacSha256 ?? t.sha256 ?? '',
        ),
      ]),
    },
  ];
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
  }
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
    { kind: 'heading', level: 2, text: 'Training data', id: 'data' },
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
  const charts: Block[] = families.map((fam) => ({
    kind: 'figure',
    caption: `${fam} per epoch${names.includes(`val_${fam}`) ? ' (training and validation)' : ''}`,
    svg: lineChart(
      names.filter((k) => base(k) === fam).map((k) => ({ name: k, values: metrics[k] })),
      { title: fam, yLabel: fam },
    ),
  }));
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
      rows: Object.entries(t.hyperparameters).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    },
    ...charts,
    {
      kind: 'details',
      summary: 'Metric history',
      blocks: [
        {
          kind: 'table',
          header: ['Epoch', ...names],
          rows: t.history.epochs.map((e, i) => [
            String(e + 1),
            ...names.map((k) => fig(num(metrics[k][i], 6), `training.history.metrics.${k}.${i}`, metrics[k][i] ?? '')),
          ]),
        },
      ],
    },
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
          text: `Evaluated on ${int(e.data.samples)} samples (x ${digestText(e.data.x[0])}).`,
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
        [
          'CodeCarbon constant mode, for comparison',
          `${e.codecarbonJoules.toPrecision(4)} J (50% of TDP for the whole run)`,
        ],
      ],
    });
  }
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

function regulatorySection(ctx: Ctx): Block[] {
  const groups = complianceMap(ctx.r, ctx.user, ctx.sources);
  const all = groups.flatMap((g) => g.items);
  const count = (s: string) => all.filter((i) => i.status === s).length;
  return [
    { kind: 'heading', level: 2, text: 'Regulatory documentation map', id: 'regulatory' },
    {
      kind: 'para',
      text:
        'Each item is filled from the run record, given by the user (card.json / intended-use.md), or missing; ' +
        `nothing is filled in otherwise. ${count('record')} filled from record, ${count('user')} given by user, ` +
        `${count('missing')} missing. ` +
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
  const hash = options.recordSha256 ?? recordHash(record);
  const name = user.info.modelName ?? record.model.name;
  const blocks: Block[] = [
    {
      kind: 'para',
      className: 'note',
      text:
        `Generated by Candor ${record.software.candor} from run record ${record.id}` +
        `${record.name ? ` ('${record.name}')` : ''}, written ${record.createdAt}; ` +
        `record SHA-256 ${hash} (the hash its ledger entry carries). ` +
        `User-supplied files: ${user.files.length ? user.files.join(', ') : 'none'}.`,
    },
    ...modelSection(ctx),
    ...intendedUseSection(ctx),
    ...dataSection(ctx),
    ...trainingSection(ctx),
    ...evaluationSection(ctx),
    ...privacySection(record),
    ...explanationsSection(record),
    ...compressionSection(record),
    ...computeSection(ctx),
    ...regulatorySection(ctx),
  ];
  if (record.notes.length)
    blocks.push(
      { kind: 'heading', level: 2, text: 'Notes from the record', id: 'notes' },
      { kind: 'table', header: ['Note'], rows: record.notes.map((n) => [n]) },
    );
  return { title: `Model card: ${name}`, blocks };
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
