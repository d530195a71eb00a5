// Positions for attention models: PositionalEncoding (sinusoids) and PositionEmbedding (learnt).
import type { Tensor } from '../../tensor/tensor.js';
import { add } from '../../ops/elementwise.js';
import { tensor } from '../../ops/creation.js';
import { slice } from '../../ops/views.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { asLayerDType, initializerConfig, inputShapeError, oneInput, oneShape, positiveInt, who } from './common.js';

// Position information for attention models, added to [batch, time, features] inputs: PositionalEncoding
// (fixed sinusoids, Vaswani et al. 2017) and PositionEmbedding (a learnt [sequenceLength, features] table).
// Both return inputs + positions (KerasNLP's layers return the positions alone); encoding(length, start)
// gives the positions themselves, e.g. for one new token at `start` during cached generation.

/** Rank-3 input check shared by both layers; returns the shape. */
function sequenceInput(layer: Layer, shape: SymShape): SymShape {
  if (shape.length !== 3)
    throw inputShapeError(layer, '(None, time, features)', shape, 'expected rank 3 (batch, time, features)');
  return shape;
}

function checkStart(layer: Layer, length: number, start: number): void {
  if (!Number.isInteger(length) || length < 1 || !Number.isInteger(start) || start < 0) {
    throw new ArgumentError(
      `${who(layer)}: encoding(length, start) needs a positive length and a non-negative start, ` +
        `got ${length}, ${start}`,
    );
  }
}

export interface PositionalEncodingArgs extends LayerArgs {
  /** The longest wavelength, 10000 in the paper. */
  maxWavelength?: number;
}

/**
 * PE[p, 2i] = sin(p / maxWavelength^(2i/d)), PE[p, 2i+1] = cos(same angle), for position p and feature
 * pair i of d features; no weights, any length.
 */
export class PositionalEncoding extends Layer {
  static override readonly className: string = 'PositionalEncoding';
  readonly maxWavelength: number;
  override supportsMasking = true;

  constructor(args: PositionalEncodingArgs = {}) {
    super(args);
    this.maxWavelength = args.maxWavelength ?? 10000;
    if (!(this.maxWavelength > 0))
      throw new ArgumentError(`${who(this)}: maxWavelength must be positive, got ${this.maxWavelength}`);
  }

  /** The encodings of positions start .. start + length - 1: [length, features], computed on the host in float64. */
  encoding(length: number, features: number, start = 0): Tensor {
    checkStart(this, length, start);
    const pe = new Float64Array(length * features);
    for (let p = 0; p < length; p++) {
      for (let j = 0; j < features; j++) {
        // Features 2i and 2i+1 share the timescale maxWavelength^(2i/d).
        const angle = (start + p) / this.maxWavelength ** ((2 * Math.floor(j / 2)) / features);
        pe[p * features + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      }
    }
    return tensor(pe, [length, features], this.dtype);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    sequenceInput(this, x.shape);
    return add(x, this.encoding(x.shape[1], x.shape[2]));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return sequenceInput(this, oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), maxWavelength: this.maxWavelength };
  }
}

export interface PositionEmbeddingArgs extends LayerArgs {
  /** The longest sequence: the table has one learnt row per position. */
  sequenceLength: number;
  /** Default 'glorotUniform' (KerasNLP). */
  initializer?: InitializerSpec;
}

export class PositionEmbedding extends Layer {
  static override readonly className: string = 'PositionEmbedding';
  readonly sequenceLength: number;
  readonly initializer: Initializer;
  override supportsMasking = true;
  /** Made by build(): [sequenceLength, features]. */
  embeddings?: Variable;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    this.sequenceLength = positiveInt(this, 'sequenceLength', args.sequenceLength);
    this.initializer = getInitializer(args.initializer ?? 'glorotUniform');
  }

  private checkInput(shape: SymShape): void {
    sequenceInput(this, shape);
    const features = this.embeddings?.shape[1];
    const expected = `(None, <= ${this.sequenceLength}, ${features ?? 'features'})`;
    if (shape[1] !== null && shape[1] > this.sequenceLength)
      throw inputShapeError(
        this,
        expected,
        shape,
        `sequences may be at most sequenceLength ${this.sequenceLength} long`,
      );
    if (features !== undefined && shape[2] !== null && shape[2] !== features)
      throw inputShapeError(this, expected, shape, `the last dimension must be ${features}`);
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    if (shape[2] === null)
      throw new ShapeError(
        `${who(this)}: the feature dimension of the input must be known, got ${formatSymShape(shape)}`,
      );
    this.embeddings = this.addWeight('embeddings', [this.sequenceLength, shape[2]], this.initializer);
  }

  /** Rows start .. start + length - 1 of the table: [length, features] (a view, differentiable). */
  encoding(length: number, start = 0): Tensor {
    checkStart(this, length, start);
    if (!this.embeddings)
      throw new ArgumentError(`${who(this)}: encoding() needs the layer built (call it on an input first)`);
    if (start + length > this.sequenceLength)
      throw new ArgumentError(
        `${who(this)}: positions ${start}..${start + length - 1} exceed sequenceLength ${this.sequenceLength}`,
      );
    return slice(this.embeddings.value, [start, 0], [length, -1]);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    return add(x, this.encoding(x.shape[1]));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      sequenceLength: this.sequenceLength,
      initializer: initializerConfig(this.initializer),
    };
  }
}

registerLayer(PositionalEncoding);
registerLayer(PositionEmbedding);
