// The parameter server's messages: one typed array per message, a 64-byte header of float64 fields followed by the
// payload (a shard's gradients or parameters) in the weights' dtype, so that each push or pull is one MPI message.

import type { FloatDType } from '../tensor/dtype.js';

/** Message tags (MPI tags of the parameter server's point-to-point traffic; apart from other users' tags). */
export const TAG = {
  /** rank 0 -> server: the initial values of its shard. */
  init: 0x5350 + 0,
  /** worker -> server: a step's gradients (kind push) or the worker's end (kind done). */
  push: 0x5350 + 1,
  /** server -> worker: parameters after an update (or at begin). */
  params: 0x5350 + 2,
  /** server -> worker: the final parameters, once every worker is done. */
  final: 0x5350 + 3,
  /** rank 0 -> workers: non-trainable weights at begin (they stay on workers). */
  state: 0x5350 + 4,
  /** workers -> rank 0 -> workers: logs to average. */
  logs: 0x5350 + 5,
} as const;

export const KIND = { push: 1, done: 2, params: 3 } as const;

/** Header fields (float64 slots). */
export const H = {
  kind: 0,
  /** push: the worker's step (its clock before the push). */
  clock: 1,
  /** push: the rows the gradient averages over. */
  rows: 2,
  /** push: the server version the gradient was computed on; params: the version sent. */
  version: 3,
  /** push: the slowest worker's clock when those parameters were sent; params: that clock. */
  minClock: 4,
  /** push: the worker optimizer's constant learning rate (NaN when it has a schedule). */
  learningRate: 5,
} as const;

const HEADER_BYTES = 64;

/** A reusable message: `header` and `payload` view one buffer, `message` is what is sent and received. */
export class Message {
  readonly header: Float64Array;
  readonly payload: Float32Array | Float64Array;
  readonly message: Float32Array | Float64Array;
  /** The header alone (a message without payload, e.g. done). */
  readonly headerOnly: Float32Array | Float64Array;

  constructor(dtype: FloatDType, length: number) {
    const Array_ = dtype === 'float64' ? Float64Array : Float32Array;
    const buffer = new ArrayBuffer(HEADER_BYTES + length * Array_.BYTES_PER_ELEMENT);
    this.header = new Float64Array(buffer, 0, HEADER_BYTES / 8);
    this.payload = new Array_(buffer, HEADER_BYTES, length);
    this.message = new Array_(buffer);
    this.headerOnly = new Array_(buffer, 0, HEADER_BYTES / Array_.BYTES_PER_ELEMENT);
  }
}
