// Reverse-mode autodiff: grad, valueAndGrad and vjp over nested parameter structures, and customGrad.
// The engine walks the tape backwards, reduces broadcast gradients to each input's shape, casts them to
// its dtype and accumulates them; the rules in rules.ts only say what flows through each op.
import { Tensor } from '../tensor/tensor.js';
import { TensorScope } from '../tensor/storage.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import * as o from '../ops/index.js';
import { FUSED, type FusedName } from '../ops/families/index.js';
import { makeView } from '../ops/dispatch.js';
import { NO_GRADIENT, THROUGH_COMPOSITE, gradRuleOf, type GradRule } from './rules.js';
import type { MultiGradRule } from './rule-kinds.js';
import { currentLayerPath, swapLayerPath } from './annotations.js';
import { Tape, noGrad, popTape, pushTape, record, type CustomRule, type TapeNode } from './tape.js';

/** Sums a gradient of a broadcast result down to the shape of the operand that was broadcast. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return o.reshape(o.sum(g, axes, true), shape);
}

/** A node's rule as a function from one cotangent per output (undefined where none flowed). */
type NodeRule = (dys: readonly (Tensor | undefined)[]) => readonly (Tensor | null)[];

function ruleFor(node: TapeNode, tape: Tape): NodeRule | undefined {
  const { custom, inputs, outputs, params } = node;
  if (custom) return (dys) => custom(dys[0]!);
  const rule = gradRuleOf(node.op);
  if (rule === undefined || rule === NO_GRADIENT) return undefined;
  const needsGrad = inputs.map((x) => tape.tracked.has(x.key));
  if (rule === THROUGH_COMPOSITE) return (dys) => vjpOfComposite(node.op as FusedName, inputs, params, dys, needsGrad);
  if (Object.hasOwn(FUSED, node.op) && 'inferAll' in FUSED[node.op as FusedName])
    return (dys) => (rule as MultiGradRule<unknown>)(dys, { inputs, outputs, params, needsGrad });
  return (dys) => (rule as GradRule<unknown>)(dys[0]!, { inputs, output: outputs[0], params, needsGrad });
}

/**
 * Called as soon as the gradient of `wrt[index]` is final (undefined where none flows), before the walk ends:
 * a data-parallel step starts reducing a bucket of gradients while the rest of the backward pass runs.
 */
export type GradientReady = (index: number, grad: Tensor | undefined) => void;

/**
 * For each tape node, the indices into `wrt` whose gradient is final once the backward walk has passed it: the
 * earliest node reading that key (no earlier node can add to its gradient). Keys no node reads are left out.
 */
function readyAfter(tape: Tape, wrt: readonly number[]): Map<number, number[]> {
  const earliest = new Map<number, number>();
  tape.nodes.forEach((node, n) => {
    for (const x of node.inputs) if (!earliest.has(x.key)) earliest.set(x.key, n);
  });
  const after = new Map<number, number[]>();
  wrt.forEach((key, i) => {
    const n = earliest.get(key);
    if (n === undefined) return;
    const list = after.get(n);
    if (list) list.push(i);
    else after.set(n, [i]);
  });
  return after;
}

/**
 * Walks the tape from `roots` (each seeded with its `seeds` entry; undefined seeds none) and returns the
 * gradient for each key in `wrt` (undefined where none flows). `gradientReady`, when given, is told of each
 * of them as soon as it is final, so in reverse order of first use (the last layer's weights first).
 */
export function backward(
  tape: Tape,
  roots: readonly Tensor[],
  seeds: readonly (Tensor | undefined)[],
  wrt: readonly number[],
  gradientReady?: GradientReady,
): (Tensor | undefined)[] {
  const grads = new Map<number, Tensor>();
  const accumulate = (key: number, g: Tensor) => {
    const prev = grads.get(key);
    grads.set(key, prev ? o.add(prev, g) : g);
  };
  roots.forEach((r, i) => seeds[i] && accumulate(r.key, seeds[i]));
  // Without a callback nothing is precomputed and the loop below checks one undefined per node.
  const ready = gradientReady && readyAfter(tape, wrt);
  const told = gradientReady && new Set<number>();
  // Each node's rule (and the reduction, cast and accumulation of what it returns) runs at the layer path
  // that made the node, so backward kernels are metered under the layer they differentiate.
  const outerPath = currentLayerPath();
  try {
    for (let n = tape.nodes.length - 1; n >= 0; n--) {
      const node = tape.nodes[n];
      const dys = node.outputs.map((t) => grads.get(t.key));
      const rule = dys.some((d) => d) ? ruleFor(node, tape) : undefined;
      if (rule) {
        swapLayerPath(node.layerPath);
        const inputGrads = rule(dys);
        node.inputs.forEach((x, i) => {
          let g = inputGrads[i];
          if (!g || !tape.tracked.has(x.key)) return;
          g = unbroadcast(g, x.shape);
          if (g.dtype !== x.dtype) g = o.cast(g, x.dtype);
          accumulate(x.key, g);
        });
      }
      const done = ready?.get(n);
      if (done)
        for (const i of done) {
          told!.add(i);
          gradientReady!(i, grads.get(wrt[i]));
        }
    }
  } finally {
    swapLayerPath(outerPath);
  }
  // Keys no node reads (a root itself, or a weight the function never used) are final only now.
  if (told) wrt.forEach((k, i) => told.has(i) || gradientReady!(i, grads.get(k)));
  return wrt.map((k) => grads.get(k));
}

/** The vector-Jacobian product of a fused op's composite default, for one cotangent per result. */
function vjpOfComposite(
  op: FusedName,
  inputs: readonly Tensor[],
  params: unknown,
  dys: readonly (Tensor | undefined)[],
  needsGrad: readonly boolean[],
): (Tensor | null)[] {
  const tape = new Tape();
  inputs.forEach((x, i) => {
    if (needsGrad[i] && isFloat(x.dtype)) tape.tracked.add(x.key);
  });
  pushTape(tape);
  let out: Tensor | Tensor[];
  try {
    out = (FUSED[op].composite as (i: readonly Tensor[], p: unknown) => Tensor | Tensor[])(inputs, params);
  } finally {
    popTape(tape);
  }
  try {
    return backward(
      tape,
      Array.isArray(out) ? out : [out],
      dys,
      inputs.map((x) => x.key),
    ).map((g) => g ?? null);
  } finally {
    tape.dispose();
  }
}

/** Nested structures of tensors: arrays, plain objects and Maps, as JAX pytrees. */
export type Params = Tensor | readonly Params[] | { readonly [key: string]: Params } | ReadonlyMap<string, Params>;

function leavesOf(p: Params, out: Tensor[] = []): Tensor[] {
  if (p instanceof Tensor) out.push(p);
  else if (Array.isArray(p)) for (const v of p) leavesOf(v, out);
  else if (p instanceof Map) for (const v of p.values()) leavesOf(v, out);
  else if (typeof p === 'object' && p !== null) for (const v of Object.values(p)) leavesOf(v as Params, out);
  else throw new ArgumentError(`grad: parameters must be tensors in arrays, plain objects or Maps, found ${typeof p}`);
  return out;
}

function rebuild<P extends Params>(p: P, leaves: Iterator<Tensor>): P {
  if (p instanceof Tensor) return leaves.next().value as P;
  if (Array.isArray(p)) return p.map((v) => rebuild(v, leaves)) as unknown as P;
  if (p instanceof Map) return new Map([...p.entries()].map(([k, v]) => [k, rebuild(v, leaves)])) as unknown as P;
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, rebuild(v as Params, leaves)])) as P;
}

/**
 * The core of grad/valueAndGrad/vjp: runs f with the leaves of `params` tracked, then differentiates its
 * output seeded with `seed(value)`. Everything made along the way is freed except the gradients and,
 * when `keepValue`, the value. (f may return a tensor it did not make, such as a parameter: only
 * tensors made inside are ever freed, so the value is dropped by not keeping it, never by disposing it.)
 */
function differentiate<P extends Params, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
  params: P,
  args: A,
  seed: (value: Tensor) => Tensor,
  keepValue = true,
  /** GradientTape style: what f makes stays in the caller's scope; only the backward pass's is freed. */
  keepForward = false,
  /** Told each leaf's final gradient (by leaf index) as the backward pass makes it; see backward(). */
  gradientReady?: (index: number, grad: Tensor) => void,
): { value: Tensor; grads: P } {
  const leaves = leavesOf(params);
  for (const leaf of leaves) {
    leaf.assertLive('grad');
    if (!isFloat(leaf.dtype))
      throw new DTypeError(
        `grad: can only differentiate with respect to float tensors, got ${leaf.dtype} ${fmtShape(leaf.shape)}`,
      );
  }
  const tape = new Tape();
  for (const leaf of leaves) tape.tracked.add(leaf.key);
  // keepForward: what f makes stays in the caller's scope (GradientTape); otherwise this scope frees it.
  const forward = keepForward ? undefined : new TensorScope();
  try {
    pushTape(tape);
    let value: Tensor;
    try {
      value = f(params, ...args);
    } finally {
      popTape(tape);
    }
    if (!(value instanceof Tensor))
      throw new ArgumentError(`grad: the function must return a Tensor, got ${typeof value}`);
    const backwardScope = new TensorScope();
    let grads: Tensor[];
    try {
      // A leaf no gradient reaches gets zeros: the callback is handed the same tensor the result holds.
      const zeros: Tensor[] = [];
      const zerosOf = (i: number) => (zeros[i] ??= o.zeros(leaves[i].shape, leaves[i].dtype));
      const raw = backward(
        tape,
        [value],
        [seed(value)],
        leaves.map((l) => l.key),
        gradientReady && ((i, g) => gradientReady(i, g ?? zerosOf(i))),
      );
      grads = raw.map((g, i) => {
        if (!g) return zerosOf(i);
        // Give every leaf its own tensor, so that disposing one gradient never frees another.
        return g === value || raw.indexOf(g) !== i ? o.copy(g) : g;
      });
      backwardScope.keep(grads);
    } finally {
      backwardScope[Symbol.dispose]();
    }
    forward?.keep(keepValue ? [value, grads] : grads);
    return { value, grads: rebuild(params, grads[Symbol.iterator]()) };
  } finally {
    forward?.[Symbol.dispose]();
    tape.dispose();
  }
}

function scalarSeed(value: Tensor): Tensor {
  if (value.size !== 1 || !isFloat(value.dtype)) {
    throw new ArgumentError(
      `grad: the function must return a float scalar (one element), got ${value.dtype} ${fmtShape(value.shape)}; ` +
        `use vjp for other outputs`,
    );
  }
  return o.onesLike(value);
}

/** The gradient of a scalar function with respect to its first argument (any nesting of tensors). */
export function grad<P extends Params, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
): (params: P, ...args: A) => P {
  return (params, ...args) => {
    return differentiate(f, params, args, scalarSeed, false).grads;
  };
}

/** Options of valueAndGrad / valueAndGrads. */
export interface GradOptions {
  /**
   * Told each gradient (by index among the parameter leaves, or the sources) as soon as the backward pass has
   * made it final, before the others: what a data-parallel step reduces while backward goes on. It holds the
   * returned gradient's values (read it; don't dispose or keep it).
   */
  gradientReady?: (index: number, grad: Tensor) => void;
}

/** The value of a scalar function and its gradient with respect to its first argument. */
export function valueAndGrad<P extends Params, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
  options: GradOptions = {},
): (params: P, ...args: A) => { value: Tensor; grads: P } {
  return (params, ...args) => differentiate(f, params, args, scalarSeed, true, false, options.gradientReady);
}

/** What valueAndGrads differentiates with respect to: a tensor, or what holds one as `value` (a Variable). */
export type GradSource = Tensor | { readonly value: Tensor };

/**
 * The value of f() and its gradient with respect to each source, as TF's GradientTape: sources are
 * tensors or variables (`model.trainableWeights`), read by f where it uses them, so no parameter is
 * passed around. What f makes (the predictions, say) stays alive in the caller's scope, for metrics
 * after the step; only the backward pass's intermediates are freed. Grads come in the sources' order,
 * zeros where no gradient flows.
 *
 *   const { value: loss, grads } = valueAndGrads(() => lossFn(y, model.apply(x, { training: true })), w);
 *   optimizer.applyGradients(grads, w);
 */
export function valueAndGrads(
  f: () => Tensor,
  sources: readonly GradSource[],
  options: GradOptions = {},
): { value: Tensor; grads: Tensor[] } {
  if (typeof f !== 'function') throw new ArgumentError(`valueAndGrads: expected a function, got ${typeof f}`);
  if (!Array.isArray(sources))
    throw new ArgumentError(`valueAndGrads: sources must be a list of tensors or variables, got ${typeof sources}`);
  const leaves = sources.map((s, i) => {
    const t = s instanceof Tensor ? s : (s as { value?: unknown })?.value;
    if (!(t instanceof Tensor))
      throw new ArgumentError(`valueAndGrads: source ${i} is neither a Tensor nor a Variable (with a value tensor)`);
    return t;
  });
  return differentiate(() => f(), leaves, [], scalarSeed, true, true, options.gradientReady);
}

/** The vector-Jacobian product dy^T J of f at params, for outputs of any shape. */
export function vjp<P extends Params>(f: (params: P) => Tensor, params: P, dy: Tensor): { value: Tensor; grads: P } {
  return differentiate(f, params, [], (value) => {
    if (!shapesEqual(value.shape, dy.shape))
      throw new ArgumentError(`vjp: dy has shape ${fmtShape(dy.shape)} but the output has ${fmtShape(value.shape)}`);
    return o.cast(dy, value.dtype);
  });
}

/**
 * Defines an op with a hand-written gradient. f returns the value and a function from the output
 * gradient to one gradient per input; f itself is not differentiated.
 */
export function customGrad(
  f: (...inputs: Tensor[]) => { value: Tensor; gradFunc: (dy: Tensor) => (Tensor | null)[] },
): (...inputs: Tensor[]) => Tensor {
  return (...inputs) => {
    const { value, gradFunc } = noGrad(() => f(...inputs));
    record('customGrad', inputs, value, undefined, (dy) => {
      const gs = gradFunc(dy);
      if (gs.length !== inputs.length)
        throw new ArgumentError(`customGrad: gradFunc returned ${gs.length} gradients for ${inputs.length} inputs`);
      return gs;
    });
    return value;
  };
}

/** A view of x through which no gradient flows. */
export function stopGradient(x: Tensor): Tensor {
  return makeView(x, x.shape, x.strides, x.offset);
}

export { noGrad };
