// Scalar rounding shared by the JS backend's round kernel and the int8 quantisers, so every path rounds alike.

/** Rounds half to even (NumPy's and TF's round): no bias towards +inf over symmetric data. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * x's integer code on the grid of step `scale`, as every int8 path computes it (the op's kernels, fakeQuantize,
 * quantizeKernel, calibration): roundHalfEven(fround(x * fround(1 / scale))), multiplying by the float32
 * reciprocal rather than dividing (the two differ for about one value in 250,000).
 */
export function gridCode(x: number, scale: number): number {
  return roundHalfEven(Math.fround(x * Math.fround(1 / scale)));
}
