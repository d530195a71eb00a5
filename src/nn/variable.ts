// Variable: a named, mutable slot holding a tensor (a layer weight or optimizer state). assign() swaps
// the tensor and frees the old one; the held tensor never belongs to a scope, so tidy cannot free it.
import type { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/storage.js';
import { ShapeError, fmtShape } from '../errors.js';
import { shapesEqual } from '../tensor/shape.js';
import { tracing, variableOfBuffer } from '../ops/trace.js';
import type { Regularizer } from './regularizers.js';

export class Variable {
  private current: Tensor;

  constructor(
    readonly name: string,
    value: Tensor,
    public trainable = true,
    readonly regularizer?: Regularizer,
  ) {
    this.current = keep(value);
    variableOfBuffer.set(value.storage.buffer as object, this);
  }

  get value(): Tensor {
    return this.current;
  }
  get shape(): readonly number[] {
    return this.current.shape;
  }
  get dtype() {
    return this.current.dtype;
  }

  /** Replaces the value (same shape); the old tensor is disposed unless it is the new one. */
  assign(value: Tensor): void {
    if (!shapesEqual(value.shape, this.current.shape)) {
      throw new ShapeError(
        `Variable '${this.name}': cannot assign shape ${fmtShape(value.shape)} ` +
          `to a variable of shape ${fmtShape(this.current.shape)}`,
      );
    }
    if (value === this.current) return;
    tracing?.assignedVariables.add(this);
    const old = this.current;
    this.current = keep(value);
    variableOfBuffer.set(value.storage.buffer as object, this);
    old.dispose();
  }

  dispose(): void {
    this.current.dispose();
  }
}
