// tile (tf.tile: whole copies side by side) and repeat (numpy.repeat / torch.repeat_interleave: each element
// repeated in place), as expand + reshape or a gather, so their gradients come from the table.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, fmtShape } from '../errors.js';
import { normalizeAxis } from '../tensor/shape.js';
import { gather } from './indexing.js';
import { expand, reshape } from './views.js';

/** x repeated multiples[i] times along each axis i: [a, b] tiled by [2, 1] is [a, b, a, b]. */
export function tile(x: Tensor, multiples: readonly number[]): Tensor {
  if (multiples.length !== x.rank)
    throw new ArgumentError(
      `tile: expected ${x.rank} multiples for ${fmtShape(x.shape)}, got [${multiples.join(', ')}]`,
    );
  for (const m of multiples)
    if (!Number.isInteger(m) || m < 0)
      throw new ArgumentError(`tile: multiples must be non-negative integers, got [${multiples.join(', ')}]`);
  // [r0, d0, r1, d1, ...]: each axis gets a leading copy axis, which reshape then folds in front of it.
  const interleaved = x.shape.flatMap((d) => [1, d]);
  const expanded = x.shape.flatMap((d, i) => [multiples[i], d]);
  return reshape(
    expand(reshape(x, interleaved), expanded),
    x.shape.map((d, i) => d * multiples[i]),
  );
}

/**
 * Each element repeated in place along axis: repeats is one count for all, or one per element (any
 * non-negative integers). Without an axis x is flattened first (numpy.repeat, torch.repeat_interleave).
 */
export function repeat(x: Tensor, repeats: number | readonly number[] | Tensor, axis?: number): Tensor {
  const flat = axis === undefined ? reshape(x, [-1]) : x;
  const a = normalizeAxis('repeat', axis ?? 0, flat.rank);
  const dim = flat.shape[a];
  const counts = repeats instanceof Tensor ? Array.from(repeats.dataSync(), Number) : repeats;
  if (repeats instanceof Tensor && repeats.rank > 1)
    throw new ArgumentError(`repeat: repeats must be a number or 1-D, got ${fmtShape(repeats.shape)}`);
  const list = typeof counts === 'number' ? [counts] : counts;
  for (const r of list)
    if (!Number.isInteger(r) || r < 0)
      throw new ArgumentError(`repeat: repeats must be non-negative integers, got [${list.join(', ')}]`);
  if (list.length === 1) {
    // One count: [.., d, 1, ..] broadcast to [.., d, r, ..] and folded into [.., d * r, ..].
    const r = list[0];
    const inserted = [...flat.shape.slice(0, a + 1), 1, ...flat.shape.slice(a + 1)];
    const target = [...flat.shape.slice(0, a + 1), r, ...flat.shape.slice(a + 1)];
    return reshape(
      expand(reshape(flat, inserted), target),
      flat.shape.map((d, i) => (i === a ? d * r : d)),
    );
  }
  if (list.length !== dim)
    throw new ArgumentError(
      `repeat: ${list.length} repeats for axis ${a} of size ${dim} (x ${fmtShape(x.shape)}); expected 1 or ${dim}`,
    );
  const index = list.flatMap((r, i) => new Array<number>(r).fill(i));
  return gather(flat, index, a);
}
