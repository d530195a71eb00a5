// The card's top and its truthfulness (issue 12): summary, contents and regulatory map come before the
// detailed sections; validation on fit's validationData is named as such; the model's outputs (not the targets)
// are shown; compute by stage; charts only from two epochs; Annex IV 2(g) test logs are partial without a sign-off;
// each missing item names its card.json field; the applicability statements; Hugging Face front matter.
// The main job's card is rendered from its committed run.json (test/fixtures/cards/mnist-mlp-run.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCard } from '../../src/cards/card.js';
import { renderHtml, renderMarkdown } from '../../src/cards/document.js';
import { complianceMap } from '../../src/cards/compliance.js';
import { comparedWith, GPAI_FLOP, SYSTEMIC_RISK_FLOP } from '../../src/cards/applicability.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { findAll, parseHtml, statusOf, textOf, type El } from './html.js';

const FIXTURE = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'cards', 'mnist-mlp-run.json');
const mainJob = () => JSON.parse(readFileSync(FIXTURE, 'utf8')) as RunRecord;
const NO_USER = { info: {}, sources: {}, files: [] };

/** Ids of the elements in document order. */
function order(html: string): string[] {
  return findAll(parseHtml(html), (e) => e.attrs.id !== undefined || e.tag === 'nav').map((e) =>
    e.tag === 'nav' ? 'nav' : e.attrs.id,
  );
}

/** The record as a recorder that follows issue 12's contract writes it (validation set, stages, sources ...). */
function withContractFields(r: RunRecord): RunRecord {
  const x = { ...r.data[0].x[0], hmacSha256: 'ab'.repeat(32), keyId: '0123456789abcdef' };
  const test = r.evaluation[0].data!;
  return {
    ...r,
    data: [
      {
        ...r.data[0],
        x: [x],
        source: {
          name: 'MNIST',
          licence: 'CC BY-SA 3.0',
          url: 'yann.lecun.com/exdb/mnist',
          files: [{ name: 'train-images-idx3-ubyte.gz', sha256: 'cd'.repeat(32), bytes: 9912422 }],
        },
      },
      { ...test, name: 'validation', sameAs: 'test' },
    ],
    stages: [
      { stage: 'fingerprinting', wallSeconds: 0.4, cpuSeconds: 0.4, flops: 0, joules: 1.2 },
      { stage: 'training', wallSeconds: 2.5, cpuSeconds: 4, flops: 2.7e10, joules: 9 },
      { stage: 'validation', wallSeconds: 0.1, cpuSeconds: 0.2, flops: 2.0e9, joules: 0.5 },
      { stage: 'testing', wallSeconds: 0.1, cpuSeconds: 0.2, flops: 2.0e9, joules: 0.5, note: 'evaluate(test)' },
    ],
    energy: {
      ...r.energy!,
      platform: { kind: 'virtual-machine', hypervisor: 'KVM', evidence: ['cpuid hypervisor bit'] },
      assumptions: ['A vCPU draws 3-6 W under load (published EPYC per-vCPU figures).'],
    },
  } as unknown as RunRecord;
}

test("the main job's card: summary, contents and regulatory map before the first detailed section", () => {
  const record = mainJob();
  const html = renderHtml(buildCard(record, NO_USER));
  const ids = order(html);
  const at = (id: string) => ids.indexOf(id);
  for (const id of ['summary', 'summary-table', 'nav', 'regulatory', 'applicability', 'model'])
    assert.ok(at(id) >= 0, `no #${id}`);
  assert.ok(at('summary') < at('nav') && at('nav') < at('regulatory'), ids.join(' '));
  assert.ok(at('regulatory') < at('applicability') && at('applicability') < at('model'), ids.join(' '));
  // Nothing detailed comes before the map: the first h2 after the summary is the map.
  const h2 = findAll(parseHtml(html), (e) => e.tag === 'h2').map((e) => e.attrs.id);
  assert.deepEqual(h2.slice(0, 3), ['summary', 'regulatory', 'model']);
  // Contents link every later section.
  const links = findAll(parseHtml(html), (e) => e.tag === 'a').map((e) => e.attrs.href);
  assert.deepEqual(
    links,
    h2.filter((id) => id !== 'summary').map((id) => `#${id}`),
  );
  // The summary names the outputs (not the targets), the validation truthfully and how to check the card.
  const summary = textOf(findAll(parseHtml(html), (e) => e.attrs.id === 'summary-table')[0]);
  assert.match(summary, /softmax probabilities over 10 classes/);
  assert.match(summary, /validated on fit's validationData .*validationSplit not used/);
  assert.match(summary, /12\.6 orders of magnitude below the general-purpose-model criterion \(10\^23 FLOP\)/);
  assert.match(summary, /candor verify RUN_DIR/);
});

test('validationData that is the test set is named so; validationSplit 0 is never shown as "no validation"', () => {
  const record = withContractFields(mainJob());
  const md = renderMarkdown(buildCard(record, NO_USER));
  assert.match(md, /validated on the test set \(fit's validationData; its fingerprint equals dataset 'test'\)/);
  assert.match(md, /\| validationSplit \| 0 \(not used: fit validated on validationData/);
  assert.doesNotMatch(md, /\| validationSplit \| 0 \|/);
  assert.match(md, /The same data as dataset 'test'/);
  // The old record (val_ metrics, no validation dataset) says validationData was used, not that none was.
  const old = renderMarkdown(buildCard(mainJob(), NO_USER));
  assert.doesNotMatch(old, /\| validationSplit \| 0 \|/);
  assert.match(old, /\| Validation \| validated on fit's validationData/);
});

test("inputs and outputs are the model's: from model.inputs / outputs, never the targets", () => {
  const record = mainJob();
  const md = renderMarkdown(buildCard(record, NO_USER));
  assert.deepEqual(
    record.model.outputs!.map((o) => [o.shape, o.dtype, o.meaning]),
    [[[null, 10], 'float32', 'softmax probabilities over 10 classes']],
  );
  assert.match(md, /\| input \| input_layer \| float32 \| \[null,784\] \|/);
  assert.match(md, /\| output \| dense_1 \| float32 \| \[null,10\] \| softmax probabilities over 10 classes \|/);
  const s = statusOf(renderHtml(buildCard(record, NO_USER)));
  const format = s.get('XI §1.1(e) Format of inputs and outputs')!;
  assert.equal(format[0], 'record');
  assert.doesNotMatch(format[2], /targets/);
  // A record without them (older, or a subclass model) is partial and says the outputs are missing.
  const { inputs: _i, outputs: _o, ...model } = record.model;
  const older = statusOf(renderHtml(buildCard({ ...record, model }, NO_USER)));
  assert.equal(older.get('XI §1.1(e) Format of inputs and outputs')![0], 'partial');
  assert.match(older.get('XI §1.1(e) Format of inputs and outputs')![2], /outputs are not in this record/);
});

test('compute by stage: from record.stages when present, else from the phases, testing named as not metered', () => {
  const old = mainJob();
  const oldMd = renderMarkdown(buildCard(old, NO_USER));
  assert.match(oldMd, new RegExp(`\\| training \\| ${old.compute.trainingFlops.toLocaleString('en-US')} \\|`));
  const val = old.compute.byPhase.evaluate.flops.toLocaleString('en-US');
  assert.match(oldMd, new RegExp(`\\| validation \\| ${val} \\|`));
  assert.match(oldMd, /\| testing \| not metered \|/);
  const s = statusOf(renderHtml(buildCard(old, NO_USER)));
  assert.equal(s.get('IV 2(c) Computational resources used to develop, train, test and validate')![0], 'partial');
  // Per-layer forward and backward FLOPs sum to the rows of the record.
  const fwd = old.compute.rows.filter((r) => r.phase === 'forward' && r.scope === 'sequential/dense');
  const f = fwd.reduce((a, r) => a + r.flops, 0).toLocaleString('en-US');
  assert.match(oldMd, new RegExp(`\\| sequential/dense \\| ${f} \\|`));

  const rec = withContractFields(old);
  const md = renderMarkdown(buildCard(rec, NO_USER));
  assert.match(md, /\| fingerprinting \| 0 \| 0\.40 \| 0\.40 \| 1\.20 \|/);
  assert.match(md, /\| testing \| 2,000,000,000 \| 0\.10 \| 0\.20 \| 0\.500 \| evaluate\(test\) \|/);
  const s2 = statusOf(renderHtml(buildCard(rec, NO_USER)));
  assert.equal(s2.get('IV 2(c) Computational resources used to develop, train, test and validate')![0], 'record');
  // The other contract fields: platform, assumptions, source with published checksums, keyed fingerprints.
  assert.match(md, /\| Platform \| virtual-machine \(hypervisor KVM\) \|/);
  assert.match(md, /A vCPU draws 3-6 W under load/);
  assert.match(md, /\*Source: MNIST\*/);
  assert.match(md, /\| Licence \| CC BY-SA 3\.0 \|/);
  assert.match(md, new RegExp(`SHA-256 ${'cd'.repeat(32)} \\(9,912,422 bytes, as published\\)`));
  assert.match(md, new RegExp(`${'ab'.repeat(32)} \\| 0123456789abcdef \\|`));
  assert.match(md, /^datasets:\n {2}- "MNIST"$/m);
});

test('charts only from two epochs: one epoch gives a table and a sentence, no single-dot chart', () => {
  const one = mainJob();
  assert.equal(one.training.history.epochs.length, 1);
  const html = renderHtml(buildCard(one, NO_USER));
  assert.equal(findAll(parseHtml(html), (e) => e.tag === 'polyline').length, 0);
  assert.match(html, /One epoch: no curves to draw/);
  const two: RunRecord = {
    ...one,
    training: {
      ...one.training,
      history: {
        epochs: [0, 1],
        metrics: Object.fromEntries(Object.entries(one.training.history.metrics).map(([k, v]) => [k, [v[0], v[0]]])),
      },
    },
  };
  const lines = findAll(parseHtml(renderHtml(buildCard(two, NO_USER))), (e) => e.tag === 'polyline');
  assert.deepEqual(
    lines.map((l: El) => l.attrs['data-points']),
    ['2', '2', '2', '2'],
  );
});

test('Annex IV 2(g) test logs are partial until a responsible person signs them off in card.json', () => {
  const r = mainJob();
  const item = (info: object) => complianceMap(r, info)[1].items.find((i) => i.requirement.startsWith('Test logs'))!;
  const bare = item({});
  assert.equal(bare.status, 'partial');
  assert.match(bare.missing!, /testSignOff\.by/);
  const signed = item({ testSignOff: { by: 'A. Tester', role: 'QA lead', date: '2026-12-07' } });
  assert.equal(signed.status, 'record');
  assert.match(signed.content, /signed off by A\. Tester \(QA lead\) on 2026-12-07/);
});

test('each missing item names what fills it; applicability compares compute with the thresholds', () => {
  const r = mainJob();
  for (const g of complianceMap(r, {}))
    for (const i of g.items)
      if (i.status === 'missing') assert.match(i.content, /^(Not given: set `[\w.]+` in card\.json|Not in the record)/);
  assert.equal(comparedWith(2.7e10, GPAI_FLOP, 'x'), '12.6 orders of magnitude below x (10^23 FLOP)');
  assert.equal(comparedWith(2e25, SYSTEMIC_RISK_FLOP, 'y'), 'above y (10^25 FLOP) by a factor of 2.0');
  const prc = complianceMap(r, {})[2].items.map((i) => i.ref);
  for (const ref of ['Art. 4(2)', 'Art. 7(5)', 'Art. 17']) assert.ok(prc.includes(ref), ref);
  const md = renderMarkdown(buildCard(r, NO_USER));
  assert.match(md, /GPAI obligations apply from 2 Aug 2025/);
  assert.match(md, /in force 15 Aug 2023/);
});

test('Hugging Face front matter: license, metrics, co2_eq_emissions in grams; rendering is deterministic', () => {
  const r = mainJob();
  const user = { info: { license: 'MIT', trainingType: 'pre-training' }, sources: {}, files: ['card.json'] };
  const md = renderMarkdown(buildCard(r, user));
  assert.ok(md.startsWith('---\nlicense: "mit"\nlibrary_name: "candor"\n'), md.slice(0, 80));
  const yaml = md.slice(4, md.indexOf('\n---\n'));
  assert.match(yaml, /^metrics:\n {2}- "accuracy"$/m);
  assert.match(yaml, new RegExp(`^ {2}emissions: ${Number(r.emissions!.gCO2e.toPrecision(4))}$`, 'm'));
  assert.match(yaml, /^ {2}training_type: "pre-training"$/m);
  assert.match(yaml, /^ {2}hardware_used: ".+"$/m);
  assert.ok(md.slice(md.indexOf('\n---\n') + 5).startsWith('\n# Model card: '));
  assert.equal(renderMarkdown(buildCard(r, user)), md);
  assert.equal(renderHtml(buildCard(r, user)), renderHtml(buildCard(r, user)));
});
