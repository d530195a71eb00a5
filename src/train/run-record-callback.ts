// RunRecorder, the fit() callback that records a run: it hands the ledger's RunRecording the data fit
// trains on, each step and epoch, and at the end the model and the fit's settings as plain data. Model.fit
// runs each fit in its own run context, so the recorder meters that fit's kernels only, even while other
// fits run concurrently in the same process.
import type { Tensor } from '../tensor/tensor.js';
import { evaluateClassifier, type ReportOptions } from '../ledger/evaluation.js';
import type { EvaluationRecord, ModelFacts } from '../ledger/record.js';
import type { DpSgdRecord } from '../ledger/privacy.js';
import {
  RunRecording,
  type GatheredCluster,
  type OwnFigures,
  type RunFacts,
  type RunRecorderOptions,
} from '../ledger/recording.js';
import {
  commMark,
  deferRound,
  gatherRankFigures,
  shardSamples,
  workerContribution,
  type CommStats,
} from '../distributed/cluster-record.js';
import { world } from '../distributed/world.js';
import { RecordError } from '../ledger/errors.js';
import type { Callback, FitParams, Logs } from './callbacks.js';
import type { Model } from './model.js';
import { modelSignature } from './model-signature.js';

/** The model as the run record sees it: plain data, read when the run ends. */
export function modelFacts(model: Model): ModelFacts {
  const total = model.countParams();
  return {
    name: model.name,
    className: model.className,
    architecture: () => model.getConfig(),
    parameters: { total, trainable: model.trainableWeights.reduce((s, v) => s + v.value.size, 0) },
    layers: model.layers.map((l) => ({ name: l.name, className: l.className, parameters: l.countParams() })),
    io: () => modelSignature(model),
  };
}

/** Optimizer, loss, metrics and fit settings as the record keeps them; a note where they cannot be. */
function hyperparameters(model: Model, p: FitParams | undefined, notes: string[]): Record<string, unknown> {
  const hyper: Record<string, unknown> = {};
  const opt = model.optimizer;
  if (opt) hyper.optimizer = opt.getConfig();
  const training = model.trainingConfig();
  if (training) {
    hyper.loss = training.loss;
    if (training.metrics !== undefined) hyper.metrics = training.metrics;
    if (training.lossWeights !== undefined) hyper.lossWeights = training.lossWeights;
  } else if (opt) {
    notes.push('The loss or metrics are functions, not names; they are not in the hyperparameters');
  }
  if (p)
    Object.assign(hyper, {
      epochs: p.epochs,
      batchSize: p.batchSize,
      validationSplit: p.validationSplit,
      shuffle: p.shuffle,
      initialEpoch: p.initialEpoch,
    });
  return hyper;
}

/**
 * A Callback that records one fit(): meters kernels (FLOPs, bytes, time by phase / layer / op), energy
 * and CPU time, fingerprints the data, keeps the metric history, and at the end of training builds the
 * run record and (unless write is false) writes dir/run.json atomically. Evaluations added later
 * rewrite the record; finish() writes it and appends it to a ledger.
 *
 *   const recorder = new RunRecorder({ dir: 'runs/mnist', data: { test } });
 *   await model.fit(x, y, { epochs: 5, callbacks: [recorder] });
 *   await recorder.evaluate('test', model, test.x, test.y);
 *   await recorder.finish({ ledger: 'runs/ledger.jsonl' });
 */
export class RunRecorder extends RunRecording implements Callback {
  private model?: Model;
  private params?: FitParams;
  /** Set by a private fit (DP-SGD): the record's privacy section, read when the run ends. */
  privacy?: () => DpSgdRecord;
  /** A distributed fit's communication counters at its start (its bytes are differences from these). */
  private commFrom?: CommStats;

  constructor(options: RunRecorderOptions = {}) {
    super(options);
  }

  setModel(model: Model): void {
    this.model = model;
  }

  /** fit() passes its arguments and data here (see FitParams); without it, pass `data` and `hyperparameters`. */
  setParams(params: FitParams): void {
    this.params = params;
  }

  onTrainBegin(): void {
    const p = this.params;
    this.begin(p?.x ? { x: p.x, y: p.y } : undefined, p?.validation);
    if (this.distributedStrategy()) this.commFrom = p?.commFrom ?? commMark(world());
  }

  /** Whether this rank writes the run's files: during a distributed fit too (checkpoints), rank 0 alone. */
  override get chief(): boolean {
    return super.chief && (this.distributedStrategy()?.chief ?? true);
  }

  /** fit's strategy when it trains across several processes. */
  private distributedStrategy() {
    const strategy = this.params?.strategy;
    return strategy && strategy.worldSize > 1 ? strategy : undefined;
  }

  /**
   * A distributed fit: every rank sends its figures to all (one allgatherJson; a parameter server's is deferred to
   * its end(), where its servers join through contributeRankFigures); the record sums them, rank 0 writes.
   */
  protected override async gatherCluster(own: OwnFigures): Promise<GatheredCluster | 'deferred' | undefined> {
    const strategy = this.distributedStrategy();
    if (!strategy) return undefined;
    const p = this.params!;
    const w = world();
    const samples = shardSamples(p.samples, strategy.shard, own.epochs, own.steps, p.batchSize);
    const contribution = workerContribution(w, own, samples, this.commFrom);
    if (strategy.name === 'parameter-server') {
      // Its servers serve until the workers' end(): the round is in the strategy's end() (finishClusterRound).
      deferRound(strategy, contribution, (g) => this.clusterGathered(g));
      return 'deferred';
    }
    return gatherRankFigures(strategy, contribution, w);
  }

  onEpochBegin(epoch: number): void {
    this.epochBegin(epoch);
  }

  onBatchEnd(batch?: number): void {
    // With the steps per epoch known, only the epoch's last step reads the clocks (for the validation time).
    const steps = this.params?.steps;
    this.step(steps === undefined || batch === undefined || batch >= steps - 1);
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    this.epochEnd(epoch, logs);
  }

  async onTrainEnd(): Promise<void> {
    await this.end(() => {
      const model = this.model;
      if (!model)
        throw new RecordError(
          'RunRecorder: fit() never called setModel; is the recorder in the callbacks of a Model.fit?',
        );
      const p = this.params;
      const privacy = this.privacy?.();
      if (privacy && !privacy.secureNoise)
        this.notes.push('DP-SGD noise was drawn from a fixed seed (privacy.noiseSeed): this run is NOT private');
      if (privacy?.sampling === 'fixed')
        this.notes.push(
          "DP-SGD used fixed-size shuffled batches (sampling 'fixed'); its epsilon is the Poisson-sampling " +
            'analysis, an approximation for such batches',
        );
      const facts: RunFacts = {
        model: modelFacts(model),
        status: model.stopTraining ? 'stopped' : 'completed',
        hyperparameters: hyperparameters(model, p, this.notes),
        seeds: p?.seed !== undefined ? { fit: p.seed } : {},
        epochs: { requested: p?.epochs ?? null, initial: p?.initialEpoch },
        ...(privacy ? { privacy } : {}),
      };
      return facts;
    });
  }

  /**
   * Evaluates a classifier on (x, y): loss and metrics through model.evaluate, plus accuracy per class,
   * the confusion matrix and, with `groups`, per-group results and parity differences. Recorded under `name`.
   */
  async evaluate(
    name: string,
    model: Model,
    x: Tensor,
    y: Tensor,
    options: ReportOptions & { batchSize?: number } = {},
  ): Promise<EvaluationRecord> {
    // Counted as the run's 'testing' stage (record.stages): time, CPU, FLOPs and joules.
    const { metrics, report } = await this.stage('testing', async () => ({
      metrics: await model.evaluate(x, y, { batchSize: options.batchSize ?? 256 }),
      report: evaluateClassifier(model, x, y, options),
    }));
    return this.addEvaluation(name, metrics, { report, data: { x, y } });
  }
}
