// The tape: while a gradient is being taken, every op on a tracked tensor is recorded here.
// Each tape saves its own aliases of the tensors a node needs, so user code may dispose its tensors
// (or tidy inside the traced function) without breaking the backward pass.
import type { Tensor } from '../tensor/tensor.js';
import { aliasOf } from '../tensor/tensor.js';
import { isFloat } from '../tensor/dtype.js';
import type { Disposable } from '../tensor/storage.js';
import { currentLayerPath } from './annotations.js';

/** A gradient rule written by the user (customGrad); receives the output gradient. */
export type CustomRule = (dy: Tensor) => readonly (Tensor | null)[];

export interface TapeNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The op's results: one, or several for a fused op with several results (one node for all of them). */
  readonly outputs: readonly Tensor[];
  readonly params: unknown;
  readonly custom?: CustomRule;
  /** The layer path that made the node ('' outside every layer), e.g. 'sequential_1/dense_2'. */
  readonly layerPath: string;
}

export class Tape {
  readonly nodes: TapeNode[] = [];
  /** Keys (Tensor.key) of tensors whose value depends on a differentiated input. */
  readonly tracked = new Set<number>();
  /** The aliases this tape saved; it disposes them (they are in no scope and not finalizer-guarded). */
  private readonly saved = new Set<Disposable>();

  save(t: Tensor): Tensor {
    return aliasOf(t, this.saved);
  }

  dispose(): void {
    for (const t of this.saved) t.dispose();
    this.saved.clear();
    this.nodes.length = 0;
  }
}

const active: Tape[] = [];
let pausedDepth = 0;

export function pushTape(tape: Tape): void {
  active.push(tape);
}

export function popTape(tape: Tape): void {
  const i = active.lastIndexOf(tape);
  if (i >= 0) active.splice(i, 1);
}

export function isRecording(): boolean {
  return pausedDepth === 0 && active.length > 0;
}

/** Called by the dispatcher and the movement ops after each op (with every result of an op that has several). */
export function record(
  op: string,
  inputs: readonly Tensor[],
  output: Tensor | readonly Tensor[],
  params: unknown,
  custom?: CustomRule,
): void {
  if (!isRecording()) return;
  const outputs = Array.isArray(output) ? output : [output as Tensor];
  if (outputs.length === 0 || !isFloat(outputs[0].dtype)) return;
  const layerPath = currentLayerPath();
  for (const tape of active) {
    if (!inputs.some((t) => tape.tracked.has(t.key))) continue;
    const saved = inputs.map((t) => tape.save(t));
    tape.nodes.push({ op, inputs: saved, outputs: outputs.map((t) => tape.save(t)), params, custom, layerPath });
    for (const t of outputs) tape.tracked.add(t.key);
  }
}

/** Runs fn without recording anything for autograd. */
export function noGrad<T>(fn: () => T): T {
  pausedDepth++;
  try {
    return fn();
  } finally {
    pausedDepth--;
  }
}
