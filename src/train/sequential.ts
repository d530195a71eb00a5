// Sequential: a plain stack of single-input, single-output layers. Once the input shape is known (the
// first layer's inputShape), each added layer is built at once, so summary() works before any data.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { Layer, SymbolicTensor, layerFromConfig, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../nn/layer.js';
import { InputLayer, input } from '../nn/input.js';
import { Model } from './model.js';

export class Sequential extends Model {
  static override readonly className: string = 'Sequential';
  private readonly stack: Layer[] = [];
  private symbolic?: SymbolicTensor;

  constructor(layersOrArgs: Layer[] | (LayerArgs & { layers?: Layer[] }) = []) {
    const args = Array.isArray(layersOrArgs) ? {} : layersOrArgs;
    super({ name: args.name, trainable: args.trainable });
    for (const l of Array.isArray(layersOrArgs) ? layersOrArgs : args.layers ?? []) this.add(l);
  }

  add(layer: Layer): void {
    if (layer instanceof InputLayer) {
      if (this.stack.length > 0) throw new ArgumentError(`Sequential '${this.name}': an InputLayer can only come first`);
      this.symbolic = layer.output;
      return;
    }
    if (this.stack.length === 0 && !this.symbolic && layer.batchInputShape) {
      this.symbolic = input({ shape: layer.batchInputShape.slice(1), batchSize: layer.batchInputShape[0] ?? undefined, dtype: layer.dtype });
    }
    if (this.symbolic) {
      const out = layer.apply(this.symbolic);
      if (Array.isArray(out)) throw new ArgumentError(`Sequential '${this.name}': layer '${layer.name}' has several outputs; use the functional API`);
      this.symbolic = out;
      this.built = true;
    }
    this.stack.push(layer);
  }

  /** Removes the last layer. */
  pop(): Layer {
    const layer = this.stack.pop();
    if (!layer) throw new ArgumentError(`Sequential '${this.name}': no layers to pop`);
    this.symbolic = this.stack.length ? (this.stack[this.stack.length - 1].inboundNodes.at(-1)?.outputs[0] ?? this.symbolic) : undefined;
    return layer;
  }

  override get layers(): Layer[] {
    return [...this.stack];
  }

  override get isFunctional(): boolean {
    return false;
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor | Tensor[] {
    if (this.stack.length === 0) throw new ArgumentError(`Sequential '${this.name}': the model has no layers`);
    let x = inputs;
    for (const layer of this.stack) x = layer.apply(x, ctx);
    this.built = true;
    return x;
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    let shape = inputShape;
    for (const layer of this.stack) shape = layer.computeOutputShape(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return {
      name: this.name,
      trainable: this.trainable,
      layers: this.stack.map((l) => ({ className: l.className, config: l.getConfig() })),
    };
  }

  static override fromConfig<T extends Layer>(this: new (args: never) => T, config: LayerConfig): T {
    const entries = config.layers as { className: string; config: LayerConfig }[];
    return new this({ name: config.name, trainable: config.trainable, layers: entries.map(layerFromConfig) } as never);
  }
}
registerLayer(Sequential);
