// Layer annotations, in the core beside the tape and the dispatch point: which training phase (forward /
// backward / optimizer / evaluate) and which layer path is running. The trainer and Layer.apply mark
// them; the tape stamps each node with the layer path that made it, and a ledger Meter reads both when a
// kernel reports. This module imports nothing, so any layer of the code may mark phases and layer paths.
//
// Invariant: marks are a stack held by synchronous calls only (withPhase/withLayerPath run `fn` and pop in
// `finally`). A mark held across an `await` would be seen by unrelated async code (another fit running
// under Promise.all), so `fn` must not return a promise; callers wrap the synchronous part (fit's step is
// synchronous).

/** Phases a kernel can be attributed to; 'other' is whatever runs outside any marked phase. */
export const PHASES = ['forward', 'backward', 'optimizer', 'evaluate', 'other'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * The phases whose FLOPs count as training compute (EU AI Act Annex XI 2(d) "computational resources used
 * to train").
 */
export const TRAINING_PHASES: readonly Phase[] = ['forward', 'backward', 'optimizer'];

/**
 * Layer paths of the work that belongs to no layer: the loss (compiled losses and the sum of the model's
 * loss terms), the optimizer's update, the compiled metrics and the batches of input data. Their kernels,
 * forward and backward, are metered under these paths, so every kernel of a training step is attributed
 * to a layer or to one of them. (A layer named like one of them shares its line in a profile.)
 */
export const LOSS_SCOPE = 'loss';
export const OPTIMIZER_SCOPE = 'optimizer';
export const METRICS_SCOPE = 'metrics';
/** fit's batches of array data (gathering shuffled rows): the input pipeline's work. */
export const DATA_SCOPE = 'data';

const phases: Phase[] = [];
/** The names of the enclosing layers joined by '/' (or a path swapped in whole): read on every kernel call. */
let layerPath = '';

function checkSync(what: string, result: unknown): void {
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    // Too late to undo the work, but the mark was popped; say why attribution would have been wrong.
    throw new TypeError(
      `${what}: the function returned a promise; phase and layer marks are for synchronous code only ` +
        '(wrap the synchronous part)',
    );
  }
}

/** Runs fn with `phase` as the current phase (nested marks win until they return). */
export function withPhase<T>(phase: Phase, fn: () => T): T {
  phases.push(phase);
  let result: T;
  try {
    result = fn();
  } finally {
    phases.pop();
  }
  checkSync(`withPhase('${phase}')`, result);
  return result;
}

/** Runs fn inside a named layer; layers nest into paths such as 'sequential_1/dense_2'. */
export function withLayerPath<T>(name: string, fn: () => T): T {
  const saved = layerPath;
  layerPath = saved === '' ? name : `${saved}/${name}`;
  let result: T;
  try {
    result = fn();
  } finally {
    layerPath = saved;
  }
  checkSync(`withLayerPath('${name}')`, result);
  return result;
}

/**
 * Makes `path` the current layer path, whole (not nested under the current one), and returns the path it
 * replaced, which the caller must restore with another call in a `finally`. The backward pass runs each
 * tape node's gradient rule at the path that made the node, so backward kernels are metered under the
 * layer they differentiate; a set/restore of one string keeps that loop free of allocations.
 */
export function swapLayerPath(path: string): string {
  const saved = layerPath;
  layerPath = path;
  return saved;
}

/**
 * Makes `phase` the innermost mark until popPhase(), which the caller must call in a `finally`: a compiled step
 * replays each kernel call under the phase it was traced in (see swapLayerPath).
 */
export function pushPhase(phase: Phase): void {
  phases.push(phase);
}

export function popPhase(): void {
  phases.pop();
}

/** The innermost phase mark, or 'other'. */
export function currentPhase(): Phase {
  return phases.length === 0 ? 'other' : phases[phases.length - 1];
}

/** The current layer path ('' outside every layer). */
export function currentLayerPath(): string {
  return layerPath;
}
