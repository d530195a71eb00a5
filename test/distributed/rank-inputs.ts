// Each rank's known inputs for the collective tests: seeded by (rank, salt), never zero, so the program under
// mpirun and the test's plain-JS reference make the same numbers.
export type ReduceDType = 'float32' | 'float64' | 'int32';

/** n values for `rank`: floats in +-[0.1, 1), int32 in +-[1, 1000]. */
export function rankInput(rank: number, n: number, dtype: ReduceDType, salt: number): number[] {
  let s = (rank * 7919 + salt * 104729 + 12345) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const sign = next() < 0.5 ? -1 : 1;
    const u = next();
    if (dtype === 'int32') out.push(sign * (1 + Math.floor(u * 1000)));
    else if (dtype === 'float32') out.push(Math.fround(sign * (0.1 + 0.9 * u)));
    else out.push(sign * (0.1 + 0.9 * u));
  }
  return out;
}

export const REDUCE_DTYPES: readonly ReduceDType[] = ['float32', 'float64', 'int32'];
/** Elements of the reduced vectors: odd, so no algorithm splits them evenly. */
export const VECTOR = 37;
