// Model: a Layer made of layers. Functional models (new Model({inputs, outputs})) run a graph;
// subclass models override call(). Every model can be compiled, fit, evaluated, saved and summarised.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import {
  Layer,
  SymbolicTensor,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../nn/layer.js';
import type { Node } from '../nn/layer.js';
import { graphConfig, graphFromConfig, graphLayers, runGraph, topologicalNodes, type GraphConfig } from './graph.js';
import {
  Trainer,
  type CompileArgs,
  type EvaluateArgs,
  type FitArgs,
  type PredictArgs,
  type StepData,
  type StepLogs,
  type TrainingInput,
} from './trainer.js';
import type { History, Logs } from './callbacks.js';
import type { CompileMetrics } from './compile.js';
import type { MetricResult, StatefulMetric } from './metrics.js';
import { asList, type InputData, type TensorData } from './epoch-iterator.js';
import type { RunRecorder } from './run-record-callback.js';
import type { SaveOptions } from './saving.js';
import type { LoadWeightsOptions } from './weights-file.js';
import type { WeightLoadReport } from './weights-by-name.js';
import { inNewRun } from '../ledger/run-context.js';
import { CompiledSteps, type JitStatus } from './compiled-steps.js';
import { summaryText, type SummaryOptions } from './summary.js';
import { withCamelCaseAliases } from './log-names.js';
import type { OptimizerConfig } from '../optim/index.js';

/** The parts of a training config that are always written (the loss may be undefined: none was compiled). */
interface TrainingConfigParts {
  optimizer: OptimizerConfig;
  loss: CompileArgs['loss'];
}
import type { StringTensor } from '../nn/preprocessing/string-tensor.js';
import type { PrivateSteps } from './private-training.js';

export interface ModelArgs extends LayerArgs {
  inputs?: SymbolicTensor | SymbolicTensor[];
  outputs?: SymbolicTensor | SymbolicTensor[];
}

export class Model extends Layer {
  static override readonly className: string = 'Functional';

  readonly inputs: SymbolicTensor[] = [];
  readonly outputs: SymbolicTensor[] = [];
  private readonly nodes: Node[] = [];
  /** Whether inputs/outputs were given as lists (so call() returns a list) or single tensors. */
  private readonly multiOutput: boolean = false;
  private trainer?: Trainer;
  /** The recorder of the last fit() (unless it ran with record: false); save() writes its run.json. */
  runRecorder?: RunRecorder;
  /** Set while `fit` runs; a callback may set it to end training after the current epoch. */
  stopTraining = false;

  constructor(args: ModelArgs = {}) {
    super(args);
    if (args.inputs !== undefined || args.outputs !== undefined) {
      if (args.inputs === undefined || args.outputs === undefined)
        throw new ArgumentError(
          `Model '${this.name}': give both inputs and outputs (or neither, for a subclass model)`,
        );
      this.inputs = Array.isArray(args.inputs) ? args.inputs : [args.inputs];
      this.outputs = Array.isArray(args.outputs) ? args.outputs : [args.outputs];
      this.multiOutput = Array.isArray(args.outputs);
      this.nodes = topologicalNodes(this.inputs, this.outputs);
      this.built = true;
    }
  }

  get isFunctional(): boolean {
    return this.outputs.length > 0;
  }

  /** The layer calls of a functional model, in execution order (empty for other models). */
  get graphNodes(): readonly Node[] {
    return this.nodes;
  }

  /**
   * The layers of the model in call order (functional), or those its fields hold (subclass models: see
   * Layer.sublayers).
   */
  get layers(): Layer[] {
    return this.isFunctional ? graphLayers(this.inputs, this.nodes) : super.sublayers();
  }

  /**
   * The model's input placeholder (Keras model.input), a list when it has several; undefined for a model whose
   * inputs are not known (a subclass model, a Sequential before its input shape is).
   */
  get input(): SymbolicTensor | SymbolicTensor[] | undefined {
    if (!this.isFunctional) return undefined;
    return this.inputs.length === 1 ? this.inputs[0] : [...this.inputs];
  }

  /** The model's output (Keras model.output): a list when it was built with a list of outputs. */
  override get output(): SymbolicTensor | SymbolicTensor[] {
    if (!this.isFunctional) return super.output;
    return this.multiOutput ? [...this.outputs] : this.outputs[0];
  }

  getLayer(name: string): Layer {
    const layer = this.layers.find((l) => l.name === name);
    if (!layer)
      throw new ArgumentError(
        `Model '${this.name}': no layer named '${name}'; layers: ${this.layers.map((l) => l.name).join(', ')}`,
      );
    return layer;
  }

  override sublayers(): Layer[] {
    return this.layers;
  }

  /** Raw text passes through to the model's text layers (TextVectorization, StringLookup, Hashing). */
  override get takesStrings(): boolean {
    return true;
  }

  call(inputs: Tensor | Tensor[] | StringTensor, ctx: CallContext): Tensor | Tensor[] {
    if (!this.isFunctional)
      throw new ArgumentError(`Model '${this.name}': a model without inputs/outputs must override call()`);
    const outs = runGraph(this.nodes, this.inputs, this.outputs, Array.isArray(inputs) ? inputs : [inputs], ctx);
    return this.multiOutput ? outs : outs[0];
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    if (!this.isFunctional) return super.computeOutputShape(inputShape);
    const shapes = this.outputs.map((o) => o.shape);
    return this.multiOutput ? shapes : shapes[0];
  }

  override getConfig(): LayerConfig {
    if (!this.isFunctional)
      throw new ArgumentError(
        `Model '${this.name}': subclass models have no architecture config; override getConfig() or save weights only`,
      );
    return { ...graphConfig(this.name, this.nodes, this.inputs, this.outputs), trainable: this.trainable };
  }

  static override fromConfig<T extends Layer>(this: new (args: never) => T, config: LayerConfig): T {
    const { inputs, outputs } = graphFromConfig(config as unknown as GraphConfig);
    const multi = (config as unknown as GraphConfig).outputLayers.length > 1;
    return new this({
      name: config.name,
      inputs,
      outputs: multi ? outputs : outputs[0],
      trainable: config.trainable,
    } as never);
  }

  // ---- Training API (Keras) ----

  /** @internal The compiled blocks of this model's steps (compile()'s jitCompile). */
  readonly compiledSteps = new CompiledSteps();

  /**
   * The compiled steps so far, one per kind of step and batch shape: whether each replays a plan, and if not,
   * why it runs eagerly (compile()'s jitCompile).
   */
  jitStatus(): JitStatus[] {
    return this.compiledSteps.status();
  }

  /** Frees the weights and the compiled steps' buffers. */
  override dispose(): void {
    this.compiledSteps.dispose();
    super.dispose();
  }

  compile(args: CompileArgs = {}): void {
    this.trainer = new Trainer(this, args);
    this.compileArgs = args;
  }

  private compileArgs?: CompileArgs;

  /** compile() arguments when every part is a name or a config (so a loaded model can be recompiled). */
  trainingConfig(): (Omit<CompileArgs, 'optimizer' | 'loss'> & TrainingConfigParts) | undefined {
    const args = this.compileArgs;
    if (!args || !this.trainer) return undefined;
    const plain = (v: unknown): boolean =>
      v === undefined ||
      typeof v === 'string' ||
      typeof v === 'number' ||
      (Array.isArray(v)
        ? v.every(plain)
        : typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x !== 'function' && plain(x)));
    const optimizer = this.trainer.optimizer.getConfig();
    return plain(args.loss) && plain(args.metrics) && plain(args.weightedMetrics) && plain(args.privacy)
      ? {
          optimizer,
          loss: args.loss,
          metrics: args.metrics,
          weightedMetrics: args.weightedMetrics,
          lossWeights: args.lossWeights,
          // DP-SGD's options: a loaded model recompiled from this config trains privately again.
          ...(args.privacy ? { privacy: args.privacy } : {}),
        }
      : undefined;
  }

  /**
   * Writes architecture, weights and optimizer state under dir (see train/saving.ts); encrypted with a key. In a
   * distributed world, ranks other than 0 write nothing and return (distributed.writesFiles).
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    const { saveModel } = await import('./saving.js');
    await saveModel(this, dir, options);
  }

  /**
   * Writes the weights alone to one file (Keras save_weights); model.loadWeights reads it back. In a distributed
   * world, ranks other than 0 write nothing and return (distributed.writesFiles).
   */
  async saveWeights(path: string, options: SaveOptions = {}): Promise<void> {
    const { saveWeights } = await import('./weights-file.js');
    await saveWeights(this, path, options);
  }

  /**
   * Sets the weights from a file written by saveWeights, checked weight by weight (Keras load_weights), by
   * position or, with `{ byName: true, skipMismatch? }`, by layer name; resolves to a report of what was
   * loaded, what was skipped and why, and what of the file went unused.
   */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<WeightLoadReport> {
    const { loadWeights } = await import('./weights-file.js');
    return loadWeights(this, path, options);
  }

  private compiled(op: string): Trainer {
    if (!this.trainer)
      throw new ArgumentError(
        `${op}: model '${this.name}' must be compiled first: model.compile({ optimizer, loss, metrics })`,
      );
    return this.trainer;
  }

  get optimizer() {
    return this.trainer?.optimizer;
  }

  /** The DP-SGD steps taken since compile() (saved with the model so that epsilon keeps composing); internal. */
  get privateSteps(): PrivateSteps[] | undefined {
    return this.trainer?.privateSteps;
  }

  /** Accounts a loaded model's earlier DP-SGD steps (loadModel calls it after compile); internal. */
  restorePrivateSteps(steps: readonly PrivateSteps[]): void {
    this.compiled('loadModel').restorePrivateSteps(steps);
  }

  /** Trains for `epochs`; every error (not compiled, bad shapes) is a rejection of the returned promise. */
  async fit(x: TrainingInput, y?: TensorData | FitArgs, args?: FitArgs): Promise<History> {
    // Its own run (ledger/run-context.ts): a recorder started inside counts the kernels of this fit only.
    return inNewRun(() => this.compiled('fit').fit(x, y, args));
  }

  async evaluate(
    x: TrainingInput,
    y?: TensorData | EvaluateArgs,
    args?: EvaluateArgs,
  ): Promise<Record<string, number>> {
    return withCamelCaseAliases(await this.compiled('evaluate').evaluate(x, y, args));
  }

  trainOnBatch(x: TensorData, y?: TensorData, sampleWeight?: Tensor): Record<string, number> {
    return this.compiled('trainOnBatch').trainOnBatch(x, y, sampleWeight);
  }

  /** Outputs for x, in batches, in inference mode. */
  predict(x: InputData, args: PredictArgs = {}): Tensor | Tensor[] {
    return Trainer.predict(this, x, args);
  }

  // ---- Custom training logic (Keras train_step / test_step / predict_step) ----

  /**
   * One training step on one batch, called by fit() and trainOnBatch() (Keras train_step). Override it
   * for GANs, distillation and other custom logic: take gradients with valueAndGrads, update with an
   * optimizer's applyGradients, and return logs (numbers or scalar tensors by name). What it makes is
   * freed after it returns. The default is the compiled training step (fit's fast path when not
   * overridden) and returns the running loss and metrics.
   */
  trainStep(data: StepData): StepLogs {
    return this.compiled('trainStep').defaultTrainStep(data);
  }

  /**
   * The seed of the current training step, as fit's default step gives it to stochastic layers (dropout): a
   * trainStep override passes it on, apply(x, { training: true, seed: this.stepSeed }), to follow fit's seed.
   */
  get stepSeed(): number {
    return this.compiled('stepSeed').currentStepSeed();
  }

  /** One evaluation step on one batch, called by evaluate() and fit's validation (Keras test_step). */
  testStep(data: StepData): StepLogs {
    return this.compiled('testStep').defaultTestStep(data);
  }

  /** The outputs for one batch [x], called by predict() (Keras predict_step); the default runs in inference mode. */
  predictStep(data: StepData): Tensor | Tensor[] {
    const outs = Trainer.predictStep(this, asList(data[0]));
    return outs.length === 1 ? outs[0] : outs;
  }

  /**
   * Which methods a subclass overrides: fit / evaluate / predict call an overridden step, and take their
   * fast default path otherwise. (Internal to the trainer.)
   */
  customSteps(): { train: boolean; test: boolean; predict: boolean; call: boolean } {
    const base = Model.prototype;
    return {
      train: this.trainStep !== base.trainStep,
      test: this.testStep !== base.testStep,
      predict: this.predictStep !== base.predictStep,
      call: this.call !== base.call,
    };
  }

  /** The compiled loss of labels and predictions (Keras compiled_loss): the weighted sum over outputs. */
  compiledLoss(y: Tensor | Tensor[], yPred: Tensor | Tensor[], sampleWeight?: Tensor): Tensor {
    return this.compiled('compiledLoss').compiledLoss('compiledLoss', asList(y), asList(yPred), sampleWeight);
  }

  /**
   * The total loss of a forward pass (Keras compute_loss): the compiled loss (when compile() had one)
   * plus model.losses, i.e. what addLoss added in the last call and the weights' regularization.
   */
  computeLoss({
    y,
    yPred,
    sampleWeight,
  }: {
    y?: Tensor | Tensor[];
    yPred: Tensor | Tensor[];
    sampleWeight?: Tensor;
  }): Tensor {
    const trainer = this.compiled('computeLoss');
    return trainer.computeLoss('computeLoss', y === undefined ? undefined : asList(y), asList(yPred), sampleWeight);
  }

  /** The compiled metrics (Keras compiled_metrics): updateState(y, yPred, sampleWeight?), result(), resetState(). */
  get compiledMetrics(): CompileMetrics {
    return this.compiled('compiledMetrics').compileMetrics;
  }

  /**
   * The model's metric objects (Keras `metrics`): the loss tracker (a Mean named 'loss', when compiled with
   * a loss), the compiled metrics, and every metric held in a field of the model (a Mean that a trainStep
   * updates, say). fit resets them all at the start of each epoch, evaluate before it starts. A subclass
   * may override this getter to list its own.
   */
  get metrics(): StatefulMetric<MetricResult>[] {
    const fields = Object.values(this).filter(
      (v): v is StatefulMetric<MetricResult> =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as StatefulMetric).name === 'string' &&
        typeof (v as StatefulMetric).result === 'function' &&
        typeof (v as StatefulMetric).resetState === 'function',
    );
    return [...(this.trainer?.metrics ?? []), ...fields];
  }

  /** The results of model.metrics as logs (Keras get_metrics_result): a record result is spread in. */
  getMetricsResult(): Logs {
    const logs: Logs = {};
    for (const m of this.metrics) {
      const r = m.result();
      if (typeof r === 'number') logs[m.name] = r;
      else if (!Array.isArray(r)) Object.assign(logs, r);
    }
    return logs;
  }

  /** The Keras-style table of layers, output shapes and parameter counts. */
  summary(print: (line: string) => void = console.log, options: SummaryOptions = {}): string {
    const text = summaryText(this, undefined, options);
    print(text);
    return text;
  }
}
registerLayer(Model);
