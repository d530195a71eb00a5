// The Meter: subscribes to the dispatch point (onKernel) and adds up the FLOPs, bytes, kernel time and
// calls of every kernel, by phase (forward / backward / optimizer / evaluate / other), by layer path
// and by op. FLOPs and bytes come from the cost model beside each primitive and fused op, so they are
// exact for the kernels that ran (composites count the primitives they are made of); times are the
// kernel's own wall time as the dispatcher measured it. The snapshot goes into the run record; the
// profiler table (like PyTorch's key_averages) is printed from a snapshot.
//
// Runs: a meter started inside a run (a fit; see run-context.ts) counts the kernels of that run only
// (and of runs nested in it), so fits running concurrently under Promise.all do not count each other's
// work; a meter started outside every run counts every kernel of the process. All meters share one
// hook on the dispatch point, which reads the current run once per kernel call, and only while a
// run-bound meter listens.
import { onKernelCount, type KernelEvent } from '../ops/dispatch.js';
import { FUSED, FUSED_NAMES } from '../ops/families/index.js';
import { PRIMITIVES, PRIMITIVE_NAMES } from '../ops/primitives.js';
import { ArgumentError } from '../errors.js';
import { PHASES, TRAINING_PHASES, currentPhase, currentLayerPath, type Phase } from '../autograd/annotations.js';
import { belongsTo, currentRun, type Run } from './run-context.js';

/** Sums of one group of kernel calls. */
export interface Totals {
  calls: number;
  flops: number;
  bytes: number;
  /** Kernel time in milliseconds. */
  ms: number;
}

/** One row of a meter snapshot: the finest grain kept (phase x layer path x op). */
export interface MeterRow extends Totals {
  phase: Phase;
  /** The layer path ('' outside any layer); named `scope` in the run record format. */
  scope: string;
  op: string;
  family: string;
  fused: boolean;
}

/** What a meter has seen, in JSON form (kept in the run record's `compute`). */
export interface MeterSnapshot {
  /** All kernels metered. */
  total: Totals;
  /** FLOPs of the training phases (forward + backward + optimizer). */
  trainingFlops: number;
  byPhase: Record<Phase, Totals>;
  rows: MeterRow[];
  /** Backends the kernels ran on. */
  backends: string[];
}

// Each op's family is stated by its spec (a required field, so an op cannot be added without one).
const FAMILY = new Map<string, string>();
for (const op of PRIMITIVE_NAMES) FAMILY.set(op, PRIMITIVES[op].family);
for (const op of FUSED_NAMES) FAMILY.set(op, FUSED[op].family);

/**
 * The op family used to group time and FLOPs ('matmul', 'elementwise', 'reduce', 'convolution', ...), from
 * the op's spec; 'other' only for a name no spec has (an event fed in by hand).
 */
export function opFamily(op: string): string {
  return FAMILY.get(op) ?? 'other';
}

const zero = (): Totals => ({ calls: 0, flops: 0, bytes: 0, ms: 0 });

function addInto(into: Totals, t: Totals): void {
  into.calls += t.calls;
  into.flops += t.flops;
  into.bytes += t.bytes;
  into.ms += t.ms;
}

interface Acc extends Totals {
  fused: boolean;
}

/** The meters now started; one dispatch hook serves them all. */
const listening = new Set<Meter>();
let unhook: (() => void) | undefined;
/** How many started meters are bound to a run (only then is the current run read per kernel). */
let bound = 0;
let allKernelMs = 0;

function onCount(op: string, fused: boolean, backend: string, flops: number, bytes: number, ms: number): void {
  allKernelMs += ms;
  const run = bound > 0 ? currentRun() : undefined;
  for (const m of listening)
    if (m.run === undefined || belongsTo(run, m.run)) m.count(op, fused, backend, flops, bytes, ms);
}

/**
 * Kernel milliseconds of the whole process seen while any meter was started (every run and none): a
 * run's own kernel time over the change in this figure is its share of the process's kernel work.
 */
export function processKernelMs(): number {
  return allKernelMs;
}

export class Meter {
  /** phase -> scope -> op -> sums; nested maps so a kernel call allocates nothing. */
  private readonly data = new Map<Phase, Map<string, Map<string, Acc>>>();
  private lastPhase?: Phase;
  private lastScope?: string;
  private lastByOp?: Map<string, Acc>;
  private lastBackend?: string;
  private readonly backends = new Set<string>();
  private started = false;
  private owner?: Run;
  private totalMs = 0;

  /** Whether the meter is subscribed to the dispatch point. */
  get running(): boolean {
    return this.started;
  }

  /** The run whose kernels the meter counts (set by start()); undefined: every kernel of the process. */
  get run(): Run | undefined {
    return this.owner;
  }

  /** Kernel milliseconds recorded so far (the sum of every row's ms). */
  get kernelMs(): number {
    return this.totalMs;
  }

  /**
   * Subscribes to kernel calls (idempotent): those of the current run when started inside one (fit),
   * else every kernel of the process.
   */
  start(): this {
    if (this.started) return this;
    this.started = true;
    this.owner = currentRun();
    if (this.owner) bound++;
    listening.add(this);
    unhook ??= onKernelCount(onCount);
    return this;
  }

  /** Unsubscribes; what was seen is kept. */
  stop(): this {
    if (!this.started) return this;
    this.started = false;
    if (this.owner) bound--;
    this.owner = undefined;
    listening.delete(this);
    if (listening.size === 0) {
      unhook?.();
      unhook = undefined;
    }
    return this;
  }

  reset(): this {
    this.data.clear();
    this.backends.clear();
    this.totalMs = 0;
    this.lastPhase = this.lastScope = this.lastByOp = this.lastBackend = undefined;
    return this;
  }

  /** Meters fn alone: starts, runs, stops (a meter that was running keeps running). */
  measure<T>(fn: () => T): T {
    const wasRunning = this.running;
    this.start();
    try {
      return fn();
    } finally {
      if (!wasRunning) this.stop();
    }
  }

  /** Adds one kernel call; public so events recorded elsewhere (or synthetic ones in tests) can be fed in. */
  record(e: Pick<KernelEvent, 'op' | 'fused' | 'flops' | 'bytes' | 'ms' | 'backend'>): void {
    this.count(e.op, e.fused, e.backend, e.flops, e.bytes, e.ms);
  }

  /** record() with the call's figures as arguments (the dispatch point's counter). */
  count(op: string, fused: boolean, backend: string, flops: number, bytes: number, ms: number): void {
    const phase = currentPhase(),
      scope = currentLayerPath();
    // Kernels come in runs of one layer (matmul, bias, activation): the last (phase, layer)'s row set is reused.
    let byOp = phase === this.lastPhase && scope === this.lastScope ? this.lastByOp : undefined;
    if (!byOp) {
      let byScope = this.data.get(phase);
      if (!byScope) this.data.set(phase, (byScope = new Map()));
      byOp = byScope.get(scope);
      if (!byOp) byScope.set(scope, (byOp = new Map()));
      this.lastPhase = phase;
      this.lastScope = scope;
      this.lastByOp = byOp;
    }
    let acc = byOp.get(op);
    if (!acc) byOp.set(op, (acc = { ...zero(), fused }));
    acc.calls++;
    acc.flops += flops;
    acc.bytes += bytes;
    acc.ms += ms;
    this.totalMs += ms;
    if (backend !== this.lastBackend) {
      this.backends.add(backend);
      this.lastBackend = backend;
    }
  }

  /** A JSON-able copy of everything seen so far. */
  snapshot(): MeterSnapshot {
    const rows: MeterRow[] = [];
    for (const [phase, byScope] of this.data) {
      for (const [scope, byOp] of byScope) {
        for (const [op, acc] of byOp)
          rows.push({
            phase,
            scope,
            op,
            family: opFamily(op),
            fused: acc.fused,
            calls: acc.calls,
            flops: acc.flops,
            bytes: acc.bytes,
            ms: acc.ms,
          });
      }
    }
    return summarize(rows, [...this.backends]);
  }

  /** The profiler table of what was seen (see formatProfile). */
  table(options: ProfileOptions = {}): string {
    return formatProfile(this.snapshot(), options);
  }
}

/** Builds a snapshot's totals from its rows (also used to re-check records read from disk). */
export function summarize(rows: MeterRow[], backends: string[]): MeterSnapshot {
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, zero()])) as Record<Phase, Totals>;
  const total = zero();
  for (const r of rows) {
    addInto(byPhase[r.phase], r);
    addInto(total, r);
  }
  const trainingFlops = TRAINING_PHASES.reduce((s, p) => s + byPhase[p].flops, 0);
  rows.sort(
    (a, b) =>
      b.ms - a.ms || a.op.localeCompare(b.op) || a.phase.localeCompare(b.phase) || a.scope.localeCompare(b.scope),
  );
  return { total, trainingFlops, byPhase, rows, backends };
}

export type ProfileGroup = 'op' | 'family' | 'phase' | 'layer';
export type ProfileSort = 'ms' | 'flops' | 'calls' | 'bytes';

export interface ProfileOptions {
  /** What one line stands for (default 'op'). */
  groupBy?: ProfileGroup;
  sortBy?: ProfileSort;
  /** Only kernels of this phase. */
  phase?: Phase;
  /** At most this many lines (the total line is always printed). */
  limit?: number;
  /** Wall time of the run, to show the share of it spent in kernels. */
  wallSeconds?: number;
}

interface Line extends Totals {
  name: string;
  family: string;
}

function groupKey(r: MeterRow, by: ProfileGroup): string {
  switch (by) {
    case 'op':
      return r.fused ? `${r.op} (fused)` : r.op;
    case 'family':
      return r.family;
    case 'phase':
      return r.phase;
    case 'layer':
      return r.scope === '' ? '(no layer)' : r.scope;
  }
}

/** Aggregates snapshot rows by op, family, phase or layer, sorted descending. */
export function profileLines(snapshot: MeterSnapshot, options: ProfileOptions = {}): Line[] {
  const { groupBy = 'op', sortBy = 'ms', phase } = options;
  if (!['op', 'family', 'phase', 'layer'].includes(groupBy))
    throw new ArgumentError(`profile: groupBy must be op, family, phase or layer, got '${groupBy}'`);
  if (!['ms', 'flops', 'calls', 'bytes'].includes(sortBy))
    throw new ArgumentError(`profile: sortBy must be ms, flops, calls or bytes, got '${sortBy}'`);
  if (phase !== undefined && !PHASES.includes(phase))
    throw new ArgumentError(`profile: phase must be one of ${PHASES.join(', ')}, got '${phase}'`);
  const lines = new Map<string, Line>();
  for (const r of snapshot.rows) {
    if (phase && r.phase !== phase) continue;
    const name = groupKey(r, groupBy);
    let line = lines.get(name);
    if (!line) lines.set(name, (line = { name, family: groupBy === 'op' ? r.family : '', ...zero() }));
    addInto(line, r);
  }
  return [...lines.values()].sort((a, b) => b[sortBy] - a[sortBy] || a.name.localeCompare(b.name));
}

/** 1234567 -> '1.23 M'; keeps tables narrow while the record keeps the exact integer. */
export function siNumber(x: number, digits = 3): string {
  if (x === 0) return '0';
  const units = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0,
    v = Math.abs(x);
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const digitsText = i === 0 ? String(Number(v.toPrecision(digits))) : v.toPrecision(digits);
  return `${x < 0 ? '-' : ''}${digitsText}${units[i] ? ` ${units[i]}` : ''}`;
}

function pad(s: string, width: number, right: boolean): string {
  return right ? s.padStart(width) : s.padEnd(width);
}

/**
 * The profiler table: one line per op (or family / phase / layer) with calls, total and average kernel
 * time, share of kernel time, FLOPs, achieved GFLOP/s and bytes moved; then the total line.
 */
export function formatProfile(snapshot: MeterSnapshot, options: ProfileOptions = {}): string {
  const all = profileLines(snapshot, options);
  const shown = options.limit !== undefined ? all.slice(0, Math.max(0, options.limit)) : all;
  const totalMs = all.reduce((s, l) => s + l.ms, 0);
  const total = all.reduce((t, l) => {
    addInto(t, l);
    return t;
  }, zero());
  const header = [
    options.groupBy === 'family'
      ? 'Family'
      : options.groupBy === 'phase'
        ? 'Phase'
        : options.groupBy === 'layer'
          ? 'Layer'
          : 'Op',
    'Family',
    'Calls',
    'Total ms',
    'Avg us',
    '% time',
    'FLOPs',
    'GFLOP/s',
    'Bytes',
  ];
  const row = (l: Totals & { name: string; family: string }): string[] => [
    l.name,
    l.family,
    String(l.calls),
    l.ms.toFixed(2),
    l.calls ? ((l.ms * 1000) / l.calls).toFixed(1) : '-',
    totalMs > 0 ? `${((100 * l.ms) / totalMs).toFixed(1)}%` : '-',
    siNumber(l.flops),
    l.ms > 0 ? (l.flops / (l.ms * 1e6)).toFixed(2) : '-',
    siNumber(l.bytes),
  ];
  const body = shown.map(row);
  const foot = row({ ...total, name: 'Total', family: '' });
  const keepFamily = (options.groupBy ?? 'op') === 'op';
  const cols = header.map((_, i) => i).filter((i) => i !== 1 || keepFamily);
  const widths = cols.map((i) => Math.max(header[i].length, foot[i].length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) => cols.map((i, j) => pad(r[i], widths[j], i >= 2)).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [fmt(header), rule, ...body.map(fmt)];
  if (shown.length < all.length) lines.push(`... ${all.length - shown.length} more`);
  lines.push(rule, fmt(foot));
  const notes = [`Kernel time only (dispatcher-timed), phase ${options.phase ?? 'all'}.`];
  if (options.wallSeconds !== undefined)
    notes.push(
      `Wall time ${options.wallSeconds.toFixed(2)} s; kernels ${(totalMs / 1000).toFixed(2)} s ` +
        `(${options.wallSeconds > 0 ? ((100 * totalMs) / (options.wallSeconds * 1000)).toFixed(1) : '-'}%).`,
    );
  notes.push(`Training FLOPs (forward + backward + optimizer): ${snapshot.trainingFlops.toLocaleString('en-US')}.`);
  return [...lines, '', ...notes].join('\n');
}
