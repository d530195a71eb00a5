// The recurrent layers' shared machinery (Keras RNN); SimpleRNN, LSTM and GRU supply the cell.
import type { Tensor } from '../../tensor/tensor.js';
import { add, cast, mul } from '../../ops/elementwise.js';
import { copy, permute, reshape, slice } from '../../ops/views.js';
import { matmul } from '../../ops/linalg.js';
import { zeros } from '../../ops/creation.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { keep } from '../../tensor/storage.js';
import { noGrad } from '../../autograd/tape.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { Layer, formatSymShape, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import type { ActivationFn } from '../activations.js';
import { firstMask, sequenceMask, timeMajorMask, type MaskArg } from '../masking.js';
import { scan, type FusedCell } from './rnn-scan.js';
import {
  asLayerDType,
  initializerConfig,
  inputShapeError,
  positiveInt,
  regularizerConfig,
  resolveActivation,
  who,
} from './common.js';

// The recurrent layers' shared machinery (Keras RNN): x @ kernel for all steps in one matmul, then a loop
// over time that runs the cell (SimpleRNN, LSTM, GRU supply it) with masking, dropout masks fixed across
// steps, initial or stateful states, and the returnSequences / returnState / goBackwards outputs.

export interface RecurrentArgs extends LayerArgs {
  /** Size of the state (and of the output at each step). */
  units: number;
  /** Default 'tanh'. */
  activation?: string | null;
  useBias?: boolean;
  /** Default 'glorotUniform' (input kernel [features, gates * units]). */
  kernelInitializer?: InitializerSpec;
  /** Default 'orthogonal' (recurrent kernel [units, gates * units]). */
  recurrentInitializer?: InitializerSpec;
  /** Default 'zeros'. */
  biasInitializer?: InitializerSpec;
  kernelRegularizer?: RegularizerSpec | null;
  recurrentRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
  /** Fraction of the input features dropped while training; one mask per sequence, fixed across steps. */
  dropout?: number;
  /** Fraction of the recurrent state dropped before the recurrent matmul while training (fixed across steps). */
  recurrentDropout?: number;
  /** Return the output of every step [batch, time, units] instead of the last [batch, units]. Default false. */
  returnSequences?: boolean;
  /** Also return the final states: [output, ...states]. Default false. */
  returnState?: boolean;
  /** Process the sequence in reverse; the returned sequence is in processing (reversed) order, as Keras. */
  goBackwards?: boolean;
  /** Start each call from the previous call's final states (truncated backpropagation through time). */
  stateful?: boolean;
  /** Masked steps output zeros instead of repeating the previous output (Bidirectional sets it). Default false. */
  zeroOutputForMask?: boolean;
  /** Seed of the dropout masks (as Dropout's); default one drawn from the global stream. */
  seed?: number | null;
}

function rate(layer: Layer, arg: string, value: number | undefined): number {
  const r = value ?? 0;
  if (typeof r !== 'number' || !(r >= 0 && r < 1))
    throw new ArgumentError(`${who(layer)}: ${arg} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  return r;
}

export abstract class Recurrent extends Layer {
  readonly units: number;
  readonly activation: string;
  readonly useBias: boolean;
  readonly kernelInitializer: Initializer;
  readonly recurrentInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer?: Regularizer;
  readonly recurrentRegularizer?: Regularizer;
  readonly biasRegularizer?: Regularizer;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly zeroOutputForMask: boolean;
  readonly seed: number;
  override supportsMasking = true;
  protected readonly activationFn: ActivationFn;
  /** Made by build(): kernel [features, gates * units], recurrentKernel [units, gates * units], bias. */
  kernel?: Variable;
  recurrentKernel?: Variable;
  bias?: Variable;
  /** Dropout masks' own stream when a call brings no seed (as Dropout). */
  private readonly generator: RandomStream;
  /** Stateful layers: the final states of the last call (kept, detached from any tape). */
  private heldStates?: Tensor[];

  /** `gates`: blocks of `units` columns in the kernels (1, 4, 3); `stateCount`: states carried (h, or h and c). */
  constructor(
    args: RecurrentArgs,
    readonly gates: number,
    readonly stateCount: number,
  ) {
    super(args);
    this.units = positiveInt(this, 'units', args.units);
    const act = resolveActivation(args.activation === undefined ? 'tanh' : args.activation);
    this.activation = act.name;
    this.activationFn = act.fn;
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform');
    this.recurrentInitializer = getInitializer(args.recurrentInitializer ?? 'orthogonal');
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros');
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer);
    this.recurrentRegularizer = getRegularizer(args.recurrentRegularizer);
    this.biasRegularizer = getRegularizer(args.biasRegularizer);
    this.dropout = rate(this, 'dropout', args.dropout);
    this.recurrentDropout = rate(this, 'recurrentDropout', args.recurrentDropout);
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.zeroOutputForMask = args.zeroOutputForMask ?? false;
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** Shape and initializer of the bias (GRU with resetAfter has two rows; LSTM's forget block starts at 1). */
  protected abstract biasSpec(): { shape: number[]; initializer: InitializerSpec };
  /** The bias added to x @ kernel for all steps at once ([gates * units]), if any. */
  protected abstract inputBias(): Tensor | null;
  /**
   * The tensors the cell reads at every step (recurrent kernel, recurrent bias), derived from the
   * variables once per call with recorded ops, so their gradients reach the variables.
   */
  protected abstract stepWeights(): Tensor[];
  /**
   * One step: `xw` is this step's x @ kernel (+ input bias) [batch, gates * units], `weights` what
   * stepWeights() gave, `recurrentMask` (recurrent dropout) scales the state entering the recurrent matmul.
   */
  protected abstract cell(
    xw: Tensor,
    states: readonly Tensor[],
    weights: readonly Tensor[],
    recurrentMask: Tensor | null,
  ): { output: Tensor; states: Tensor[] };
  /** The same step as a FusedCell over stepWeights() (see rnn-scan.ts), where the layer has one. */
  protected fusedCell(): FusedCell | null {
    return null;
  }

  /** The sequence input's shape: [batch, time, features] alone, or first in [x, ...initialStates]. */
  private sequenceShape(shapes: SymShape | SymShape[]): SymShape {
    const list = Array.isArray(shapes[0]) ? (shapes as SymShape[]) : [shapes as SymShape];
    if (list.length !== 1 && list.length !== 1 + this.stateCount) {
      throw new ArgumentError(
        `${who(this)} takes a sequence or [sequence, ...${this.stateCount} ` +
          `initial state${this.stateCount > 1 ? 's' : ''}], got a list of ${list.length}`,
      );
    }
    const shape = list[0];
    this.checkInput(shape);
    return shape;
  }

  private checkInput(shape: SymShape): void {
    const features = this.kernel?.shape[0];
    if (shape.length !== 3)
      throw inputShapeError(
        this,
        `(None, time, ${features ?? 'features'})`,
        shape,
        'expected rank 3 (batch, time, features)',
      );
    if (features !== undefined && shape[2] !== null && shape[2] !== features)
      throw inputShapeError(this, `(None, time, ${features})`, shape, `the last dimension must be ${features}`);
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = this.sequenceShape(inputShape);
    const features = shape[2];
    if (features === null)
      throw new ShapeError(
        `${who(this)}: the feature dimension of the input must be known, got ${formatSymShape(shape)}`,
      );
    const width = this.gates * this.units;
    // Keras order: kernel, recurrent_kernel, bias.
    this.kernel = this.addWeight('kernel', [features, width], this.kernelInitializer, {
      regularizer: this.kernelRegularizer,
    });
    this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, width], this.recurrentInitializer, {
      regularizer: this.recurrentRegularizer,
    });
    if (this.useBias) {
      const { shape: biasShape, initializer } = this.biasSpec();
      this.bias = this.addWeight('bias', biasShape, initializer, { regularizer: this.biasRegularizer });
    }
  }

  /** Initial states: given ones, a stateful layer's held ones, or zeros; each [batch, units]. */
  private initialStates(given: readonly Tensor[], batch: number): Tensor[] {
    const expected = `${this.stateCount} tensor${this.stateCount > 1 ? 's' : ''} of shape [${batch}, ${this.units}]`;
    if (given.length > 0) {
      if (
        given.length !== this.stateCount ||
        given.some((s) => s.rank !== 2 || s.shape[0] !== batch || s.shape[1] !== this.units)
      ) {
        throw new ShapeError(
          `${who(this)} expects initial states as ${expected}, got ${given.map((s) => fmtShape(s.shape)).join(', ')}`,
        );
      }
      return given.map((s) => asLayerDType(this, s));
    }
    if (this.stateful && this.heldStates) {
      const held = this.heldStates[0].shape[0];
      if (held !== batch)
        throw new ShapeError(
          `${who(this)} is stateful with states for batch size ${held}, got a batch of ${batch} ` +
            '(call resetStates() to change it)',
        );
      return this.heldStates;
    }
    return Array.from({ length: this.stateCount }, () => zeros([batch, this.units], this.dtype));
  }

  /** An inverted-dropout mask (0 or 1 / (1 - rate)) of this shape. */
  private dropMask(gen: RandomStream, shape: number[], r: number): Tensor {
    return mul(cast(gen.bernoulli(shape, 1 - r), this.dtype), 1 / (1 - r));
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor | Tensor[] {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const x = asLayerDType(this, list[0]);
    this.sequenceShape(list.map((t) => t.shape));
    const [batch, time, features] = x.shape;
    if (time === 0) throw inputShapeError(this, `(None, time, ${features})`, x.shape, 'the sequence is empty');
    const initial = this.initialStates(list.slice(1), batch);
    const given = firstMask(mask);
    const seqMask = given ? timeMajorMask(sequenceMask(who(this), given, batch, time)) : null;

    // Dropout masks are drawn once per call, so every step drops the same features (Keras); a call seed
    // (fit() passes one per step) makes them depend on (layer seed, call seed) only, as Dropout does.
    const training = ctx.training && (this.dropout > 0 || this.recurrentDropout > 0);
    const gen = training
      ? ctx.seed === undefined
        ? this.generator
        : new RandomStream(mixSeeds(this.seed, ctx.seed))
      : undefined;
    const inputMask = gen && this.dropout > 0 ? this.dropMask(gen, [batch, 1, features], this.dropout) : null;
    const recurrentMask =
      gen && this.recurrentDropout > 0 ? this.dropMask(gen, [batch, this.units], this.recurrentDropout) : null;

    // x @ kernel (+ input bias) for every step in one matmul, time-major [time, batch, gates * units], so
    // step t is a contiguous slice; the time loop (rnn-scan.ts) then runs the cell step by step.
    const width = this.gates * this.units;
    const xTime = reshape(permute(inputMask ? mul(x, inputMask) : x, [1, 0, 2]), [time * batch, features]);
    let xw = matmul(xTime, this.kernel!.value);
    const ib = this.inputBias();
    if (ib) xw = add(xw, ib);
    xw = reshape(xw, [time, batch, width]);

    const r = scan({
      xw,
      initial,
      weights: this.stepWeights(),
      mask: seqMask,
      zeroOutputForMask: this.zeroOutputForMask,
      goBackwards: this.goBackwards,
      cell: (xt, st, w) => this.cell(xt, st, w, recurrentMask),
      fused: recurrentMask ? null : this.fusedCell(),
    });
    const states = r.states;
    if (this.stateful) this.holdStates(states);
    // Outputs are time-major in processing order; the last one is the last processed step's.
    const y = this.returnSequences
      ? permute(r.outputs, [1, 0, 2])
      : reshape(slice(r.outputs, [time - 1, 0, 0], [1, batch, this.units]), [batch, this.units]);
    return this.returnState ? [y, ...states] : y;
  }

  /** Keeps copies of the final states (no gradient flows across calls: truncated BPTT). */
  private holdStates(states: readonly Tensor[]): void {
    const old = this.heldStates;
    this.heldStates = noGrad(() => states.map((s) => keep(copy(s))));
    for (const s of old ?? []) s.dispose();
  }

  /**
   * Stateful layers: forgets the held states (the next call starts from zeros), or sets them to
   * `states` (copied; each [batch, units]).
   */
  resetStates(states?: readonly Tensor[]): void {
    if (
      states &&
      (states.length !== this.stateCount ||
        states.some((s) => s.rank !== 2 || s.shape[1] !== this.units || s.shape[0] !== states[0].shape[0]))
    ) {
      throw new ShapeError(
        `${who(this)}: resetStates expects ${this.stateCount} tensor${this.stateCount > 1 ? 's' : ''} ` +
          `of shape [batch, ${this.units}], got ${states.map((s) => fmtShape(s.shape)).join(', ')}`,
      );
    }
    for (const s of this.heldStates ?? []) s.dispose();
    this.heldStates = states ? noGrad(() => states.map((s) => keep(copy(asLayerDType(this, s))))) : undefined;
  }

  /** The held states of a stateful layer (copies), or undefined before the first call / after a reset. */
  get states(): Tensor[] | undefined {
    return this.heldStates?.map((s) => s.clone());
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    const [batch, time] = this.sequenceShape(inputShape);
    const y: SymShape = this.returnSequences ? [batch, time, this.units] : [batch, this.units];
    return this.returnState ? [y, ...Array.from({ length: this.stateCount }, (): SymShape => [batch, this.units])] : y;
  }

  /** The sequence mask passes on with the sequence output; states and last outputs have none (Keras). */
  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    const m = this.returnSequences ? firstMask(mask) : null;
    return this.returnState ? [m, ...new Array<null>(this.stateCount).fill(null)] : m;
  }

  override dispose(): void {
    for (const s of this.heldStates ?? []) s.dispose();
    this.heldStates = undefined;
    super.dispose();
  }

  /** The config entries of every recurrent layer; LSTM and GRU add theirs. */
  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      recurrentInitializer: initializerConfig(this.recurrentInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      recurrentRegularizer: regularizerConfig(this.recurrentRegularizer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
      dropout: this.dropout,
      recurrentDropout: this.recurrentDropout,
      returnSequences: this.returnSequences,
      returnState: this.returnState,
      goBackwards: this.goBackwards,
      stateful: this.stateful,
      zeroOutputForMask: this.zeroOutputForMask,
      seed: this.seed,
    };
  }
}

export interface GatedRecurrentArgs extends RecurrentArgs {
  /** Activation of the gates. Default 'sigmoid'. */
  recurrentActivation?: string | null;
}

/** LSTM and GRU: a recurrent layer with gates, squashed by recurrentActivation. */
export abstract class GatedRecurrent extends Recurrent {
  readonly recurrentActivation: string;
  protected readonly recurrentActivationFn: ActivationFn;

  constructor(args: GatedRecurrentArgs, gates: number, stateCount: number) {
    super(args, gates, stateCount);
    const act = resolveActivation(args.recurrentActivation === undefined ? 'sigmoid' : args.recurrentActivation);
    this.recurrentActivation = act.name;
    this.recurrentActivationFn = act.fn;
  }

  /** Sigmoid gates and tanh activation: the cell step is one fused op (ops/families/recurrent.ts). */
  protected get standardActivations(): boolean {
    return this.activation === 'tanh' && this.recurrentActivation === 'sigmoid';
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), recurrentActivation: this.recurrentActivation };
  }
}
