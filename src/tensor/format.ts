// A readable, NumPy-like rendering of tensor contents, eliding the middle of large dimensions.
import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';
import { sizeOf } from './shape.js';

const EDGE = 3;
const MAX_FULL = 8;

export function formatTensor(data: TypedArray, shape: Shape, dtype: DType): string {
  const fmt = (v: number) => {
    if (dtype === 'bool') return v ? 'true' : 'false';
    if (dtype === 'int32' || dtype === 'int8') return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return v.toFixed(1);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(4);
    // Floats always show a decimal point (2.0, not 2), so they read apart from integers.
    const text = String(Number(v.toPrecision(6)));
    return /[.eNI]/.test(text) ? text : `${text}.0`;
  };
  const render = (dim: number, start: number, indent: string): string => {
    if (dim === shape.length) return fmt(data[start]);
    const n = shape[dim];
    const step = sizeOf(shape.slice(dim + 1));
    const idx = n > MAX_FULL ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    const parts = idx.map((i) => (i < 0 ? '...' : render(dim + 1, start + i * step, indent + ' ')));
    const sep = dim === shape.length - 1 ? ', ' : `,\n${indent} `;
    return `[${parts.join(sep)}]`;
  };
  return `Tensor(${render(0, 0, '')}, shape=[${shape.join(', ')}], dtype=${dtype})`;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
