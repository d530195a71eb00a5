// Post-processing for fairness (Hardt, Price and Srebro 2016; Fairlearn's ThresholdOptimizer): per-group
// decision thresholds on a model's scores, randomised between two thresholds (and, for equalised odds, a coin
// of the common false-positive rate) so that every group reaches the same operating point, the one of highest
// accuracy on the data it was fitted on (a validation split).
import { ArgumentError, ShapeError } from '../../errors.js';
import { RandomStream } from '../../ops/random.js';
import { groupMembers } from '../../ledger/fairness.js';

export type ThresholdConstraint = 'equalizedOdds' | 'demographicParity';

export interface ThresholdOptimizerOptions {
  /**
   * 'equalizedOdds' (default): the same true- and false-positive rates in every group. 'demographicParity':
   * the same selection rate in every group.
   */
  constraint?: ThresholdConstraint;
  /** Points of the grid over [0, 1] searched for the common rate, besides every hull vertex (default 1000). */
  gridSize?: number;
}

/** How one group decides: P(positive | score) = pIgnore x constantRate + (1 - pIgnore) x sum of p [score >= t]. */
export interface GroupRule {
  group: string;
  /** Predict positive when score >= threshold, with the given probability each (they sum to 1). */
  thresholds: { threshold: number; probability: number }[];
  /** Probability of ignoring the score and predicting positive with probability constantRate. */
  pIgnore: number;
  constantRate: number;
  /** The rates the rule has on the fitting data. */
  falsePositiveRate: number;
  truePositiveRate: number;
  selectionRate: number;
}

export interface ThresholdOptimizer {
  constraint: ThresholdConstraint;
  /** The common rate chosen: the false-positive rate (equalised odds) or the selection rate (demographic parity). */
  rate: number;
  /** Accuracy of the randomised rule on the fitting data (its expectation over the coins). */
  accuracy: number;
  rules: GroupRule[];
  /** P(predict positive) for each sample: the randomised rule's probability. */
  predictProbability(scores: ArrayLike<number>, groups: ArrayLike<number | string>): Float64Array;
  /** 0/1 decisions, drawing the rule's coins from a seeded stream (default seed 0). */
  predict(scores: ArrayLike<number>, groups: ArrayLike<number | string>, options?: { seed?: number }): Int32Array;
}

interface Vertex {
  x: number;
  y: number;
  /** The decision 'score >= threshold' that reaches this point (Infinity: predict no one positive). */
  threshold: number;
}

interface GroupCurve {
  group: string;
  samples: number;
  positives: number;
  hull: Vertex[];
  fpr: (threshold: number) => number;
  tpr: (threshold: number) => number;
}

/** Upper convex hull of points sorted by x (then y): the best y reachable at each x by mixing two points. */
function upperHull(points: Vertex[]): Vertex[] {
  const hull: Vertex[] = [];
  for (const p of points) {
    while (hull.length >= 2) {
      const o = hull[hull.length - 2],
        a = hull[hull.length - 1];
      if ((a.x - o.x) * (p.y - o.y) - (a.y - o.y) * (p.x - o.x) >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** The hull's highest point at x: its value and the two vertices mixed (weight w on b) to reach it. */
function hullAt(hull: Vertex[], x: number): { y: number; a: Vertex; b: Vertex; w: number } {
  let best = { y: -Infinity, a: hull[0], b: hull[0], w: 0 };
  for (let j = 0; j < hull.length; j++) {
    const a = hull[j],
      b = hull[Math.min(j + 1, hull.length - 1)];
    if (x < a.x || x > b.x) continue;
    const w = b.x === a.x ? (b.y > a.y ? 1 : 0) : (x - a.x) / (b.x - a.x);
    const y = a.y + w * (b.y - a.y);
    if (y > best.y) best = { y, a, b, w };
  }
  return best;
}

function curve(group: string, scores: number[], labels: number[], constraint: ThresholdConstraint): GroupCurve {
  const n = scores.length;
  const positives = labels.reduce((s, y) => s + y, 0),
    negatives = n - positives;
  if (constraint === 'equalizedOdds' && (positives === 0 || negatives === 0))
    throw new ArgumentError(
      `thresholdOptimizer: group '${group}' has ${positives} positive and ${negatives} negative labels; ` +
        'equalised odds needs both in every group',
    );
  const order = scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i]);
  // Walk the thresholds from the highest score down: 'score >= s' selects every sample scored at least s.
  const points: Vertex[] = [{ x: 0, y: 0, threshold: Infinity }];
  let tp = 0,
    fp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (labels[i] === 1) tp++;
    else fp++;
    if (r + 1 < n && scores[order[r + 1]] === scores[i]) continue;
    const tpr = positives ? tp / positives : 0;
    points.push({ x: constraint === 'equalizedOdds' ? fp / negatives : (r + 1) / n, y: tpr, threshold: scores[i] });
  }
  const rateAbove = (want: number, total: number) => (t: number) => {
    if (total === 0) return 0;
    let count = 0;
    for (let i = 0; i < n; i++) if (labels[i] === want && scores[i] >= t) count++;
    return count / total;
  };
  return {
    group,
    samples: n,
    positives,
    hull: upperHull(points),
    fpr: rateAbove(0, negatives),
    tpr: rateAbove(1, positives),
  };
}

/**
 * Fits per-group randomised thresholds on (scores, 0/1 labels, groups), usually a validation split the model
 * was not trained on. The common operating point maximises accuracy: for equalised odds it is a point (FPR,
 * TPR) under every group's ROC hull, each group reaching it by mixing two thresholds and, where its hull lies
 * above the point, a coin of rate FPR (as Fairlearn's ThresholdOptimizer with constraints='equalized_odds');
 * for demographic parity a common selection rate, each group on its own (selection rate, TPR) hull.
 */
export function thresholdOptimizer(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: ArrayLike<number | string>,
  options: ThresholdOptimizerOptions = {},
): ThresholdOptimizer {
  const { constraint = 'equalizedOdds', gridSize = 1000 } = options;
  const op = 'thresholdOptimizer';
  if (constraint !== 'equalizedOdds' && constraint !== 'demographicParity')
    throw new ArgumentError(`${op}: constraint must be 'equalizedOdds' or 'demographicParity', got '${constraint}'`);
  if (!Number.isInteger(gridSize) || gridSize < 1)
    throw new ArgumentError(`${op}: gridSize must be a positive integer, got ${gridSize}`);
  const n = scores.length;
  if (labels.length !== n || groups.length !== n)
    throw new ShapeError(
      `${op}: ${n} scores, ${labels.length} labels and ${groups.length} group ids; expected as many`,
    );
  if (n === 0) throw new ArgumentError(`${op}: no samples`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i])) throw new ArgumentError(`${op}: score ${scores[i]} at sample ${i} is not finite`);
    if (labels[i] !== 0 && labels[i] !== 1) throw new ArgumentError(`${op}: labels must be 0 or 1, got ${labels[i]}`);
  }
  const curves = groupMembers(groups).map(([g, idx]) =>
    curve(
      g,
      idx.map((i) => scores[i]),
      idx.map((i) => labels[i]),
      constraint,
    ),
  );
  const positives = curves.reduce((s, c) => s + c.positives, 0);
  const p1 = positives / n,
    p0 = 1 - p1;
  // Accuracy at a common rate x. Equalised odds: every group at (x, min hull), so P1 TPR + P0 (1 - FPR).
  // Demographic parity: group g at (x, its hull's TPR h): accuracy_g = 2 P1_g h + P0_g - x, weighted by size.
  const accuracyAt = (x: number) => {
    if (constraint === 'equalizedOdds') return p1 * Math.min(...curves.map((c) => hullAt(c.hull, x).y)) + p0 * (1 - x);
    let acc = 0;
    for (const c of curves) {
      const q1 = c.positives / c.samples;
      acc += (c.samples / n) * (2 * q1 * hullAt(c.hull, x).y + (1 - q1) - x);
    }
    return acc;
  };
  const candidates = new Set<number>();
  for (let j = 0; j <= gridSize; j++) candidates.add(j / gridSize);
  for (const c of curves) for (const v of c.hull) candidates.add(v.x);
  let rate = 0,
    accuracy = -Infinity;
  for (const x of [...candidates].sort((a, b) => a - b)) {
    const acc = accuracyAt(x);
    if (acc > accuracy + 1e-12) ((rate = x), (accuracy = acc));
  }
  const target = constraint === 'equalizedOdds' ? Math.min(...curves.map((c) => hullAt(c.hull, rate).y)) : NaN;
  const rules: GroupRule[] = curves.map((c) => {
    const { y, a, b, w } = hullAt(c.hull, rate);
    const thresholds = [
      { threshold: a.threshold, probability: 1 - w },
      { threshold: b.threshold, probability: w },
    ].filter((t) => t.probability > 0);
    // Equalised odds: from the hull point (rate, y) down to (rate, target) by mixing in the coin at (rate, rate).
    const pIgnore = constraint === 'equalizedOdds' && y - rate > 1e-12 ? (y - target) / (y - rate) : 0;
    const mix = (f: (t: number) => number, coin: number) =>
      pIgnore * coin + (1 - pIgnore) * thresholds.reduce((s, t) => s + t.probability * f(t.threshold), 0);
    const fpr = mix(c.fpr, rate),
      tpr = mix(c.tpr, rate);
    const q1 = c.positives / c.samples;
    return {
      group: c.group,
      thresholds,
      pIgnore,
      constantRate: rate,
      falsePositiveRate: fpr,
      truePositiveRate: tpr,
      selectionRate: q1 * tpr + (1 - q1) * fpr,
    };
  });
  const ruleOf = new Map(rules.map((r) => [r.group, r]));
  const predictProbability = (s: ArrayLike<number>, g: ArrayLike<number | string>) => {
    if (s.length !== g.length) throw new ShapeError(`${op}.predict: ${s.length} scores for ${g.length} group ids`);
    const out = new Float64Array(s.length);
    for (let i = 0; i < s.length; i++) {
      if (!Number.isFinite(s[i])) throw new ArgumentError(`${op}.predict: score ${s[i]} at sample ${i} is not finite`);
      const rule = ruleOf.get(String(g[i]));
      if (!rule)
        throw new ArgumentError(
          `${op}.predict: group '${g[i]}' (sample ${i}) was not in the fitting data ` +
            `(groups: ${[...ruleOf.keys()].join(', ')})`,
        );
      let p = 0;
      for (const t of rule.thresholds) if (s[i] >= t.threshold) p += t.probability;
      out[i] = rule.pIgnore * rule.constantRate + (1 - rule.pIgnore) * p;
    }
    return out;
  };
  return {
    constraint,
    rate,
    accuracy,
    rules,
    predictProbability,
    predict(s, g, { seed = 0 } = {}) {
      const p = predictProbability(s, g);
      const t = new RandomStream(seed).uniform([p.length], 0, 1, 'float64');
      const u = t.dataSync();
      t.dispose();
      return Int32Array.from(p, (pi, i) => (u[i] < pi ? 1 : 0));
    },
  };
}
