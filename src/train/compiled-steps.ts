// Compiled steps (Keras' jitCompile): a block of a step (a training step's loss and gradients, a test or predict
// step's forward pass) traced at the dispatch point until two traces in a row make the same kernel calls, then
// replayed as a plan (step-plan.ts); per model, one block per kind of step and batch signature.
import { getBackend } from '../backends/backend.js';
import { kernelHooks } from '../ops/dispatch.js';
import { ArgumentError } from '../errors.js';
import { traceKernels, tracing } from '../ops/trace.js';
import type { Disposable } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../nn/variable.js';
import { difference, Plan, resolve, sameList, type Resolved, type SeedParam } from './step-plan.js';

/** What the trainer hands a compiled block each step. */
export interface BlockCall {
  /** The block's tensor inputs (the batch), in a fixed order; their shapes are part of the plan's key. */
  readonly inputs: readonly Tensor[];
  /** Variables the block reads (the model's weights) and may assign (e.g. batch normalization's statistics). */
  readonly variables: readonly Variable[];
  /** The step's seed (fit's per-step seed for dropout), or undefined. */
  readonly stepSeed: number | undefined;
  /** The block run eagerly; returns its results. */
  readonly eager: () => Tensor[];
  /**
   * When given, a replay's results belong to this set instead of being put under the garbage collector's safety
   * net: for a caller that disposes every result before it returns (a training step), which saves a finalizer
   * registration per result.
   */
  readonly owner?: Set<Disposable>;
}

/** Traces a block gets before it runs eagerly for good: a first step may do one-time work (a lazy cache). */
const MAX_TRACES = 3;

/**
 * One block compiled per input signature: its calls run eagerly under a trace until two traces in a row make the
 * same kernel calls (up to the step's seed); later calls replay the plan. A block that cannot be replayed after
 * MAX_TRACES traces runs eagerly from then on; `reason` says why.
 */
export class CompiledBlock {
  private first: Resolved | undefined;
  private plan: Plan | undefined;
  private variables: readonly Variable[] = [];
  private traces = 0;
  /** Why this block runs eagerly for good; undefined while it is compiled or being traced. */
  reason: string | undefined;

  get compiled(): boolean {
    return this.plan !== undefined;
  }

  run({ inputs, variables, stepSeed, eager, owner }: BlockCall): Tensor[] {
    // A block inside a block being traced (a teacher's predict in a student's loss) runs eagerly: its kernels are
    // then part of the outer trace.
    if (this.reason !== undefined || tracing) return eager();
    const plan = this.plan;
    if (plan && plan.backend === getBackend() && sameList(variables, this.variables)) {
      const bound = [...inputs, ...variables.map((v) => v.value), ...plan.extra.map((v) => v.value as Tensor)];
      if (plan.fits(bound)) {
        plan.check(bound);
        let results: Tensor[];
        try {
          results = plan.run(bound, stepSeed, owner);
        } catch (e) {
          this.dispose();
          this.reason = `a replay failed (${(e as Error).message}); the step runs eagerly`;
          return eager();
        }
        const returned = results.length - plan.assigned.length;
        plan.assigned.forEach((index, k) => variables[index].assign(results[returned + k]));
        return results.slice(0, returned);
      }
    }
    if (plan) this.dispose();
    return this.trace(inputs, variables, stepSeed, eager);
  }

  private trace(
    inputs: readonly Tensor[],
    variables: readonly Variable[],
    stepSeed: number | undefined,
    eager: () => Tensor[],
  ): Tensor[] {
    const backend = getBackend();
    const before = variables.map((v) => v.value);
    const bound = [...inputs, ...before];
    const { result, trace } = traceKernels(backend, stepSeed, eager);
    const assigned = variables.flatMap((v, i) => (v.value !== before[i] ? [i] : []));
    const stray = [...trace.assignedVariables].find((v) => !variables.includes(v as Variable));
    if (stray) trace.refuse(`it assigns variable '${stray.name}', which is not one of the model's weights`);
    const outputs = [...result, ...assigned.map((i) => variables[i].value)];
    const resolved = trace.refusal ?? resolve(trace, bound, outputs, assigned);
    const comparable = this.first !== undefined && sameList(variables, this.variables);
    this.variables = [...variables];
    const seeds: SeedParam[] = [];
    const why = typeof resolved === 'string' ? resolved : comparable ? difference(this.first!, resolved, seeds) : '';
    if (why === undefined) {
      this.first = undefined;
      this.plan = new Plan(backend, resolved as Resolved, seeds);
      return result;
    }
    // A refused or differing trace: the next one is compared with this one (when it could be replayed at all).
    this.first = typeof resolved === 'string' ? undefined : resolved;
    if (why !== '' && ++this.traces >= MAX_TRACES) {
      this.reason = why;
      this.first = undefined;
    }
    return result;
  }

  /** Frees the plan's buffers; the next call traces again. */
  dispose(): void {
    this.plan?.dispose();
    this.plan = undefined;
    this.first = undefined;
  }
}

/** What jitStatus() tells of one compiled block. */
export interface JitStatus {
  readonly step: 'train' | 'test' | 'predict';
  /** The batch's tensors the block was compiled for, e.g. 'float32[32,784] int32[32]'. */
  readonly inputs: string;
  readonly compiled: boolean;
  /** Why the block runs eagerly (undefined while compiled, or while its first steps are being traced). */
  readonly reason?: string;
}

/** A tensor's part of a block's key: dtype, shape, and strides when it is not contiguous. */
const signature = (t: Tensor) => `${t.dtype}[${t.shape}]${t.isContiguous ? '' : `/${t.strides}`}`;

/** Compiled blocks a model keeps at most (each holds its plan's intermediate buffers). */
const MAX_BLOCKS = 16;

/** A model's compiled blocks, by kind of step and batch signature, under compile()'s jitCompile setting. */
export class CompiledSteps {
  private readonly blocks = new Map<string, { block: CompiledBlock; status: Omit<JitStatus, 'compiled'> }>();
  private jitCompile: boolean | 'auto' = 'auto';

  /** Drops every block (compile() again) and takes a new setting. */
  reset(jitCompile: boolean | 'auto'): void {
    if (jitCompile !== 'auto' && typeof jitCompile !== 'boolean')
      throw new ArgumentError(`compile: jitCompile must be true, false or 'auto', got ${JSON.stringify(jitCompile)}`);
    this.dispose();
    this.jitCompile = jitCompile;
  }

  /**
   * Runs a block of a step (`eager`, which returns its results) compiled for the batch's signature where the
   * setting allows, else eagerly. Hooks that want every kernel's event (onKernel) make it run eagerly. With
   * jitCompile true, a block that cannot be compiled is an error that says why.
   */
  run(
    step: JitStatus['step'],
    model: { readonly name: string; readonly weights: readonly Variable[] },
    x: readonly unknown[],
    y: readonly Tensor[] | undefined,
    sampleWeight: Tensor | undefined,
    stepSeed: number | undefined,
    eager: () => Tensor[],
    owner?: Set<Disposable>,
  ): Tensor[] {
    if (this.jitCompile === false || kernelHooks() || tracing) return eager();
    const inputs: Tensor[] = [];
    for (const t of [...x, ...(y ?? []), ...(sampleWeight ? [sampleWeight] : [])]) {
      if (!(t instanceof Tensor)) return eager();
      inputs.push(t);
    }
    const shapes = inputs.map(signature).join(' ');
    const key = `${step} ${x.length} ${y?.length ?? 0} ${shapes}`;
    let entry = this.blocks.get(key);
    if (entry) this.blocks.delete(key);
    else {
      entry = { block: new CompiledBlock(), status: { step, inputs: shapes } };
      // Bounded, least recently used first out: batches of ever new shapes must not pile up plans.
      if (this.blocks.size >= MAX_BLOCKS) {
        const [oldest, { block }] = this.blocks.entries().next().value!;
        block.dispose();
        this.blocks.delete(oldest);
      }
    }
    this.blocks.set(key, entry);
    const { block } = entry;
    const results = block.run({ inputs, variables: model.weights, stepSeed, eager, owner });
    if (block.reason !== undefined && this.jitCompile === true) {
      for (const t of results) t.dispose();
      const call = step === 'train' ? 'fit' : step === 'test' ? 'evaluate' : 'predict';
      throw new ArgumentError(
        `${call}: model '${model.name}' was compiled with jitCompile: true, but its ${step} step for ${shapes} ` +
          `cannot be compiled: ${block.reason}; compile with jitCompile: 'auto' (the default) to run such steps ` +
          'eagerly',
      );
    }
    return results;
  }

  status(): JitStatus[] {
    return [...this.blocks.values()].map(({ block, status }) => ({
      ...status,
      compiled: block.compiled,
      ...(block.reason !== undefined ? { reason: block.reason } : {}),
    }));
  }

  /** Frees every block's buffers and forgets them. */
  dispose(): void {
    for (const { block } of this.blocks.values()) block.dispose();
    this.blocks.clear();
  }
}
