// einsum over any subscripts: implicit or explicit output, repeated labels (diagonals, traces), '...'
// broadcasting and size-1 broadcasting. Lowered onto mul, sum, permute, reshape and matmul (operands are
// contracted pairwise, left to right), so its gradient comes from the table's rules.
import type { Tensor } from '../tensor/tensor.js';
import { isFloat, promoteTypes } from '../tensor/dtype.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { sizeOf } from '../tensor/shape.js';
import { cast, mul } from './elementwise.js';
import { eye } from './creation.js';
import { sum } from './reduce.js';
import { batchMatmul } from './linalg.js';
import { expand, permute, reshape } from './views.js';

/** A subscript label: a letter's char code, or ELLIPSIS + j for the j-th (right-aligned) '...' axis. */
type Label = number;
const ELLIPSIS = 1000;

/** An operand with one label per axis. */
interface Term {
  t: Tensor;
  labels: Label[];
}

function fail(equation: string, why: string): never {
  throw new ArgumentError(`einsum('${equation}'): ${why}`);
}

/** The labels of one subscript term, with '...' standing for `rank - letters` axes of `ellipsisRank` in all. */
function parseTerm(equation: string, term: string, rank: number | undefined, ellipsisRank: number): Label[] {
  const parts = term.split('...');
  if (parts.length > 2) fail(equation, `'${term}' has more than one '...'`);
  const letters = (s: string) =>
    [...s].map((c) => {
      if (!/[a-zA-Z]/.test(c)) fail(equation, `'${c}' is not a subscript letter (a-z, A-Z or '...')`);
      return c.charCodeAt(0);
    });
  const before = letters(parts[0]);
  if (parts.length === 1) return before;
  const after = letters(parts[1]);
  const n = rank === undefined ? ellipsisRank : rank - before.length - after.length;
  if (n < 0) fail(equation, `'${term}' names more axes than its operand's ${rank}`);
  const dots = Array.from({ length: n }, (_, j) => ELLIPSIS + ellipsisRank - n + j);
  return [...before, ...dots, ...after];
}

const name = (l: Label) => (l >= ELLIPSIS ? `...${l - ELLIPSIS}` : String.fromCharCode(l));

/** Sums `labels` out of a term. */
function sumOut(term: Term, drop: (l: Label) => boolean): Term {
  const axes = term.labels.flatMap((l, i) => (drop(l) ? [i] : []));
  if (axes.length === 0) return term;
  return { t: sum(term.t, axes), labels: term.labels.filter((l) => !drop(l)) };
}

/** One axis per label: a label repeated within a term takes the diagonal (x * eye summed over the copy). */
function diagonals(equation: string, term: Term): Term {
  let { t, labels } = term;
  for (let q = labels.length - 1; q >= 0; q--) {
    const p = labels.indexOf(labels[q]);
    if (p === q) continue;
    const n = t.shape[p];
    if (t.shape[q] !== n)
      fail(equation, `label ${name(labels[q])} has sizes ${n} and ${t.shape[q]} in one operand ${fmtShape(t.shape)}`);
    const maskShape = t.shape.map((d, i) => (i === p || i === q ? d : 1));
    t = sum(mul(t, reshape(eye(n, n, 0, t.dtype), maskShape)), [q]);
    labels = labels.filter((_, i) => i !== q);
  }
  return { t, labels };
}

/** t with its axes reordered to `to` (a permutation of its labels). */
function arrange(term: Term, to: readonly Label[]): Tensor {
  return permute(
    term.t,
    to.map((l) => term.labels.indexOf(l)),
  );
}

/** a and b contracted over the labels they share that are not `kept`; the result has batch, a's, b's labels. */
function contract(a: Term, b: Term, kept: Set<Label>, size: Map<Label, number>): Term {
  const shared = a.labels.filter((l) => b.labels.includes(l));
  const batch = shared.filter((l) => kept.has(l));
  const inner = shared.filter((l) => !kept.has(l));
  const aOnly = a.labels.filter((l) => !shared.includes(l));
  const bOnly = b.labels.filter((l) => !shared.includes(l));
  const dims = (ls: readonly Label[]) => ls.map((l) => size.get(l)!);
  const full = (term: Term, order: Label[]) => expand(arrange(term, order), dims(order));
  const labels = [...batch, ...aOnly, ...bOnly];
  const dtype = promoteTypes(a.t.dtype, b.t.dtype);
  if (!isFloat(dtype)) {
    // Integer operands (matmul is float-only): broadcast multiply and sum.
    const lift = (term: Term, own: Label[]) =>
      reshape(
        full(term, own),
        [...batch, ...aOnly, ...bOnly, ...inner].map((l) => (own.includes(l) ? size.get(l)! : 1)),
      );
    const product = mul(lift(a, [...batch, ...aOnly, ...inner]), lift(b, [...batch, ...bOnly, ...inner]));
    const axes = inner.map((_, i) => labels.length + i);
    return { t: axes.length ? sum(product, axes) : product, labels };
  }
  const [nb, m, k, n] = [batch, aOnly, inner, bOnly].map((ls) => sizeOf(dims(ls)));
  const left = reshape(cast(full(a, [...batch, ...aOnly, ...inner]), dtype), [nb, m, k]);
  const right = reshape(cast(full(b, [...batch, ...inner, ...bOnly]), dtype), [nb, k, n]);
  return { t: reshape(batchMatmul(left, right), dims(labels)), labels };
}

/**
 * Einstein summation (numpy.einsum / torch.einsum): 'ij,jk->ik' (matmul), 'ii->' (trace), 'ii->i'
 * (diagonal), 'bij,bjk->bik', '...ij->...ji', 'i,j' (outer product, implicit output: the labels used
 * once, in alphabetical order, after any '...' axes). Labels not in the output are summed over; size-1
 * axes broadcast against the same label elsewhere.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  const terms = lhs.split(',');
  if (terms.length !== operands.length)
    fail(equation, `${terms.length} operand subscripts for ${operands.length} tensors`);
  const ellipsisRank = Math.max(
    0,
    ...terms.map((s, i) => (s.includes('...') ? operands[i].rank - s.replace('...', '').length : 0)),
  );
  const inputs: Term[] = terms.map((s, i) => {
    const x = operands[i];
    const labels = parseTerm(equation, s, x.rank, ellipsisRank);
    if (labels.length !== x.rank)
      fail(equation, `operand ${i} has shape ${fmtShape(x.shape)}, which does not fit '${s}'`);
    return { t: x, labels };
  });

  // Each label's size: equal wherever it appears, or 1 (broadcast).
  const size = new Map<Label, number>();
  inputs.forEach(({ t, labels }, i) =>
    labels.forEach((l, axis) => {
      const d = t.shape[axis],
        seen = size.get(l);
      if (seen === undefined || seen === 1) size.set(l, d);
      else if (d !== seen && d !== 1)
        throw new ShapeError(
          `einsum('${equation}'): label ${name(l)} has size ${seen} elsewhere but ${d} in operand ${i} ` +
            `${fmtShape(t.shape)}`,
        );
    }),
  );
  const all = inputs.flatMap((t) => t.labels);
  let output: Label[];
  if (arrow < 0) {
    const dots = Array.from({ length: ellipsisRank }, (_, j) => ELLIPSIS + j);
    const once = [...new Set(all)].filter((l) => l < ELLIPSIS && all.indexOf(l) === all.lastIndexOf(l));
    output = [...dots, ...once.sort((p, q) => p - q)];
  } else {
    output = parseTerm(equation, eq.slice(arrow + 2), undefined, ellipsisRank);
    for (const l of output) {
      if (!all.includes(l)) fail(equation, `output label ${name(l)} appears in no operand`);
      if (output.indexOf(l) !== output.lastIndexOf(l)) fail(equation, `output label ${name(l)} appears twice`);
    }
  }

  // Diagonals first, then contract left to right, summing each label out as soon as nothing later needs it.
  const terms2 = inputs.map((t) => diagonals(equation, t));
  const neededAfter = (i: number) => new Set([...output, ...terms2.slice(i + 1).flatMap((t) => t.labels)]);
  let acc = sumOut(terms2[0], (l) => !neededAfter(0).has(l));
  for (let i = 1; i < terms2.length; i++) {
    const later = neededAfter(i);
    const next = sumOut(terms2[i], (l) => !later.has(l) && !acc.labels.includes(l));
    acc = sumOut(acc, (l) => !later.has(l) && !next.labels.includes(l));
    acc = contract(acc, next, later, size);
  }
  return expand(
    arrange(acc, output),
    output.map((l) => size.get(l)!),
  );
}
