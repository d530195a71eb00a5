// The model card's privacy section: the run's DP-SGD budget in plain words (or that it had no privacy
// mechanism), the PII found in its data and how it was redacted, and membership-inference audits, each
// with a one-line reading. Figures come only from record.privacy.
import type { RunRecord } from '../ledger/record.js';
import type { DpSgdRecord, MembershipAuditRecord, PrivacyRecord } from '../ledger/privacy.js';
import { fig, type Block, type Cell } from './document.js';

const num = (n: number, digits = 4) => String(Number(n.toPrecision(digits)));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** Deltas are small: 1e-5 rather than 0.00001. */
const small = (n: number) => (n > 0 && n < 1e-3 ? n.toExponential() : num(n));
const pct = (x: number) => `${num(100 * x, 3)}%`;

const ATTACK_TEXT: Record<MembershipAuditRecord['attack'], string> = {
  'loss-threshold': 'Loss threshold (Yeom et al. 2018)',
  calibrated: 'Calibrated with shadow models (LiRA, Carlini et al. 2022)',
};

const REDACTION_TEXT: Record<NonNullable<PrivacyRecord['pii']>['redaction'], string> = {
  tag: 'replaced by a tag naming its type',
  pseudonym: 'replaced by a keyed pseudonym (HMAC-SHA256: the same value gives the same token, not reversible)',
  none: 'found but NOT redacted: the values are in the training data',
};

/** The (epsilon, delta) guarantee in one sentence. */
export function dpSentence(p: DpSgdRecord): string {
  const guarantee =
    `trained with differential privacy (DP-SGD): (epsilon = ${num(p.epsilon)}, delta = ${small(p.delta)})-DP ` +
    'for each training example';
  return p.secureNoise
    ? guarantee
    : `${guarantee} as accounted, but NOT PRIVATE: the noise came from a fixed seed, so the guarantee does not hold`;
}

function accountantText(p: DpSgdRecord): string {
  if (p.accountant === 'prv')
    return (
      'PRV (privacy random variables, Gopi et al. 2021): the privacy loss distribution composed numerically, ' +
      'an upper bound on epsilon within 0.01'
    );
  const name = 'RDP (Renyi differential privacy, Mironov 2017)';
  const conversion =
    p.conversion === 'classic'
      ? 'classic conversion to (epsilon, delta): epsilon = RDP - log(delta) / (order - 1)'
      : 'improved conversion to (epsilon, delta) (Balle et al. 2020, as Opacus)';
  return `${name}, ${conversion}`;
}

function dpRows(p: DpSgdRecord): (Cell | string)[][] {
  const rows: (Cell | string)[][] = [
    ['Mechanism', "DP-SGD: each example's gradient clipped to norm C, Gaussian noise added to their sum"],
    ['Epsilon (spent)', fig(num(p.epsilon), 'privacy.epsilon', p.epsilon)],
    ['Delta', fig(small(p.delta), 'privacy.delta', p.delta)],
    [
      'Noise multiplier (sigma)',
      fig(
        `${num(p.noiseMultiplier)} (noise standard deviation sigma x C = ${num(p.noiseMultiplier * p.l2NormClip)})`,
        'privacy.noiseMultiplier',
        p.noiseMultiplier,
      ),
    ],
    ['Clipping norm (C)', fig(num(p.l2NormClip), 'privacy.l2NormClip', p.l2NormClip)],
    [
      'Sampling',
      p.sampling === 'poisson'
        ? `Poisson: each example joins each batch independently with the sampling rate (expected batch ` +
          `${num(p.expectedBatchSize)})`
        : `fixed-size shuffled batches of ${num(p.expectedBatchSize)}; the accountant assumes Poisson sampling ` +
          'at the same rate, so epsilon is an approximation',
    ],
    ['Sampling rate (q)', fig(num(p.sampleRate), 'privacy.sampleRate', p.sampleRate)],
    ['Steps', fig(int(p.steps), 'privacy.steps', p.steps)],
    ['Accountant', accountantText(p)],
    ['Order', p.order === null ? 'none (the accountant has no orders)' : fig(num(p.order), 'privacy.order', p.order)],
    [
      'Noise source',
      p.secureNoise
        ? 'secure: drawn from a generator keyed from node:crypto, never written anywhere'
        : 'NOT PRIVATE: drawn from a fixed seed (an explicit opt-in); anyone with the seed can remove the noise',
    ],
  ];
  if (p.targetEpsilon !== undefined)
    rows.push([
      'Target epsilon',
      fig(
        `${num(p.targetEpsilon)}; ` +
          (p.stoppedByBudget
            ? 'training stopped because the budget was spent'
            : 'training ended without spending the budget'),
        'privacy.targetEpsilon',
        p.targetEpsilon,
      ),
    ]);
  if (p.perExampleGradients) {
    const { fast, fallback } = p.perExampleGradients;
    rows.push([
      'Per-example gradients',
      `fast rules: ${fast.join(', ') || 'none'}; generic fallback: ${fallback.join(', ') || 'none'}`,
    ]);
  }
  return rows;
}

/** What an audit's figures say, in one line. */
export function auditReading(a: MembershipAuditRecord): string {
  const strength =
    a.auc < 0.55
      ? 'close to chance (0.5): the attack barely tells members from non-members'
      : a.auc < 0.6
        ? 'slightly above chance (0.5): a weak membership signal'
        : 'clearly above chance (0.5): the model leaks which examples it was trained on';
  const low = [...a.tprAtFpr].sort((x, y) => x.fpr - y.fpr)[0];
  const resolution = 1 / a.nonMembers;
  const lowText = low
    ? `; at FPR ${pct(low.fpr)} it finds ${pct(low.tpr)} of members` +
      (low.fpr < resolution
        ? ` (below 1/${int(a.nonMembers)} non-members, so measured with no false positive at all)`
        : low.tpr > low.fpr
          ? ''
          : ' (no better than guessing there)')
    : '';
  return `AUC ${num(a.auc, 3)} is ${strength}${lowText}.`;
}

function auditBlocks(audits: MembershipAuditRecord[]): Block[] {
  return [
    { kind: 'heading', level: 3, text: 'Membership-inference audits' },
    {
      kind: 'para',
      className: 'note',
      text:
        'An attacker who can query the model guesses whether an example was in its training data. ROC AUC is ' +
        'the chance that a random member scores above a random non-member (0.5 = chance); TPR at FPR is the ' +
        'share of members found while wrongly flagging that share of non-members (with n non-members the ' +
        'smallest measurable FPR is 1/n). A low figure is evidence about these attacks only, not a guarantee.',
    },
    {
      kind: 'table',
      header: ['Attack', 'Members / non-members', 'Shadow models', 'ROC AUC', 'TPR at FPR', 'Reading'],
      rows: audits.map((a, i) => [
        ATTACK_TEXT[a.attack],
        `${int(a.members)} / ${int(a.nonMembers)}`,
        String(a.shadowModels),
        fig(num(a.auc), `privacy.audits.${i}.auc`, a.auc),
        a.tprAtFpr.map((t) => `${pct(t.tpr)} at ${pct(t.fpr)}`).join('; '),
        auditReading(a),
      ]),
    },
  ];
}

/** The card's privacy section. */
export function privacySection(r: RunRecord): Block[] {
  const head: Block = { kind: 'heading', level: 2, text: 'Privacy', id: 'privacy' };
  const p = r.privacy;
  if (!p)
    return [
      head,
      {
        kind: 'para',
        className: 'note',
        text: 'Missing: the record holds no privacy section (it was written before Candor recorded privacy).',
      },
    ];
  const blocks: Block[] = [head];
  if (p.mechanism === 'dp-sgd') {
    blocks.push(
      { kind: 'para', text: `This model was ${dpSentence(p)}.` },
      { kind: 'table', caption: 'Differential privacy', header: ['Field', 'Value'], rows: dpRows(p) },
    );
  } else {
    blocks.push({
      kind: 'para',
      text:
        'This model was trained without differential privacy: no privacy mechanism bounded what it can reveal ' +
        'about any training example.',
    });
  }
  if (p.pii) {
    const counts = Object.entries(p.pii.counts);
    blocks.push(
      { kind: 'heading', level: 3, text: 'Personal data found in the training data' },
      {
        kind: 'para',
        text:
          `${counts.length ? `${int(counts.reduce((s, [, n]) => s + n, 0))} values found` : 'None found'}; ` +
          `each was ${REDACTION_TEXT[p.pii.redaction]}. Counts only: the record never holds the values.`,
      },
    );
    if (counts.length)
      blocks.push({
        kind: 'table',
        header: ['Type', 'Found'],
        rows: counts.map(([type, n]) => [type, fig(int(n), `privacy.pii.counts.${type}`, n)]),
      });
  }
  if (p.audits?.length) blocks.push(...auditBlocks(p.audits));
  else
    blocks.push({
      kind: 'para',
      className: 'note',
      text: 'No membership-inference audit is recorded (privacy.membershipAudit adds one).',
    });
  return blocks;
}

// ---- Summaries for the regulatory map (undefined when the record holds no such evidence) ----

/** The PII found in the training data and how it was treated. */
export function piiText(r: RunRecord): string | undefined {
  const pii = r.privacy?.pii;
  if (!pii) return undefined;
  const counts = Object.entries(pii.counts);
  const total = counts.reduce((s, [, n]) => s + n, 0);
  const list = counts.map(([type, n]) => `${type} ${int(n)}`).join(', ');
  return (
    `${int(total)} personal data values found in the training data${list ? ` (${list})` : ''}; ` +
    `each ${REDACTION_TEXT[pii.redaction]}`
  );
}

/** Privacy-preserving measures the record shows: secure DP-SGD and PII redaction (de-identification). */
export function privacyMeasuresText(r: RunRecord): string | undefined {
  const p = r.privacy;
  if (!p) return undefined;
  const parts: string[] = [];
  if (p.mechanism === 'dp-sgd' && p.secureNoise)
    parts.push(
      `differentially private training (DP-SGD, epsilon = ${num(p.epsilon)}, delta = ${small(p.delta)}, ` +
        `${p.accountant.toUpperCase()} accountant)`,
    );
  if (p.pii && p.pii.redaction !== 'none') {
    const total = Object.values(p.pii.counts).reduce((s, n) => s + n, 0);
    parts.push(
      p.pii.redaction === 'pseudonym'
        ? `pseudonymisation of ${int(total)} personal data values (keyed HMAC-SHA256)`
        : `redaction of ${int(total)} personal data values (replaced by type tags)`,
    );
  }
  return parts.length ? parts.join('; ') : undefined;
}

/** The membership-inference audits, one clause each. */
export function auditText(r: RunRecord): string | undefined {
  const audits = r.privacy?.audits;
  if (!audits?.length) return undefined;
  return audits
    .map((a) => {
      const low = [...a.tprAtFpr].sort((x, y) => x.fpr - y.fpr)[0];
      return (
        `${a.attack} membership-inference attack at ${a.createdAt}: ROC AUC ${num(a.auc, 3)}` +
        (low ? `, TPR ${pct(low.tpr)} at FPR ${pct(low.fpr)}` : '') +
        ` (${int(a.members)} members, ${int(a.nonMembers)} non-members)`
      );
    })
    .join('; ');
}
