// k-anonymity and l-diversity of a table: equivalence classes over the quasi-identifier columns, the smallest
// class (k), classes and rows below a requested k, and distinct, entropy and recursive (c, l)-diversity of a
// sensitive column. Columns are coded as integers once, so the lattice search can regroup rows cheaply.
import { ArgumentError } from '../errors.js';
import type { TableRow } from './table.js';

/** How the diversity of a class's sensitive values is measured against `l`. */
export type DiversityMeasure = 'distinct' | 'entropy' | 'recursive';

export interface DiversityOptions {
  /** The sensitive column whose values each class must keep diverse. */
  sensitive?: string;
  /** The required diversity (needs `sensitive`): at least l distinct values, entropy >= log l, or (c, l). */
  l?: number;
  /**
   * 'distinct' (default): a class has at least l distinct sensitive values. 'entropy': its entropy is at least
   * log l. 'recursive': recursive (c, l)-diversity, r1 < c (r_l + ... + r_m) over its sorted value counts.
   */
  diversity?: DiversityMeasure;
  /** c of recursive (c, l)-diversity (> 0; needed for 'recursive'). */
  c?: number;
}

export interface AnonymityOptions extends DiversityOptions {
  /** The columns an attacker may know and link on (age, sex, zip code, ...). */
  quasiIdentifiers: readonly string[];
  /** A requested k: the report counts the classes and rows below it. */
  k?: number;
}

export interface AnonymityReport {
  rows: number;
  quasiIdentifiers: string[];
  /** The number of equivalence classes (distinct combinations of quasi-identifier values). */
  classes: number;
  /** The smallest class size: the table is k-anonymous for this k (0 for an empty table). */
  k: number;
  averageClassSize: number;
  requestedK?: number;
  /** Classes smaller than requestedK, and the rows in them. */
  classesBelowK?: number;
  rowsBelowK?: number;
  sensitive?: string;
  /** The fewest distinct sensitive values in any class (distinct l-diversity). */
  distinctL?: number;
  /** exp of the smallest class entropy (natural log): entropy l-diversity. */
  entropyL?: number;
  requestedL?: number;
  diversity?: DiversityMeasure;
  c?: number;
  /** Classes that fail the requested l-diversity (by `diversity`), and the rows in them. */
  classesBelowL?: number;
  rowsBelowL?: number;
}

/** A column coded as integers: codes[row] indexes labels. */
export interface CodedColumn {
  codes: Int32Array;
  labels: string[];
}

/** The column's values as strings, checking that every row has it. */
export function columnValues(rows: readonly TableRow[], column: string, op: string): string[] {
  return rows.map((row, i) => {
    const v = row[column] as unknown;
    if (v === undefined || v === null) {
      const known = i === 0 && row ? Object.keys(row) : undefined;
      throw new ArgumentError(
        `${op}: row ${i} has no column ${JSON.stringify(column)}` +
          (known ? `; columns are ${known.map((k) => JSON.stringify(k)).join(', ')}` : ''),
      );
    }
    return typeof v === 'string' ? v : String(v);
  });
}

/** Codes distinct strings in order of first appearance. */
export function codeColumn(values: readonly string[]): CodedColumn {
  const index = new Map<string, number>();
  const labels: string[] = [];
  const codes = new Int32Array(values.length);
  values.forEach((v, i) => {
    let code = index.get(v);
    if (code === undefined) {
      code = labels.length;
      index.set(v, code);
      labels.push(v);
    }
    codes[i] = code;
  });
  return { codes, labels };
}

/**
 * The equivalence class of every row: rows with equal codes in every column share a class; classes are
 * numbered in order of first appearance. Keys are mixed-radix numbers, renumbered densely whenever they
 * would pass 2^52, so any number of columns works.
 */
export function groupRows(
  columns: ReadonlyArray<{ codes: Int32Array; cardinality: number }>,
  n: number,
): { classOf: Int32Array; classes: number } {
  const keys = new Float64Array(n);
  let range = 1;
  for (const col of columns) {
    if (range * col.cardinality > 2 ** 52) range = renumber(keys, range).classes;
    for (let r = 0; r < n; r++) keys[r] = keys[r] * col.cardinality + col.codes[r];
    range *= col.cardinality;
  }
  return renumber(keys, range);
}

function renumber(keys: Float64Array, range: number): { classOf: Int32Array; classes: number } {
  const n = keys.length;
  const classOf = new Int32Array(n);
  let classes = 0;
  if (range <= Math.max(4 * n, 1 << 16) && range <= 1 << 24) {
    const table = new Int32Array(range).fill(-1);
    for (let r = 0; r < n; r++) {
      const key = keys[r];
      if (table[key] < 0) table[key] = classes++;
      classOf[r] = keys[r] = table[key];
    }
  } else {
    const table = new Map<number, number>();
    for (let r = 0; r < n; r++) {
      let id = table.get(keys[r]);
      if (id === undefined) table.set(keys[r], (id = classes++));
      classOf[r] = keys[r] = id;
    }
  }
  return { classOf, classes };
}

/** Per class: its size, and with a sensitive column its distinct values, entropy and (c, l) verdict. */
export interface ClassStatistics {
  size: Int32Array;
  distinct?: Int32Array;
  entropy?: Float64Array;
  /** 1 where the class is recursive (c, l)-diverse. */
  recursive?: Uint8Array;
}

/** Checked diversity requirement, as the search and the report use it. */
export interface Requirement {
  k: number;
  l?: number;
  diversity: DiversityMeasure;
  c?: number;
}

/** Per-class statistics of rows (or of distinct records, each standing for `weights[r]` rows). */
export function classStatistics(
  classOf: Int32Array,
  classes: number,
  sensitive?: { codes: Int32Array; cardinality: number },
  requirement?: Requirement,
  weights?: Int32Array,
): ClassStatistics {
  const n = classOf.length;
  const size = new Int32Array(classes);
  for (let r = 0; r < n; r++) size[classOf[r]] += weights ? weights[r] : 1;
  if (!sensitive) return { size };
  const s = sensitive.cardinality;
  // counts per class: one flat table when it is small, otherwise a map keyed class * s + value.
  const perClass: number[][] = Array.from({ length: classes }, () => []);
  if (classes * s <= 1 << 24) {
    const counts = new Int32Array(classes * s);
    for (let r = 0; r < n; r++) counts[classOf[r] * s + sensitive.codes[r]] += weights ? weights[r] : 1;
    for (let i = 0; i < classes * s; i++) if (counts[i] > 0) perClass[Math.floor(i / s)].push(counts[i]);
  } else {
    const counts = new Map<number, number>();
    for (let r = 0; r < n; r++) {
      const key = classOf[r] * s + sensitive.codes[r];
      counts.set(key, (counts.get(key) ?? 0) + (weights ? weights[r] : 1));
    }
    for (const [key, count] of counts) perClass[Math.floor(key / s)].push(count);
  }
  const distinct = new Int32Array(classes);
  const entropy = new Float64Array(classes);
  const recursive = requirement?.diversity === 'recursive' ? new Uint8Array(classes) : undefined;
  perClass.forEach((counts, i) => {
    distinct[i] = counts.length;
    let h = 0;
    for (const count of counts) {
      const p = count / size[i];
      h -= p * Math.log(p);
    }
    entropy[i] = h;
    if (recursive) recursive[i] = isRecursiveDiverse(counts, requirement!.c!, requirement!.l!) ? 1 : 0;
  });
  return { size, distinct, entropy, recursive };
}

/** Recursive (c, l)-diversity of one class's value counts: r1 < c (r_l + ... + r_m), r sorted descending. */
function isRecursiveDiverse(counts: number[], c: number, l: number): boolean {
  if (counts.length < l) return false;
  const r = [...counts].sort((a, b) => b - a);
  let tail = 0;
  for (let i = l - 1; i < r.length; i++) tail += r[i];
  return r[0] < c * tail;
}

// Entropy >= log l is compared with this slack so that a class of exactly l equally frequent values passes.
const ENTROPY_SLACK = 1e-12;

/** Whether class i meets the diversity requirement (always true without l). */
export function isDiverse(stats: ClassStatistics, i: number, req: Requirement): boolean {
  if (req.l === undefined) return true;
  if (req.diversity === 'distinct') return stats.distinct![i] >= req.l;
  if (req.diversity === 'entropy') return stats.entropy![i] >= Math.log(req.l) - ENTROPY_SLACK;
  return stats.recursive![i] === 1;
}

/** Checks the options shared by the report and the search; `op` names the caller in errors. */
export function checkAnonymityOptions(
  rows: readonly TableRow[],
  options: AnonymityOptions,
  op: string,
  kRequired: boolean,
): Requirement {
  if (!Array.isArray(rows)) throw new ArgumentError(`${op}: rows must be an array of records`);
  const qis = options?.quasiIdentifiers;
  if (!Array.isArray(qis) || qis.length === 0 || qis.some((q) => typeof q !== 'string'))
    throw new ArgumentError(`${op}: quasiIdentifiers must name at least one column, got ${JSON.stringify(qis)}`);
  const dup = qis.find((q, i) => qis.indexOf(q) !== i);
  if (dup !== undefined) throw new ArgumentError(`${op}: quasi-identifier ${JSON.stringify(dup)} is listed twice`);
  const { k, sensitive, l, diversity = 'distinct', c } = options;
  if (k === undefined ? kRequired : !(Number.isInteger(k) && k >= 1))
    throw new ArgumentError(`${op}: k must be an integer >= 1, got ${k}`);
  if (sensitive !== undefined && qis.includes(sensitive))
    throw new ArgumentError(`${op}: the sensitive column ${JSON.stringify(sensitive)} is also a quasi-identifier`);
  if (!['distinct', 'entropy', 'recursive'].includes(diversity))
    throw new ArgumentError(`${op}: diversity must be 'distinct', 'entropy' or 'recursive', got ${String(diversity)}`);
  if (l !== undefined) {
    if (sensitive === undefined) throw new ArgumentError(`${op}: l = ${l} needs a sensitive column`);
    const integral = diversity !== 'entropy';
    if (!(Number.isFinite(l) && l >= 1 && (!integral || Number.isInteger(l))))
      throw new ArgumentError(`${op}: l must be ${integral ? 'an integer' : 'a number'} >= 1, got ${l}`);
  }
  if (diversity === 'recursive' && (l === undefined || !(Number.isFinite(c) && c! > 0)))
    throw new ArgumentError(`${op}: recursive (c, l)-diversity needs l and c > 0, got l = ${l}, c = ${c}`);
  if (c !== undefined && diversity !== 'recursive')
    throw new ArgumentError(`${op}: c = ${c} is only used by diversity: 'recursive', not '${diversity}'`);
  // Every named column must exist in every row (columnValues checks each row; this names it up front).
  if (rows.length > 0)
    for (const col of sensitive === undefined ? qis : [...qis, sensitive]) columnValues(rows.slice(0, 1), col, op);
  return { k: k ?? 1, l, diversity, c };
}

/** The smallest element (0 for none); a loop, as spreading a large array into Math.min overflows the stack. */
function minimum(values: ArrayLike<number>): number {
  if (values.length === 0) return 0;
  let m = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] < m) m = values[i];
  return m;
}

/** The report's figures from per-class statistics; the counts below k and l only where they were asked for. */
export function summarize(
  stats: ClassStatistics,
  rows: number,
  options: AnonymityOptions,
  req: Requirement,
): AnonymityReport {
  const classes = stats.size.length;
  const report: AnonymityReport = {
    rows,
    quasiIdentifiers: [...options.quasiIdentifiers],
    classes,
    k: minimum(stats.size),
    averageClassSize: classes === 0 ? 0 : rows / classes,
  };
  if (options.k !== undefined) {
    report.requestedK = options.k;
    report.classesBelowK = 0;
    report.rowsBelowK = 0;
    stats.size.forEach((s) => {
      if (s < options.k!) {
        report.classesBelowK!++;
        report.rowsBelowK! += s;
      }
    });
  }
  if (options.sensitive !== undefined) {
    report.sensitive = options.sensitive;
    report.distinctL = minimum(stats.distinct!);
    report.entropyL = classes === 0 ? 0 : Math.exp(minimum(stats.entropy!));
  }
  if (req.l !== undefined) {
    report.requestedL = req.l;
    report.diversity = req.diversity;
    if (req.c !== undefined) report.c = req.c;
    report.classesBelowL = 0;
    report.rowsBelowL = 0;
    for (let i = 0; i < classes; i++) {
      if (!isDiverse(stats, i, req)) {
        report.classesBelowL++;
        report.rowsBelowL += stats.size[i];
      }
    }
  }
  return report;
}

function groupTable(rows: readonly TableRow[], options: AnonymityOptions, req: Requirement, op: string) {
  const coded = options.quasiIdentifiers.map((q) => codeColumn(columnValues(rows, q, op)));
  const { classOf, classes } = groupRows(
    coded.map((c) => ({ codes: c.codes, cardinality: c.labels.length })),
    rows.length,
  );
  const sensitive = options.sensitive === undefined ? undefined : codeColumn(columnValues(rows, options.sensitive, op));
  const stats = classStatistics(
    classOf,
    classes,
    sensitive && { codes: sensitive.codes, cardinality: sensitive.labels.length },
    req,
  );
  return { coded, classOf, classes, sensitive, stats };
}

/**
 * The k-anonymity and l-diversity of `rows` over `quasiIdentifiers`, e.g.
 * `kAnonymityReport(rows, { quasiIdentifiers: ['age', 'sex'], sensitive: 'income', k: 5 })`.
 * A missing column, k < 1 or a bad l is an ArgumentError naming it.
 */
export function kAnonymityReport(rows: readonly TableRow[], options: AnonymityOptions): AnonymityReport {
  const req = checkAnonymityOptions(rows, options, 'kAnonymityReport', false);
  const { stats } = groupTable(rows, options, req, 'kAnonymityReport');
  return summarize(stats, rows.length, options, req);
}

/** One equivalence class: its quasi-identifier values, size, member rows and sensitive value counts. */
export interface EquivalenceClass {
  values: Record<string, string>;
  size: number;
  /** Indices into the input rows, ascending. */
  rows: number[];
  sensitiveCounts?: Record<string, number>;
}

/** The equivalence classes of `rows` over `quasiIdentifiers`, in order of first appearance. */
export function equivalenceClasses(
  rows: readonly TableRow[],
  options: { quasiIdentifiers: readonly string[]; sensitive?: string },
): EquivalenceClass[] {
  const req = checkAnonymityOptions(rows, options, 'equivalenceClasses', false);
  const { coded, classOf, classes, sensitive } = groupTable(rows, options, req, 'equivalenceClasses');
  const out: EquivalenceClass[] = Array.from({ length: classes }, () => ({ values: {}, size: 0, rows: [] }));
  for (let r = 0; r < rows.length; r++) {
    const cls = out[classOf[r]];
    if (cls.size === 0)
      options.quasiIdentifiers.forEach((q, j) => (cls.values[q] = coded[j].labels[coded[j].codes[r]]));
    cls.size++;
    cls.rows.push(r);
    if (sensitive) {
      const counts = (cls.sensitiveCounts ??= {});
      const v = sensitive.labels[sensitive.codes[r]];
      counts[v] = (counts[v] ?? 0) + 1;
    }
  }
  return out;
}
