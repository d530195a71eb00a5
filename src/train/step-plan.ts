// The plan of a compiled step (compiled-steps.ts): a block's trace resolved against the tensors bound to it,
// compared with the trace of the step before, and replayed as a flat list of kernel calls with their buffers
// assigned ahead of time: no tape, dispatch, views or scopes per op. The calls are those of eager mode, so results
// are bit-identical to eager.
import type { Backend, KernelArg } from '../backends/backend.js';
import { kernelListeners, reportKernel } from '../ops/dispatch.js';
import { mixSeeds } from '../ops/random.js';
import { variableHolding, type Source, type Trace, type TracedCall, type TracedVariable } from '../ops/trace.js';
import { popPhase, pushPhase, swapLayerPath } from '../autograd/annotations.js';
import { ownedBy, Storage, type Disposable } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import { shapesEqual, sizeOf, type Shape } from '../tensor/shape.js';
import type { DType, TypedArray } from '../tensor/dtype.js';

/** Where a traced value comes from, with the trace's buffers replaced by what a replay finds them in. */
type Origin =
  | { readonly kind: 'call'; readonly call: number; readonly out: number }
  /** A bound tensor (an input, a variable's value) read `delta` elements from that tensor's own offset. */
  | { readonly kind: 'bound'; readonly index: number; readonly delta: number }
  | { readonly kind: 'constant'; readonly data: TypedArray };

interface View {
  readonly origin: Origin;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
}

/** A host check (checkOnHost) a replay runs again on the view of bound tensor `index` it was traced on. */
interface ReplayedCheck {
  readonly index: number;
  readonly delta: number;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly check: (view: Tensor) => void;
}

/** One traced block, its buffers resolved against the tensors it was bound to. */
export interface Resolved {
  readonly trace: Trace;
  readonly args: readonly (readonly View[])[];
  readonly outputs: readonly View[];
  /** Indices (into the block's variables) of the variables the block assigned. */
  readonly assigned: readonly number[];
  /** Variables outside the block's list that it reads (a captured Variable): bound after the listed ones. */
  readonly extra: readonly TracedVariable[];
  readonly checks: readonly ReplayedCheck[];
  /** The bound tensors' strides, and which of them shared a buffer ([i, j, offset of i - offset of j]). */
  readonly layout: { readonly strides: readonly Shape[]; readonly shared: readonly (readonly number[])[] };
}

/** A seed parameter a replay remakes: `call`'s params[key] = mixSeeds(base, stepSeed), or stepSeed itself. */
export interface SeedParam {
  readonly call: number;
  readonly key: string;
  readonly base: number | undefined;
}

type MutableArg = { -readonly [K in keyof KernelArg]: KernelArg[K] };

/** Why a block's two traces do not describe one plan, or undefined when they do. */
export function difference(a: Resolved, b: Resolved, seeds: SeedParam[]): string | undefined {
  if (a.trace.calls.length !== b.trace.calls.length)
    return `the step made ${a.trace.calls.length} kernel calls once and ${b.trace.calls.length} the next time`;
  for (let i = 0; i < a.trace.calls.length; i++) {
    const ca = a.trace.calls[i],
      cb = b.trace.calls[i];
    const where = `kernel call ${i} (${cb.op})`;
    if (ca.op !== cb.op || ca.kernel !== cb.kernel || ca.phase !== cb.phase || ca.layerPath !== cb.layerPath)
      return `${where} differs between two steps (${ca.op} at ${ca.layerPath || 'top level'} before)`;
    if (!a.args[i].every((v, k) => sameView(v, b.args[i][k])) || a.args[i].length !== b.args[i].length)
      return `the inputs of ${where} differ between two steps`;
    if (!ca.outs.every((o, k) => o.dtype === cb.outs[k].dtype && shapesEqual(o.shape, cb.outs[k].shape)))
      return `the results of ${where} differ between two steps`;
    const why = paramDifference(ca, cb, a.trace, b.trace, i, seeds);
    if (why) return `${where}: ${why}`;
  }
  if (a.outputs.length !== b.outputs.length || !a.outputs.every((v, k) => sameView(v, b.outputs[k])))
    return 'the results of the step come from different kernel calls on two steps';
  if (a.assigned.join() !== b.assigned.join()) return 'the step assigned different variables on two steps';
  if (!sameList(a.extra, b.extra)) return 'the step read different variables on two steps';
  const checks = (r: Resolved) => JSON.stringify(r.checks.map(({ check, ...c }) => (void check, c)));
  if (checks(a) !== checks(b)) return 'the step checked different inputs on the host on two steps';
  return undefined;
}

function paramDifference(
  ca: TracedCall,
  cb: TracedCall,
  ta: Trace,
  tb: Trace,
  call: number,
  seeds: SeedParam[],
): string | undefined {
  const pa = ca.params as Record<string, unknown>,
    pb = cb.params as Record<string, unknown>;
  const keys = new Set([...Object.keys(pa ?? {}), ...Object.keys(pb ?? {})]);
  for (const key of keys) {
    const va = pa?.[key],
      vb = pb?.[key];
    if (sameValue(va, vb)) continue;
    if (typeof va === 'number' && typeof vb === 'number') {
      if (va === ta.stepSeed && vb === tb.stepSeed) {
        seeds.push({ call, key, base: undefined });
        continue;
      }
      const base = tb.seedBases.get(vb);
      if (base !== undefined && ta.seedBases.get(va) === base) {
        seeds.push({ call, key, base });
        continue;
      }
    }
    return `its parameter '${key}' changes from step to step (${JSON.stringify(va)}, then ${JSON.stringify(vb)})`;
  }
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !ArrayBuffer.isView(a)) {
    const ka = Object.keys(a),
      kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue((a as never)[k], (b as never)[k]));
  }
  return false;
}

/** Whether two traced arguments are one: a bound tensor's by its offset from that tensor's (a batch may be a view). */
function sameView(a: View, b: View): boolean {
  if (a.dtype !== b.dtype || !shapesEqual(a.shape, b.shape) || !shapesEqual(a.strides, b.strides)) return false;
  const x = a.origin,
    y = b.origin;
  if (x.kind === 'bound') return y.kind === 'bound' && x.index === y.index && x.delta === y.delta;
  if (a.offset !== b.offset) return false;
  if (x.kind === 'call') return y.kind === 'call' && x.call === y.call && x.out === y.out;
  return y.kind === 'constant' && sameBits(x.data, y.data);
}

function sameBits(a: TypedArray, b: TypedArray): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Resolves a trace's sources against the tensors bound to the block; a string says why it cannot. */
export function resolve(
  trace: Trace,
  bound: readonly Tensor[],
  outputs: readonly Tensor[],
  assigned: number[],
): Resolved | string {
  const byBuffer = new Map<unknown, number>();
  bound.forEach((t, i) => byBuffer.has(t.storage.buffer) || byBuffer.set(t.storage.buffer, i));
  const extra: TracedVariable[] = [];
  let refusal: string | undefined;
  // A buffer allocated inside the block is a constant even where it reuses the memory of a bound tensor freed in
  // the block (a variable's old value); memory a Variable outside the list holds is bound to that Variable.
  const boundIndex = (source: Extract<Source, { kind: 'external' }>): number | undefined => {
    if (source.inside) return undefined;
    const index = byBuffer.get(source.buffer);
    if (index !== undefined || !source.variable) return index;
    if (!extra.includes(source.variable)) extra.push(source.variable);
    return bound.length + extra.indexOf(source.variable);
  };
  const offsetOf = (index: number) =>
    index < bound.length ? bound[index].offset : extra[index - bound.length].value.offset;
  const origin = (source: Source, offset: number): Origin | undefined => {
    if (source.kind === 'call') return source;
    const index = boundIndex(source);
    if (index !== undefined) return { kind: 'bound', index, delta: offset - offsetOf(index) };
    const data = trace.snapshots.get(source.instance);
    if (data) return { kind: 'constant', data };
    refusal ??= 'the step reads a constant too large to copy (neither an input nor a weight)';
    return undefined;
  };
  const view = (a: KernelArg & { source: Source }): View => ({
    origin: origin(a.source, a.offset)!,
    dtype: a.dtype,
    shape: a.shape,
    strides: a.strides,
    offset: a.offset,
  });
  const args = trace.calls.map((c) => c.args.map(view));
  const outs = outputs.map((t) => view({ ...argOfTensor(t), source: trace.sourceOf(t.storage.buffer) }));
  if (outs.some((v) => v.origin?.kind === 'constant')) refusal ??= 'a result of the step is a constant';
  for (const [instance, buffer] of trace.hostReads) {
    const index = boundIndex({ kind: 'external', buffer, instance, inside: false, variable: variableHolding(buffer) });
    if (index !== undefined)
      refusal ??= 'the step reads an input or a weight on the host, with no check a replay could run again';
  }
  const checks: ReplayedCheck[] = [];
  for (const { view: v, source, check } of trace.hostChecks) {
    // A check on a constant saw all it will ever see; on a computed result the trace was refused already.
    const index = source.kind === 'external' ? boundIndex(source) : undefined;
    if (index !== undefined)
      checks.push({
        index,
        delta: v.offset - offsetOf(index),
        shape: v.shape,
        strides: v.strides,
        check: check as (view: Tensor) => void,
      });
  }
  const all = [...bound, ...extra.map((v) => v.value)];
  const first = new Map<unknown, number>();
  const shared: number[][] = [];
  all.forEach((t, i) => {
    const j = first.get(t.storage.buffer);
    if (j === undefined) first.set(t.storage.buffer, i);
    else shared.push([i, j, t.offset - all[j].offset]);
  });
  const layout = { strides: all.map((t) => t.strides), shared };
  return refusal ?? { trace, args, outputs: outs, assigned, extra, checks, layout };
}

const argOfTensor = (t: Tensor): KernelArg => ({
  buffer: t.storage.buffer,
  dtype: t.dtype,
  shape: t.shape,
  strides: t.strides,
  offset: t.offset,
});

/** What a replay needs of a traced call (not its arguments, whose buffers a plan must not hold on to). */
type PlanCall = Pick<TracedCall, 'op' | 'fused' | 'kernel' | 'multi' | 'flops' | 'bytes' | 'phase' | 'layerPath'>;

/** The replayable plan of one traced block. */
export class Plan {
  private readonly calls: PlanCall[];
  private readonly args: MutableArg[][];
  private readonly outs: MutableArg[][];
  private readonly params: Record<string, unknown>[];
  /** Buffers the plan owns (intermediates, constants), freed with it. */
  private readonly owned: unknown[] = [];
  /** Values that leave the plan: a fresh buffer per replay. [call, out] of each, and its buffer this replay. */
  private readonly escaping: { call: number; out: number; dtype: DType; size: number }[] = [];
  private readonly escapingBuffers: unknown[] = [];
  /** Arguments pointed at an escaping value's buffer, or at a bound tensor, on each replay. */
  private readonly toEscaping: { arg: MutableArg; slot: number }[] = [];
  private readonly toBound: { arg: MutableArg; index: number; delta: number }[] = [];
  /** The escaping value each output of the block is (-1: a bound tensor). */
  private readonly outputSlots: number[];

  /** Indices of the variables the block assigns; their new values are the plan's last results. */
  readonly assigned: readonly number[];
  /** Variables the block reads besides its list; bound after the listed ones. */
  readonly extra: readonly TracedVariable[];
  private readonly outputs: readonly View[];
  private readonly checks: readonly ReplayedCheck[];
  private readonly layout: Resolved['layout'];
  /** A backend without allocOutput promises zero-filled outputs: reused buffers are cleared before each call. */
  private readonly clear: TypedArray[][];

  constructor(
    readonly backend: Backend,
    resolved: Resolved,
    private readonly seeds: readonly SeedParam[],
  ) {
    const { trace } = resolved;
    this.assigned = resolved.assigned;
    this.extra = resolved.extra;
    this.outputs = resolved.outputs;
    this.checks = resolved.checks;
    this.layout = resolved.layout;
    this.calls = trace.calls.map(({ op, fused, kernel, multi, flops, bytes, phase, layerPath }) => ({
      op,
      fused,
      kernel,
      multi,
      flops,
      bytes,
      phase,
      layerPath,
    }));
    this.params = trace.calls.map((c) => ({ ...(c.params as Record<string, unknown>) }));
    const slotOf = new Map<string, number>();
    for (const v of resolved.outputs)
      if (v.origin.kind === 'call') {
        const key = `${v.origin.call}:${v.origin.out}`;
        if (slotOf.has(key)) continue;
        const o = trace.calls[v.origin.call].outs[v.origin.out];
        slotOf.set(key, this.escaping.length);
        this.escaping.push({ call: v.origin.call, out: v.origin.out, dtype: o.dtype, size: sizeOf(o.shape) });
      }
    // The last call that reads each value: after it, the value's buffer serves a later value of the same size.
    const lastUse = new Map<string, number>();
    resolved.args.forEach((views, i) => {
      for (const v of views) if (v.origin.kind === 'call') lastUse.set(`${v.origin.call}:${v.origin.out}`, i);
    });
    const free = new Map<string, unknown[]>();
    const bufferOf = new Map<string, unknown>();
    const release = (key: string, o: KernelArg) => {
      const sizeKey = `${o.dtype}:${sizeOf(o.shape)}`;
      if (!free.has(sizeKey)) free.set(sizeKey, []);
      free.get(sizeKey)!.push(bufferOf.get(key));
    };
    this.args = [];
    this.outs = [];
    trace.calls.forEach((c, i) => {
      this.args.push(resolved.args[i].map((v) => this.argument(v, slotOf, bufferOf)));
      this.outs.push(
        c.outs.map((o, k) => {
          const out: MutableArg = { ...o, buffer: undefined };
          const key = `${i}:${k}`;
          const slot = slotOf.get(key);
          if (slot !== undefined) {
            this.toEscaping.push({ arg: out, slot });
            return out;
          }
          let buffer = free.get(`${o.dtype}:${sizeOf(o.shape)}`)?.pop();
          if (buffer === undefined) this.owned.push((buffer = allocate(backend, o.dtype, sizeOf(o.shape))));
          out.buffer = buffer;
          bufferOf.set(key, buffer);
          return out;
        }),
      );
      // Values read for the last time here (and results nobody reads) give their buffers back; an output's
      // buffer is never one of the same call's inputs, as in eager mode.
      for (const v of resolved.args[i])
        if (v.origin.kind === 'call') {
          const key = `${v.origin.call}:${v.origin.out}`;
          if (lastUse.get(key) === i && bufferOf.has(key)) {
            release(key, trace.calls[v.origin.call].outs[v.origin.out]);
            bufferOf.delete(key);
          }
        }
      c.outs.forEach((o, k) => {
        const key = `${i}:${k}`;
        if (!lastUse.has(key) && bufferOf.has(key)) {
          release(key, o);
          bufferOf.delete(key);
        }
      });
    });
    this.outputSlots = resolved.outputs.map((v) =>
      v.origin.kind === 'call' ? slotOf.get(`${v.origin.call}:${v.origin.out}`)! : -1,
    );
    this.clear = backend.allocOutput
      ? []
      : this.outs.map((outs) =>
          outs.flatMap((o) => (o.buffer ? [backend.read(o.buffer, o.dtype, sizeOf(o.shape))] : [])),
        );
  }

  /** Whether tensors bound now are laid out as at trace time (strides, and which of them share a buffer). */
  fits(bound: readonly Tensor[]): boolean {
    const { strides, shared } = this.layout;
    if (bound.length !== strides.length || !bound.every((t, i) => shapesEqual(t.strides, strides[i]))) return false;
    return shared.every(
      ([i, j, diff]) =>
        bound[i].storage.buffer === bound[j].storage.buffer && bound[i].offset - bound[j].offset === diff,
    );
  }

  /** Runs the host checks (class labels, ids) on the tensors bound now, as eager mode would: they throw. */
  check(bound: readonly Tensor[]): void {
    for (const { index, delta, shape, strides, check } of this.checks) {
      const t = bound[index];
      const view = new Tensor(t.storage, shape, strides, t.offset + delta);
      try {
        check(view);
      } finally {
        view.dispose();
      }
    }
  }

  private argument(v: View, slotOf: Map<string, number>, bufferOf: Map<string, unknown>): MutableArg {
    const arg: MutableArg = { buffer: undefined, dtype: v.dtype, shape: v.shape, strides: v.strides, offset: v.offset };
    const o = v.origin;
    if (o.kind === 'bound') this.toBound.push({ arg, index: o.index, delta: o.delta });
    else if (o.kind === 'constant') {
      const buffer = this.backend.upload(o.data);
      this.owned.push(buffer);
      arg.buffer = buffer;
    } else {
      const key = `${o.call}:${o.out}`;
      const slot = slotOf.get(key);
      if (slot !== undefined) this.toEscaping.push({ arg, slot });
      else arg.buffer = bufferOf.get(key);
    }
    return arg;
  }

  /** Runs the plan on tensors bound as at trace time; returns the block's results (and assigned values). */
  run(bound: readonly Tensor[], stepSeed: number | undefined, owner?: Set<Disposable>): Tensor[] {
    const { backend } = this;
    for (let s = 0; s < this.escaping.length; s++) {
      const e = this.escaping[s];
      this.escapingBuffers[s] = allocate(backend, e.dtype, e.size);
    }
    for (const { arg, slot } of this.toEscaping) arg.buffer = this.escapingBuffers[slot];
    for (const { arg, index, delta } of this.toBound) {
      const t = bound[index];
      arg.buffer = t.storage.buffer;
      arg.offset = t.offset + delta;
    }
    if (stepSeed !== undefined)
      for (const { call, key, base } of this.seeds)
        this.params[call][key] = base === undefined ? stepSeed : mixSeeds(base, stepSeed);
    try {
      if (kernelListeners()) this.runMetered();
      else for (let i = 0; i < this.calls.length; i++) this.call(i);
    } catch (e) {
      for (const b of this.escapingBuffers) backend.free(b);
      throw e;
    } finally {
      // The plan holds no buffer of a tensor it does not own between replays.
      for (const p of this.toBound) p.arg.buffer = undefined;
      for (const p of this.toEscaping) p.arg.buffer = undefined;
    }
    const storages = this.escaping.map((e, s) => new Storage(backend, this.escapingBuffers[s], e.dtype, e.size));
    const output = (k: number) => {
      const v = this.outputs[k],
        o = v.origin;
      if (o.kind !== 'bound') return new Tensor(storages[this.outputSlots[k]], v.shape, v.strides, v.offset);
      const t = bound[o.index];
      return new Tensor(t.storage, v.shape, v.strides, t.offset + o.delta);
    };
    // The block's results belong to `owner` when given (no finalizer registration: the caller disposes them); the
    // variables' new values are ordinary tensors, as eager mode makes them.
    const returned = this.outputs.length - this.assigned.length;
    const results: Tensor[] = [];
    const block = () => {
      for (let k = 0; k < returned; k++) results.push(output(k));
    };
    if (owner) ownedBy(owner, block);
    else block();
    for (let k = returned; k < this.outputs.length; k++) results.push(output(k));
    return results;
  }

  private call(i: number): void {
    const c = this.calls[i];
    const clear = this.clear[i];
    if (clear) for (const array of clear) array.fill(0);
    (c.kernel as (a: unknown, o: unknown, p: unknown) => void)(
      this.args[i],
      c.multi ? this.outs[i] : this.outs[i][0],
      this.params[i],
    );
  }

  /** The replay with every call timed and reported to the meters, under the phase and layer it was traced in. */
  private runMetered(): void {
    const name = this.backend.name;
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      pushPhase(c.phase);
      const saved = swapLayerPath(c.layerPath);
      try {
        const t0 = performance.now();
        this.call(i);
        reportKernel(c.op, c.fused, name, c.flops, c.bytes, performance.now() - t0);
      } finally {
        swapLayerPath(saved);
        popPhase();
      }
    }
  }

  dispose(): void {
    for (const b of this.owned) this.backend.free(b);
    this.owned.length = 0;
  }
}

function allocate(backend: Backend, dtype: DType, size: number): unknown {
  return backend.allocOutput ? backend.allocOutput(dtype, size) : backend.alloc(dtype, size);
}

export const sameList = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);
