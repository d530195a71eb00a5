// Float constants in a layer's dtype: ONNX's arithmetic wants both operands of one type, so a float64 layer's
// constants (epsilons, scales, thresholds) are float64 initializers and a float32 layer's float32 ones.
import type { DType } from '../../tensor/dtype.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

/** An initializer of `values` (dims default: a vector; [] for a scalar) in `dtype` (float64, else float32). */
export function floatsOf(
  g: OnnxGraphBuilder,
  dtype: DType,
  base: string,
  values: ArrayLike<number>,
  dims: readonly number[] = [values.length],
): string {
  if (dtype === 'float64') return g.array(base, Float64Array.from(values), dims, 'float64');
  return g.floats(base, Array.from(values), dims);
}
