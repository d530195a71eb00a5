// Layer: configuration kept apart from state (Keras). Weights are made in build() through addWeight;
// getConfig() round-trips through fromConfig(); apply() works on real tensors (eager) and on
// SymbolicTensors (functional API graph building).
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape, fmtValue } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { zeros } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { Variable } from './variable.js';
import { getInitializer, type InitializerSpec } from './initializers.js';
import { getRegularizer, type RegularizerSpec } from './regularizers.js';
import { reserveName, snake, uniqueName } from './names.js';
import { Registry, checkOptions, optionKeys } from '../registry.js';
import { attachMasks, inputMasks, type MaskArg } from './masking.js';
import { currentLayerPath, swapLayerPath, withLayerPath } from '../autograd/annotations.js';
import { checkLayerConfig } from './config-check.js';
import { StringTensor, asStringTensor, type StringInputs } from './preprocessing/string-tensor.js';

/** A shape whose unknown dimensions (the batch, usually) are null. */
export type SymShape = readonly (number | null)[];

export interface CallContext {
  /** True inside fit / trainOnBatch: dropout drops, batch norm uses batch statistics. */
  readonly training: boolean;
  /**
   * Seed for stochastic layers (dropout) in this call. fit() derives it from its seed and the step
   * number, so a resumed run draws the same masks as an uninterrupted one.
   */
  readonly seed?: number;
}

/** apply()'s options: the call context, and the input mask (Keras' `mask` call argument). */
export interface ApplyOptions extends Partial<CallContext> {
  /** Overrides the masks attached to the inputs (see masking.ts); null calls the layer unmasked. */
  mask?: MaskArg;
}

/** Raw text: a StringTensor, or a symbolic input of dtype 'string'. */
const isText = (t: unknown) => t instanceof StringTensor || (t instanceof SymbolicTensor && t.dtype === 'string');

/** The keys every layer's apply() takes; a layer adds its own call options (callOptionNames). */
const APPLY_OPTIONS = optionKeys<ApplyOptions>({ training: true, seed: true, mask: true });

export interface LayerArgs {
  name?: string;
  trainable?: boolean;
  /** Shape of one sample (without the batch dimension), for the first layer of a model. */
  inputShape?: readonly (number | null)[];
  batchSize?: number;
  /** [batch, ...inputShape]; what getConfig() saves (inputShape and batchSize are the friendlier spelling). */
  batchInputShape?: SymShape;
  dtype?: 'float32' | 'float64';
}

export type LayerConfig = Record<string, unknown> & { name: string };

/**
 * Where addWeight takes weight values from instead of running initializers: a saved model's tensors,
 * while loadModel rebuilds its layers. `take` checks the stored tensor against the declared shape and
 * dtype (throwing a typed error naming the weight) and returns it; the Variable then owns it.
 */
export interface WeightSource {
  take(layer: Layer, weight: string, shape: readonly number[], dtype: DType): Tensor;
}

let weightSource: WeightSource | undefined;

/**
 * Runs `fn` (which makes and builds layers) with addWeight reading values from `source`: no initializer
 * runs, so declaring a huge weight in a file costs nothing before the file is found not to hold it.
 * Synchronous, so no other code builds layers meanwhile.
 */
export function withWeightSource<T>(source: WeightSource, fn: () => T): T {
  const outer = weightSource;
  weightSource = source;
  try {
    return fn();
  } finally {
    weightSource = outer;
  }
}

function fmtSym(shape: SymShape): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')}${shape.length === 1 ? ',' : ''})`;
}
export { fmtSym as formatSymShape };

/**
 * The arguments given to a symbolic call that the graph replays on every run (Keras' call kwargs):
 * `base.apply(x, { training: false })` keeps a fine-tuned base in inference mode inside fit().
 */
export interface CallArgs {
  readonly training?: boolean;
  /** A layer's own call options (its `callOptionNames`, e.g. Attention's useCausalMask): true or false. */
  readonly [option: string]: boolean | undefined;
}

/** One call of a layer in a functional graph. */
export class Node {
  constructor(
    readonly layer: Layer,
    readonly inputs: readonly SymbolicTensor[],
    readonly outputs: SymbolicTensor[],
    /** Whether the layer was called with a list (multi-input layers) rather than one tensor. */
    readonly calledWithList = false,
    readonly callArgs: CallArgs = {},
  ) {
    this.hasCallArgs = Object.keys(callArgs).length > 0;
  }
  /** Whether the call recorded arguments that every run of the graph replays. */
  readonly hasCallArgs: boolean;
}

let nextSymbolicId = 1;

/** A placeholder flowing through the functional API: a shape (batch = null), a dtype, its producer. */
export class SymbolicTensor {
  readonly id = nextSymbolicId++;
  /** Set when a layer call produced this tensor; undefined for Input placeholders. */
  node?: Node;
  constructor(
    readonly shape: SymShape,
    /** 'string' for a raw-text input (input({ dtype: 'string' })). */
    readonly dtype: DType | 'string',
    readonly name: string,
    public sourceLayer?: Layer,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
}

type Inputs = Tensor | Tensor[];
type SymInputs = SymbolicTensor | SymbolicTensor[];
/** The symbolic counterpart of a call() result type: Tensor -> SymbolicTensor, Tensor[] -> SymbolicTensor[]. */
export type SymbolicOf<T> = T extends Tensor[] ? SymbolicTensor[] : T extends Tensor ? SymbolicTensor : SymInputs;

/**
 * The context of the layer call under way (Keras' call-context stack): a layer that calls a nested layer
 * without passing ctx (`this.dropout.apply(x)` inside call()) runs it in the same training mode and seed.
 */
let activeContext: CallContext | undefined;

function withCallContext<T>(ctx: CallContext, fn: () => T): T {
  const outer = activeContext;
  activeContext = ctx;
  try {
    return fn();
  } finally {
    activeContext = outer;
  }
}

/**
 * Sees, and may replace, the output of every eager layer call under way (explanations read and substitute
 * intermediate activations: Grad-CAM's feature maps, a text model's embeddings, attention probabilities).
 * A replacement must have the output's structure; masks are attached to it as to the original. The hook also sees
 * the call's inputs (calibration of int8 layers reads them).
 */
export type LayerOutputHook = (layer: Layer, output: Inputs, inputs: Inputs) => Inputs | undefined;
let outputHook: LayerOutputHook | undefined;

/** Runs fn with `hook` seeing every eager layer output (hooks nest: the outer one sees what the inner returns). */
export function withLayerOutputHook<T>(hook: LayerOutputHook, fn: () => T): T {
  const outer = outputHook;
  outputHook = outer
    ? (layer, out, inputs) => {
        const inner = hook(layer, out, inputs) ?? out;
        return outer(layer, inner, inputs) ?? inner;
      }
    : hook;
  try {
    return fn();
  } finally {
    outputHook = outer;
  }
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * The layers held in `owner`'s fields (Keras' automatic tracking): directly, in arrays, as Map values and in
 * plain objects, nested to any depth, each once, in field order. Other objects (tensors, nodes, optimizers)
 * are not searched, and `owner` itself is never its own sublayer. Runs on every step (weights, losses), so
 * it allocates nothing for a layer without containers of layers; containers are tracked for cycles only.
 */
function trackedLayers(owner: Layer): Layer[] {
  const found: Layer[] = [];
  let containers: Set<object> | undefined;
  const visit = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (v instanceof Layer) {
      if (v !== owner && !found.includes(v)) found.push(v);
      return;
    }
    const array = Array.isArray(v);
    if (!array && !(v instanceof Map) && !isPlainObject(v)) return;
    if (array && (v.length === 0 || (typeof v[0] !== 'object' && v.every((e) => typeof e !== 'object')))) return;
    containers ??= new Set();
    if (containers.has(v)) return;
    containers.add(v);
    if (array || v instanceof Map) v.forEach(visit);
    else Object.values(v).forEach(visit);
  };
  for (const key in owner) visit((owner as unknown as Record<string, unknown>)[key]);
  return found;
}

export abstract class Layer {
  /** The class name used in configs and summaries (e.g. 'Dense'); subclasses override. */
  static readonly className: string = 'Layer';

  readonly name: string;
  private trainableFlag: boolean;
  private disposed = false;
  built = false;
  readonly dtype: 'float32' | 'float64';
  /** [batch, ...inputShape] when the layer was given an input shape. */
  readonly batchInputShape?: SymShape;
  private readonly variables: Variable[] = [];
  /** The calls of this layer in functional graphs. */
  readonly inboundNodes: Node[] = [];

  /**
   * What the layer's first call on symbolic tensors returned (Keras 3's layer.output): with
   * `new Model({ inputs: model.input, outputs: model.getLayer('flatten').output })` a trained model's layers
   * up to a point become a base for transfer learning, sharing their weights.
   */
  get output(): SymbolicTensor | SymbolicTensor[] {
    const node = this.inboundNodes[0];
    if (!node)
      throw new ArgumentError(
        `${this.className} '${this.name}' has never been called on symbolic tensors, so it has no output; ` +
          'call it on input({ shape }) (or give its model an input shape) first',
      );
    return node.outputs.length === 1 ? node.outputs[0] : node.outputs;
  }

  constructor(args: LayerArgs = {}) {
    // Default names come from the registered class name ('dense_1'), or, for a subclass that declares
    // none (a user's `class Encoder extends Model`), from the JS class name ('encoder'), as Keras does.
    const ctor = this.constructor as typeof Layer;
    const own = Object.prototype.hasOwnProperty.call(ctor, 'className') || !ctor.name ? this.className : ctor.name;
    if (args.name) reserveName(args.name);
    this.name = args.name ?? uniqueName(snake(own));
    // Not through the setter: the subclass's fields (its sublayers) do not exist yet.
    this.trainableFlag = args.trainable ?? true;
    this.dtype = args.dtype ?? 'float32';
    if (args.batchInputShape) this.batchInputShape = [...args.batchInputShape];
    else if (args.inputShape) this.batchInputShape = [args.batchSize ?? null, ...args.inputShape];
  }

  /** Rebuilds a layer from getConfig() output; layers whose constructor takes the config as is need not override. */
  static fromConfig<T extends Layer>(this: new (args: never) => T, config: LayerConfig): T {
    return new this(config as never);
  }

  get className(): string {
    return (this.constructor as typeof Layer).className;
  }

  /** Creates the weights for inputs of this shape. Called once, on first use. */
  build(_inputShape: SymShape | SymShape[]): void {}

  /**
   * The computation. Inputs are real tensors; `ctx.training` says whether this is a training step.
   * `mask` is the input mask (attached to the inputs by the layer that made them, or given to apply), for
   * layers that use one; it is kept out of `ctx` so that composite layers forwarding ctx to their
   * sublayers do not forward a mask meant for themselves.
   */
  abstract call(inputs: Inputs, ctx: CallContext, mask?: MaskArg): Inputs;

  /**
   * Whether the outputs carry computeMask()'s result (Keras supports_masking). Off by default: a layer
   * that does not declare it drops the mask, as in Keras.
   */
  supportsMasking = false;

  /**
   * Whether call() takes a StringTensor (raw text: TextVectorization, StringLookup, Hashing; models and
   * InputLayer, which pass it on). Other layers given strings raise a DTypeError naming them.
   */
  get takesStrings(): boolean {
    return false;
  }

  /** The output mask(s) for these inputs and input mask; the default passes the mask through (Keras). */
  computeMask(_inputs: Inputs, mask: MaskArg | undefined): MaskArg | undefined {
    return mask;
  }

  /**
   * Output shape for an input shape. The default runs call() on zeros (unknown dimensions set to 1)
   * without recording gradients, then marks the batch dimension unknown again. Layers override it when
   * running is wasteful or shapes are data-dependent.
   */
  computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    const multi = Array.isArray(inputShape[0]);
    const shapes = (multi ? inputShape : [inputShape]) as SymShape[];
    return noGrad(() =>
      tidy(() => {
        const probe = shapes.map((s) =>
          zeros(
            s.map((d) => d ?? 1),
            this.dtype,
          ),
        );
        const ctx = { training: false };
        const out = withCallContext(ctx, () => this.call(multi ? probe : probe[0], ctx));
        const toSym = (t: Tensor, i: number): SymShape =>
          t.shape.map((d, j) => (j === 0 && shapes[Math.min(i, shapes.length - 1)][0] === null ? null : d));
        return (Array.isArray(out) ? out.map(toSym) : toSym(out, 0)) as SymShape | SymShape[];
      }),
    );
  }

  /** JSON-able configuration; fromConfig(getConfig()) makes an equivalent (unbuilt) layer. */
  getConfig(): LayerConfig {
    const config: LayerConfig = { name: this.name, trainable: this.trainable, dtype: this.dtype };
    if (this.batchInputShape) config.batchInputShape = [...this.batchInputShape];
    return config;
  }

  /** Adds a weight made by `initializer`; call from build(). */
  addWeight(
    name: string,
    shape: readonly number[],
    initializer: InitializerSpec,
    {
      trainable = true,
      regularizer,
      dtype = this.dtype,
    }: {
      trainable?: boolean;
      regularizer?: RegularizerSpec | null;
      /** Default the layer's dtype; int8 for quantised weights (src/compress/quantized-layers.ts). */
      dtype?: DType;
    } = {},
  ): Variable {
    const init = getInitializer(initializer); // resolved even when loading: an unknown name is an error
    const full = `${this.name}/${name}`;
    const value = weightSource ? weightSource.take(this, full, shape, dtype) : noGrad(() => init(shape, dtype));
    const v = new Variable(full, value, trainable, getRegularizer(regularizer));
    this.variables.push(v);
    return v;
  }

  /** Whether fit() updates this layer's weights (and those of the layers nested in it). */
  get trainable(): boolean {
    return this.trainableFlag;
  }
  /** Sets the flag of this layer and of every layer nested in it, as Keras does: freezing a model freezes all. */
  set trainable(value: boolean) {
    if (typeof value !== 'boolean')
      throw new ArgumentError(
        `${this.className} '${this.name}': trainable must be true or false, got ${fmtValue(value)}`,
      );
    for (const l of this.flattenLayers()) l.trainableFlag = value;
  }

  /** Own weights first, then those of nested layers (depth first), each once. */
  get weights(): Variable[] {
    return [...new Set(this.flattenLayers().flatMap((l) => l.variables))];
  }
  /** The weights fit() updates: trainable weights of trainable layers, skipping everything under a frozen one. */
  get trainableWeights(): Variable[] {
    const out = new Set<Variable>();
    const seen = new Set<Layer>();
    const visit = (l: Layer): void => {
      if (seen.has(l) || !l.trainable) return;
      seen.add(l);
      for (const v of l.variables) if (v.trainable) out.add(v);
      l.sublayers().forEach(visit);
    };
    visit(this);
    return [...out];
  }
  get nonTrainableWeights(): Variable[] {
    const trainable = new Set(this.trainableWeights);
    return this.weights.filter((v) => !trainable.has(v));
  }

  /**
   * The layers nested directly inside this one. By default the layers held in its fields, in arrays, Maps
   * and plain objects (Keras' tracking), so a custom layer's sublayers are trained and counted without more
   * code; models and layers whose weight order differs from their field order override it.
   */
  sublayers(): Layer[] {
    return trackedLayers(this);
  }

  /** This layer and every layer nested in it, each once (a layer held twice, or a field back to a parent). */
  flattenLayers(): Layer[] {
    const out: Layer[] = [];
    const seen = new Set<Layer>();
    const visit = (l: Layer): void => {
      if (seen.has(l)) return;
      seen.add(l);
      out.push(l);
      l.sublayers().forEach(visit);
    };
    visit(this);
    return out;
  }

  countParams(): number {
    return this.weights.reduce((s, v) => s + v.value.size, 0);
  }

  /** Copies of the weight values, in `weights` order. */
  getWeights(): Tensor[] {
    return this.weights.map((v) => v.value.clone());
  }

  /** Sets the weight values from tensors in `weights` order (copied). */
  setWeights(values: readonly Tensor[]): void {
    const ws = this.weights;
    if (values.length !== ws.length)
      throw new ArgumentError(
        `${this.className} '${this.name}': setWeights got ${values.length} tensors for ${ws.length} weights`,
      );
    ws.forEach((v, i) => {
      if (values[i].shape.length !== v.shape.length || values[i].shape.some((d, j) => d !== v.shape[j])) {
        throw new ShapeError(
          `${this.className} '${this.name}': weight '${v.name}' has shape ${fmtShape(v.shape)}, ` +
            `got ${fmtShape(values[i].shape)}`,
        );
      }
      v.assign(values[i].cast(v.dtype).clone());
    });
  }

  /** Sum of the regularization penalties of this layer's (and nested layers') weights, or undefined. */
  regularizationLoss(): Tensor | undefined {
    let total: Tensor | undefined;
    for (const v of this.trainableWeights) {
      if (!v.regularizer) continue;
      const penalty = (): Tensor => v.regularizer!(v.value);
      const owner = this.ownerOf(v);
      const p = owner ? owner.atCallPath(penalty) : penalty();
      total = total ? add(total, p) : p;
    }
    return total;
  }

  /** The nested layer (or this one) that owns each weight, built once: regularizationLoss runs every step. */
  private weightOwners?: Map<Variable, Layer>;

  /** The layer that owns `v`; the map is rebuilt when `v` is not in it (layers built or added since). */
  private ownerOf(v: Variable): Layer | undefined {
    const owner = this.weightOwners?.get(v);
    if (owner) return owner;
    this.weightOwners = new Map(this.flattenLayers().flatMap((l) => l.variables.map((w) => [w, l] as const)));
    return this.weightOwners.get(v);
  }

  /** The layer path of this layer's last eager call ('' before any): where its loss terms are metered. */
  private callPath = '';

  /**
   * Runs fn at the layer path of this layer's last call (or where it is, if never called), so a weight's
   * penalty and a function loss (and their gradients, through the tape's stamp) are metered under the
   * layer that owns them, as its forward and backward kernels are.
   */
  private atCallPath<T>(fn: () => T): T {
    if (this.callPath === '') return fn();
    const saved = swapLayerPath(this.callPath);
    try {
      return fn();
    } finally {
      swapLayerPath(saved);
    }
  }

  /** Losses added by the last call (addLoss with a tensor); cleared when an outermost call starts. */
  private readonly callLosses: Tensor[] = [];
  /** Losses added as functions: evaluated each time `losses` is read, never cleared. */
  private readonly lossFns: (() => Tensor)[] = [];

  /**
   * Adds a loss term to the model's total loss (Keras add_loss): a tensor computed in call() (a VAE's KL
   * term, an activity penalty), kept until the next outermost call, or a function of no arguments (a
   * penalty on a weight) evaluated whenever `losses` is read. A non-scalar loss is summed.
   */
  addLoss(loss: Tensor | (() => Tensor)): void {
    if (loss instanceof Tensor) this.callLosses.push(loss);
    else if (typeof loss === 'function') this.lossFns.push(loss);
    else
      throw new ArgumentError(
        `${this.className} '${this.name}': addLoss expects a Tensor or a function returning one, got ${fmtValue(loss)}`,
      );
  }

  /**
   * The loss terms of this layer and the layers inside it (Keras `losses`): those added in the last call
   * (still live: a training step frees its own), the function losses, then the weights' regularization
   * penalty. Each read evaluates the functions and penalties anew.
   */
  get losses(): Tensor[] {
    const layers = this.flattenLayers();
    const out: Tensor[] = [];
    for (const l of layers) for (const t of l.callLosses) if (!t.isDisposed) out.push(t);
    return this.addWeightLosses(layers, out);
  }

  /**
   * The loss terms that do not depend on the data: the function losses (addLoss(() => ...)) and the
   * weights' regularization penalty. DP-SGD adds their gradient after the noise (no example to clip).
   */
  get weightLosses(): Tensor[] {
    return this.addWeightLosses(this.flattenLayers(), []);
  }

  private addWeightLosses(layers: readonly Layer[], out: Tensor[]): Tensor[] {
    for (const l of layers) for (const f of l.lossFns) out.push(l.atCallPath(f));
    const reg = this.regularizationLoss();
    if (reg) out.push(reg);
    return out;
  }

  /** Whether there are weightLosses, known without computing them. */
  get hasWeightLosses(): boolean {
    return this.flattenLayers().some((l) => l.lossFns.length > 0) || this.trainableWeights.some((v) => v.regularizer);
  }

  /** Whether the last call added loss tensors (addLoss in call(), freed or not): terms of the batch's data. */
  get hasCallLosses(): boolean {
    return this.flattenLayers().some((l) => l.callLosses.length > 0);
  }

  /** Forgets the losses added by the last call, here and in every nested layer. */
  private clearLosses(): void {
    for (const l of this.flattenLayers()) l.callLosses.length = 0;
  }

  /** Runs an eager call; the outermost one first clears the losses its layers added in the last call. */
  private collectingLosses<T>(call: () => T): T {
    if (activeContext === undefined) this.clearLosses();
    return call();
  }

  /**
   * Checks an input shape against batchInputShape; throws a ShapeError naming the layer and showing the
   * shape as received. `anyBatch`: eager calls may use any batch size.
   */
  protected assertInputShape(shape: SymShape, anyBatch = false): void {
    const expected = this.batchInputShape;
    if (!expected) return;
    const ok =
      expected.length === shape.length &&
      expected.every((d, i) => d === null || shape[i] === null || d === shape[i] || (anyBatch && i === 0));
    if (!ok)
      throw new ShapeError(`${this.className} '${this.name}' expects input ${fmtSym(expected)}, got ${fmtSym(shape)}`);
  }

  private ensureBuilt(shapes: SymShape | SymShape[]): void {
    if (this.built) return;
    this.build(shapes);
    this.built = true;
  }

  /**
   * Calls the layer on tensors (building it first if needed) or adds it to a functional graph. The result's
   * type follows call()'s: a layer whose call() returns one Tensor gives one Tensor (or SymbolicTensor).
   * Options left out are inherited from the enclosing layer call (the training flag and seed of fit's step);
   * in a graph, a `training` given here is recorded and holds whenever the graph runs.
   */
  apply(inputs: SymInputs, ctx?: ApplyOptions): SymbolicOf<ReturnType<this['call']>>;
  apply(inputs: Inputs, ctx?: ApplyOptions): ReturnType<this['call']>;
  /** Raw text: string[] (one string per sample), string[][] or a StringTensor, for layers that take strings. */
  apply(inputs: Inputs | StringInputs, ctx?: ApplyOptions): Inputs;
  apply(given: Inputs | SymInputs | StringInputs, ctx: ApplyOptions = {}): Inputs | SymInputs {
    const inputs = asStringTensor(given);
    const list = (Array.isArray(inputs) ? inputs.map(asStringTensor) : [inputs]) as (Tensor | SymbolicTensor)[];
    if (!this.takesStrings && list.some(isText))
      throw new DTypeError(
        `${this.className} '${this.name}' takes number tensors, got strings; put a text layer first ` +
          '(TextVectorization, StringLookup or Hashing)',
      );
    if (list.length === 0) throw new ArgumentError(`${this.className} '${this.name}': called with no inputs`);
    const symbolic = list.every((t) => t instanceof SymbolicTensor);
    if (!symbolic && list.some((t) => t instanceof SymbolicTensor)) {
      throw new ArgumentError(`${this.className} '${this.name}': cannot mix symbolic and real tensors in one call`);
    }
    if (ctx.training !== undefined && typeof ctx.training !== 'boolean')
      throw new ArgumentError(
        `${this.className} '${this.name}': training must be true or false, got ${fmtValue(ctx.training)}`,
      );
    const options = this.givenCallOptions(ctx);
    const shapes = list.map((t) => t.shape as SymShape);
    if (list.length === 1) this.assertInputShape(shapes[0], !symbolic);
    const shapeArg = Array.isArray(inputs) ? shapes : shapes[0];
    this.ensureBuilt(shapeArg);
    const outerOptions = this.callOptions;
    this.callOptions = options;
    try {
      return symbolic
        ? this.applySymbolic(list as SymbolicTensor[], inputs as SymInputs, shapeArg, ctx)
        : this.applyEager(inputs as Inputs, list, ctx);
    } finally {
      this.callOptions = outerOptions;
    }
  }

  /** The eager half of apply(): call() on real tensors (or raw text, for text layers). */
  private applyEager(inputs: Inputs, list: readonly (Tensor | SymbolicTensor)[], ctx: ApplyOptions): Inputs {
    {
      // A StringTensor reaches call() only on layers that take strings (checked above), whose call() accepts it.
      const real = (Array.isArray(inputs) ? list : inputs) as Inputs;
      const mask = ctx.mask !== undefined ? ctx.mask : inputMasks(real);
      // Explicit options win; the rest come from the enclosing call (none: inference).
      const callCtx: CallContext = {
        training: ctx.training ?? activeContext?.training ?? false,
        seed: ctx.seed ?? activeContext?.seed,
      };
      const out = this.collectingLosses(() =>
        withLayerPath(this.name, () => {
          this.callPath = currentLayerPath();
          return withCallContext(callCtx, () => this.call(real, callCtx, mask ?? undefined));
        }),
      );
      const seen = outputHook ? (outputHook(this, out, real) ?? out) : out;
      if (this.supportsMasking) attachMasks(seen, this.computeMask(real, mask ?? undefined));
      return seen;
    }
  }

  /** The symbolic half of apply(): a node in a functional graph, recording training and the call options. */
  private applySymbolic(
    list: SymbolicTensor[],
    inputs: SymInputs,
    shapeArg: SymShape | SymShape[],
    ctx: ApplyOptions,
  ): SymInputs {
    if (ctx.seed !== undefined || ctx.mask !== undefined)
      throw new ArgumentError(
        `${this.className} '${this.name}': a call on symbolic tensors records 'training' and call options; ` +
          `${ctx.seed !== undefined ? 'seed' : 'mask'} cannot be fixed in a graph (give the layer a seed; ` +
          'masks flow with the tensors)',
      );
    const outShape = this.computeOutputShape(shapeArg);
    const outShapes = (Array.isArray(outShape[0]) ? outShape : [outShape]) as SymShape[];
    const outputs = outShapes.map(
      (s, i) => new SymbolicTensor(s, this.dtype, outShapes.length > 1 ? `${this.name}/out${i}` : this.name, this),
    );
    const callArgs: CallArgs = {
      ...(ctx.training === undefined ? {} : { training: ctx.training }),
      ...this.callOptions,
    };
    const node = new Node(this, list as SymbolicTensor[], outputs, Array.isArray(inputs), callArgs);
    for (const o of outputs) o.node = node;
    this.inboundNodes.push(node);
    return outShapes.length > 1 || Array.isArray(outShape[0]) ? outputs : outputs[0];
  }

  /** The call options (see callOptionNames) of the call under way, for call() and computeOutputShape(). */
  protected callOptions?: Readonly<Record<string, boolean>>;

  /**
   * The call options given to apply(), checked: a key apply() does not take is an error naming the right one
   * (a Keras option this layer does not honour must not be dropped), and each option is true or false.
   */
  private givenCallOptions(ctx: ApplyOptions): Readonly<Record<string, boolean>> | undefined {
    const names = this.callOptionNames;
    // Runs on every call: the full check (and its message) only when something is off.
    const fail = () => checkOptions(`${this.className} '${this.name}'.apply`, ctx, [...APPLY_OPTIONS, ...names]);
    if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) fail();
    let options: Record<string, boolean> | undefined;
    for (const key in ctx) {
      if (APPLY_OPTIONS.includes(key)) continue;
      if (!names.includes(key)) fail();
      const value = (ctx as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (typeof value !== 'boolean')
        throw new ArgumentError(
          `${this.className} '${this.name}': ${key} must be true or false, got ${fmtValue(value)}`,
        );
      (options ??= {})[key] = value;
    }
    return options;
  }

  /**
   * The layer's own boolean call options beyond `training` (Keras call kwargs such as Attention's
   * useCausalMask), which a symbolic call records in the graph and the saved file, and every run replays.
   */
  get callOptionNames(): readonly string[] {
    return [];
  }

  /** Frees the weights, this layer's and its sublayers' (once, however often a layer is reached). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables) v.dispose();
    for (const l of this.sublayers()) l.dispose();
  }
}

/** Constructor type of a concrete layer class, as kept in the registry. */
export interface LayerClass {
  readonly className: string;
  fromConfig(config: LayerConfig): Layer;
}

const registry = new Registry<LayerClass>('layerFromConfig', 'layer class');

/** Makes a layer class loadable by name from saved architectures (built-ins register themselves). */
export function registerLayer(cls: LayerClass): void {
  registry.add(cls.className, cls);
}

/** Rebuilds a layer from { className, config }, checking the config's field types first (see config-check.ts). */
export function layerFromConfig(entry: { className: string; config: LayerConfig }): Layer {
  if (typeof entry !== 'object' || entry === null || typeof entry.className !== 'string')
    throw new ArgumentError(`layerFromConfig: expected { className, config }, got ${fmtValue(entry)}`);
  const cls = registry.find(entry.className)?.value;
  if (!cls)
    throw new ArgumentError(
      `layerFromConfig: unknown layer class ${fmtValue(entry.className)}; register custom layers with ` +
        `registerLayer(). Known: ${registry.names.join(', ')}`,
    );
  checkLayerConfig(entry.className, entry.config);
  return cls.fromConfig(entry.config);
}

export function registeredLayers(): string[] {
  return [...registry.names];
}
