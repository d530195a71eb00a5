// Seeded uniform draws for the file-format fuzz tests, from the project's own RandomStream.
import * as c from '../../src/index.js';

/** Seeded uniform draws from the project's RandomStream, fetched in chunks. */
export class Rng {
  private buf: ArrayLike<number> = [];
  private at = 0;
  constructor(private readonly gen: c.RandomStream) {}
  next(): number {
    if (this.at === this.buf.length) {
      const t = this.gen.uniform([65536], 0, 1, 'float64');
      this.buf = t.dataSync();
      t.dispose();
      this.at = 0;
    }
    return this.buf[this.at++];
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}
