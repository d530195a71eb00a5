// Gradient buckets (PyTorch DDP's Reducer): the weights' gradients packed into a few flat typed arrays of about
// bucketBytes each, laid out in reverse weight order (the order backward makes them final), each allreduced
// without waiting as soon as all its gradients are in, so communication overlaps the rest of the backward pass.
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../nn/variable.js';
import { DTypeError } from '../errors.js';
import * as o from '../ops/index.js';

/** What the buckets need of a communicator (the contract's Communicator has it). */
export interface BucketComm {
  allreduceArrayAsync(buf: Float32Array | Float64Array, op?: 'sum'): { wait(): void };
}

interface Bucket {
  data: Float32Array | Float64Array;
  /** The weight indices in this bucket, with their offsets into data. */
  members: number[];
  offsets: number[];
  /** Gradients still to come this step. */
  missing: number;
  pending?: { wait(): void };
}

export class GradientBuckets {
  private readonly buckets: Bucket[] = [];
  /** For each weight: its bucket and offset. */
  private readonly place: { bucket: number; offset: number }[] = [];
  private readonly packed: boolean[];
  /** Buckets are started strictly in index order on every rank, as MPI needs collectives in the same order. */
  private started = 0;

  constructor(
    private readonly weights: readonly Variable[],
    bucketBytes: number,
    private readonly comm: BucketComm,
  ) {
    let current: { dtype: string; members: number[]; offsets: number[]; size: number } | undefined;
    const close = () => {
      if (!current) return;
      const data = current.dtype === 'float64' ? new Float64Array(current.size) : new Float32Array(current.size);
      this.buckets.push({ data, members: current.members, offsets: current.offsets, missing: 0 });
      current = undefined;
    };
    for (let i = weights.length - 1; i >= 0; i--) {
      const { dtype, size } = weights[i].value;
      if (dtype !== 'float32' && dtype !== 'float64')
        throw new DTypeError(`DataParallel: weight '${weights[i].name}' is ${dtype}; gradients are float32 or float64`);
      const bytes = dtype === 'float64' ? 8 : 4;
      if (current && (current.dtype !== dtype || (current.size + size) * bytes > bucketBytes)) close();
      current ??= { dtype, members: [], offsets: [], size: 0 };
      this.place[i] = { bucket: this.buckets.length, offset: current.size };
      current.members.push(i);
      current.offsets.push(current.size);
      current.size += size;
    }
    close();
    this.packed = new Array<boolean>(weights.length).fill(false);
    this.reset();
  }

  /** The number of buckets (and so of allreduce calls per step). */
  get count(): number {
    return this.buckets.length;
  }

  private reset(): void {
    for (const b of this.buckets) {
      b.missing = b.members.length;
      b.pending = undefined;
    }
    this.packed.fill(false);
    this.started = 0;
  }

  /** Packs weight `index`'s gradient times `scale` into its bucket, and starts every bucket now complete. */
  add(index: number, grad: Tensor, scale: number): void {
    if (this.packed[index]) return;
    this.packed[index] = true;
    const { bucket, offset } = this.place[index];
    const b = this.buckets[bucket];
    const values = grad.dataSync() as Float32Array | Float64Array;
    if (scale === 1) b.data.set(values, offset);
    else for (let j = 0; j < values.length; j++) b.data[offset + j] = values[j] * scale;
    b.missing--;
    while (this.started < this.buckets.length && this.buckets[this.started].missing === 0) {
      const next = this.buckets[this.started++];
      next.pending = this.comm.allreduceArrayAsync(next.data, 'sum');
    }
  }

  /**
   * The step's summed gradients, one new tensor per weight: packs what was not packed yet (from `grads`), starts
   * the remaining buckets, waits for all of them and unpacks. The buckets are then ready for the next step.
   */
  reduce(grads: readonly Tensor[], scale: number): Tensor[] {
    for (let i = 0; i < this.weights.length; i++) if (!this.packed[i]) this.add(i, grads[i], scale);
    for (const b of this.buckets) b.pending!.wait();
    const out = this.weights.map((w, i) => {
      const { bucket, offset } = this.place[i];
      const { data } = this.buckets[bucket];
      const { shape, dtype, size } = w.value;
      return o.tensor(data.slice(offset, offset + size), shape, dtype);
    });
    this.reset();
    return out;
  }

  /** Waits for what is in flight (fit's end or failure), so no buffer is freed under a running reduction. */
  drain(): void {
    for (const b of this.buckets)
      try {
        b.pending?.wait();
      } catch {
        // the failure that ended fit is the one reported
      }
    this.reset();
  }
}
