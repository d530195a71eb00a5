// Wrappers around another layer: Bidirectional (recurrent layers) and TimeDistributed.
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { concat } from '../../ops/indexing.js';
import { flip, reshape } from '../../ops/views.js';
import { mixSeeds } from '../../ops/random.js';
import { ArgumentError } from '../../errors.js';
import {
  Layer,
  layerFromConfig,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import { firstMask, type MaskArg } from '../masking.js';
import { inputShapeError, oneInput, oneShape, who } from './common.js';
import { Recurrent } from './recurrent.js';
import { buildSublayer, childLayer, layerEntry, type LayerEntry } from './sublayers.js';

// Wrappers around another layer: Bidirectional runs a recurrent layer forwards and a copy backwards and
// merges the two; TimeDistributed applies a layer to every time step of [batch, time, ...] inputs.

export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave';

export interface BidirectionalArgs extends LayerArgs {
  /** The recurrent layer (or its saved entry); the wrapper runs two fresh copies made from its config. */
  layer: Recurrent | LayerEntry;
  /** How the two directions' outputs combine; null returns both. Default 'concat'. */
  mergeMode?: MergeMode | null;
}

export class Bidirectional extends Layer {
  static override readonly className: string = 'Bidirectional';
  readonly layer: LayerEntry;
  readonly mergeMode: MergeMode | null;
  readonly forwardLayer: Recurrent;
  readonly backwardLayer: Recurrent;
  override supportsMasking = true;

  constructor(args: BidirectionalArgs) {
    super(args);
    if (!args.layer) throw new ArgumentError(`${who(this)}: a recurrent layer to wrap is required`);
    this.layer = layerEntry(args.layer);
    const mode = args.mergeMode === undefined ? 'concat' : args.mergeMode;
    if (mode !== null && !['concat', 'sum', 'mul', 'ave'].includes(mode))
      throw new ArgumentError(
        `${who(this)}: mergeMode must be 'concat', 'sum', 'mul', 'ave' or null, got ${JSON.stringify(mode)}`,
      );
    this.mergeMode = mode;
    const inner = this.layer.config;
    // Keras: with returnSequences the masked steps of both directions output zeros, so that reversing the
    // backward sequence lines the padding up with the forward one. The backward copy gets its own seed.
    const overrides = { dtype: this.dtype, ...(inner.returnSequences ? { zeroOutputForMask: true } : {}) };
    this.forwardLayer = childLayer(this.name, `forward_${inner.name}`, this.layer, overrides);
    if (!(this.forwardLayer instanceof Recurrent))
      throw new ArgumentError(
        `${who(this)}: can only wrap a recurrent layer (SimpleRNN, LSTM, GRU), got ${this.layer.className}`,
      );
    this.backwardLayer = childLayer(this.name, `backward_${inner.name}`, this.layer, {
      ...overrides,
      goBackwards: !this.forwardLayer.goBackwards,
      seed: mixSeeds(this.forwardLayer.seed, 1),
    });
  }

  get returnSequences(): boolean {
    return this.forwardLayer.returnSequences;
  }
  get returnState(): boolean {
    return this.forwardLayer.returnState;
  }

  /** Inputs of each direction: the sequence, with that direction's half of the initial states if given. */
  private split<T>(list: readonly T[]): [T | T[], T | T[]] {
    const n = this.forwardLayer.stateCount;
    if (list.length === 1) return [list[0], list[0]];
    if (list.length !== 1 + 2 * n)
      throw new ArgumentError(
        `${who(this)} takes a sequence or [sequence, ...${n} forward and ${n} backward initial states], ` +
          `got a list of ${list.length}`,
      );
    return [
      [list[0], ...list.slice(1, 1 + n)],
      [list[0], ...list.slice(1 + n)],
    ];
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const [f, b] = this.split(Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : [inputShape as SymShape]);
    buildSublayer(this.forwardLayer, f);
    buildSublayer(this.backwardLayer, b);
  }

  private merge(f: Tensor, b: Tensor): Tensor {
    switch (this.mergeMode) {
      case 'concat':
        return concat([f, b], -1);
      case 'sum':
        return add(f, b);
      case 'mul':
        return mul(f, b);
      default:
        return mul(add(f, b), 0.5);
    }
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor | Tensor[] {
    const [fIn, bIn] = this.split(Array.isArray(inputs) ? inputs : [inputs]);
    const options = { ...ctx, mask: firstMask(mask) };
    const unpack = (y: Tensor | Tensor[]): Tensor[] => (Array.isArray(y) ? y : [y]);
    const [yf, ...statesF] = unpack(this.forwardLayer.apply(fIn, options));
    let [yb, ...statesB] = unpack(this.backwardLayer.apply(bIn, options));
    // The backward layer returns its sequence in processing order; reverse it to line up with time.
    if (this.returnSequences) yb = flip(yb, 1);
    const outputs = this.mergeMode === null ? [yf, yb] : [this.merge(yf, yb)];
    return this.returnState ? [...outputs, ...statesF, ...statesB] : this.mergeMode === null ? outputs : outputs[0];
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    const [f] = this.split(Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : [inputShape as SymShape]);
    const shapes = this.forwardLayer.computeOutputShape(f);
    const [y, ...states] = (this.returnState ? shapes : [shapes]) as SymShape[];
    const last = y[y.length - 1];
    const merged: SymShape[] =
      this.mergeMode === null
        ? [y, y]
        : [this.mergeMode === 'concat' ? [...y.slice(0, -1), last === null ? null : last * 2] : y];
    if (this.returnState) return [...merged, ...states, ...states];
    return this.mergeMode === null ? merged : merged[0];
  }

  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    const m = this.returnSequences ? firstMask(mask) : null;
    const outputs = this.mergeMode === null ? [m, m] : [m];
    if (this.returnState) return [...outputs, ...new Array<null>(2 * this.forwardLayer.stateCount).fill(null)];
    return this.mergeMode === null ? outputs : m;
  }

  /** Resets both directions' held states (stateful layers). */
  resetStates(): void {
    this.forwardLayer.resetStates();
    this.backwardLayer.resetStates();
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), layer: layerEntry(this.layer), mergeMode: this.mergeMode };
  }
}

export interface TimeDistributedArgs extends LayerArgs {
  /** The layer applied to each time step (kept as given; rebuilt from its entry when loading). */
  layer: Layer | LayerEntry;
}

/** [batch, time, ...] -> layer on [batch * time, ...] -> [batch, time, ...layer output]. */
export class TimeDistributed extends Layer {
  static override readonly className: string = 'TimeDistributed';
  readonly layer: Layer;
  override supportsMasking = true;

  constructor(args: TimeDistributedArgs) {
    super(args);
    if (!args.layer) throw new ArgumentError(`${who(this)}: a layer to wrap is required`);
    // Keras keeps the wrapped layer's own name (saved in its config), so its weights load by name.
    this.layer =
      args.layer instanceof Layer
        ? args.layer
        : layerFromConfig({ className: args.layer.className, config: { ...args.layer.config, dtype: this.dtype } });
  }

  /** The per-step shape [null, ...rest] of a [batch, time, ...rest] input. */
  private stepShape(shape: SymShape): SymShape {
    if (shape.length < 3)
      throw inputShapeError(this, '(None, time, ...)', shape, 'expected rank >= 3 (batch, time, ...)');
    return [shape[0] === null || shape[1] === null ? null : shape[0] * shape[1], ...shape.slice(2)];
  }

  override build(inputShape: SymShape | SymShape[]): void {
    buildSublayer(this.layer, this.stepShape(oneShape(this, inputShape)));
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    const [batch, time] = x.shape;
    this.stepShape(x.shape);
    const y = this.layer.apply(reshape(x, [batch * time, ...x.shape.slice(2)]), { ...ctx, mask: null });
    if (Array.isArray(y))
      throw new ArgumentError(
        `${who(this)}: the wrapped layer '${this.layer.name}' must have one output, got ${y.length}`,
      );
    return reshape(y, [batch, time, ...y.shape.slice(1)]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    const out = this.layer.computeOutputShape(this.stepShape(shape));
    if (Array.isArray(out[0]))
      throw new ArgumentError(`${who(this)}: the wrapped layer '${this.layer.name}' must have one output`);
    return [shape[0], shape[1], ...(out as SymShape).slice(1)];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), layer: layerEntry(this.layer) };
  }
}

registerLayer(Bidirectional);
registerLayer(TimeDistributed);
