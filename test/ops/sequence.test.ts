// The sequence models' fused ops (LSTM / GRU cell steps, attention, and their backward ops): composites
// against slow loop references, float64 gradient checks, the native kernels against the composites on
// the JS reference backend on every instruction set, thread-count invariance, and the layers' use of them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import type { DType, Tensor } from '../../src/index.js';
import { runFusedOp } from '../../src/ops/families/index.js';
import type { FusedName } from '../../src/ops/families/index.js';
import type { AttentionParams } from '../../src/ops/families/attention.js';
import { onKernel } from '../../src/ops/dispatch.js';
import { nativeAvailability, nativeIsas, setNativeIsa } from '../../src/backends/native/index.js';
import { assertClose, joined, rand } from '../helpers.js';

const native = nativeAvailability();
const skipNative = native.available ? false : `native addon not built: ${native.reason}`;

const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** Seeded host values in [-2, 2) (independent of the backend), made into a tensor where needed. */
function data(n: number, seed: number, scale = 1): Float64Array {
  return Float64Array.from(
    c.tidy(() => rand([n], seed, { dtype: 'float64' }).dataSync()),
    (v) => v * scale,
  );
}

/** A bool mask [mb, mt, s] with some keys masked and, where it has two or more rows, one row fully masked. */
function maskData(mb: number, mt: number, s: number, seed: number): Uint8Array {
  const m = Uint8Array.from(data(mb * mt * s, seed), (v) => (v > -1 ? 1 : 0));
  if (mt > 1) m.fill(0, s, 2 * s);
  return m;
}

// ------------------------------------------------------------------------------- slow references

/** One LSTM step, loops in float64: [h, c] flat. */
function lstmRef(xw: ArrayLike<number>, hu: ArrayLike<number>, cs: ArrayLike<number>, b: number, u: number): number[] {
  const h: number[] = [],
    cn: number[] = [];
  for (let r = 0; r < b; r++)
    for (let j = 0; j < u; j++) {
      const z = (g: number) => xw[r * 4 * u + g * u + j] + hu[r * 4 * u + g * u + j];
      const cc = sig(z(1)) * cs[r * u + j] + sig(z(0)) * Math.tanh(z(2));
      cn.push(cc);
      h.push(sig(z(3)) * Math.tanh(cc));
    }
  return [...h, ...cn];
}

/** One GRU step (resetAfter), loops in float64. */
function gruRef(
  xw: ArrayLike<number>,
  hu: ArrayLike<number>,
  h: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  b: number,
  u: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < b; r++)
    for (let j = 0; j < u; j++) {
      const inner = (g: number) => hu[r * 3 * u + g * u + j] + (bias ? bias[g * u + j] : 0);
      const x = (g: number) => xw[r * 3 * u + g * u + j];
      const z = sig(x(0) + inner(0)),
        rr = sig(x(1) + inner(1));
      const hh = Math.tanh(x(2) + rr * inner(2));
      out.push(z * h[r * u + j] + (1 - z) * hh);
    }
  return out;
}

/** mask: its [batch, rows] extents (bool, or additive floats with `additive`). */
interface AttnCase {
  b: number;
  t: number;
  s: number;
  h: number;
  dk: number;
  dv: number;
  mask?: [number, number];
  additive?: boolean;
  causal?: boolean;
  offset?: number;
}

/**
 * softmax over the allowed keys of scale q.k (+ an additive mask), times v; a row with no allowed key is zeros
 * (Keras).
 */
function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  m: ArrayLike<number> | null,
  a: AttnCase,
  scale: number,
): number[] {
  const out = new Array<number>(a.b * a.t * a.h * a.dv).fill(0);
  const [mb, mt] = a.mask ?? [1, 1];
  for (let bi = 0; bi < a.b; bi++)
    for (let hd = 0; hd < a.h; hd++)
      for (let i = 0; i < a.t; i++) {
        const maskAt = (j: number) => (m ? m[((mb === 1 ? 0 : bi) * mt + (mt === 1 ? 0 : i)) * a.s + j] : 0);
        const allowed = (j: number) => (!m || a.additive || maskAt(j) === 1) && (!a.causal || j <= (a.offset ?? 0) + i);
        const logits: number[] = [];
        for (let j = 0; j < a.s; j++) {
          let dot = 0;
          for (let d = 0; d < a.dk; d++)
            dot += q[((bi * a.t + i) * a.h + hd) * a.dk + d] * scale * k[((bi * a.s + j) * a.h + hd) * a.dk + d];
          logits.push(allowed(j) ? dot + (a.additive ? maskAt(j) : 0) : -Infinity);
        }
        const mx = Math.max(...logits);
        if (mx === -Infinity) continue;
        const e = logits.map((l) => Math.exp(l - mx)),
          total = e.reduce((p, q) => p + q, 0);
        for (let j = 0; j < a.s; j++)
          for (let d = 0; d < a.dv; d++)
            out[((bi * a.t + i) * a.h + hd) * a.dv + d] += (e[j] / total) * v[((bi * a.s + j) * a.h + hd) * a.dv + d];
      }
  return out;
}

// ------------------------------------------------------------------------------------------ cases

/** An op call: its inputs as host data with shapes, built into tensors on the current backend. */
interface Call {
  op: FusedName;
  what: string;
  inputs: { data: Float64Array | Uint8Array; shape: number[]; bool?: boolean }[];
  params: object;
}

function build(call: Call, dtype: DType): Tensor[] {
  return call.inputs.map((x) => c.tensor(x.bool ? Uint8Array.from(x.data) : x.data, x.shape, x.bool ? 'bool' : dtype));
}

function run(call: Call, dtype: DType): Float64Array {
  return c.tidy(() =>
    Float64Array.from(joined(runFusedOp(call.op, build(call, dtype), call.params as never)).dataSync()),
  );
}

const CELL_SIZES = [
  [1, 1],
  [7, 5],
  [3, 33],
];
const ATTN_CASES: AttnCase[] = [
  { b: 1, t: 1, s: 1, h: 1, dk: 1, dv: 1 },
  { b: 2, t: 7, s: 7, h: 3, dk: 5, dv: 9, causal: true },
  { b: 3, t: 5, s: 33, h: 2, dk: 7, dv: 3, mask: [3, 5] },
  { b: 3, t: 5, s: 9, h: 2, dk: 17, dv: 4, mask: [1, 1] },
  { b: 2, t: 4, s: 9, h: 1, dk: 3, dv: 5, mask: [2, 1], causal: true, offset: 2 },
  { b: 1, t: 1, s: 9, h: 4, dk: 33, dv: 7, causal: true, offset: 8 },
  { b: 2, t: 5, s: 7, h: 3, dk: 4, dv: 6, mask: [2, 5], additive: true },
  { b: 2, t: 6, s: 6, h: 2, dk: 5, dv: 3, mask: [1, 6], additive: true, causal: true },
];

/** Every fused op on odd sizes: forward and backward ops, LSTM and GRU with and without the recurrent bias. */
function calls(): Call[] {
  const out: Call[] = [];
  let seed = 10;
  const t = (shape: number[], scale = 1) => ({
    data: data(
      shape.reduce((p, q) => p * q, 1),
      seed++,
      scale,
    ),
    shape,
  });
  for (const [b, u] of CELL_SIZES) {
    const lstm = [t([b, 4 * u]), t([b, 4 * u]), t([b, u])];
    out.push({ op: 'lstmCell', what: `lstmCell ${b}x${u}`, inputs: lstm, params: {} });
    out.push({
      op: 'lstmCellGrad',
      what: `lstmCellGrad ${b}x${u}`,
      inputs: [...lstm, t([b, u]), t([b, u])],
      params: {},
    });
    const gru = [t([b, 3 * u]), t([b, 3 * u]), t([b, u])];
    for (const bias of [null, t([3 * u])]) {
      const tail = bias ? [bias] : [];
      out.push({
        op: 'gruCell',
        what: `gruCell ${b}x${u}${bias ? ' bias' : ''}`,
        inputs: [...gru, ...tail],
        params: {},
      });
      out.push({
        op: 'gruCellGrad',
        what: `gruCellGrad ${b}x${u}${bias ? ' bias' : ''}`,
        inputs: [...gru, t([b, u]), ...tail],
        params: {},
      });
    }
  }
  for (const a of ATTN_CASES) {
    const params: AttentionParams = { scale: 1 / Math.sqrt(a.dk), causal: a.causal ?? false, offset: a.offset ?? 0 };
    const qkv = [t([a.b, a.t, a.h, a.dk], 2), t([a.b, a.s, a.h, a.dk], 2), t([a.b, a.s, a.h, a.dv])];
    const maskShape = a.mask ? [...a.mask, a.s] : [];
    const mask = !a.mask
      ? []
      : a.additive
        ? [t(maskShape)]
        : [{ data: maskData(a.mask[0], a.mask[1], a.s, seed++), shape: maskShape, bool: true }];
    const what = `${JSON.stringify(a)}`;
    out.push({ op: 'attention', what: `attention ${what}`, inputs: [...qkv, ...mask], params });
    out.push({
      op: 'attentionGrad',
      what: `attentionGrad ${what}`,
      inputs: [...qkv, t([a.b, a.t, a.h, a.dv]), ...mask],
      params,
    });
  }
  return out;
}

const CALLS = calls();

describe('sequence fused ops: the composites compute the math (float64 loop references)', () => {
  const composite = (call: Call) =>
    c.tidy(() => {
      c.setBackend('js');
      try {
        return run(call, 'float64');
      } finally {
        c.setBackend(BASE);
      }
    });
  test('lstmCell and gruCell', () => {
    for (const call of CALLS) {
      const x = call.inputs.map((i) => i.data);
      const [b, u] = call.inputs[2].shape;
      if (call.op === 'lstmCell')
        assertClose(composite(call), lstmRef(x[0], x[1], x[2], b, u), { rtol: 1e-12, atol: 1e-14 }, call.what);
      if (call.op === 'gruCell')
        assertClose(
          composite(call),
          gruRef(x[0], x[1], x[2], x[3] ?? null, b, u),
          { rtol: 1e-12, atol: 1e-14 },
          call.what,
        );
    }
  });
  test('attention: bool and additive masks, causal with an offset, fully masked rows give zeros', () => {
    CALLS.filter((k) => k.op === 'attention').forEach((call, i) => {
      const a = ATTN_CASES[i],
        x = call.inputs.map((v) => v.data);
      const expected = attentionRef(x[0], x[1], x[2], a.mask ? x[3] : null, a, 1 / Math.sqrt(a.dk));
      assertClose(composite(call), expected, { rtol: 1e-10, atol: 1e-12 }, call.what);
    });
  });
});

/** The backend the suite runs on. */
const BASE = c.getBackend().name;

describe('sequence fused ops: gradients (float64, central differences) on the current backend', () => {
  const tensors = (call: Call) => build(call, 'float64');
  for (const call of CALLS.filter((k) => ['lstmCell', 'gruCell', 'attention'].includes(k.op))) {
    test(call.what, () =>
      c.tidy(() => {
        const inputs = tensors(call);
        const floats = inputs.filter((x) => x.dtype !== 'bool');
        const rest = inputs.slice(floats.length);
        c.assertGradients(
          (...xs: Tensor[]) => joined(runFusedOp(call.op, [...xs, ...rest], call.params as never)),
          floats,
          {
            rtol: 1e-5,
            atol: 1e-7,
          },
        );
      }),
    );
  }
  test('second order: the backward ops differentiate through their composites', () =>
    c.tidy(() => {
      for (const call of CALLS.filter((k) => ['lstmCellGrad', 'gruCellGrad'].includes(k.op)).slice(0, 3)) {
        c.assertGradients((...xs: Tensor[]) => joined(runFusedOp(call.op, xs, {})), tensors(call), {
          rtol: 1e-5,
          atol: 1e-7,
        });
      }
    }));
});

describe('native sequence kernels match the composites on the JS reference backend', { skip: skipNative }, () => {
  /** Max |native - reference| over max |reference| (these kernels sum, so error is relative to the row's scale). */
  const check = (call: Call, dtype: DType, rtol: number, label: string) => {
    c.setBackend('js');
    const ref = run(call, dtype);
    c.setBackend('native');
    const got = run(call, dtype);
    c.setBackend(BASE);
    assert.equal(got.length, ref.length, label);
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
    for (let i = 0; i < got.length; i++)
      assert.ok(Math.abs(got[i] - ref[i]) <= rtol * scale, `${label}: element ${i} is ${got[i]}, reference ${ref[i]}`);
  };
  for (const isa of native.available ? nativeIsas() : []) {
    test(`every op on ${isa}, float32 (1e-5) and float64 (1e-12)`, () => {
      try {
        setNativeIsa(isa);
        for (const call of CALLS) {
          check(call, 'float32', 1e-5, `${isa} ${call.what} float32`);
          check(call, 'float64', 1e-12, `${isa} ${call.what} float64`);
        }
      } finally {
        setNativeIsa('');
        c.setBackend(BASE);
      }
    });
  }

  test('bit-identical with 1, 2 and 3 threads on sizes that split', () => {
    const a: AttnCase = { b: 2, t: 96, s: 96, h: 4, dk: 32, dv: 32, mask: [2, 96], causal: true };
    let seed = 90;
    const t = (shape: number[]) => ({
      data: data(
        shape.reduce((p, q) => p * q, 1),
        seed++,
      ),
      shape,
    });
    const [b, u] = [257, 129];
    const lstm = [t([b, 4 * u]), t([b, 4 * u]), t([b, u])],
      gru = [t([b, 3 * u]), t([b, 3 * u]), t([b, u])];
    const mask = { data: maskData(2, 96, 96, 99), shape: [2, 96, 96], bool: true };
    const qkv = [t([a.b, a.t, a.h, a.dk]), t([a.b, a.s, a.h, a.dk]), t([a.b, a.s, a.h, a.dv])];
    const params = { scale: 0.2, causal: true, offset: 0 };
    const big: Call[] = [
      { op: 'lstmCell', what: 'lstmCell', inputs: lstm, params: {} },
      { op: 'lstmCellGrad', what: 'lstmCellGrad', inputs: [...lstm, t([b, u]), t([b, u])], params: {} },
      { op: 'gruCell', what: 'gruCell', inputs: [...gru, t([3 * u])], params: {} },
      { op: 'gruCellGrad', what: 'gruCellGrad', inputs: [...gru, t([b, u]), t([3 * u])], params: {} },
      { op: 'attention', what: 'attention', inputs: [...qkv, mask], params },
      { op: 'attentionGrad', what: 'attentionGrad', inputs: [...qkv, t([a.b, a.t, a.h, a.dv]), mask], params },
    ];
    const threads = c.getNumThreads();
    c.setBackend('native');
    try {
      c.setNumThreads(1);
      const one = big.map((k) => run(k, 'float32'));
      for (const n of [2, 3]) {
        c.setNumThreads(n);
        big.forEach((k, i) => assert.deepEqual(run(k, 'float32'), one[i], `${k.what} differs with ${n} threads`));
      }
    } finally {
      c.setNumThreads(threads);
      c.setBackend(BASE);
    }
  });
});

describe('the layers run the fused ops', { skip: skipNative }, () => {
  /** Runs a test body on the native backend (its tensors and layers made there too). */
  const onNative = (fn: () => void) => () => {
    c.setBackend('native');
    try {
      c.tidy(fn);
    } finally {
      c.setBackend(BASE);
    }
  };
  /** Kernel calls by op while fn runs. */
  const count = (fn: () => void): Map<string, number> => {
    const seen = new Map<string, number>();
    const off = onKernel((e) => seen.set(e.op, (seen.get(e.op) ?? 0) + 1));
    try {
      c.tidy(fn);
    } finally {
      off();
    }
    return seen;
  };
  const [B, T, F, U] = [3, 6, 5, 4];

  for (const kind of ['lstm', 'gru'] as const) {
    test(
      `${kind}: one GEMM and one cell kernel per step forward, plus one backward kernel and one GEMM per step`,
      onNative(() => {
        const layer = c.layers[kind]({ units: U, returnSequences: true });
        const x = rand([B, T, F], 1, { dtype: 'float32' });
        const cellOp = kind === 'lstm' ? 'lstmCell' : 'gruCell';
        const forward = count(() => {
          layer.apply(x);
        });
        assert.equal(forward.get(cellOp), T);
        assert.equal(forward.get('matmul'), T + 1, 'x @ kernel once, then h @ U per step');
        const backward = count(() => {
          c.grad((xx: Tensor) => c.sum(layer.apply(xx) as Tensor))(x);
        });
        assert.equal(backward.get(`${cellOp}Grad`), T);
        layer.dispose();
      }),
    );
  }

  test(
    'MultiHeadAttention: the fused op without scores or dropout, the composite otherwise, same output',
    onNative(() => {
      const mha = new c.MultiHeadAttention({ numHeads: 2, keyDim: 3, seed: 1 });
      const q = rand([2, 5, 6], 2, { dtype: 'float32' }),
        v = rand([2, 7, 6], 3, { dtype: 'float32' });
      const mask = c.tensor(maskData(2, 5, 7, 4), [2, 5, 7], 'bool');
      let fused: Float32Array | undefined, composite: Float32Array | undefined;
      const plain = count(() => {
        fused = mha.attend(q, v, { attentionMask: mask }).dataSync() as Float32Array;
      });
      assert.equal(plain.get('attention'), 1);
      const withScores = count(() => {
        composite = mha
          .attend(q, v, { attentionMask: mask, returnAttentionScores: true })[0]
          .dataSync() as Float32Array;
      });
      assert.equal(withScores.get('attention'), undefined);
      assertClose(fused!, composite!, { rtol: 1e-5, atol: 1e-6 }, 'fused vs composite attention output');
      mha.dispose();
    }),
  );
});
