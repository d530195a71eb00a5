// The one dispatch point: every kernel call passes through here, on its way to the current backend.
// It infers the output, broadcasts and materialises inputs, allocates the output (one per result of an op
// with several), times the kernel when anyone listens, reports the call to hooks (ledger, profiler, NaN
// checks), records it on the tape, and into the trace of a step being compiled (trace.ts).
import { getBackend, type Backend, type Kernel, type KernelArg, type MultiKernel } from '../backends/backend.js';
import { BackendError, CandorError, fmtShape } from '../errors.js';
import { bytesPerElement, type DType } from '../tensor/dtype.js';
import { contiguousStrides, shapesEqual, sizeOf, type Shape } from '../tensor/shape.js';
import { allocationError, Storage } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import { record } from '../autograd/tape.js';
import { tracing } from './trace.js';
import { PRIMITIVES, type PrimitiveName, type PrimitiveParams, type ShapeDType } from './primitives.js';
import type { FusedName, FusedParams } from './families/index.js';

export interface KernelEvent {
  readonly op: PrimitiveName | FusedName;
  readonly fused: boolean;
  readonly backend: string;
  readonly inputs: readonly ShapeDType[];
  /** The (first) result. */
  readonly output: ShapeDType;
  /** Every result: [output], or several for a fused op with several results. */
  readonly outputs: readonly ShapeDType[];
  readonly flops: number;
  /** Bytes read from inputs plus bytes written to the outputs. */
  readonly bytes: number;
  readonly ms: number;
  /** Reads result `index`'s elements (for NaN checks); valid only during the hook call. */
  readOutput(index?: number): ArrayLike<number>;
}

export type KernelHook = (event: KernelEvent) => void;

const hooks = new Set<KernelHook>();

/** Subscribes to every kernel call; returns the unsubscribe function. */
export function onKernel(hook: KernelHook): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/**
 * What a meter needs of a kernel call, as arguments rather than an event: counting a call (a training step makes
 * dozens) then allocates nothing, where a KernelEvent is an object and a closure per call.
 */
export type KernelCounter = (
  op: string,
  fused: boolean,
  backend: string,
  flops: number,
  bytes: number,
  ms: number,
) => void;

const counters = new Set<KernelCounter>();

/** Subscribes a counter to every kernel call (the ledger's meters); returns the unsubscribe function. */
export function onKernelCount(counter: KernelCounter): () => void {
  counters.add(counter);
  return () => counters.delete(counter);
}

/** Whether anything listens to kernel calls (hooks or counters): a compiled step then times and reports each. */
export function kernelListeners(): boolean {
  return hooks.size > 0 || counters.size > 0;
}

/** Whether full-event hooks listen (a compiled step cannot give them its calls' events, so it runs eagerly). */
export function kernelHooks(): boolean {
  return hooks.size > 0;
}

/** Reports a kernel call that ran outside the dispatch point (a compiled step's replay) to the counters. */
export function reportKernel(op: string, fused: boolean, backend: string, flops: number, bytes: number, ms: number) {
  for (const count of counters) count(op, fused, backend, flops, bytes, ms);
}

function bytesOf(x: ShapeDType): number {
  return sizeOf(x.shape) * bytesPerElement(x.dtype);
}

/** Calls one kernel on raw arguments; allocates and returns the output buffer. */
function invoke<Params>(
  backend: Backend,
  op: PrimitiveName | FusedName,
  fused: boolean,
  kernel: Kernel<Params>,
  args: readonly KernelArg[],
  outInfo: ShapeDType,
  outStrides: Shape,
  params: Params,
  flops: (out: ShapeDType) => number,
  bytes: (out: ShapeDType) => number = (out) => args.reduce((s, a) => s + bytesOf(a), bytesOf(out)),
): unknown {
  const size = sizeOf(outInfo.shape);
  const buffer = allocFor(backend, op, outInfo, size);
  const out: KernelArg = { buffer, dtype: outInfo.dtype, shape: outInfo.shape, strides: outStrides, offset: 0 };
  try {
    if (hooks.size === 0 && counters.size === 0 && !tracing) {
      kernel(args, out, params);
      return buffer;
    }
    const t0 = performance.now();
    kernel(args, out, params);
    const ms = performance.now() - t0;
    const f = flops(outInfo),
      b = bytes(outInfo);
    tracing?.record(op, fused, kernel as never, false, args, [out], params, f, b);
    for (const count of counters) count(op, fused, backend.name, f, b, ms);
    if (hooks.size === 0) return buffer;
    const event: KernelEvent = {
      op,
      fused,
      backend: backend.name,
      inputs: args,
      output: outInfo,
      outputs: [outInfo],
      flops: f,
      bytes: b,
      ms,
      readOutput: () => backend.read(buffer, outInfo.dtype, size),
    };
    for (const hook of hooks) hook(event);
    return buffer;
  } catch (e) {
    backend.free(buffer);
    throw kernelFailure(op, backend, args, e);
  }
}

/** An output buffer of `size` elements, or a typed error naming the op when the backend has no memory. */
function allocFor(backend: Backend, op: string, info: ShapeDType, size: number): unknown {
  try {
    return backend.allocOutput ? backend.allocOutput(info.dtype, size) : backend.alloc(info.dtype, size);
  } catch (e) {
    throw allocationError(`${op} on backend '${backend.name}'`, info.dtype, info.shape, e);
  }
}

/** A kernel's error as a CandorError naming the op, the backend and the inputs. */
function kernelFailure(op: string, backend: Backend, args: readonly KernelArg[], e: unknown): CandorError {
  if (e instanceof CandorError) return e;
  return new BackendError(
    `${op} on backend '${backend.name}' failed for inputs ` +
      `${args.map((a) => `${a.dtype} ${fmtShape(a.shape)}`).join(', ')}: ${(e as Error).message}`,
  );
}

/** Calls a kernel with several results on raw arguments; allocates and returns one output per result. */
function invokeMulti<Params>(
  backend: Backend,
  op: FusedName,
  kernel: MultiKernel<Params>,
  args: readonly KernelArg[],
  infos: readonly ShapeDType[],
  params: Params,
  flops: number,
): KernelArg[] {
  const outs: KernelArg[] = [];
  try {
    for (const info of infos) {
      const buffer = allocFor(backend, op, info, sizeOf(info.shape));
      outs.push({ buffer, dtype: info.dtype, shape: info.shape, strides: contiguousStrides(info.shape), offset: 0 });
    }
    if (hooks.size === 0 && counters.size === 0 && !tracing) {
      kernel(args, outs, params);
      return outs;
    }
    const t0 = performance.now();
    kernel(args, outs, params);
    const ms = performance.now() - t0;
    const bytes = [...args, ...infos].reduce((s, a) => s + bytesOf(a), 0);
    tracing?.record(op, true, kernel as never, true, args, outs, params, flops, bytes);
    for (const count of counters) count(op, true, backend.name, flops, bytes, ms);
    if (hooks.size === 0) return outs;
    const event: KernelEvent = {
      op,
      fused: true,
      backend: backend.name,
      inputs: args,
      output: infos[0],
      outputs: infos,
      flops,
      bytes,
      ms,
      readOutput: (i = 0) => backend.read(outs[i].buffer, infos[i].dtype, sizeOf(infos[i].shape)),
    };
    for (const hook of hooks) hook(event);
    return outs;
  } catch (e) {
    for (const o of outs) backend.free(o.buffer);
    throw kernelFailure(op, backend, args, e);
  }
}

function argOf(t: Tensor, backend: Backend, shape: Shape = t.shape, strides: Shape = t.strides): KernelArg {
  return { buffer: t.storage.buffer, dtype: t.dtype, shape, strides, offset: t.offset };
}

/** Strides that read `t` as if expanded to `shape` (0 on broadcast dimensions). */
function broadcastStrides(t: Tensor, shape: Shape): number[] {
  const lead = shape.length - t.rank;
  return shape.map((d, i) => (i < lead || (t.shape[i - lead] === 1 && d !== 1) ? 0 : t.strides[i - lead]));
}

/**
 * A contiguous kernel argument for `t` on `backend`, broadcast to `shape`. Temporaries it makes are
 * pushed on `temps` for the caller to free after the kernel ran.
 */
function materialize(t: Tensor, backend: Backend, shape: Shape, temps: Tensor[]): KernelArg {
  t.assertLive('dispatch');
  let src = t;
  if (t.storage.backend !== backend) {
    // A tensor made under another backend: move its elements over once.
    src = new Tensor(new Storage(backend, backend.adopt(t.dataSync()), t.dtype, t.size), t.shape);
    temps.push(src);
  }
  if (shapesEqual(src.shape, shape) && src.isContiguous) return argOf(src, backend);
  if (src.size === 1 && backend.broadcastsScalars)
    return { buffer: src.storage.buffer, dtype: src.dtype, shape: [], strides: [], offset: src.offset };
  const copy = requireKernel(backend, 'copy');
  const outInfo = { shape, dtype: src.dtype };
  const strides = contiguousStrides(shape);
  const buffer = invoke(
    backend,
    'copy',
    false,
    copy,
    [argOf(src, backend, shape, broadcastStrides(src, shape))],
    outInfo,
    strides,
    {},
    () => 0,
  );
  const tmp = new Tensor(new Storage(backend, buffer, src.dtype, sizeOf(shape)), shape, strides);
  temps.push(tmp);
  return argOf(tmp, backend);
}

function requireKernel<P extends PrimitiveName>(backend: Backend, op: P): Kernel<PrimitiveParams[P]> {
  const kernel = backend.kernels[op];
  if (!kernel) throw new BackendError(`${op}: backend '${backend.name}' has no kernel for this op`);
  return kernel;
}

function wrapOutput(backend: Backend, buffer: unknown, info: ShapeDType, strides: Shape): Tensor {
  return new Tensor(new Storage(backend, buffer, info.dtype, sizeOf(info.shape)), info.shape, strides);
}

/** Runs one primitive on the current backend and records it for autograd. */
export function runPrimitive<P extends PrimitiveName>(
  op: P,
  inputs: readonly Tensor[],
  params: PrimitiveParams[P],
): Tensor {
  const spec = PRIMITIVES[op];
  for (const t of inputs) t.assertLive(op);
  const outInfo = spec.infer(inputs, params);
  const backend = getBackend();
  const kernel = requireKernel(backend, op);
  const temps: Tensor[] = [];
  try {
    // copy is the one kernel that reads strided views directly (once the view lives on this backend).
    const stridedCopy = op === 'copy' && inputs[0].storage.backend === backend;
    const args = stridedCopy
      ? [argOf(inputs[0], backend)]
      : inputs.map((t) => materialize(t, backend, spec.broadcast ? outInfo.shape : t.shape, temps));
    const bytes = spec.bytes && ((out: ShapeDType) => spec.bytes!(inputs, out));
    const strides = contiguousStrides(outInfo.shape);
    const buffer = invoke(
      backend,
      op,
      false,
      kernel,
      args,
      outInfo,
      strides,
      params,
      (out) => spec.flops(inputs, out, params),
      bytes,
    );
    const output = wrapOutput(backend, buffer, outInfo, strides);
    record(op, inputs, output, params);
    return output;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Runs a fused kernel if the current backend has one; returns undefined otherwise so the caller runs
 * the composite default.
 */
export function tryFused<F extends FusedName>(
  op: F,
  inputs: readonly Tensor[],
  params: FusedParams[F],
  outInfo: ShapeDType,
  flops: number,
): Tensor | undefined {
  const backend = getBackend();
  const kernel = backend.fused[op] as Kernel<FusedParams[F]> | undefined;
  if (!kernel) return undefined;
  const temps: Tensor[] = [];
  try {
    const args = inputs.map((t) => materialize(t, backend, t.shape, temps));
    const strides = contiguousStrides(outInfo.shape);
    const buffer = invoke(backend, op, true, kernel, args, outInfo, strides, params, () => flops);
    const output = wrapOutput(backend, buffer, outInfo, strides);
    record(op, inputs, output, params);
    return output;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Runs the fused kernel of an op with several results if the current backend has one (one buffer per
 * result, one tape node for all of them); undefined otherwise.
 */
export function tryFusedMulti<F extends FusedName>(
  op: F,
  inputs: readonly Tensor[],
  params: FusedParams[F],
  infos: readonly ShapeDType[],
  flops: number,
): Tensor[] | undefined {
  const backend = getBackend();
  const kernel = backend.fused[op] as MultiKernel<FusedParams[F]> | undefined;
  if (!kernel) return undefined;
  const temps: Tensor[] = [];
  try {
    const args = inputs.map((t) => materialize(t, backend, t.shape, temps));
    const outs = invokeMulti(backend, op, kernel, args, infos, params, flops);
    const outputs = outs.map((o, i) => wrapOutput(backend, o.buffer, infos[i], o.strides));
    record(op, inputs, outputs, params);
    return outputs;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** Wraps an existing buffer region as a view; used by the movement ops, which launch no kernel. */
export function makeView(source: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  source.assertLive('view');
  return new Tensor(source.storage, shape, strides, offset);
}

export type { DType };
