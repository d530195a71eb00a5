// The parameter server's shard plan: the trainable weights flattened in order and cut into one contiguous range per
// server, balanced by bytes, each range listed as the pieces (segments) of the weights it covers.

import { ArgumentError } from '../errors.js';

/** The part of one weight a shard holds: elements [start, start + length) of weight `weight` (row-major). */
export interface ShardSegment {
  weight: number;
  start: number;
  length: number;
  /** Where the segment starts in its shard's flat vector. */
  offset: number;
}

/** One server's range [start, end) of the flat parameter vector. */
export interface ShardPlan {
  server: number;
  start: number;
  end: number;
  segments: ShardSegment[];
}

/**
 * Cuts weights of `sizes` elements (each `bytesPerElement[i]` bytes, 4 when omitted) into `servers` contiguous ranges,
 * each within one element's bytes of total / servers (with one dtype: sizes differ by at most one element). A range
 * may split a weight; every element lies in exactly one range. Ranges may be empty with fewer elements than servers.
 */
export function planShards(
  sizes: readonly number[],
  servers: number,
  bytesPerElement?: readonly number[],
): ShardPlan[] {
  if (!Number.isInteger(servers) || servers < 1)
    throw new ArgumentError(`planShards: servers must be a positive integer, got ${servers}`);
  sizes.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0)
      throw new ArgumentError(`planShards: weight ${i} has ${n} elements, expected a non-negative integer`);
  });
  const bpe = (i: number) => bytesPerElement?.[i] ?? 4;
  const totalBytes = sizes.reduce((s, n, i) => s + n * bpe(i), 0);
  // Element boundaries in the flat vector: the cut for server j is the first element whose bytes start at or past
  // j x totalBytes / servers (an element goes to the range its first byte falls in).
  const cuts: number[] = [0];
  let element = 0,
    bytes = 0,
    weight = 0,
    within = 0;
  for (let j = 1; j < servers; j++) {
    const target = (j * totalBytes) / servers;
    while (weight < sizes.length && bytes < target) {
      const left = sizes[weight] - within;
      const take = Math.min(left, Math.ceil((target - bytes) / bpe(weight)));
      element += take;
      bytes += take * bpe(weight);
      within += take;
      if (within === sizes[weight]) {
        weight++;
        within = 0;
      }
    }
    cuts.push(element);
  }
  cuts.push(sizes.reduce((s, n) => s + n, 0));
  const weightStarts: number[] = [];
  sizes.reduce((s, n, i) => ((weightStarts[i] = s), s + n), 0);
  return Array.from({ length: servers }, (_, server) => {
    const start = cuts[server],
      end = cuts[server + 1];
    const segments: ShardSegment[] = [];
    sizes.forEach((n, i) => {
      const from = Math.max(start, weightStarts[i]),
        to = Math.min(end, weightStarts[i] + n);
      if (to > from)
        segments.push({ weight: i, start: from - weightStarts[i], length: to - from, offset: from - start });
    });
    return { server, start, end, segments };
  });
}
