// Tensor: a shape, a dtype and a strided view into a reference-counted backend buffer.
import { DisposedError, ArgumentError, fmtShape } from '../errors.js';
import type { DType, TypedArray } from './dtype.js';
import { allocArray, dtypeOfArray } from './dtype.js';
import { getBackend } from '../backends/backend.js';
import { contiguousStrides, isContiguous, sizeOf, type Shape } from './shape.js';
import { Storage, outsideScopes, ownedBy, trackTensor, untrackTensor, type Disposable } from './storage.js';
import { formatTensor } from './format.js';
import * as ops from '../ops/index.js';

let nextId = 1;

export type NestedArray = number | boolean | NestedArray[];

export class Tensor {
  readonly id = nextId++;
  /** Identity on an autograd tape: the same as `id` except for aliases the tape saves. */
  readonly key = this.id;
  readonly size: number;
  private disposed = false;
  /** @internal Whether the finalization safety net holds this tensor (see storage.ts). */
  guarded = false;

  /** Internal: use the creation functions (tensor, zeros, ...) instead. */
  constructor(
    readonly storage: Storage,
    readonly shape: Shape,
    readonly strides: Shape = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    this.size = sizeOf(shape);
    trackTensor(this, storage);
  }

  get dtype(): DType {
    return this.storage.dtype;
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** True when this view walks its buffer in row-major order from `offset` with no gaps. */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    untrackTensor(this, this.storage);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  assertLive(op: string): void {
    if (this.disposed)
      throw new DisposedError(`${op}: tensor #${this.id} ${fmtShape(this.shape)} ${this.dtype} was disposed`);
  }

  /** A fresh copy of the elements in row-major order. */
  dataSync(): TypedArray {
    this.assertLive('dataSync');
    if (this.isContiguous) {
      const all = this.storage.backend.read(this.storage.buffer, this.dtype, this.storage.size);
      return all.slice(this.offset, this.offset + this.size);
    }
    const c = ops.contiguous(this);
    try {
      return c.dataSync();
    } finally {
      c.dispose();
    }
  }

  async data(): Promise<TypedArray> {
    return this.dataSync();
  }

  /** Nested JS arrays; bool tensors give booleans. */
  toArray(): NestedArray {
    const flat = this.dataSync();
    const asBool = this.dtype === 'bool';
    const build = (dim: number, start: number): NestedArray => {
      if (dim === this.rank) return asBool ? flat[start] !== 0 : flat[start];
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, start + i * step));
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor, read in place (fit reads each step's loss: no copy, no array made). */
  item(): number {
    this.assertLive('item');
    if (this.size !== 1)
      throw new ArgumentError(`item: expected a tensor with one element, got shape ${fmtShape(this.shape)}`);
    return this.storage.backend.read(this.storage.buffer, this.dtype, this.storage.size)[this.offset];
  }

  toString(): string {
    if (this.disposed) return `Tensor(disposed, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
    return formatTensor(this.dataSync(), this.shape, this.dtype);
  }

  // Chainable sugar over ops/. Each method is the op of the same name with this tensor first.
  add(b: Tensor | number) {
    return ops.add(this, b);
  }
  sub(b: Tensor | number) {
    return ops.sub(this, b);
  }
  mul(b: Tensor | number) {
    return ops.mul(this, b);
  }
  div(b: Tensor | number) {
    return ops.div(this, b);
  }
  pow(b: Tensor | number) {
    return ops.pow(this, b);
  }
  neg() {
    return ops.neg(this);
  }
  exp() {
    return ops.exp(this);
  }
  log() {
    return ops.log(this);
  }
  sqrt() {
    return ops.sqrt(this);
  }
  square() {
    return ops.square(this);
  }
  abs() {
    return ops.abs(this);
  }
  relu() {
    return ops.relu(this);
  }
  sigmoid() {
    return ops.sigmoid(this);
  }
  tanh() {
    return ops.tanh(this);
  }
  matmul(b: Tensor) {
    return ops.matmul(this, b);
  }
  sum(axes?: number | number[], keepDims = false) {
    return ops.sum(this, axes, keepDims);
  }
  mean(axes?: number | number[], keepDims = false) {
    return ops.mean(this, axes, keepDims);
  }
  max(axes?: number | number[], keepDims = false) {
    return ops.max(this, axes, keepDims);
  }
  min(axes?: number | number[], keepDims = false) {
    return ops.min(this, axes, keepDims);
  }
  argmax(axis = -1) {
    return ops.argmax(this, axis);
  }
  reshape(shape: readonly number[]) {
    return ops.reshape(this, shape);
  }
  transpose(axes?: readonly number[]) {
    return ops.transpose(this, axes);
  }
  expand(shape: readonly number[]) {
    return ops.expand(this, shape);
  }
  squeeze(axes?: number | number[]) {
    return ops.squeeze(this, axes);
  }
  unsqueeze(axis: number) {
    return ops.unsqueeze(this, axis);
  }
  cast(dtype: DType) {
    return ops.cast(this, dtype);
  }
  clone() {
    return ops.copy(this);
  }
}

/** Wraps a freshly made typed array (taken over, not copied) as a tensor on the current backend. */
export function fromTypedArray(data: TypedArray, shape: Shape, backend = getBackend()): Tensor {
  const storage = new Storage(backend, backend.adopt(data), dtypeOfArray(data), data.length);
  return new Tensor(storage, shape);
}

/**
 * A new tensor whose elements `fill` writes into a fresh buffer of the backend: on the native backend that is
 * native memory, so a large array (a data set) is neither made on the JS heap nor copied. fill writes every element.
 */
export function filledTensor(
  dtype: DType,
  shape: Shape,
  fill: (data: TypedArray) => void,
  backend = getBackend(),
): Tensor {
  const size = sizeOf(shape);
  const buffer = backend.allocOutput ? backend.allocOutput(dtype, size) : backend.alloc(dtype, size);
  try {
    fill(backend.read(buffer, dtype, size));
  } catch (e) {
    backend.free(buffer);
    throw e;
  }
  return new Tensor(new Storage(backend, buffer, dtype, size), [...shape]);
}

/**
 * A view of `source`'s buffer with its own lifetime; `key` ties it to the tensor it stands for on a tape.
 * It belongs to `owner` (which disposes it) when given, else to no scope.
 */
export function aliasOf(source: Tensor, owner?: Set<Disposable>): Tensor {
  const make = () => new Tensor(source.storage, source.shape, source.strides, source.offset);
  const t = owner ? ownedBy(owner, make) : outsideScopes(make);
  (t as { key: number }).key = source.key;
  return t;
}

export function zerosArray(dtype: DType, shape: Shape): TypedArray {
  return allocArray(dtype, sizeOf(shape));
}
