// The SpamAssassin emails as the spam examples use them: subject and the start of the body (without the
// transport headers, which name the collecting mail servers), split 80 / 20 by a seeded shuffle.
import * as c from '../src/index.js';
import { spamAssassin } from '../src/text/index.js';

export interface SpamPart {
  texts: string[];
  /** float32 [n, 1]: 1 for spam. */
  y: c.Tensor;
}

/** `limit`: at most that many training emails (the first of the shuffled training part). */
export async function spamSplit(
  headChars: number,
  limit = Infinity,
): Promise<{ train: SpamPart; test: SpamPart; testSpam: number }> {
  const emails = await spamAssassin();
  const texts = emails.map((e) => `${e.subject}\n${e.body.slice(0, headChars)}`);
  const labels = Float32Array.from(emails, (e) => e.label);
  // A seeded shuffle, then 80 / 20: the split is the same on every run.
  const permutation = new c.RandomStream(7).permutation(emails.length);
  const order = permutation.dataSync();
  permutation.dispose();
  const nTest = Math.round(emails.length * 0.2);
  const pick = (idx: ArrayLike<number>): SpamPart => ({
    texts: Array.from(idx, (i) => texts[i]),
    y: c.tensor(
      Float32Array.from(idx, (i) => labels[i]),
      [idx.length, 1],
    ),
  });
  const testIdx = order.subarray(0, nTest);
  return {
    train: pick(order.subarray(nTest, Math.min(order.length, nTest + limit))),
    test: pick(testIdx),
    testSpam: Array.from(testIdx, (i) => labels[i]).reduce((s, v) => s + v, 0),
  };
}
