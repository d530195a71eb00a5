// The recurrent time loop as one op with a hand-written backward pass (backpropagation through time).
import type { Tensor } from '../../tensor/tensor.js';
import { add, where } from '../../ops/elementwise.js';
import { zeros } from '../../ops/creation.js';
import { concat, stack } from '../../ops/indexing.js';
import { matmul } from '../../ops/linalg.js';
import { sum } from '../../ops/reduce.js';
import { contiguous, expand, reshape, slice, transpose } from '../../ops/views.js';
import { tidy } from '../../tensor/storage.js';
import { customGrad, vjp } from '../../autograd/grad.js';

// The time loop of the recurrent layers as one differentiable op with a hand-written backward pass
// (backpropagation through time). Differentiating a plain loop would record, for every step, a slice of the
// precomputed inputs whose gradient is a zero-padded copy of the whole [time, batch, width] tensor, so
// training cost and memory grew with time^2. Here the forward runs without a tape, keeps each step's
// carried states, and the backward re-runs one step at a time under vjp: O(time) memory and work.

/** One step of a cell: `xw` is this step's x @ kernel (+ input bias) [batch, width]; weights as given to scan. */
export type Cell = (
  xw: Tensor,
  states: readonly Tensor[],
  weights: readonly Tensor[],
) => { output: Tensor; states: Tensor[] };

/**
 * A cell whose step is hu = h @ U (weights[0], one GEMM) then one fused elementwise op of xw, hu, the
 * states and an optional recurrent bias (weights[1]) added to hu; the output is the new h (states[0]).
 * With its hand-written step gradient the scan runs a step's backward as that op's backward plus one
 * GEMM, and U's gradient as one GEMM over all steps (see fusedScan).
 */
export interface FusedCell {
  step(xw: Tensor, hu: Tensor, states: readonly Tensor[], bias: Tensor | null): Tensor[];
  /**
   * The gradients of one step for the next states' gradients: those of xw and hu (also the bias's, per
   * row) and of the states, except what flows through hu (null where none does).
   */
  backward(
    xw: Tensor,
    hu: Tensor,
    states: readonly Tensor[],
    bias: Tensor | null,
    dNext: readonly Tensor[],
  ): { dxw: Tensor; dhu: Tensor; dStates: (Tensor | null)[] };
}

export interface ScanOptions {
  /** Time-major precomputed inputs [time, batch, width]. */
  xw: Tensor;
  /** Initial states, each [batch, units]. */
  initial: readonly Tensor[];
  /** Tensors the cell reads at every step (recurrent kernel, recurrent bias), differentiated. */
  weights: readonly Tensor[];
  cell: Cell;
  /** Time-major bool mask [time, batch, 1]: a masked step keeps the states and repeats (or zeroes) the output. */
  mask: Tensor | null;
  zeroOutputForMask: boolean;
  goBackwards: boolean;
  /** The cell as a FusedCell; when given, it runs instead of `cell`. */
  fused?: FusedCell | null;
}

/** Outputs [time, batch, units] in processing order (reversed time with goBackwards, as Keras) and final states. */
export interface ScanResult {
  outputs: Tensor;
  states: Tensor[];
}

/** Row `i` of a [n, batch, k] tensor as [batch, k] (a view). */
function row(t: Tensor, i: number): Tensor {
  const [, b, k] = t.shape;
  return reshape(slice(t, [i, 0, 0], [1, b, k]), [b, k]);
}

export function scan(o: ScanOptions): ScanResult {
  if (o.fused) return fusedScan(o, o.fused);
  const time = o.xw.shape[0];
  const nStates = o.initial.length;
  const units = o.initial[0].shape[1];
  // With a mask (and no zeroing) a masked step repeats the previous output, so the output is carried
  // like a state: carry = [...states, previousOutput].
  const carriesOutput = o.mask !== null && !o.zeroOutputForMask;
  const nCarry = nStates + (carriesOutput ? 1 : 0);
  const timeOf = (s: number) => (o.goBackwards ? time - 1 - s : s);

  /** Step s (processing order) from `carry`: the output and the next carry. */
  const step = (
    xwT: Tensor,
    carry: readonly Tensor[],
    weights: readonly Tensor[],
    s: number,
  ): { output: Tensor; carry: Tensor[] } => {
    const states = carry.slice(0, nStates);
    const r = o.cell(xwT, states, weights);
    if (!o.mask) return { output: r.output, carry: r.states };
    const m = row(o.mask, timeOf(s));
    const next = r.states.map((n, i) => where(m, n, states[i]));
    const output = where(m, r.output, o.zeroOutputForMask ? 0 : carry[nStates]);
    return { output, carry: carriesOutput ? [...next, output] : next };
  };

  const op = customGrad((xw: Tensor, ...rest: Tensor[]) => {
    const initial = rest.slice(0, nStates),
      weights = rest.slice(nStates);
    let carry = carriesOutput ? [...initial, zeros(initial[0].shape, xw.dtype)] : initial;
    // carries[s] is the carry entering step s: what the backward pass re-runs step s from.
    const carries: Tensor[][] = [];
    const outputs: Tensor[] = [];
    for (let s = 0; s < time; s++) {
      carries.push(carry);
      const r = step(row(xw, timeOf(s)), carry, weights, s);
      outputs.push(r.output);
      carry = r.carry;
    }
    // One packed result [time + nStates, batch, units]: the outputs, then the final states.
    const value = stack([...outputs, ...carry.slice(0, nStates)], 0);
    const gradFunc = (dy: Tensor): (Tensor | null)[] => {
      let dCarry: Tensor[] = [
        ...Array.from({ length: nStates }, (_, i) => row(dy, time + i)),
        ...(carriesOutput ? [zeros([dy.shape[1], units], dy.dtype)] : []),
      ];
      let dWeights: (Tensor | null)[] = weights.map(() => null);
      const dXw: Tensor[] = new Array<Tensor>(time);
      for (let s = time - 1; s >= 0; s--) {
        const t = timeOf(s);
        const r = tidy(() => {
          // The output's gradient: its own, plus what later steps sent back through the carried output.
          const dOut = carriesOutput ? add(row(dy, s), dCarry[nStates]) : row(dy, s);
          const seed = stack([dOut, ...dCarry.slice(0, nStates)], 0);
          const f = (args: Tensor[]) => {
            const res = step(args[0], args.slice(1, 1 + nCarry), args.slice(1 + nCarry), s);
            return stack([res.output, ...res.carry.slice(0, nStates)], 0);
          };
          const { value: v, grads } = vjp(f, [row(xw, t), ...carries[s], ...weights], seed);
          v.dispose();
          const dw = grads.slice(1 + nCarry).map((g, i) => (dWeights[i] ? add(dWeights[i]!, g) : g));
          return { dx: grads[0], dCarry: grads.slice(1, 1 + nCarry), dw };
        });
        // The previous accumulators and carried gradients were made here (or are views of dy): free them.
        for (const old of [...dWeights, ...dCarry]) old?.dispose();
        dXw[t] = r.dx;
        dCarry = r.dCarry;
        dWeights = r.dw;
      }
      return [stack(dXw, 0), ...dCarry.slice(0, nStates), ...dWeights];
    };
    return { value, gradFunc };
  });
  return unpackScan(op(o.xw, ...o.initial, ...o.weights), time, nStates);
}

/** The packed result [time + nStates, batch, units] as outputs and final states (views). */
function unpackScan(packed: Tensor, time: number, nStates: number): ScanResult {
  const outputs = slice(packed, [0, 0, 0], [time, -1, -1]);
  return { outputs, states: Array.from({ length: nStates }, (_, i) => row(packed, time + i)) };
}

/**
 * The time loop of a FusedCell: per step one GEMM and one fused op forward, and in the backward the
 * fused op's backward and one GEMM (dh += dhu @ U^T), plus a few adds, and with a mask the wheres that
 * keep masked steps' states (as scan's step does). The recurrent kernel's gradient is one GEMM over all
 * steps at the end: dU = H^T dHU with H the h entering each step and dHU the hu gradients, stacked over
 * time; the bias's is the column sums of dHU.
 */
function fusedScan(o: ScanOptions, cell: FusedCell): ScanResult {
  const time = o.xw.shape[0];
  const nStates = o.initial.length;
  const timeOf = (s: number) => (o.goBackwards ? time - 1 - s : s);
  // The mask broadcast over the units once, so each step's wheres read a contiguous row without a copy.
  const [batch, units] = o.initial[0].shape;
  const fullMask = o.mask ? contiguous(expand(o.mask, [time, batch, units])) : null;
  const maskAt = (s: number) => (fullMask ? row(fullMask, timeOf(s)) : null);
  // With a mask (and no zeroing) a masked step repeats the previous output, which is then carried.
  const carriesOutput = o.mask !== null && !o.zeroOutputForMask;
  const op = customGrad((xw: Tensor, ...rest: Tensor[]) => {
    const initial = rest.slice(0, nStates);
    const [kernel, bias = null] = rest.slice(nStates);
    // carries[s], hus[s]: the states entering step s and its hu, what the backward pass reads.
    const carries: Tensor[][] = [],
      hus: Tensor[] = [],
      outputs: Tensor[] = [];
    let states = initial;
    let output: Tensor | null = carriesOutput ? zeros(initial[0].shape, xw.dtype) : null;
    for (let s = 0; s < time; s++) {
      const hu = matmul(states[0], kernel);
      carries.push(states);
      hus.push(hu);
      const next = cell.step(row(xw, timeOf(s)), hu, states, bias);
      const m = maskAt(s);
      const prev = states;
      states = m ? next.map((n, i) => where(m, n, prev[i])) : next;
      const out = m ? where(m, next[0], output ?? 0) : next[0];
      if (carriesOutput) output = out;
      outputs.push(out);
    }
    const value = stack([...outputs, ...states], 0);
    const gradFunc = (dy: Tensor): (Tensor | null)[] => {
      let dStates: Tensor[] = Array.from({ length: nStates }, (_, i) => row(dy, time + i));
      // The gradient reaching the carried output from later steps.
      let dCarried: Tensor | null = null;
      const dXw = new Array<Tensor>(time),
        dHu = new Array<Tensor>(time);
      for (let s = time - 1; s >= 0; s--) {
        const r = tidy(() => {
          const dOut = dCarried ? add(row(dy, s), dCarried) : row(dy, s);
          const m = maskAt(s);
          // The new states' gradients; a masked step passes its states' and output's gradients back unchanged.
          const dh = add(dOut, dStates[0]);
          const dNext = m
            ? [where(m, dh, 0), ...dStates.slice(1).map((d) => where(m, d, 0))]
            : [dh, ...dStates.slice(1)];
          const g = cell.backward(row(xw, timeOf(s)), hus[s], carries[s], bias, dNext);
          const viaHu = matmul(g.dhu, transpose(kernel));
          let dPrev = [g.dStates[0] ? add(g.dStates[0], viaHu) : viaHu, ...g.dStates.slice(1).map((d) => d!)];
          if (m) dPrev = dPrev.map((d, i) => add(d, where(m, 0, dStates[i])));
          return { dxw: g.dxw, dhu: g.dhu, dStates: dPrev, dCarried: carriesOutput ? where(m!, 0, dOut) : null };
        });
        for (const old of [...dStates, dCarried]) old?.dispose();
        dXw[timeOf(s)] = r.dxw;
        dHu[s] = r.dhu;
        dStates = r.dStates;
        dCarried = r.dCarried;
      }
      dCarried?.dispose();
      const dHuAll = concat(dHu, 0);
      const dKernel = matmul(
        transpose(
          concat(
            carries.map((c) => c[0]),
            0,
          ),
        ),
        dHuAll,
      );
      return [stack(dXw, 0), ...dStates, dKernel, ...(bias ? [sum(dHuAll, [0])] : [])];
    };
    return { value, gradFunc };
  });
  return unpackScan(op(o.xw, ...o.initial, ...o.weights), time, nStates);
}
