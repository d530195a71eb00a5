// k-anonymity and l-diversity of tables: hand-computed classes, k and l; generalisation to k = 2 / 3 against a
// hand-worked answer; the lattice search against a brute force over every node; hierarchies; typed errors.
// test/fixtures/adult-sample.csv is every 100th row of ../shared/data/adult/adult.data (326 rows, header kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { privacy, ArgumentError } from '../../src/index.js';
import { FormatError } from '../../src/io/safetensors.js';

const { kAnonymityReport, anonymizeTable, equivalenceClasses, compileHierarchy, HierarchyError } = privacy;
type Row = Record<string, string>;

// Four classes over (age, zip, sex): A rows 0-1, B rows 2-4, C rows 5-8, D row 9.
const PATIENTS = privacy.parseTable(
  [
    'age,zip,sex,disease',
    '23,13053,F,Flu',
    '23,13053,F,Cold',
    '27,13068,M,Flu',
    '27,13068,M,Flu',
    '27,13068,M,Cancer',
    '35,14850,F,Flu',
    '35,14850,F,Cold',
    '35,14850,F,Cancer',
    '35,14850,F,Flu',
    '41,14853,M,Cold',
  ].join('\n'),
).rows;
const QI = ['age', 'zip', 'sex'];
const HIERARCHIES: Record<string, privacy.Hierarchy> = {
  age: { kind: 'interval', widths: [10] },
  zip: { kind: 'groups', levels: [{ '130**': ['13053', '13068'], '148**': ['14850', '14853'] }] },
};

test('the report: classes, k, rows below k, distinct and entropy l (hand-computed)', () => {
  const r = kAnonymityReport(PATIENTS, { quasiIdentifiers: QI, sensitive: 'disease', k: 3 });
  assert.equal(r.rows, 10);
  assert.equal(r.classes, 4);
  assert.equal(r.k, 1);
  assert.equal(r.averageClassSize, 2.5);
  assert.equal(r.requestedK, 3);
  assert.equal(r.classesBelowK, 2, 'A (2 rows) and D (1 row)');
  assert.equal(r.rowsBelowK, 3);
  assert.equal(r.distinctL, 1, 'D has one disease');
  assert.equal(r.entropyL, 1, 'exp(0)');
  // Without D the least diverse class is B: Flu, Flu, Cancer, entropy log 3 - (2/3) log 2.
  const r9 = kAnonymityReport(PATIENTS.slice(0, 9), { quasiIdentifiers: QI, sensitive: 'disease', k: 2 });
  assert.equal(r9.k, 2);
  assert.equal(r9.classesBelowK, 0);
  assert.equal(r9.distinctL, 2);
  assert.ok(Math.abs(r9.entropyL! - 3 / 2 ** (2 / 3)) < 1e-12, `entropy l ${r9.entropyL}`);

  const classes = equivalenceClasses(PATIENTS, { quasiIdentifiers: QI, sensitive: 'disease' });
  assert.deepEqual(
    classes.map((c) => [c.values, c.size, c.rows, c.sensitiveCounts]),
    [
      [{ age: '23', zip: '13053', sex: 'F' }, 2, [0, 1], { Flu: 1, Cold: 1 }],
      [{ age: '27', zip: '13068', sex: 'M' }, 3, [2, 3, 4], { Flu: 2, Cancer: 1 }],
      [{ age: '35', zip: '14850', sex: 'F' }, 4, [5, 6, 7, 8], { Flu: 2, Cold: 1, Cancer: 1 }],
      [{ age: '41', zip: '14853', sex: 'M' }, 1, [9], { Cold: 1 }],
    ],
  );
});

test('the report: classes below a requested l, by distinct, entropy and recursive (c, l)-diversity', () => {
  const at = (o: Partial<privacy.AnonymityOptions>) =>
    kAnonymityReport(PATIENTS, { quasiIdentifiers: QI, sensitive: 'disease', ...o });
  const distinct = at({ l: 2 });
  assert.deepEqual([distinct.classesBelowL, distinct.rowsBelowL, distinct.diversity], [1, 1, 'distinct']);
  // Entropy >= log 2: A (exactly log 2) and C pass; B (0.637) and D (0) fail.
  const entropy = at({ l: 2, diversity: 'entropy' });
  assert.deepEqual([entropy.classesBelowL, entropy.rowsBelowL], [2, 4]);
  // r1 < c (r2 + ...): A 1 < 2, B 2 < 2 fails, C 2 < 4, D has one value; with c = 3, B passes (2 < 3).
  const c2 = at({ l: 2, diversity: 'recursive', c: 2 });
  assert.deepEqual([c2.classesBelowL, c2.rowsBelowL, c2.c], [2, 4, 2]);
  const c3 = at({ l: 2, diversity: 'recursive', c: 3 });
  assert.deepEqual([c3.classesBelowL, c3.rowsBelowL], [1, 1]);
  const empty = kAnonymityReport([], { quasiIdentifiers: QI, sensitive: 'disease', k: 2 });
  assert.deepEqual([empty.classes, empty.k, empty.distinctL, empty.rowsBelowK], [0, 0, 0, 0]);
});

test('hierarchies: nested intervals, groups, value -> *', () => {
  const age = compileHierarchy('age', { kind: 'interval', widths: [5, 10, 20] });
  assert.equal(age.height, 4);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((lv) => age.generalize('27', lv)),
    ['27', '[25,30)', '[20,30)', '[20,40)', '*'],
  );
  assert.equal(age.generalize('-3', 1), '[-5,0)');
  const shifted = compileHierarchy('x', { kind: 'interval', widths: [0.1, 0.3], origin: 0.05 });
  assert.deepEqual([shifted.generalize('0.2', 1), shifted.generalize('0.2', 2)], ['[0.15,0.25)', '[0.05,0.35)']);
  const country = compileHierarchy('country', {
    kind: 'groups',
    levels: [{ Europe: ['France', 'Italy'], Asia: ['Japan'] }, { World: ['Europe', 'Asia'] }],
  });
  assert.equal(country.height, 3);
  assert.deepEqual(
    [0, 1, 2, 3].map((lv) => country.generalize('Italy', lv)),
    ['Italy', 'Europe', 'World', '*'],
  );
  const flat = compileHierarchy('sex', privacy.SUPPRESS_ONLY);
  assert.deepEqual([flat.height, flat.generalize('F', 0), flat.generalize('F', 1)], [1, 'F', '*']);
  assert.throws(() => country.generalize('Peru', 1), /"country".*"Peru" is not covered/);
  assert.throws(() => age.generalize('old', 1), HierarchyError);
  assert.throws(
    () => compileHierarchy('age', { kind: 'interval', widths: [5, 12] }),
    (e) => e instanceof HierarchyError && /"age".*multiple/.test(e.message),
  );
  assert.throws(
    () => compileHierarchy('c', { kind: 'groups', levels: [{ A: ['x'], B: ['y'] }, { AB: ['A'] }] }),
    (e) => e instanceof HierarchyError && /"c".*"B"/.test(e.message),
  );
  assert.throws(() => compileHierarchy('c', { kind: 'groups', levels: [{ A: ['x'], B: ['x'] }] }), /"x" in two groups/);
});

test('k = 2 without suppression: the hand-worked minimal generalisations and the least lossy one', () => {
  // D (41, 14853, M) is alone in its decade: age must be '*'. It then joins C with zip 148** and sex '*'
  // (levels 2,1,1) or B with zip '*' (2,2,0). LM: (2,1,1) loses (1 + 1/3 + 1) / 3 = 7/9, (2,2,0) 2/3.
  const r = anonymizeTable(PATIENTS, { quasiIdentifiers: QI, sensitive: 'disease', k: 2, hierarchies: HIERARCHIES });
  assert.deepEqual(r.search.minimal, [
    { age: 2, zip: 2, sex: 0 },
    { age: 2, zip: 1, sex: 1 },
  ]);
  assert.deepEqual(r.levels, { age: 2, zip: 2, sex: 0 });
  assert.deepEqual(r.heights, { age: 2, zip: 2, sex: 1 });
  assert.equal(r.suppressed, 0);
  assert.ok(Math.abs(r.loss.lm - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.loss.precisionLoss - 2 / 3) < 1e-12);
  assert.equal(r.loss.discernibility, 6 * 6 + 4 * 4);
  assert.equal(r.loss.height, 4);
  assert.deepEqual(
    r.rows.map((row) => [row.age, row.zip, row.sex, row.disease]),
    PATIENTS.map((row) => ['*', '*', row.sex, row.disease]),
  );
  assert.deepEqual([r.before.k, r.after.k, r.after.classes, r.after.distinctL], [1, 4, 2, 3]);
});

test('k = 3 with one row suppressible: LM and discernibility pick (1,1,1), precision picks (2,2,0)', () => {
  // With D suppressed, A must still grow: with B at ([20,30), 130**, *) (levels 1,1,1), or with C at (*, *, F).
  // (1,1,1): LM = (5 (1/3 + 1/3 + 1) + 4 (0 + 1/3 + 1) + 3) / 30 = 5/9, DM = 25 + 16 + 10, precision 0.7;
  // (2,2,0): LM = 2/3, DM = 36 + 16, precision 2/3.
  const base = { quasiIdentifiers: QI, k: 3, hierarchies: HIERARCHIES, maxSuppression: 0.1 };
  const lm = anonymizeTable(PATIENTS, base);
  assert.deepEqual(lm.search.minimal, [
    { age: 1, zip: 1, sex: 1 },
    { age: 2, zip: 2, sex: 0 },
  ]);
  assert.deepEqual(lm.levels, { age: 1, zip: 1, sex: 1 });
  assert.deepEqual(lm.suppressedRows, [9]);
  assert.ok(Math.abs(lm.loss.lm - 5 / 9) < 1e-12);
  assert.equal(lm.loss.discernibility, 51);
  assert.ok(Math.abs(lm.loss.precisionLoss - 0.7) < 1e-12);
  assert.deepEqual(
    lm.rows.map((row) => [row.age, row.zip, row.sex]),
    [...Array(5).fill(['[20,30)', '130**', '*']), ...Array(4).fill(['[30,40)', '148**', '*'])],
  );
  assert.deepEqual([lm.after.rows, lm.after.k, lm.after.classes], [9, 4, 2]);
  assert.deepEqual(anonymizeTable(PATIENTS, { ...base, metric: 'discernibility' }).levels, lm.levels);
  const precision = anonymizeTable(PATIENTS, { ...base, metric: 'precision' });
  assert.deepEqual(precision.levels, { age: 2, zip: 2, sex: 0 });
  assert.equal(precision.suppressed, 0);
  // k = 2 with the same allowance: suppressing D alone is enough, nothing is generalised.
  const k2 = anonymizeTable(PATIENTS, { ...base, k: 2 });
  assert.deepEqual([k2.levels, k2.suppressedRows, k2.rows], [{ age: 0, zip: 0, sex: 0 }, [9], PATIENTS.slice(0, 9)]);
});

test('l-diversity: entropy l = 2 forces B (Flu, Flu, Cancer) to merge', () => {
  const r = anonymizeTable(PATIENTS, {
    quasiIdentifiers: QI,
    k: 2,
    sensitive: 'disease',
    l: 2,
    diversity: 'entropy',
    hierarchies: HIERARCHIES,
    maxSuppression: 0.1,
  });
  assert.ok(r.after.entropyL! >= 2 - 1e-9, `entropy l after ${r.after.entropyL}`);
  assert.equal(r.after.classesBelowL, 0);
  assert.ok(r.suppressed <= 1);
  assert.ok(r.before.classesBelowL! > 0);
});

test('entropy l-diversity with suppression is not monotone: every node is evaluated', () => {
  // x = 1: {a, b} meets entropy l = 2; x = 2: {a x 4} does not, and may be suppressed (4 of 6 rows). Merged
  // at '*', {a x 5, b} has entropy 0.45 < log 2: the bottom passes while the top fails.
  const rows = ['a', 'b', 'a', 'a', 'a', 'a'].map((s, i) => ({ x: i < 2 ? '1' : '2', s }));
  const o = { quasiIdentifiers: ['x'], sensitive: 's', k: 2, l: 2, diversity: 'entropy' as const };
  const r = anonymizeTable(rows, { ...o, maxSuppression: 4 / 6 });
  assert.equal(r.search.pruned, false);
  assert.equal(r.search.evaluated, 2);
  assert.deepEqual([r.levels, r.suppressedRows, r.search.minimal], [{ x: 0 }, [2, 3, 4, 5], [{ x: 0 }]]);
  assert.ok(Math.abs(r.after.entropyL! - 2) < 1e-12);
  assert.throws(() => anonymizeTable(rows, { ...o, maxSuppression: 3 / 6 }), /cannot be reached/);
  assert.throws(() => anonymizeTable(rows, { ...o, maxSuppression: 0 }), /cannot be reached/);
});

// ---- The search against a brute force over every node, written independently of the library's grouping.

function randomTable(seed: number, n: number): Row[] {
  let s = seed;
  const next = (m: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((s / 2 ** 31) * m);
  };
  return Array.from({ length: n }, () => ({
    age: String(18 + next(50)),
    city: ['a', 'b', 'c', 'd', 'e'][next(5)],
    sex: ['F', 'M'][next(2)],
    job: ['x', 'y', 'z', 'w'][next(4)],
  }));
}
const SMALL_QI = ['age', 'city', 'sex'];
const SMALL_HIERARCHIES: Record<string, privacy.Hierarchy> = {
  age: { kind: 'interval', widths: [5, 10, 20] },
  city: { kind: 'groups', levels: [{ north: ['a', 'b'], south: ['c', 'd', 'e'] }] },
};

interface Verdict {
  levels: number[];
  pass: boolean;
  suppressed: number;
  lm: number;
  precisionLoss: number;
  discernibility: number;
}

/** Every node of the lattice judged from scratch: string keys, explicit class lists. */
function bruteForce(rows: Row[], o: privacy.AnonymizeOptions): Verdict[] {
  const hs = o.quasiIdentifiers.map((q) => compileHierarchy(q, o.hierarchies?.[q] ?? privacy.SUPPRESS_ONLY));
  const out: Verdict[] = [];
  const visit = (levels: number[]) => {
    if (levels.length < hs.length) {
      for (let lv = 0; lv <= hs[levels.length].height; lv++) visit([...levels, lv]);
      return;
    }
    const gen = rows.map((row) => hs.map((h, j) => h.generalize(row[h.column], levels[j])));
    const classes = new Map<string, number[]>();
    gen.forEach((g, r) => classes.set(JSON.stringify(g), [...(classes.get(JSON.stringify(g)) ?? []), r]));
    let suppressed = 0;
    let discernibility = 0;
    const kept: number[] = [];
    for (const members of classes.values()) {
      const counts = new Map<string, number>();
      for (const r of members)
        counts.set(rows[r][o.sensitive ?? 'job'], (counts.get(rows[r][o.sensitive ?? 'job']) ?? 0) + 1);
      const sorted = [...counts.values()].sort((a, b) => b - a);
      const entropy = -sorted.reduce((acc, c) => acc + (c / members.length) * Math.log(c / members.length), 0);
      const l = o.l ?? 1;
      const diverse =
        o.l === undefined ||
        (o.diversity === 'entropy'
          ? entropy >= Math.log(l) - 1e-12
          : o.diversity === 'recursive'
            ? sorted.length >= l && sorted[0] < o.c! * sorted.slice(l - 1).reduce((a, b) => a + b, 0)
            : sorted.length >= l);
      if (members.length >= o.k && diverse) {
        discernibility += members.length ** 2;
        kept.push(...members);
      } else suppressed += members.length;
    }
    discernibility += suppressed * rows.length;
    // LM: a generalised value standing for m of the column's M distinct values loses (m - 1) / (M - 1).
    let cells = suppressed * hs.length;
    hs.forEach((h, j) => {
      const distinct = [...new Set(rows.map((row) => row[h.column]))];
      const m = (v: string) => distinct.filter((d) => h.generalize(d, levels[j]) === v).length;
      for (const r of kept) cells += (m(gen[r][j]) - 1) / (distinct.length - 1);
    });
    const mean = levels.reduce((a, lv, j) => a + lv / hs[j].height, 0) / hs.length;
    out.push({
      levels,
      pass: suppressed <= Math.floor((o.maxSuppression ?? 0) * rows.length + 1e-9),
      suppressed,
      lm: cells / (rows.length * hs.length),
      precisionLoss: ((rows.length - suppressed) * mean + suppressed) / rows.length,
      discernibility,
    });
  };
  visit([]);
  return out;
}

test('the search finds exactly the minimal passing nodes and the least lossy of them (brute force)', () => {
  const cases: Partial<privacy.AnonymizeOptions>[] = [
    { k: 2 },
    { k: 3, maxSuppression: 0.05 },
    { k: 5, maxSuppression: 0.1, metric: 'precision' },
    { k: 4, maxSuppression: 0.02, metric: 'discernibility' },
    { k: 2, sensitive: 'job', l: 2, maxSuppression: 0.05 },
    { k: 3, sensitive: 'job', l: 2, diversity: 'entropy', maxSuppression: 0.1 },
    { k: 2, sensitive: 'job', l: 2, diversity: 'recursive', c: 2, maxSuppression: 0.1, metric: 'height' },
  ];
  cases.forEach((extra, i) => {
    const rows = randomTable(17 + i, 60);
    const o = { quasiIdentifiers: SMALL_QI, hierarchies: SMALL_HIERARCHIES, k: 1, ...extra };
    const got = anonymizeTable(rows, o);
    const all = bruteForce(rows, o);
    // Minimal: passes, and no other node with levels all <= its own passes.
    const minimal = all.filter(
      (v) => v.pass && !all.some((w) => w !== v && w.pass && w.levels.every((lv, j) => lv <= v.levels[j])),
    );
    const named = (levels: number[]) => Object.fromEntries(SMALL_QI.map((q, j) => [q, levels[j]]));
    assert.deepEqual(
      [...got.search.minimal].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      minimal.map((v) => named(v.levels)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      `case ${i}: the minimal nodes`,
    );
    // Monotonicity, which the pruning relies on: every node above a passing node passes.
    assert.equal(got.search.pruned, !(o.maxSuppression && o.l !== undefined && o.diversity !== undefined));
    if (got.search.pruned)
      for (const v of all)
        if (v.pass)
          for (const w of all) if (w.levels.every((lv, j) => lv >= v.levels[j])) assert.ok(w.pass, `case ${i}`);
    const key = o.metric === undefined || o.metric === 'lm' ? 'lm' : o.metric === 'precision' ? 'precisionLoss' : null;
    const best = got.search.minimal[0];
    const chosen = minimal.find((v) => JSON.stringify(named(v.levels)) === JSON.stringify(best))!;
    assert.deepEqual(got.levels, best);
    if (key) for (const v of minimal) assert.ok(chosen[key] <= v[key] + 1e-12, `case ${i}: ${key} is least`);
    if (o.metric === 'discernibility')
      for (const v of minimal) assert.ok(chosen.discernibility <= v.discernibility, `case ${i}`);
    if (o.metric === 'height')
      for (const v of minimal)
        assert.ok(chosen.levels.reduce((a, b) => a + b) <= v.levels.reduce((a, b) => a + b), `case ${i}`);
    assert.ok(Math.abs(got.loss.lm - chosen.lm) < 1e-12, `case ${i}: lm`);
    assert.ok(Math.abs(got.loss.precisionLoss - chosen.precisionLoss) < 1e-12, `case ${i}: precision`);
    assert.equal(got.loss.discernibility, chosen.discernibility, `case ${i}: discernibility`);
    // The result is k-anonymous (and l-diverse), within the suppression bound.
    assert.equal(got.suppressed, chosen.suppressed);
    assert.ok(got.suppressed <= Math.floor((o.maxSuppression ?? 0) * rows.length + 1e-9), `case ${i}: bound`);
    assert.equal(got.rows.length + got.suppressed, rows.length);
    assert.ok(got.after.k >= o.k, `case ${i}: k after ${got.after.k}`);
    assert.equal(got.after.classesBelowL ?? 0, 0, `case ${i}: l after`);
    assert.ok(got.search.evaluated <= got.search.nodes);
  });
});

test('Adult sample: the shipped hierarchies cover every value of adult.names, and k = 5 is reached', () => {
  const text = readFileSync(
    join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'adult-sample.csv'),
    'utf8',
  );
  const { columns, rows } = privacy.parseTable(text);
  assert.equal(rows.length, 326);
  assert.equal(columns[13], 'native-country');
  assert.equal(rows[0]['native-country'], 'United-States', 'fields are trimmed (the file separates with ", ")');
  // The categories listed in adult.names, plus '?' for missing values.
  const names: Record<string, string> = {
    workclass: 'Private Self-emp-not-inc Self-emp-inc Federal-gov Local-gov State-gov Without-pay Never-worked ?',
    education:
      'Bachelors Some-college 11th HS-grad Prof-school Assoc-acdm Assoc-voc 9th 7th-8th 12th Masters 1st-4th 10th ' +
      'Doctorate 5th-6th Preschool',
    'marital-status':
      'Married-civ-spouse Divorced Never-married Separated Widowed Married-spouse-absent Married-AF-spouse',
    'native-country':
      'United-States Cambodia England Puerto-Rico Canada Germany Outlying-US(Guam-USVI-etc) India Japan Greece ' +
      'South China Cuba Iran Honduras Philippines Italy Poland Jamaica Vietnam Mexico Portugal Ireland France ' +
      'Dominican-Republic Laos Ecuador Taiwan Haiti Columbia Hungary Guatemala Nicaragua Scotland Thailand ' +
      'Yugoslavia El-Salvador Trinadad&Tobago Peru Hong Holand-Netherlands ?',
  };
  for (const [column, list] of Object.entries(names)) {
    const h = compileHierarchy(column, privacy.ADULT_HIERARCHIES[column]);
    for (const v of list.split(' ')) assert.notEqual(h.generalize(v, 1), undefined);
  }
  const qis = ['age', 'sex', 'race', 'native-country', 'education', 'marital-status', 'workclass'];
  const r = anonymizeTable(rows, {
    quasiIdentifiers: qis,
    sensitive: 'occupation',
    k: 5,
    l: 2,
    hierarchies: privacy.ADULT_HIERARCHIES,
    maxSuppression: 0.05,
  });
  assert.equal(r.before.k, 1);
  assert.ok(r.after.k >= 5 && r.after.distinctL! >= 2);
  assert.ok(r.suppressed <= Math.floor(0.05 * 326));
  assert.equal(r.search.nodes, 5 * 2 * 2 * 3 * 4 * 4 * 3);
  // The chosen node is minimal: lowering any one level breaks k = 5, l = 2 within the allowance.
  for (const q of qis) {
    if (r.levels[q] === 0) continue;
    const lower = { ...r.levels, [q]: r.levels[q] - 1 };
    const h = (c: string) => compileHierarchy(c, privacy.ADULT_HIERARCHIES[c]);
    const gen = rows.map((row) => ({
      ...row,
      ...Object.fromEntries(qis.map((c) => [c, h(c).generalize(row[c], lower[c])])),
    }));
    const rep = kAnonymityReport(gen, { quasiIdentifiers: qis, sensitive: 'occupation', k: 5, l: 2 });
    const failing = new Set<number>();
    equivalenceClasses(gen, { quasiIdentifiers: qis, sensitive: 'occupation' }).forEach((c) => {
      if (c.size < 5 || Object.keys(c.sensitiveCounts!).length < 2) c.rows.forEach((i) => failing.add(i));
    });
    assert.ok(failing.size > Math.floor(0.05 * 326), `${q} one level lower would pass (${rep.rowsBelowK})`);
  }
});

test('typed errors name the column', () => {
  const base = { quasiIdentifiers: QI, k: 2, hierarchies: HIERARCHIES };
  const err = (fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp) =>
    assert.throws(fn, (e) => e instanceof type && pattern.test((e as Error).message), String(pattern));
  err(() => kAnonymityReport(PATIENTS, { quasiIdentifiers: ['age', 'zipcode'] }), ArgumentError, /"zipcode"/);
  err(() => kAnonymityReport(PATIENTS, { quasiIdentifiers: QI, sensitive: 'illness' }), ArgumentError, /"illness"/);
  err(() => kAnonymityReport(PATIENTS, { quasiIdentifiers: [] }), ArgumentError, /at least one column/);
  err(() => anonymizeTable(PATIENTS, { ...base, k: 0 }), ArgumentError, /k must be an integer >= 1, got 0/);
  err(() => anonymizeTable(PATIENTS, { ...base, k: 2.5 }), ArgumentError, /k must be/);
  err(() => kAnonymityReport(PATIENTS, { quasiIdentifiers: QI, k: 0 }), ArgumentError, /k must be/);
  err(() => anonymizeTable(PATIENTS, { ...base, l: 2 }), ArgumentError, /needs a sensitive column/);
  err(
    () => anonymizeTable(PATIENTS, { ...base, sensitive: 'disease', l: 2, diversity: 'recursive' }),
    ArgumentError,
    /needs l and c > 0/,
  );
  err(() => anonymizeTable(PATIENTS, { ...base, sensitive: 'sex' }), ArgumentError, /"sex" is also a quasi/);
  err(() => anonymizeTable(PATIENTS, { ...base, maxSuppression: 2 }), ArgumentError, /maxSuppression/);
  err(
    () => anonymizeTable(PATIENTS, { ...base, hierarchies: { ...HIERARCHIES, disease: privacy.SUPPRESS_ONLY } }),
    ArgumentError,
    /"disease", which is not a quasi-identifier/,
  );
  const partial = { kind: 'groups' as const, levels: [{ '130**': ['13053', '13068'], '148**': ['14850'] }] };
  err(
    () => anonymizeTable(PATIENTS, { ...base, hierarchies: { zip: partial } }),
    HierarchyError,
    /"zip".*"14853" is not covered.*row 9/,
  );
  const text = PATIENTS.map((r, i) => (i === 3 ? { ...r, age: 'n/a' } : r));
  err(() => anonymizeTable(text, base), HierarchyError, /"age".*"n\/a" is not a number.*row 3/);
  err(
    () => anonymizeTable(PATIENTS, { ...base, sensitive: 'disease', l: 4 }),
    ArgumentError,
    /k = 2 and distinct l = 4 of "disease" cannot be reached.*10 of 10 rows/,
  );
  err(() => anonymizeTable(PATIENTS, { ...base, maxNodes: 10 }), ArgumentError, /18 nodes.*maxNodes = 10/);
  err(() => privacy.parseTable('a,b\n1,2\n3'), FormatError, /line 3 has 1 fields, expected 2/);
  err(() => privacy.parseTable('a,a\n1,2'), FormatError, /"a" twice/);
});

test('formatTable writes CSV that parseTable reads back', () => {
  const table = {
    columns: ['a', 'b'],
    rows: [
      { a: 'x, y', b: 'say "hi"' },
      { a: ' pad ', b: 'two\nlines' },
    ],
  };
  const text = privacy.formatTable(table);
  assert.equal(text, 'a,b\n"x, y","say ""hi"""\n" pad ","two\nlines"\n');
  assert.deepEqual(privacy.parseTable(text, { trim: false }), table);
});

test('loadTable reads an encrypted table with its key', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'candor-anon-'));
  try {
    const path = join(dir, 'patients.csv');
    const table = { columns: ['age', 'zip'], rows: [{ age: '23', zip: '13053' }] };
    await privacy.writeEncrypted(path, new TextEncoder().encode(privacy.formatTable(table)), 'a passphrase');
    assert.deepEqual(await privacy.loadTable(path, { encryptionKey: 'a passphrase' }), table);
    await assert.rejects(privacy.loadTable(path, { encryptionKey: 'wrong' }), privacy.DecryptionError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
