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
import { graphConfig, graphFromConfig, runGraph, topologicalNodes, type GraphConfig } from './graph.js';
import {
  Trainer,
  type CompileArgs,
  type EvaluateArgs,
  type FitArgs,
  type PredictArgs,
  type TrainingInput,
} from './trainer.js';
import type { History } from './callbacks.js';
import type { RunRecorder } from './run-record-callback.js';
import { inNewRun } from '../ledger/run-context.js';
import { summaryText } from './summary.js';
import type { StringInputs, StringTensor } from '../nn/preprocessing/string-tensor.js';

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

  /** The layers of the model in call order (functional), or the Layer-valued fields (subclass models). */
  get layers(): Layer[] {
    if (this.isFunctional) {
      const seen: Layer[] = [];
      for (const t of this.inputs) if (!seen.includes(t.node!.layer)) seen.push(t.node!.layer);
      for (const n of this.nodes) if (!seen.includes(n.layer)) seen.push(n.layer);
      return seen;
    }
    return Object.values(this).flatMap((v) =>
      v instanceof Layer ? [v] : Array.isArray(v) ? v.filter((x): x is Layer => x instanceof Layer) : [],
    );
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

  compile(args: CompileArgs): void {
    this.trainer = new Trainer(this, args);
    this.compileArgs = args;
  }

  private compileArgs?: CompileArgs;

  /** compile() arguments when every part is a name or a config (so a loaded model can be recompiled). */
  trainingConfig(): CompileArgs | undefined {
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
    return plain(args.loss) && plain(args.metrics) && plain(args.weightedMetrics)
      ? {
          optimizer,
          loss: args.loss,
          metrics: args.metrics,
          weightedMetrics: args.weightedMetrics,
          lossWeights: args.lossWeights,
        }
      : undefined;
  }

  /** Writes architecture, weights and optimizer state under dir (see train/saving.ts). */
  async save(dir: string): Promise<void> {
    const { saveModel } = await import('./saving.js');
    await saveModel(this, dir);
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

  /** Trains for `epochs`; every error (not compiled, bad shapes) is a rejection of the returned promise. */
  async fit(x: TrainingInput, y?: Tensor | Tensor[] | FitArgs, args?: FitArgs): Promise<History> {
    // Its own run (ledger/run-context.ts): a recorder started inside counts the kernels of this fit only.
    return inNewRun(() => this.compiled('fit').fit(x, y, args));
  }

  async evaluate(
    x: TrainingInput,
    y?: Tensor | Tensor[] | EvaluateArgs,
    args?: EvaluateArgs,
  ): Promise<Record<string, number>> {
    return this.compiled('evaluate').evaluate(x, y, args);
  }

  trainOnBatch(x: Tensor | Tensor[], y: Tensor | Tensor[], sampleWeight?: Tensor): Record<string, number> {
    return this.compiled('trainOnBatch').trainOnBatch(x, y, sampleWeight);
  }

  /** Outputs for x, in batches, in inference mode. */
  predict(x: Tensor | Tensor[] | StringInputs, args: PredictArgs = {}): Tensor | Tensor[] {
    return Trainer.predict(this, x, args);
  }

  /** The Keras-style table of layers, output shapes and parameter counts. */
  summary(print: (line: string) => void = console.log): string {
    const text = summaryText(this);
    print(text);
    return text;
  }
}
registerLayer(Model);
