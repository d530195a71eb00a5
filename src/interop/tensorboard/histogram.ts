// Weight histograms as TensorBoard draws them: TensorBoard's default bucketing (tf.summary.histogram: 30
// buckets of equal width from min to max; one bucket when all values are equal), stored as a HistogramProto.
import type { HistogramProto } from './schema.js';

/** tf.summary.histogram's DEFAULT_BUCKET_COUNT. */
export const DEFAULT_BUCKET_COUNT = 30;

/**
 * The histogram of the finite values in `values` (NaN and infinities are left out: num counts the values
 * bucketed). Bucket i holds min + i * width <= x < min + (i + 1) * width, the last one closed at max, as
 * TensorBoard's summary_v2 computes it; bucketLimit holds each bucket's right edge.
 */
export function histogramOf(values: ArrayLike<number>, bucketCount = DEFAULT_BUCKET_COUNT): HistogramProto {
  let min = Infinity,
    max = -Infinity,
    num = 0,
    sum = 0,
    sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  const range = max - min;
  if (range === 0) return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  const width = range / bucketCount;
  const bucket = new Array<number>(bucketCount).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) bucket[Math.min(Math.floor((v - min) / width), bucketCount - 1)]++;
  }
  const bucketLimit = bucket.map((_, i) => (i === bucketCount - 1 ? max : min + (i + 1) * width));
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}
