// The GPT of examples/gpt-text written in TF.js ops (tf.layers has no attention layer): token + learnt
// position embeddings, pre-norm causal decoder blocks (4 heads, GELU feed-forward), final layer norm,
// output projection = token embedding transposed. Kernels N(0, 0.02) as GPT-2; no dropout.
import * as tf from '@tensorflow/tfjs';
import type { GPT } from './spec.js';

export interface TfjsGpt {
  readonly weights: tf.Variable[];
  /** ids [batch, T] int32 -> logits [batch * T, vocab]. */
  logits(ids: tf.Tensor): tf.Tensor2D;
}

export function tfjsGpt(g: typeof GPT): TfjsGpt {
  const weights: tf.Variable[] = [];
  const v = (t: tf.Tensor) => {
    const w = tf.variable(t);
    weights.push(w);
    return w;
  };
  const normal = (shape: number[]) => v(tf.randomNormal(shape, 0, 0.02));
  const dense = (inDim: number, outDim: number) => ({ kernel: normal([inDim, outDim]), bias: v(tf.zeros([outDim])) });
  const norm = () => ({ gamma: v(tf.ones([g.hidden])), beta: v(tf.zeros([g.hidden])) });
  const wte = normal([g.vocab, g.hidden]),
    wpe = normal([g.context, g.hidden]);
  const blocks = Array.from({ length: g.layers }, () => ({
    norm1: norm(),
    q: dense(g.hidden, g.hidden),
    k: dense(g.hidden, g.hidden),
    v: dense(g.hidden, g.hidden),
    o: dense(g.hidden, g.hidden),
    norm2: norm(),
    up: dense(g.hidden, g.ffn),
    down: dense(g.ffn, g.hidden),
  }));
  const final = norm();

  const apply = (x: tf.Tensor2D, d: { kernel: tf.Variable; bias: tf.Variable }) =>
    tf.add(tf.matMul(x, d.kernel), d.bias) as tf.Tensor2D;
  const layerNorm = (x: tf.Tensor2D, n: { gamma: tf.Variable; beta: tf.Variable }) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), n.gamma), n.beta) as tf.Tensor2D;
  };
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const headDim = g.hidden / g.heads;
  // 0 on and below the diagonal, -1e9 above: added to the scores so no position attends to a later one.
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([g.context, g.context]), -1, 0)), -1e9));

  function logits(ids: tf.Tensor): tf.Tensor2D {
    const [b, t] = ids.shape;
    // [b * t, hidden] -> [b, heads, t, headDim]
    const heads = (x: tf.Tensor2D) => tf.transpose(tf.reshape(x, [b, t, g.heads, headDim]), [0, 2, 1, 3]);
    let x = tf.reshape(tf.add(tf.gather(wte, ids), tf.slice(wpe, [0, 0], [t, g.hidden])), [
      b * t,
      g.hidden,
    ]) as tf.Tensor2D;
    const causal = tf.slice(mask, [0, 0], [t, t]);
    for (const blk of blocks) {
      const h = layerNorm(x, blk.norm1);
      const scores = tf.add(
        tf.mul(tf.matMul(heads(apply(h, blk.q)), heads(apply(h, blk.k)), false, true), 1 / Math.sqrt(headDim)),
        causal,
      );
      const attended = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), heads(apply(h, blk.v))), [0, 2, 1, 3]), [
        b * t,
        g.hidden,
      ]) as tf.Tensor2D;
      x = tf.add(x, apply(attended, blk.o));
      x = tf.add(x, apply(gelu(apply(layerNorm(x, blk.norm2), blk.up)) as tf.Tensor2D, blk.down));
    }
    return tf.matMul(layerNorm(x, final), wte, false, true);
  }
  return { weights, logits };
}
