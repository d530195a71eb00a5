// The benchmark's output: each peer's timings turned into figures, the ratios Candor native / peer, the
// issue's targets (met / not met), a readable table and the JSON record.
import {
  CNN,
  CNN_VARIANT_NAMES,
  COMPRESS_SPEEDUP_TARGETS,
  DP_STEP_RATIO_TARGET,
  EXPLAIN,
  FIT_TARGETS,
  IG_TRAIN_RATIO_TARGET,
  MEMORY_TARGET,
  METRICS,
  PEERS,
  TARGETS,
  type Metric,
  type PeakProbe,
  type PeerName,
  type PeerResult,
} from './spec.js';

/** A peer that ran (its result) or was skipped as a whole (why). */
export type PeerOutcome = { peer: PeerName; result: PeerResult } | { peer: PeerName; skipped: string };

export interface Report {
  /** peer -> metric key (or key@variant) -> figure in the metric's unit. */
  figures: Record<string, Record<string, number>>;
  /**
   * `${metric}Vs${Peer}`: Candor native's figure / the peer's (throughput: > 1 is faster; latency: < 1 is
   * faster); `dpStepVsStep${Peer}`: a DP-SGD step's time over an ordinary step's, on Candor native or JS; and
   * `igVsTrainSteps${Peer}`: Integrated Gradients' time over that of EXPLAIN.trainSteps training steps; and
   * `cnnPredict${batch}${Variant}Speedup${Peer}`: the float32 CNN's predict time over the compressed variant's, on
   * one peer in the same run (2 is twice as fast); and FIT_TARGETS' ratios of two figures of the same run
   * (fitEpochVsTrainOnBatchNative: fit's epoch over the bare trainOnBatch step of the same model; fitEpochVsTorchLoop).
   */
  ratios: Record<string, number>;
  /** Issue 4's targets (TARGETS), then issue 18's (FIT_TARGETS), then issue 19's (MEMORY_TARGET). */
  targets: { issue: 4 | 18 | 19; text: string; ratio: string; value: number | null; met: boolean | null }[];
  /** The cores' FMA peak the figures are stated against, or why it was not probed. */
  peak?: PeakProbe;
  /** peer -> metric key (a metric with `flops`) -> its GFLOP/s over the FMA peak of 1 thread and of all threads. */
  ofPeak: Record<string, Record<string, { oneThread: number; allThreads: number }>>;
  /**
   * peer -> CNN training's peak resident memory in MiB: the max RSS of a process that ran only the cnn section
   * (`peakMiB`, the runtime and libraries included) and its growth over the section (`sectionMiB`).
   */
  memory: Record<string, { peakMiB: number; sectionMiB: number }>;
}

/** What the orchestrator measured besides the peers' timings. */
export interface Extras {
  peak?: PeakProbe;
  /** peer -> the cnn section's max RSS in KiB, from a process that ran only that section. */
  cnnMemory?: Record<string, { beforeKiB: number; peakKiB: number }>;
}

const metricOf = (key: string): Metric | undefined => METRICS.find((m) => m.key === key.split('@')[0]);
const peerInfo = (name: PeerName) => PEERS.find((p) => p.name === name)!;

export function buildReport(outcomes: PeerOutcome[], extras: Extras = {}): Report {
  const figures: Report['figures'] = {};
  for (const o of outcomes) {
    if (!('result' in o)) continue;
    const row: Record<string, number> = (figures[o.peer] = {});
    for (const [key, t] of Object.entries(o.result.timings)) {
      const m = metricOf(key);
      if (m) row[key] = m.fromSeconds(t.seconds);
    }
  }
  const ratios: Report['ratios'] = {};
  const mine = figures.native ?? {};
  for (const [peer, row] of Object.entries(figures)) {
    if (peer === 'native') continue;
    for (const m of METRICS)
      if (mine[m.key] !== undefined && row[m.key] !== undefined)
        ratios[`${m.key}Vs${peerInfo(peer as PeerName).ratioName}`] = mine[m.key] / row[m.key];
  }
  for (const peer of ['native', 'js'] as const) {
    const row = figures[peer];
    if (row?.cnnDpFitStep !== undefined && row.cnnFitStep !== undefined)
      ratios[`dpStepVsStep${peerInfo(peer).ratioName}`] = row.cnnDpFitStep / row.cnnFitStep;
  }
  for (const peer of ['native', 'js'] as const) {
    const row = figures[peer];
    if (row?.igCnn !== undefined && row.cnnTrainStepIg !== undefined)
      ratios[`igVsTrainSteps${peerInfo(peer).ratioName}`] = row.igCnn / (EXPLAIN.trainSteps * row.cnnTrainStepIg);
  }
  for (const [peer, row] of Object.entries(figures))
    for (const b of CNN.predictBatches)
      for (const v of CNN_VARIANT_NAMES.filter((v) => v !== 'Float')) {
        const float = row[`cnnPredict${b}Float`],
          compressed = row[`cnnPredict${b}${v}`];
        if (float !== undefined && compressed !== undefined)
          ratios[`cnnPredict${b}${v}Speedup${peerInfo(peer as PeerName).ratioName}`] = float / compressed;
      }
  for (const t of FIT_TARGETS) {
    const of = figures[t.of[0]]?.[t.of[1]],
      over = figures[t.over[0]]?.[t.over[1]];
    if (of !== undefined && over !== undefined) ratios[t.ratio] = of / over;
  }
  const targets: Report['targets'] = TARGETS.map((t) => {
    const ratio = `${t.metric}Vs${peerInfo(t.peer).ratioName}`,
      value = ratios[ratio] ?? null;
    const met = value === null ? null : 'atLeast' in t ? value >= t.atLeast : value <= t.atMost;
    return { issue: 4, text: t.text, ratio, value, met };
  });
  for (const t of FIT_TARGETS) {
    const value = ratios[t.ratio] ?? null;
    targets.push({ issue: 18, text: t.text, ratio: t.ratio, value, met: value === null ? null : value >= t.atLeast });
  }
  const ofPeak: Report['ofPeak'] = {};
  const peak = extras.peak;
  if (peak && !('skipped' in peak))
    for (const [peer, row] of Object.entries(figures))
      for (const m of METRICS) {
        const t = outcomes.find((o) => o.peer === peer && 'result' in o);
        const seconds = t && 'result' in t ? t.result.timings[m.key]?.seconds : undefined;
        if (m.flops === undefined || seconds === undefined || row[m.key] === undefined) continue;
        const gflops = m.flops / seconds / 1e9;
        (ofPeak[peer] ??= {})[m.key] = { oneThread: gflops / peak.oneThread, allThreads: gflops / peak.allThreads };
      }
  const memory: Report['memory'] = {};
  for (const [peer, m] of Object.entries(extras.cnnMemory ?? {}))
    memory[peer] = { peakMiB: m.peakKiB / 1024, sectionMiB: (m.peakKiB - m.beforeKiB) / 1024 };
  if (memory.native && memory.torch) ratios[MEMORY_TARGET.ratio] = memory.native.peakMiB / memory.torch.peakMiB;
  const memoryRatio = ratios[MEMORY_TARGET.ratio] ?? null;
  targets.push({
    issue: 19,
    text: MEMORY_TARGET.text,
    ratio: MEMORY_TARGET.ratio,
    value: memoryRatio,
    met: memoryRatio === null ? null : memoryRatio <= MEMORY_TARGET.atMost,
  });
  return { figures, ratios, targets, peak, ofPeak, memory };
}

const fmt = (v: number | undefined): string =>
  v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);

/** The readable table: one row per metric, one column per peer that ran, then the ratios and targets. */
export function printReport(outcomes: PeerOutcome[], report: Report, print: (line: string) => void): void {
  const ran = outcomes.filter((o): o is Extract<PeerOutcome, { result: PeerResult }> => 'result' in o);
  for (const o of outcomes)
    print(`${peerInfo(o.peer).title.padEnd(14)} ${'result' in o ? o.result.description : `skipped: ${o.skipped}`}`);
  const keys = METRICS.filter((m) => ran.some((o) => o.result.timings[m.key] || o.result.skipped[m.key]));
  const labelWidth = Math.max(...keys.map((m) => `${m.label} (${m.unit})`.length), 10) + 2;
  const col = 14;
  print('');
  // A fraction-of-peak column per peer that has one: "1 thread / all threads".
  const peakCols = ran.filter((o) => report.ofPeak[o.peer]);
  print(
    [
      'figure'.padEnd(labelWidth),
      ...ran.map((o) => peerInfo(o.peer).title.padStart(col)),
      ...ran.filter((o) => o.peer !== 'native').map((o) => `vs ${peerInfo(o.peer).ratioName}`.padStart(col)),
      ...peakCols.map((o) => `/peak ${peerInfo(o.peer).ratioName}`.padStart(col)),
    ].join(''),
  );
  for (const m of keys) {
    const cells = ran.map((o) => (o.result.skipped[m.key] ? 'n/a' : fmt(report.figures[o.peer][m.key])).padStart(col));
    const ratioCells = ran
      .filter((o) => o.peer !== 'native')
      .map((o) => {
        const r = report.ratios[`${m.key}Vs${peerInfo(o.peer).ratioName}`];
        return (r === undefined ? '-' : `${fmt(r)}x`).padStart(col);
      });
    const peakCells = peakCols.map((o) => {
      const f = report.ofPeak[o.peer][m.key];
      return (f ? `${f.oneThread.toFixed(2)}/${f.allThreads.toFixed(2)}` : '-').padStart(col);
    });
    print([`${m.label} (${m.unit})`.padEnd(labelWidth), ...cells, ...ratioCells, ...peakCells].join(''));
  }
  const peak = report.peak;
  if (peak)
    print(
      'skipped' in peak
        ? `FMA peak not probed: ${peak.skipped}`
        : `/peak = the figure's GFLOP/s over the cores' float32 FMA peak (kernels/peak.cc, ${peak.isa}) on 1 thread ` +
            `/ on ${peak.threads}: ${fmt(peak.oneThread)} / ${fmt(peak.allThreads)} GFLOP/s`,
    );
  print(
    'ratios = Candor native / peer: above 1 is faster for throughputs (GFLOP/s, samples/s, tokens/s), ' +
      'below 1 is faster for times (ms)',
  );
  for (const o of ran) {
    // Variants (PyTorch at 1 thread and at all: gemm256@1T) go on their figure's line.
    const variants = new Map<string, string[]>();
    for (const [key, t] of Object.entries(o.result.timings)) {
      const [base, variant] = key.split('@');
      if (variant)
        variants.set(base, [...(variants.get(base) ?? []), `${variant} ${fmt(metricOf(key)?.fromSeconds(t.seconds))}`]);
    }
    for (const [key, t] of Object.entries(o.result.timings)) {
      if (key.includes('@') || !t.note) continue;
      const also = variants.get(key);
      const figure = fmt(metricOf(key)?.fromSeconds(t.seconds));
      print(`  ${peerInfo(o.peer).title} ${key}: ${figure} (${t.note}${also ? `; ${also.join(', ')}` : ''})`);
    }
    for (const [key, why] of Object.entries(o.result.skipped))
      print(`  ${peerInfo(o.peer).title} ${key} not measured: ${why}`);
  }
  const dp = report.ratios.dpStepVsStepNative;
  if (dp !== undefined)
    print(
      `DP-SGD step / ordinary step (MNIST CNN, Candor native): ${fmt(dp)}x ` +
        `(issue 13's target <= ${DP_STEP_RATIO_TARGET}x: ${dp <= DP_STEP_RATIO_TARGET ? 'met' : 'not met'})`,
    );
  const ig = report.ratios.igVsTrainStepsNative;
  if (ig !== undefined)
    print(
      `Integrated Gradients (${EXPLAIN.igSteps} steps, 1 image) / ${EXPLAIN.trainSteps} training steps ` +
        `b${EXPLAIN.trainBatch} (MNIST CNN, Candor native): ${fmt(ig)}x ` +
        `(issue 14's target <= ${IG_TRAIN_RATIO_TARGET}x: ${ig <= IG_TRAIN_RATIO_TARGET ? 'met' : 'not met'})`,
    );
  const shap = report.figures.native?.kernelShap;
  if (shap !== undefined)
    print(
      `KernelSHAP (Candor native): ${fmt(shap)} coalitions/s, each scored on ${EXPLAIN.shap.background} ` +
        `background rows (${fmt(shap * EXPLAIN.shap.background)} forward rows/s)`,
    );
  const speedups = Object.entries(report.ratios).filter(([k]) => /^cnnPredict\d+\w+Speedup/.test(k));
  if (speedups.length) {
    print('compressed CNN predict speed-ups over float32 in this run (float ms / variant ms):');
    for (const [k, v] of speedups) print(`  ${k}: ${fmt(v)}x`);
    for (const t of COMPRESS_SPEEDUP_TARGETS) {
      const v = report.ratios[`cnnPredict256${t.variant}SpeedupNative`];
      print(`  issue 16, ${t.text}: ${v === undefined ? 'not measured' : v >= t.atLeast ? 'met' : 'not met'}`);
    }
  }
  print('');
  print('targets (issue 4), Candor native vs PyTorch:');
  const torch = outcomes.find((o) => o.peer === 'torch');
  const missing = !torch
    ? 'PyTorch not in --peers'
    : 'skipped' in torch
      ? `PyTorch skipped: ${torch.skipped}`
      : 'no figure: section not run, or a side failed';
  for (const t of report.targets.filter((t) => t.issue === 4)) {
    const figure = t.value === null ? `not measured (${missing})` : `${fmt(t.value)}x, ${t.met ? 'met' : 'not met'}`;
    print(`  ${t.text}: ${figure}`);
  }
  const memory = Object.entries(report.memory);
  if (memory.length) {
    print('peak resident memory of CNN training (max RSS of a process that runs only the cnn section; growth in it):');
    for (const [peer, m] of memory)
      print(`  ${peerInfo(peer as PeerName).title}: ${fmt(m.peakMiB)} MiB (${fmt(m.sectionMiB)} MiB in the section)`);
    const t = report.targets.find((r) => r.issue === 19)!;
    print(
      `  issue 19, ${t.text}: ` +
        (t.value === null ? 'not measured (needs native and torch)' : `${fmt(t.value)}x, ${t.met ? 'met' : 'not met'}`),
    );
  }
  if (!ran.some((o) => 'fitEpoch' in o.result.timings || 'fitEpoch' in o.result.skipped)) return;
  print("targets (issue 18), Candor native's MNIST fit epoch:");
  for (const t of FIT_TARGETS) {
    const { value, met } = report.targets.find((r) => r.ratio === t.ratio)!;
    const why = [t.of, t.over].map(([peer, key]) => whyMissing(outcomes, peer, key)).filter(Boolean);
    const figure = value === null ? `not measured (${why.join('; ')})` : `${fmt(value)}x, ${met ? 'met' : 'not met'}`;
    print(`  ${t.text}: ${figure}`);
  }
}

/** Why a peer has no figure for a metric ('' when it has one). */
function whyMissing(outcomes: PeerOutcome[], peer: PeerName, key: string): string {
  const o = outcomes.find((o) => o.peer === peer),
    title = peerInfo(peer).title;
  if (!o) return `${title} not in --peers`;
  if ('skipped' in o) return `${title} skipped: ${o.skipped}`;
  if (o.result.timings[key]) return '';
  return o.result.skipped[key]
    ? `${title} ${key}: ${o.result.skipped[key]}`
    : `${title} ran no ${key}: section ${metricOf(key)?.section} not run`;
}
