// The model card's privacy section: a DP-SGD record shows its budget and how it was spent in plain words
// (and NOT PRIVATE for a fixed noise seed), a run without DP says so, PII counts and membership audits
// appear with their readings, the regulatory map fills the personal-data items only from such evidence,
// and a record written before privacy was recorded still renders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCard } from '../../src/cards/card.js';
import { renderHtml, renderMarkdown } from '../../src/cards/document.js';
import { validateRunRecord, type RunRecord } from '../../src/ledger/record.js';
import type { DpSgdRecord, MembershipAuditRecord } from '../../src/ledger/privacy.js';
import { tinyRun } from '../ledger/fixtures.js';
import { checkFigures, statusOf } from './html.js';

const DP: DpSgdRecord = {
  mechanism: 'dp-sgd',
  epsilon: 2.9134,
  delta: 1e-5,
  noiseMultiplier: 1.1,
  l2NormClip: 1,
  sampleRate: 0.004,
  sampling: 'poisson',
  expectedBatchSize: 240,
  steps: 15000,
  accountant: 'rdp',
  conversion: 'improved',
  order: 14,
  secureNoise: true,
  targetEpsilon: 3,
  stoppedByBudget: true,
  perExampleGradients: { fast: ['Dense', 'Conv2D'], fallback: ['LSTM'] },
};

const AUDITS: MembershipAuditRecord[] = [
  {
    attack: 'loss-threshold',
    createdAt: '2026-12-06T22:00:00.000Z',
    members: 500,
    nonMembers: 500,
    auc: 0.5123,
    tprAtFpr: [
      { fpr: 0.001, tpr: 0.002 },
      { fpr: 0.01, tpr: 0.012 },
      { fpr: 0.1, tpr: 0.11 },
    ],
    shadowModels: 0,
  },
  {
    attack: 'calibrated',
    createdAt: '2026-12-06T22:01:00.000Z',
    members: 500,
    nonMembers: 500,
    auc: 0.8812,
    tprAtFpr: [{ fpr: 0.01, tpr: 0.35 }],
    shadowModels: 8,
  },
];

const ITEMS = {
  pii: 'IV 2(d); Art. 10(2)(c) Data preparation: personal data found in the training data and how it was redacted',
  measures: 'Art. 10(5)(b) State-of-the-art privacy-preserving measures for personal data, including pseudonymisation',
  audit: 'IV 2(h); Art. 15(5) Tests against confidentiality attacks on the training data (membership inference)',
  pipl: 'Art. 7(3); PIPL Art. 51(3) Technical security measures for personal information, such as de-identification',
};

function render(base: RunRecord, privacy: RunRecord['privacy']) {
  const record = structuredClone(base);
  if (privacy) record.privacy = structuredClone(privacy);
  else delete record.privacy;
  assert.doesNotThrow(() => validateRunRecord(record));
  const doc = buildCard(record);
  const html = renderHtml(doc);
  checkFigures(html, record);
  return { html, markdown: renderMarkdown(doc), status: statusOf(html) };
}

test('privacy section: DP-SGD budget, PII and audits in plain words; the personal-data items filled', async () => {
  const run = await tinyRun({ evaluate: false, options: { energy: false } });
  const { html, markdown, status } = render(run.record, {
    ...DP,
    pii: { counts: { email: 120, ipv4: 40 }, redaction: 'pseudonym' },
    audits: AUDITS,
  });
  for (const line of [
    '## Privacy',
    'This model was trained with differential privacy (DP-SGD): (epsilon = 2.913, delta = 1e-5)-DP for each ' +
      'training example.',
    '| Noise multiplier (sigma) | 1.1 (noise standard deviation sigma x C = 1.1) |',
    '| Clipping norm (C) | 1 |',
    '| Sampling rate (q) | 0.004 |',
    '| Steps | 15,000 |',
    '| Order | 14 |',
    '| Target epsilon | 3; training stopped because the budget was spent |',
    '| Per-example gradients | fast rules: Dense, Conv2D; generic fallback: LSTM |',
    '| email | 120 |',
    '| ipv4 | 40 |',
  ])
    assert.ok(markdown.includes(line), line);
  assert.match(markdown, /\| Sampling \| Poisson: each example joins each batch independently .*expected batch 240\)/);
  assert.match(markdown, /\| Accountant \| RDP .*improved conversion/);
  assert.match(markdown, /\| Noise source \| secure: drawn from a generator keyed from node:crypto/);
  assert.match(markdown, /160 values found; each was replaced by a keyed pseudonym \(HMAC-SHA256/);
  // Audits: one row each, with the figures and a one-line reading.
  const row = '| Loss threshold (Yeom et al. 2018) | 500 / 500 | 0 | 0.5123 | 0.2% at 0.1%; 1.2% at 1%; 11% at 10% |';
  assert.ok(markdown.includes(`${row} AUC 0.512 is close to chance`), row);
  assert.match(
    markdown,
    /at FPR 0\.1% it finds 0\.2% of members \(below 1\/500 non-members, so measured with no false/,
  );
  assert.match(
    markdown,
    /\| Calibrated with shadow models \(LiRA.*\| 8 \| 0\.8812 \| 35% at 1% \| AUC 0\.881 is clearly above/,
  );
  assert.doesNotMatch(markdown, /NOT PRIVATE|without differential privacy/);
  assert.match(html, /data-key="privacy\.audits\.1\.auc" data-value="0\.8812"/);
  assert.match(html, /data-key="privacy\.epsilon" data-value="2\.9134"/);
  // The regulatory map fills the personal-data items from the record.
  for (const item of Object.values(ITEMS)) assert.equal(status.get(item)?.[0], 'record', item);
  assert.match(
    status.get(ITEMS.measures)![2],
    /^differentially private training \(DP-SGD, epsilon = 2\.913.*pseudonymisation of 160/,
  );
  assert.match(
    status.get(ITEMS.audit)![2],
    /^loss-threshold membership-inference attack at 2026-12-06T22:00:00\.000Z: ROC AUC 0\.512/,
  );
  assert.match(
    status.get(ITEMS.pii)![2],
    /^160 personal data values found in the training data \(email 120, ipv4 40\)/,
  );
  run.dispose();
});

test('privacy section: fixed-seed noise is NOT PRIVATE; a run without DP says so; an old record renders', async () => {
  const run = await tinyRun({ evaluate: false, options: { energy: false } });
  const fixed = render(run.record, {
    ...DP,
    secureNoise: false,
    sampling: 'fixed',
    conversion: 'classic',
    order: null,
    stoppedByBudget: false,
  });
  assert.match(
    fixed.markdown,
    /\(epsilon = 2\.913, delta = 1e-5\)-DP for each training example as accounted, but NOT PRIVATE/,
  );
  assert.match(fixed.markdown, /\| Noise source \| NOT PRIVATE: drawn from a fixed seed/);
  assert.match(fixed.markdown, /\| Sampling \| fixed-size shuffled batches of 240; the accountant assumes Poisson/);
  assert.match(
    fixed.markdown,
    /classic conversion to \(epsilon, delta\): epsilon = RDP - log\(delta\) \/ \(order - 1\)/,
  );
  assert.match(fixed.markdown, /\| Order \| none \(the accountant has no orders\) \|/);
  assert.match(fixed.markdown, /\| Target epsilon \| 3; training ended without spending the budget \|/);
  // A fixed seed is no evidence of a privacy measure.
  assert.equal(fixed.status.get(ITEMS.measures)![0], 'missing');
  const prv = render(run.record, { ...DP, accountant: 'prv', order: null });
  assert.match(prv.markdown, /\| Accountant \| PRV \(privacy random variables, Gopi et al\. 2021\)/);
  assert.doesNotMatch(prv.markdown, /conversion to \(epsilon, delta\)/);

  const none = render(run.record, { mechanism: 'none', pii: { counts: {}, redaction: 'none' } });
  assert.match(none.markdown, /This model was trained without differential privacy: no privacy mechanism bounded/);
  assert.match(none.markdown, /None found; each was found but NOT redacted/);
  assert.match(none.markdown, /No membership-inference audit is recorded/);
  assert.doesNotMatch(none.markdown, /Epsilon|Membership-inference audits/);
  for (const item of [ITEMS.measures, ITEMS.audit, ITEMS.pipl])
    assert.equal(none.status.get(item)![0], 'missing', item);
  assert.equal(none.status.get(ITEMS.pii)![0], 'record');

  const audited = render(run.record, { mechanism: 'none', audits: AUDITS.slice(0, 1) });
  assert.match(audited.markdown, /trained without differential privacy/);
  assert.match(audited.markdown, /\| Loss threshold \(Yeom et al\. 2018\) \| 500 \/ 500 \| 0 \| 0\.5123 \|/);
  assert.equal(audited.status.get(ITEMS.audit)![0], 'record');
  assert.equal(audited.status.get(ITEMS.pii)![0], 'missing');

  const old = render(run.record, undefined);
  assert.match(old.markdown, /## Privacy\n\nMissing: the record holds no privacy section \(it was written before/);
  for (const item of Object.values(ITEMS)) assert.equal(old.status.get(item)![0], 'missing', item);
  run.dispose();
});
