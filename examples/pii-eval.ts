// Precision and recall of privacy.scanPII per type on the SpamAssassin emails: e-mail addresses of the From / To /
// Cc / Reply-To headers and IPs of the Received headers against labels from independent parsers
// (pii-labels.ts), and generated values, near misses and lookalikes inserted into real bodies (pii-eval-set.ts).
//   npm run example -- pii-eval [--json] [--seed N] [--inserted N] [--review N]
// --review N prints N disagreements per type (seeded sample) for reading by hand. The last line with --json
// is one JSON object with the counts, precision and recall of each type.
import { privacy } from '../src/index.js';
import { spamAssassin } from '../src/text/index.js';
import { Draw, headerLabels, syntheticSet, SYNTHETIC_TYPES } from './pii-eval-set.js';
import type { Label, Span } from './pii-labels.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  const v = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${args[at + 1]}`);
  return v;
};
const json = args.includes('--json');
const seed = option('--seed', 13);
const insertedCount = option('--inserted', 4000);
const review = option('--review', 0);

interface Tally {
  labels: number;
  tp: number;
  fp: number;
  fn: number;
}
const tally = (): Tally => ({ labels: 0, tp: 0, fp: 0, fn: 0 });
const figures = (t: Tally) => ({
  ...t,
  precision: t.tp + t.fp === 0 ? null : Number((t.tp / (t.tp + t.fp)).toFixed(4)),
  recall: t.labels === 0 ? null : Number((t.tp / t.labels).toFixed(4)),
});

const inside = (s: Span, f: Span) => s.start >= f.start && s.end <= f.end;
const overlaps = (s: Span, f: Span) => s.start < f.end && f.start < s.end;
const context = (text: string, s: Span) =>
  JSON.stringify(
    text.slice(Math.max(0, s.start - 40), s.start) +
      '⟦' +
      text.slice(s.start, s.end) +
      '⟧' +
      text.slice(s.end, s.end + 40),
  );

const started = performance.now();
const emails = await spamAssassin();

// ------------------------------------------------------------------ real headers against independent labels

const headers: Record<'email' | 'ipv4' | 'ipv6', Tally> = { email: tally(), ipv4: tally(), ipv6: tally() };
const disagreements: Record<string, string[]> = {};
const background: Record<string, number> = Object.fromEntries(privacy.PII_TYPES.map((t) => [t, 0]));
const backgroundSamples: Record<string, string[]> = {};
for (const email of emails) {
  const raw = email.text;
  const { labels, addressFields, receivedFields } = headerLabels(raw);
  const matches = privacy.scanPII(raw);
  for (const type of ['email', 'ipv4', 'ipv6'] as const) {
    const fields = type === 'email' ? addressFields : receivedFields;
    const want = labels.filter((l: Label) => l.type === type);
    const got = matches.filter((m) => m.type === type && fields.some((f) => inside(m, f)));
    const key = (s: Span) => `${s.start}:${s.end}`;
    const wanted = new Set(want.map(key));
    const gotKeys = new Set(got.map(key));
    const t = headers[type];
    t.labels += want.length;
    for (const m of got) {
      if (wanted.has(key(m))) t.tp++;
      else {
        t.fp++;
        (disagreements[`${type} FP`] ??= []).push(context(raw, m));
      }
    }
    for (const l of want)
      if (!gotKeys.has(key(l))) {
        t.fn++;
        (disagreements[`${type} FN`] ??= []).push(context(raw, l));
      }
  }
  // What the scanner finds outside the labelled fields: not scored (no labels), counted, sampled for review.
  const labelled = [...addressFields, ...receivedFields];
  for (const m of matches)
    if (!labelled.some((f) => overlaps(m, f))) {
      background[m.type]++;
      (backgroundSamples[m.type] ??= []).push(context(raw, m));
    }
}

// ------------------------------------------------------------- generated values inserted into real bodies

// Per type made: near misses and lookalikes inserted, and how many of them the scanner flagged (as any type).
interface Negatives {
  nearMisses: number;
  nearMissesFlagged: number;
  lookalikes: number;
  lookalikesFlagged: number;
}
const inserted: Record<string, Tally> = Object.fromEntries(SYNTHETIC_TYPES.map((t) => [t, tally()]));
const negatives: Record<string, Negatives> = Object.fromEntries(
  SYNTHETIC_TYPES.map((t) => [t, { nearMisses: 0, nearMissesFlagged: 0, lookalikes: 0, lookalikesFlagged: 0 }]),
);
for (const { text, insert } of syntheticSet(emails, seed, insertedCount)) {
  const matches = privacy.scanPII(text).filter((m) => overlaps(m, insert.line));
  if (insert.valid) inserted[insert.type].labels++;
  const neg = negatives[insert.type];
  if (insert.kind === 'nearMiss') {
    neg.nearMisses++;
    if (matches.length > 0) neg.nearMissesFlagged++;
  } else if (insert.kind === 'lookalike') {
    neg.lookalikes++;
    if (matches.length > 0) neg.lookalikesFlagged++;
  }
  let found = false;
  for (const m of matches) {
    const t = inserted[m.type];
    if (!t) continue; // a type not generated here (e.g. an e-mail) is not scored on this set
    if (insert.valid && m.type === insert.type && m.start === insert.start && m.end === insert.end) {
      t.tp++;
      found = true;
    } else {
      t.fp++;
      (disagreements[`inserted ${m.type} FP`] ??= []).push(`${context(text, m)} (made: ${insert.type} ${insert.kind})`);
    }
  }
  if (insert.valid && !found) {
    inserted[insert.type].fn++;
    (disagreements[`inserted ${insert.type} FN`] ??= []).push(context(text, insert));
  }
}

const seconds = (performance.now() - started) / 1000;

if (review > 0) {
  const d = new Draw(seed + 1);
  for (const [what, list] of [
    ...Object.entries(disagreements),
    ...Object.entries(backgroundSamples).map(([t, l]) => [`background ${t}`, l] as const),
  ]) {
    const sample = list.length <= review ? list : Array.from({ length: review }, () => list[d.int(list.length)]);
    console.log(`\n== ${what}: ${list.length}${list.length > review ? `, ${review} drawn` : ''}`);
    for (const s of sample) console.log(`  ${s}`);
  }
}

const result = {
  example: 'pii-eval',
  messages: emails.length,
  seed,
  inserted: insertedCount,
  seconds: Number(seconds.toFixed(1)),
  headers: Object.fromEntries(Object.entries(headers).map(([k, t]) => [k, figures(t)])),
  insertedValues: Object.fromEntries(Object.entries(inserted).map(([k, t]) => [k, { ...figures(t), ...negatives[k] }])),
  unlabelledMatches: background,
};
if (!json) {
  console.log(`\n${emails.length} messages, ${insertedCount} inserted values (seed ${seed}), ${seconds.toFixed(1)} s`);
  console.log('set       type        labels     tp     fp     fn  precision  recall');
  for (const [set, table] of [
    ['headers', result.headers],
    ['inserted', result.insertedValues],
  ] as const)
    for (const [type, f] of Object.entries(table)) {
      const counts = [f.labels, f.tp, f.fp, f.fn].map((v) => String(v).padStart(6)).join(' ');
      const rates = `${String(f.precision ?? '-').padStart(9)}  ${String(f.recall ?? '-').padStart(6)}`;
      console.log(`${set.padEnd(9)} ${type.padEnd(11)} ${counts}  ${rates}`);
    }
  console.log('inserted negatives flagged (any type): near misses, lookalikes');
  for (const [type, n] of Object.entries(negatives))
    console.log(
      `  ${type.padEnd(11)} ${n.nearMissesFlagged} / ${n.nearMisses}` +
        (n.lookalikes ? `, ${n.lookalikesFlagged} / ${n.lookalikes}` : ''),
    );
  console.log('matches outside the labelled fields (not scored):', JSON.stringify(background));
}
console.log(JSON.stringify(result));
