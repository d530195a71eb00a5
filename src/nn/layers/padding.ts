// Zero padding and cropping of the spatial axes, channels last: ZeroPadding1D / 2D and Cropping1D / 2D.
// Amounts are stored as Keras does: [before, after] per spatial axis.
import type { Tensor } from '../../tensor/tensor.js';
import { pad } from '../../ops/indexing.js';
import { slice } from '../../ops/views.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { inputShapeError, oneInput, oneShape, who } from './common.js';

/** An amount for every side, one per axis (both sides), or [before, after] per axis (2-D only). */
export type SpatialAmounts = number | readonly number[] | readonly (readonly number[])[];

const isAmount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * Normalizes Keras' padding / cropping forms to [before, after] per spatial axis: n; in 1-D [before, after];
 * in 2-D [h, w] (both sides) or [[top, bottom], [left, right]].
 */
function amounts(layer: Layer, arg: string, value: SpatialAmounts, rank: 1 | 2): [number, number][] {
  const fail = () =>
    new ArgumentError(
      `${who(layer)}: ${arg} must be a non-negative integer, ` +
        (rank === 1 ? '[before, after]' : '[h, w] or [[top, bottom], [left, right]]') +
        `, got ${JSON.stringify(value)}`,
    );
  if (isAmount(value)) return Array.from({ length: rank }, () => [value, value]);
  if (!Array.isArray(value) || value.length !== 2) throw fail();
  if (rank === 1) {
    if (!value.every(isAmount)) throw fail();
    return [[value[0] as number, value[1] as number]];
  }
  if (value.every(isAmount)) return (value as number[]).map((v) => [v, v]);
  const pairs = value as unknown[];
  if (!pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every(isAmount))) throw fail();
  return (pairs as number[][]).map(([a, b]) => [a, b]);
}

/** Pads or crops the spatial axes of [batch, ...spatial, channels] by fixed amounts. */
abstract class SpatialResize extends Layer {
  protected readonly amounts: [number, number][];

  constructor(
    args: LayerArgs,
    value: SpatialAmounts,
    private readonly arg: 'padding' | 'cropping',
    private readonly rank: 1 | 2,
  ) {
    super(args);
    this.amounts = amounts(this, arg, value, rank);
  }

  /** +1 for padding (adds the amounts), -1 for cropping. */
  protected abstract get sign(): 1 | -1;

  private checkInput(shape: SymShape): SymShape {
    const spatial = this.rank === 1 ? 'steps' : 'H, W';
    if (shape.length !== this.rank + 2)
      throw inputShapeError(
        this,
        `(None, ${spatial}, channels)`,
        shape,
        `expected rank ${this.rank + 2}, channels last`,
      );
    const out = this.amounts.map(([a, b], i) => {
      const d = shape[i + 1];
      return d === null ? null : d + this.sign * (a + b);
    });
    if (out.some((d) => d !== null && d < 1))
      throw inputShapeError(
        this,
        `(None, ${spatial}, channels)`,
        shape,
        `cropping ${JSON.stringify(this.amounts)} leaves nothing`,
      );
    return [shape[0], ...out, shape[shape.length - 1]];
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    const out = this.checkInput(x.shape) as number[];
    if (this.sign > 0) return pad(x, [[0, 0], ...this.amounts, [0, 0]]);
    return slice(x, [0, ...this.amounts.map(([a]) => a), 0], out);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), [this.arg]: this.amounts.map(([a, b]) => [a, b]) };
  }
}

export interface ZeroPadding1DArgs extends LayerArgs {
  /** Steps of zeros at the start and end: n or [before, after]; default 1. */
  padding?: SpatialAmounts;
}

export interface ZeroPadding2DArgs extends LayerArgs {
  /** n, [h, w] or [[top, bottom], [left, right]]; default 1. */
  padding?: SpatialAmounts;
}

export interface Cropping1DArgs extends LayerArgs {
  /** Steps removed at the start and end: n or [before, after]; default 1. */
  cropping?: SpatialAmounts;
}

export interface Cropping2DArgs extends LayerArgs {
  /** n, [h, w] or [[top, bottom], [left, right]]; default 0. */
  cropping?: SpatialAmounts;
}

/** Zeros before and after the steps of [batch, steps, channels]. */
export class ZeroPadding1D extends SpatialResize {
  static override readonly className: string = 'ZeroPadding1D';
  constructor(args: ZeroPadding1DArgs = {}) {
    super(args, args.padding ?? 1, 'padding', 1);
  }
  protected override get sign(): 1 {
    return 1;
  }
  override getConfig(): LayerConfig {
    return { ...super.getConfig(), padding: [...this.amounts[0]] };
  }
}

/** Zero rows and columns around [batch, H, W, channels]. */
export class ZeroPadding2D extends SpatialResize {
  static override readonly className: string = 'ZeroPadding2D';
  constructor(args: ZeroPadding2DArgs = {}) {
    super(args, args.padding ?? 1, 'padding', 2);
  }
  protected override get sign(): 1 {
    return 1;
  }
}

/** Removes steps at the start and end of [batch, steps, channels]. */
export class Cropping1D extends SpatialResize {
  static override readonly className: string = 'Cropping1D';
  constructor(args: Cropping1DArgs = {}) {
    super(args, args.cropping ?? 1, 'cropping', 1);
  }
  protected override get sign(): -1 {
    return -1;
  }
  override getConfig(): LayerConfig {
    return { ...super.getConfig(), cropping: [...this.amounts[0]] };
  }
}

/** Removes rows and columns at the edges of [batch, H, W, channels]. */
export class Cropping2D extends SpatialResize {
  static override readonly className: string = 'Cropping2D';
  constructor(args: Cropping2DArgs = {}) {
    super(args, args.cropping ?? 0, 'cropping', 2);
  }
  protected override get sign(): -1 {
    return -1;
  }
}

registerLayer(ZeroPadding1D);
registerLayer(ZeroPadding2D);
registerLayer(Cropping1D);
registerLayer(Cropping2D);
