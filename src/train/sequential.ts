// Sequential: a plain stack of single-input, single-output layers. Once the input shape is known (the
// first layer's inputShape, an InputLayer, or the first call's input), each layer is built at once, so
// summary() shows shapes and the saved config rebuilds the model with its weights.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import {
  Layer,
  SymbolicTensor,
  layerFromConfig,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../nn/layer.js';
import type { DType } from '../tensor/dtype.js';
import { InputLayer, input } from '../nn/input.js';
import { Model } from './model.js';
import type { StringTensor } from '../nn/preprocessing/string-tensor.js';

/** The InputLayer behind an input() placeholder given to a Sequential; other symbolic tensors are refused. */
function inputLayerOf(model: string, t: SymbolicTensor): InputLayer {
  const layer = t.node?.layer;
  if (!(layer instanceof InputLayer))
    throw new ArgumentError(
      `Sequential '${model}': takes layers and, first, an input({ shape }) placeholder; got the symbolic ` +
        `output '${t.name}' of a layer (build a functional Model for that)`,
    );
  return layer;
}

export class Sequential extends Model {
  static override readonly className: string = 'Sequential';
  private readonly stack: Layer[] = [];
  /** The symbolic input once the input shape is known, and the output of the last layer added. */
  private symbolicInput?: SymbolicTensor;
  private symbolic?: SymbolicTensor;

  /** Layers in order; the first may be an `input({ shape })` placeholder, as `keras.Input` in Keras. */
  constructor(layersOrArgs: (Layer | SymbolicTensor)[] | (LayerArgs & { layers?: (Layer | SymbolicTensor)[] }) = []) {
    const args = Array.isArray(layersOrArgs) ? {} : layersOrArgs;
    super({ name: args.name, trainable: args.trainable });
    for (const l of Array.isArray(layersOrArgs) ? layersOrArgs : (args.layers ?? [])) this.add(l);
  }

  /** Appends a layer; an InputLayer or the placeholder input() returns may only come first. */
  add(layerOrInput: Layer | SymbolicTensor): void {
    const layer = layerOrInput instanceof SymbolicTensor ? inputLayerOf(this.name, layerOrInput) : layerOrInput;
    if (layer instanceof InputLayer) {
      if (this.stack.length > 0)
        throw new ArgumentError(`Sequential '${this.name}': an InputLayer can only come first`);
      this.symbolic = this.symbolicInput = layer.output;
      return;
    }
    if (this.stack.length === 0 && !this.symbolic && layer.batchInputShape) {
      this.symbolic = this.symbolicInput = input({
        shape: layer.batchInputShape.slice(1),
        batchSize: layer.batchInputShape[0] ?? undefined,
        dtype: layer.dtype,
      });
    }
    if (this.symbolic) {
      const out = layer.apply(this.symbolic);
      if (Array.isArray(out))
        throw new ArgumentError(
          `Sequential '${this.name}': layer '${layer.name}' has several outputs; use the functional API`,
        );
      this.symbolic = out;
      this.built = true;
    }
    this.stack.push(layer);
  }

  /** Removes the last layer. */
  pop(): Layer {
    const layer = this.stack.pop();
    if (!layer) throw new ArgumentError(`Sequential '${this.name}': no layers to pop`);
    this.symbolic = this.stack.length
      ? (this.stack[this.stack.length - 1].inboundNodes.at(-1)?.outputs[0] ?? this.symbolic)
      : this.symbolicInput;
    return layer;
  }

  override get layers(): Layer[] {
    return [...this.stack];
  }

  override get isFunctional(): boolean {
    return false;
  }

  /** The input placeholder once the input shape is known (Keras' model.input); undefined before. */
  override get input(): SymbolicTensor | undefined {
    return this.symbolicInput;
  }

  /** The last layer's output once the input shape is known (Keras' model.output). */
  override get output(): SymbolicTensor {
    if (!this.symbolic || this.stack.length === 0)
      throw new ArgumentError(
        `Sequential '${this.name}' has no output yet: ` +
          (this.stack.length === 0
            ? 'it has no layers'
            : 'its input shape is unknown (give the first layer inputShape, or call or build the model)'),
      );
    return this.symbolic;
  }

  override call(inputs: Tensor | Tensor[] | StringTensor, ctx: CallContext): Tensor | Tensor[] {
    if (this.stack.length === 0) throw new ArgumentError(`Sequential '${this.name}': the model has no layers`);
    if (!this.symbolicInput && !Array.isArray(inputs)) this.buildFrom(inputs.shape);
    // The first layer may take raw text (a StringTensor); what any layer returns is tensors.
    let x = this.stack[0].apply(inputs, ctx);
    for (const layer of this.stack.slice(1)) x = layer.apply(x, ctx);
    this.built = true;
    return x;
  }

  /**
   * Keras' model.build(inputShape): builds the layers for inputs of this shape, batch axis first (null: any),
   * as the first call would (without it a model with no input shape has no weights until it is called).
   */
  override build(inputShape: SymShape | SymShape[]): void {
    const nested = inputShape.length > 0 && inputShape.every((d) => Array.isArray(d));
    if (nested || inputShape.length === 0)
      throw new ArgumentError(
        `Sequential '${this.name}': build() takes one input shape with the batch axis first, e.g. [null, 784]; ` +
          `got ${JSON.stringify(inputShape)}`,
      );
    if (this.stack.length === 0) throw new ArgumentError(`Sequential '${this.name}': the model has no layers`);
    if (!this.symbolicInput) this.buildFrom(inputShape as readonly number[]);
    this.built = true;
  }

  /**
   * Keras' deferred build: the first call fixes the input shape (batch left free) and the layers are
   * built on it symbolically, so summary() shows output shapes and getConfig() records the shape.
   */
  private buildFrom(shape: readonly number[]): void {
    const first = this.stack[0];
    const start = input({ shape: shape.slice(1), dtype: first.dtype });
    let sym: SymbolicTensor = start;
    for (const layer of this.stack) {
      const out: SymbolicTensor | SymbolicTensor[] = layer.apply(sym);
      if (Array.isArray(out))
        throw new ArgumentError(
          `Sequential '${this.name}': layer '${layer.name}' has several outputs; use the functional API`,
        );
      sym = out;
    }
    this.symbolicInput = start;
    this.symbolic = sym;
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    let shape = inputShape;
    for (const layer of this.stack) shape = layer.computeOutputShape(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    const layers = this.stack.map((l) => ({ className: l.className, config: l.getConfig() }));
    // The input shape when the first layer does not carry it (an InputLayer, or learnt at the first
    // call), so that fromConfig builds the layers and a saved model's weights have somewhere to go.
    // An input of another dtype than the first layer's (int32 token ids) keeps it too.
    const start = this.symbolicInput && !this.stack[0]?.batchInputShape ? this.symbolicInput : undefined;
    return {
      name: this.name,
      trainable: this.trainable,
      layers,
      ...(start ? { buildInputShape: [...start.shape] } : {}),
      ...(start && start.dtype !== this.stack[0]?.dtype ? { buildInputDType: start.dtype } : {}),
    };
  }

  static override fromConfig<T extends Layer>(this: new (args: never) => T, config: LayerConfig): T {
    const entries = config.layers as { className: string; config: LayerConfig }[];
    const shape = config.buildInputShape as SymShape | undefined;
    const layers = entries.map(layerFromConfig);
    const dtype = (config.buildInputDType as DType | undefined) ?? layers[0]?.dtype;
    if (shape) layers.unshift(new InputLayer({ batchInputShape: shape, dtype }));
    return new this({ name: config.name, trainable: config.trainable, layers } as never);
  }
}
registerLayer(Sequential);
