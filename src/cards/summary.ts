// The top of the card: a summary of the run (model, inputs and outputs, data, validation, test results,
// compute, energy, where it stands under each regime, what is missing, how to check the card) and the contents.
// Every line is read from the record or card.json; a line neither fills says what is missing.
import type { RunRecord } from '../ledger/record.js';
import { siNumber } from '../ledger/meter.js';
import { specText } from '../ledger/model-io.js';
import { fig, num, type Block, type Cell } from './document.js';
import { trainingFlops, type ComplianceGroup } from './compliance.js';
import { comparedWith, GPAI_FLOP } from './applicability.js';
import { sourceOf, trainingDataOf, validationOf } from './record-extras.js';
import type { CardUserInfo } from './user-info.js';
import { distributedSummary } from './distributed.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function ioText(r: RunRecord): string {
  const { inputs, outputs } = r.model;
  if (!inputs || !outputs)
    return 'not recorded (a subclass model or an older record); the data section shows the training tensors';
  const ins = inputs.map((s) => `${s.name} ${specText(s)}`).join(', ');
  const outs = outputs.map((s) => s.meaning ?? `${s.name} ${specText(s)}`).join('; ');
  return `${ins} -> ${outs}`;
}

function dataText(r: RunRecord, user: CardUserInfo): string {
  const train = trainingDataOf(r);
  if (!train) return 'Missing: the record holds no dataset fingerprints';
  const src = sourceOf(train);
  const where = src
    ? ` of ${src.name} (licence ${src.licence})`
    : user.data?.sources
      ? " (the record names no published source; card.json's data.sources describes it: see 'Data')"
      : ' (source not recorded; set `data.sources` in card.json)';
  return `${train.name}: ${int(train.samples)} samples${where}`;
}

function testText(r: RunRecord): Cell | string {
  const e = r.evaluation[0];
  if (!e) return 'Missing: no evaluation recorded (RunRecorder.evaluate() after fit)';
  const metrics = Object.entries(e.metrics)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(', ');
  const n = e.data ? ` on ${int(e.data.samples)} samples` : '';
  return `${e.name}: ${metrics}${n}` + (r.evaluation.length > 1 ? ` (and ${r.evaluation.length - 1} more)` : '');
}

function energyText(r: RunRecord): Cell | string {
  const e = r.energy;
  if (!e) return 'Missing: energy not recorded (RunRecorder option energy)';
  const co2 = r.emissions ? `; ${r.emissions.gCO2e.toPrecision(3)} g CO2e` : '';
  return fig(
    `${e.joules.toPrecision(3)} J ${e.measured ? 'measured' : 'estimated'} ` +
      `(range ${e.uncertainty.low.toPrecision(3)}-${e.uncertainty.high.toPrecision(3)} J)${co2}` +
      (r.stages?.length ? ', the whole run: fingerprinting to the last save (by stage under Compute)' : ''),
    'energy.joules',
    e.joules,
  );
}

/** The summary block: a heading and one table. */
export function summarySection(r: RunRecord, user: CardUserInfo, groups: ComplianceGroup[]): Block[] {
  const t = trainingFlops(r);
  const items = groups.flatMap((g) => g.items);
  const count = (s: string) => items.filter((i) => i.status === s).length;
  const userMissing = items.filter((i) => i.status === 'missing' && i.missing?.includes('card.json')).length;
  const rows: (Cell | string)[][] = [
    [
      'Model',
      `${r.model.className} '${user.modelName ?? r.model.name}', ${int(r.model.parameters.total)} parameters, ` +
        `${r.model.layers.length} layers`,
    ],
    ['Inputs -> outputs', ioText(r)],
    ['Training data', dataText(r, user)],
    ['Validation', validationOf(r).text],
    ['Test results', testText(r)],
    [
      'Training compute',
      fig(
        `${t.flops.toExponential(2)} FLOP (${siNumber(t.flops)}FLOP); fit ${r.training.wallSeconds.toFixed(2)} s ` +
          `wall, ${r.training.cpuSeconds.toFixed(2)} s CPU`,
        t.key,
        t.flops,
      ),
    ],
    ['Energy', energyText(r)],
    ...(r.distributed ? [['Distributed', distributedSummary(r)!]] : []),
    [
      'Regulatory',
      `EU AI Act: ${comparedWith(t.flops, GPAI_FLOP, 'the general-purpose-model criterion')}; high-risk depends on ` +
        `the intended use${user.intendedUse ? '' : ' (not given)'}. PRC Measures: only for generative services ` +
        `offered to the public in the PRC. Map: ${count('record')} from record, ${count('user')} by user, ` +
        `${count('partial')} partial, ${count('missing')} missing.`,
    ],
    [
      'To complete',
      userMissing
        ? `${userMissing} items need text only people can give: \`candor card init RUN_DIR\` writes a card.json ` +
          'template naming each field'
        : 'every card.json item is given',
    ],
    ['Check this card', '`candor verify RUN_DIR` checks the card, run record, weights and ledger entry together'],
  ];
  return [
    { kind: 'heading', level: 2, text: 'Summary', id: 'summary' },
    { kind: 'table', id: 'summary-table', header: ['What', 'This run'], rows },
  ];
}

/** Contents: a link to each level-2 heading with an id that follows. */
export function contentsBlock(blocks: Block[]): Block[] {
  const items = blocks
    .filter((b): b is Extract<Block, { kind: 'heading' }> => b.kind === 'heading' && b.level === 2 && !!b.id)
    .map((b) => ({ text: b.text, href: `#${b.id}` }));
  return [{ kind: 'links', title: 'Contents', items, className: 'toc' }];
}
