// compile(): each output's loss, loss weight and metrics, resolved once (Keras 3 CompileLoss / CompileMetrics).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import { concatArrays } from '../tensor/dtype.js';
import { noGrad } from '../autograd/tape.js';
import { LOSS_SCOPE, METRICS_SCOPE, withLayerPath } from '../autograd/annotations.js';
import * as o from '../ops/index.js';
import type { OptimizerSpec } from '../optim/index.js';
import { getLoss, type LossFn, type LossSpec } from '../nn/losses.js';
import { maskBytes } from '../nn/masking.js';
import { Mean, getMetric, type Metric, type MetricSpec, type StatefulMetric } from './metrics.js';
import type { Logs } from './callbacks.js';
import { logName } from './log-names.js';
import type { DpSgdOptions } from './private-training.js';

/** One spec for every output, a list with one per output, or a map by output layer name. */
export type PerOutput<T> = T | T[] | Record<string, T>;

export interface CompileArgs {
  /** Default 'rmsprop', as Keras. */
  optimizer?: OptimizerSpec;
  /**
   * One loss for all outputs, one per output (list), or by output layer name. Optional, as in Keras: a
   * model without one trains on the losses its layers add (addLoss) or by its own trainStep.
   */
  loss?: PerOutput<LossSpec>;
  /** Metrics computed without sample or class weights (Keras `metrics`). */
  metrics?: MetricSpec[] | MetricSpec[][] | Record<string, MetricSpec[]>;
  /**
   * Metrics weighted by sampleWeight / classWeight (Keras `weighted_metrics`); logged as 'weighted_<name>'
   * when a plain metric has the same name.
   */
  weightedMetrics?: MetricSpec[] | MetricSpec[][] | Record<string, MetricSpec[]>;
  lossWeights?: number[] | Record<string, number>;
  /**
   * Trains with DP-SGD (see docs/privacy.md): e.g. { l2NormClip: 1, noiseMultiplier: 1.1 }; fit's own
   * `privacy` options override these.
   */
  privacy?: DpSgdOptions;
  /**
   * Compiled steps (Keras' jit_compile): 'auto' (the default) traces fit's, evaluate's and predict's steps once per
   * batch shape into a plan of kernel calls and replays it, with results bit-identical to eager mode; a step that
   * cannot be replayed (its course depends on data read back into JavaScript, ...) runs eagerly. true makes
   * such a step an error that says why; false always runs eagerly.
   */
  jitCompile?: boolean | 'auto';
}

/** The outputs of a model as compile() names them: output layer names, or 'output' for other models. */
export interface Outputs {
  names: readonly string[];
  model: string;
}

/** A spec given once, per output (list) or by output name, as one entry per output. */
function perOutput<T>(spec: PerOutput<T> | undefined, fallback: T, what: string, outputs: Outputs): T[] {
  const { names } = outputs;
  if (spec === undefined) return new Array<T>(names.length).fill(fallback);
  if (Array.isArray(spec)) {
    if (spec.length !== names.length)
      throw new ArgumentError(
        `compile: ${what} has ${spec.length} entries for ${names.length} outputs (${names.join(', ')})`,
      );
    return spec;
  }
  const keys = typeof spec === 'object' && spec !== null ? Object.keys(spec) : [];
  if (keys.length > 0 && keys.every((k) => names.includes(k)))
    return names.map((name) => (spec as Record<string, T>)[name] ?? fallback);
  // A plain object that is not a { className, config } nor a metric / loss object: a map by output name
  // with a wrong key.
  if (
    keys.length > 0 &&
    Object.getPrototypeOf(spec) === Object.prototype &&
    !('className' in (spec as object)) &&
    !('update' in (spec as object))
  ) {
    const wrong = keys.filter((k) => !names.includes(k));
    throw new ArgumentError(
      `compile: ${what} is keyed by output name, but ${wrong.map((k) => `'${k}'`).join(', ')} ` +
        `${wrong.length > 1 ? 'are not outputs' : 'is not an output'} of model '${outputs.model}'; ` +
        `outputs: ${names.join(', ')}`,
    );
  }
  return new Array<T>(names.length).fill(spec as T);
}

/**
 * `total` plus each of a model's loss terms (model.losses: what addLoss added in the last call and the weights'
 * regularization penalties), a non-scalar term summed and cast to total's dtype: Keras compute_loss's addition.
 * Undefined when both are empty.
 */
export function addModelLosses(total: Tensor | undefined, losses: readonly Tensor[]): Tensor | undefined {
  for (const loss of losses) {
    const term = loss.rank === 0 ? loss : o.sum(loss);
    total = total ? o.add(total, o.cast(term, total.dtype)) : term;
  }
  return total;
}

/**
 * The losses of the outputs and their weights. With several outputs, each output's own loss (before its
 * weight) is also tracked and logged as '<output>_loss'.
 */
export class CompileLoss {
  /** One per output; empty when compile() was given no loss. */
  readonly fns: LossFn[];
  private readonly weights: number[];
  private readonly trackers: Mean[];

  constructor(
    private readonly outputs: Outputs,
    loss: PerOutput<LossSpec> | undefined,
    lossWeights: number[] | Record<string, number> | undefined,
  ) {
    this.fns =
      loss === undefined
        ? []
        : perOutput(loss, undefined as unknown as LossSpec, 'loss', outputs).map((l, i) => {
            if (l === undefined) throw new ArgumentError(`compile: no loss for output '${outputs.names[i]}'`);
            return getLoss(l);
          });
    this.weights = perOutput(lossWeights, 1, 'lossWeights', outputs);
    this.trackers = outputs.names.map((name) => new Mean({ name: `${name}_loss` }));
  }

  /** The per-output loss trackers (with several outputs), for model.metrics. */
  get metrics(): Mean[] {
    return this.fns.length > 1 ? this.trackers : [];
  }

  /** The weighted sum of the outputs' losses (a scalar tensor). */
  call(ys: readonly Tensor[], preds: readonly Tensor[], sampleWeight: Tensor | undefined): Tensor {
    if (ys.length !== preds.length)
      throw new ArgumentError(`loss: the model has ${preds.length} outputs but ${ys.length} label tensors were given`);
    // Metered (forward, and backward through the tape's stamp) under the loss's own layer path.
    return withLayerPath(LOSS_SCOPE, () => {
      let total: Tensor | undefined;
      preds.forEach((p, i) => {
        const own = this.fns[i](ys[i], p, sampleWeight);
        if (preds.length > 1) this.trackers[i].updateState(own.item(), p.shape[0]);
        const l = this.weights[i] === 1 ? own : o.mul(own, this.weights[i]);
        total = total ? o.add(total, l) : l;
      });
      return total!;
    });
  }

  /** Adds '<prefix><output>_loss' entries when the model has several outputs. */
  logs(logs: Logs, prefix: string): void {
    const { names } = this.outputs;
    if (names.length > 1) this.trackers.forEach((t, i) => (logs[`${prefix}${names[i]}_loss`] = t.result()));
  }

  resetState(): void {
    for (const t of this.trackers) t.resetState();
  }
}

/**
 * The unmasked steps of a masked sequence output, each as one sample: pred [B, T, ...] with a [B, T]
 * Keras mask, labels [B, T, ...] and per-sample weights [B] (or [B, T]) become the rows whose mask is
 * set. Keras weights every metric by the mask; with 0/1 weights that is the same as scoring only these
 * rows. Anything else passes through unchanged.
 */
function unmaskedSteps(
  y: Tensor,
  pred: Tensor,
  weight: Tensor | undefined,
): { y: Tensor; pred: Tensor; weight?: Tensor } {
  const mask = maskBytes(pred);
  const [b, t] = pred.shape;
  const fits = (shape: readonly number[]) => shape.length >= 2 && shape[0] === b && shape[1] === t;
  if (!mask || pred.rank < 3 || mask.shape.length !== 2 || !fits(mask.shape) || !fits(y.shape))
    return { y, pred, weight };
  const kept: number[] = [];
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) kept.push(i);
  const index = o.tensor(Int32Array.from(kept), [kept.length], 'int32');
  const rows = (x: Tensor) => o.gather(o.reshape(x, [b * t, ...x.shape.slice(2)]), index, 0);
  let w = weight;
  if (w) w = fits(w.shape) ? rows(w) : rows(o.expand(o.reshape(w, [b, 1]), [b, t]));
  return { y: rows(y), pred: rows(pred), weight: w };
}

type MadeMetric = { metric: Metric; weighted: boolean; key: string };

/**
 * The metrics of each output. Plain metrics see every sample alike; weighted metrics see the sample
 * (and class) weights, as in Keras. An output with a Keras mask is scored on its unmasked steps only.
 */
export class CompileMetrics implements StatefulMetric<Logs> {
  /** Its name in model.metrics (Keras 3's). */
  readonly name = 'compile_metrics';
  private readonly specs: { spec: MetricSpec; weighted: boolean }[][];
  /** Made at the first update, when the label / prediction shapes are known (to resolve 'accuracy'). */
  private made?: MadeMetric[][];

  constructor(
    private readonly outputs: Outputs,
    private readonly losses: readonly LossFn[],
    metrics: CompileArgs['metrics'],
    weightedMetrics: CompileArgs['weightedMetrics'],
  ) {
    // A flat list applies to every output; a list of lists or a map by output name, to each its own.
    const lists = (spec: CompileArgs['metrics'], what: string): MetricSpec[][] =>
      Array.isArray(spec) && (spec.length === 0 || !spec.every(Array.isArray))
        ? outputs.names.map(() => spec as MetricSpec[])
        : perOutput<MetricSpec[]>(spec as MetricSpec[][] | Record<string, MetricSpec[]> | undefined, [], what, outputs);
    const plain = lists(metrics, 'metrics');
    const weighted = lists(weightedMetrics, 'weightedMetrics');
    this.specs = outputs.names.map((_, i) => [
      ...plain[i].map((spec) => ({ spec, weighted: false })),
      ...weighted[i].map((spec) => ({ spec, weighted: true })),
    ]);
    // Check the names now, so that a misspelt metric fails at compile() as a misspelt loss or optimizer does.
    for (const specs of this.specs) for (const { spec } of specs) if (typeof spec === 'string') getMetric(spec);
  }

  private build(ys: readonly Tensor[], preds: readonly Tensor[]): MadeMetric[][] {
    return this.specs.map((specs, i) => {
      const made = specs.map(({ spec, weighted }) => ({
        metric: getMetric(spec, {
          lossName: this.losses[i]?.lossName,
          yTrueShape: ys[i].shape,
          yPredShape: preds[i].shape,
        }),
        weighted,
      }));
      const plainNames = new Set(made.filter((m) => !m.weighted).map((m) => logName(m.metric.name)));
      return made.map(({ metric, weighted }) => {
        const name = logName(metric.name);
        return { metric, weighted, key: weighted && plainNames.has(name) ? `weighted_${name}` : name };
      });
    });
  }

  /** Scores one batch: labels and predictions, one tensor (or a list with one) per output. */
  updateState(y: Tensor | readonly Tensor[], yPred: Tensor | readonly Tensor[], sampleWeight?: Tensor): void {
    const ys = Array.isArray(y) ? y : [y as Tensor],
      preds = Array.isArray(yPred) ? yPred : [yPred as Tensor];
    if (ys.length !== preds.length)
      throw new ArgumentError(
        `compiledMetrics.updateState: model '${this.outputs.model}': ` +
          `got ${ys.length} label and ${preds.length} prediction tensors`,
      );
    noGrad(() =>
      withLayerPath(METRICS_SCOPE, () =>
        tidy(() => {
          const scored = preds.map((p, i) => unmaskedSteps(ys[i], p, sampleWeight));
          this.made ??= this.build(
            scored.map((s) => s.y),
            scored.map((s) => s.pred),
          );
          this.made.forEach((ms, i) => {
            for (const m of ms)
              m.metric.updateState(scored[i].y, scored[i].pred, m.weighted ? scored[i].weight : undefined);
          });
        }),
      ),
    );
  }

  /** Adds '<prefix>[<output>_]<metric>' entries (the output's name only when there are several). */
  logs(logs: Logs, prefix: string): void {
    const { names } = this.outputs;
    const multi = names.length > 1;
    (this.made ?? []).forEach((ms, i) => {
      for (const m of ms) logs[`${prefix}${multi ? `${names[i]}_` : ''}${m.key}`] = m.metric.result();
    });
  }

  /** Every metric's result, keyed as logged (the same entries as logs() with no prefix). */
  result(): Logs {
    const logs: Logs = {};
    this.logs(logs, '');
    return logs;
  }

  resetState(): void {
    for (const ms of this.made ?? []) for (const m of ms) m.metric.resetState();
  }

  /**
   * Every metric's state values in turn (empty before the first update makes them); undefined when one of them
   * has no stateValues (a user's own metric), since the whole then cannot be summed across ranks.
   */
  stateValues(): Float64Array | undefined {
    const parts: Float64Array[] = [];
    for (const ms of this.made ?? [])
      for (const { metric } of ms) {
        const values = metric.stateValues?.();
        if (!values || !metric.setStateValues) return undefined;
        parts.push(values);
      }
    return concatArrays(parts, (n) => new Float64Array(n));
  }

  /** Gives each metric its part of values (stateValues()'s layout). */
  setStateValues(values: Float64Array): void {
    const metrics = (this.made ?? []).flat().map((m) => m.metric);
    const sizes = metrics.map((m) => m.stateValues?.()?.length ?? 0);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (values.length !== total)
      throw new ArgumentError(`${this.name}: setStateValues expects ${total} state values, got ${values.length}`);
    let at = 0;
    metrics.forEach((m, i) => {
      m.setStateValues!(values.subarray(at, at + sizes[i]));
      at += sizes[i];
    });
  }
}
