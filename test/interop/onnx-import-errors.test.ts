// ONNX import refuses what it cannot compute faithfully, with typed errors: unsupported operators by node name,
// malformed tensors before allocating, external data, custom domains, reshapes that move the batch; and fuzzed
// files (seeded truncations, flipped bytes, huge varints) give only FormatError / InteropError, quickly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RandomStream, interop, tensor, type Tensor } from '../../src/index.js';
import { assertClose } from '../helpers.js';
import { feedOf, runOnnxRuntime } from './onnx-helpers.js';
import { OnnxGraphBuilder } from '../../src/interop/onnx/graph-builder.js';
import { ONNX_ARITY, ONNX_OPS } from '../../src/interop/onnx/import-ops.js';
import { ONNX_DTYPE, type ModelProto, type NodeProto, type TensorProto } from '../../src/interop/onnx/schema.js';
import { Rng } from '../io/rng.js';

const { FormatError, InteropError, UnsupportedLayerError, encodeModelProto, decodeModelProto, fromOnnx } = interop;

/** A model of input x [batch, 4] through the nodes `build` adds; its output is the value `build` returns. */
function model(build: (g: OnnxGraphBuilder, x: string) => string): Uint8Array {
  const g = new OnnxGraphBuilder('test');
  const x = g.addInput('x', 'float32', [null, 4]);
  g.addOutput(build(g, x), 'float32', [null, 4]);
  return encodeModelProto({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: g.toGraphProto() });
}

/** A decoded copy of `bytes` changed by `edit`, encoded again. */
function edited(bytes: Uint8Array, edit: (m: ModelProto) => void): Uint8Array {
  const m = decodeModelProto(bytes);
  edit(m);
  return encodeModelProto(m);
}

const mlp = new Uint8Array(readFileSync('test/fixtures/interop/onnx-import/mlp.onnx'));
const firstInit = (m: ModelProto): TensorProto => m.graph!.initializer![0];

describe('ONNX import errors', () => {
  it('names the node and op_type of an unsupported operator', () => {
    const bytes = model((g, x) => g.node('NonMaxSuppression', [x, x], {}, 1, 'my_nms')[0]);
    assert.throws(
      () => fromOnnx(bytes),
      (e: unknown) =>
        e instanceof UnsupportedLayerError &&
        e.layerName === 'my_nms' &&
        e.className === 'NonMaxSuppression' &&
        /my_nms.*NonMaxSuppression/.test(e.message),
    );
  });

  it('refuses custom operator domains and control flow by node', () => {
    const custom = edited(
      model((g, x) => g.op('Relu', [x])),
      (m) => {
        m.graph!.node![0].domain = 'com.example';
      },
    );
    assert.throws(() => fromOnnx(custom), UnsupportedLayerError);
    const ifNode = edited(
      model((g, x) => g.op('Relu', [x])),
      (m) => {
        const node: NodeProto = m.graph!.node![0];
        node.attribute = [{ name: 'then_branch', type: 5, g: { name: 'b' } }];
      },
    );
    assert.throws(() => fromOnnx(ifNode), /subgraph/);
  });

  it('checks initializer bytes against dims before allocating', () => {
    const short = edited(mlp, (m) => {
      firstInit(m).rawData = firstInit(m).rawData!.slice(4);
    });
    assert.throws(
      () => fromOnnx(short),
      (e: unknown) => e instanceof FormatError && /raw_data/.test(String(e)),
    );
    const huge = edited(mlp, (m) => {
      firstInit(m).dims = [1 << 20, 1 << 20];
    });
    assert.throws(
      () => fromOnnx(huge),
      (e: unknown) => e instanceof FormatError && /elements/.test(String(e)),
    );
    const negative = edited(mlp, (m) => {
      firstInit(m).dims = [-16, 8];
    });
    assert.throws(() => fromOnnx(negative), FormatError);
  });

  it('refuses external data with a clear message', () => {
    const external = edited(mlp, (m) => {
      const t = firstInit(m);
      t.rawData = undefined;
      t.dataLocation = 1;
      t.externalData = [{ key: 'location', value: '../../etc/passwd' }];
    });
    assert.throws(
      () => fromOnnx(external),
      (e: unknown) => e instanceof FormatError && /external/.test(String(e)),
    );
  });

  it('refuses a reshape that moves the batch and a value read before it is made', () => {
    const reshape = model((g, x) => g.op('Reshape', [x, g.int64('shape', [-1])]));
    assert.throws(
      () => fromOnnx(reshape),
      (e: unknown) => e instanceof InteropError && /batch/.test(String(e)),
    );
    const early = model((g, x) => g.op('Add', [x, 'later']));
    assert.throws(
      () => fromOnnx(early),
      (e: unknown) => e instanceof FormatError && /later/.test(String(e)),
    );
  });

  it('refuses an int64 initializer whose int64_data count disagrees with its dims', () => {
    const bytes = model((g, x) => g.op('Reshape', [x, g.int64('shape', [0, 2, 2])]));
    const bad = edited(bytes, (m) => {
      const t = m.graph!.initializer![0];
      assert.equal(t.dataType, ONNX_DTYPE.INT64);
      t.dims = [4];
    });
    assert.throws(() => fromOnnx(bad), FormatError);
  });
});

describe('ONNX import: defects found by fuzzing', () => {
  it('an axis out of range is an InteropError (was a RangeError, or a silent wrong result)', () => {
    const scale = (g: OnnxGraphBuilder) => g.floats('scale', [1, 1, 1, 1]);
    const norm = model((g, x) => g.op('LayerNormalization', [x, scale(g)], { axis: 5 }));
    assert.throws(
      () => fromOnnx(norm),
      (e: unknown) => e instanceof InteropError && /axis 5/.test(String(e)),
    );
    const pool = model((g, x) => g.op('GlobalAveragePool', [x]));
    assert.throws(
      () => fromOnnx(pool),
      (e: unknown) => e instanceof InteropError && /rank >= 3/.test(String(e)),
    );
  });

  it('a value made from attributes over the cap is refused before it is allocated (was seconds of work)', () => {
    const expand = model((g, x) => g.op('Expand', [x, g.int64('shape', [1, 1 << 24, 4])]));
    assert.throws(
      () => fromOnnx(expand),
      (e: unknown) => e instanceof InteropError && /over \d+ elements/.test(String(e)),
    );
    const padded = model((g, x) => g.op('Pad', [x, g.int64('pads', [0, 0, 0, 1 << 26])]));
    assert.throws(
      () => fromOnnx(padded),
      (e: unknown) => e instanceof InteropError && /over \d+ elements/.test(String(e)),
    );
  });
});

describe('ONNX import fuzzing', () => {
  it('mutated files give only FormatError or InteropError, with no crash or hang', () => {
    const files = ['mlp', 'cnn', 'views', 'mixed'].map(
      (n) => new Uint8Array(readFileSync(`test/fixtures/interop/onnx-import/${n}.onnx`)),
    );
    const rng = new Rng(new RandomStream(20261207));
    const counts = { loaded: 0, refused: 0 };
    for (let i = 0; i < 150; i++) {
      const src = rng.pick(files);
      let bytes = src.slice();
      const kind = rng.int(4);
      if (kind === 0) bytes = bytes.slice(0, rng.int(bytes.length));
      else if (kind === 1)
        for (let k = 0, n = 1 + rng.int(8); k < n; k++) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
      else if (kind === 2) {
        // A run of 0xff: huge varints (lengths, dims) where a field was.
        const at = rng.int(bytes.length);
        bytes.fill(0xff, at, at + 1 + rng.int(9));
      } else bytes[rng.int(bytes.length)] = rng.int(256);
      try {
        fromOnnx(bytes);
        counts.loaded++;
      } catch (e) {
        if (!(e instanceof FormatError || e instanceof InteropError)) {
          throw new Error(`mutation ${i} (kind ${kind}) threw ${String(e)}`, { cause: e });
        }
        counts.refused++;
      }
    }
    assert.ok(counts.refused > 30, `${counts.refused} refused`);
  });
});

describe('ONNX import: review fixes', () => {
  /** A model of x [batch, ...inShape] through `build` at `opset`; the output is declared [batch, ...outShape]. */
  const graph = (
    opset: number,
    inShape: number[],
    outShape: number[],
    build: (g: OnnxGraphBuilder, x: string) => string,
  ): Uint8Array => {
    const g = new OnnxGraphBuilder('fix');
    const x = g.addInput('x', 'float32', [null, ...inShape]);
    g.addOutput(build(g, x), 'float32', [null, ...outShape]);
    return encodeModelProto({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph: g.toGraphProto() });
  };
  const interopNaming = (re: RegExp) => (e: unknown) => e instanceof InteropError && re.test(e.message);

  it('refuses a default-domain opset over 17 (opset 18 Pad takes an axes input), naming the opset', () => {
    const bytes = graph(
      18,
      [4],
      [6],
      (g, x) => g.node('Pad', [x, g.int64('pads', [1, 1]), '', g.int64('axes', [1])], {}, 1, 'pad18')[0],
    );
    assert.throws(() => fromOnnx(bytes), interopNaming(/opset 18.*17/));
  });

  it('refuses nodes that move or mix the batch axis, by node name', () => {
    const cases: Record<string, Uint8Array> = {
      // Softmax over a new leading axis of size 1 holding the whole batch: it would run across the samples.
      unsq0: graph(17, [4], [4], (g, x) => {
        const u = g.node('Unsqueeze', [x, g.int64('a0', [0])], {}, 1, 'unsq0')[0];
        return g.op('Squeeze', [g.op('Softmax', [u], { axis: 1 }), g.int64('a1', [0])]);
      }),
      sq_all: graph(17, [1, 3], [3], (g, x) => g.node('Squeeze', [x], {}, 1, 'sq_all')[0]),
      sq0: graph(17, [1, 3], [1, 3], (g, x) => g.node('Squeeze', [x, g.int64('a', [0])], {}, 1, 'sq0')[0]),
      pad0: graph(17, [4], [4], (g, x) => g.node('Pad', [x, g.int64('p', [1, 0, 0, 0])], {}, 1, 'pad0')[0]),
      // [1, 1, 4] + [batch, 4] broadcasts to [1, batch, 4]: the batch would no longer be axis 0.
      add3: graph(17, [4], [4], (g, x) => g.node('Add', [x, g.floats('c', [1, 2, 3, 4], [1, 1, 4])], {}, 1, 'add3')[0]),
    };
    for (const [name, bytes] of Object.entries(cases))
      assert.throws(() => fromOnnx(bytes), interopNaming(new RegExp(`'${name}'`)), name);
  });

  it('keeps what leaves the batch in place: Squeeze / Unsqueeze / Pad on other axes, as onnxruntime', async () => {
    const bytes = graph(17, [1, 3], [6, 1], (g, x) => {
      const s = g.op('Squeeze', [x, g.int64('a', [1])]);
      const p = g.op('Pad', [s, g.int64('p', [0, 2, 0, 1])]);
      return g.op('Unsqueeze', [g.op('Add', [p, g.floats('c', [1, 2, 3, 4, 5, 6], [6])]), g.int64('b', [-1])]);
    });
    const x = new RandomStream(3).normal([5, 1, 3]);
    const expected = Object.values(await runOnnxRuntime(bytes, { x: feedOf(x) }))[0];
    const y = fromOnnx(bytes).predict(x, { batchSize: 2 }) as Tensor;
    assert.deepEqual(y.shape, expected.dims);
    assertClose(y, expected.data, { rtol: 0, atol: 0 });
  });

  it('integer Div truncates towards zero, as onnxruntime (folded and at run time)', async () => {
    const g = new OnnxGraphBuilder('div');
    const x = g.addInput('x', 'int32', [null, 4]);
    const folded = g.op('Div', [
      g.array('n', Int32Array.of(-7, 7, -8, 9), [4], 'int32'),
      g.array('d', Int32Array.of(2), [], 'int32'),
    ]);
    const y = g.op('Add', [g.op('Div', [x, g.array('e', Int32Array.of(2, -2, 3, -4), [4], 'int32')]), folded]);
    g.addOutput(y, 'int32', [null, 4]);
    const bytes = encodeModelProto({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: g.toGraphProto(),
    });
    const xs = tensor(Int32Array.of(-7, -7, 7, -9, 5, 3, -1, 9), [2, 4], 'int32');
    const expected = Object.values(await runOnnxRuntime(bytes, { x: feedOf(xs) }))[0];
    assert.deepEqual(Array.from((fromOnnx(bytes).predict(xs) as Tensor).dataSync()), Array.from(expected.data));
  });

  it('a node with too few or too many inputs is a FormatError naming it, not a TypeError', () => {
    const cases: Record<string, Uint8Array> = {
      cat: graph(17, [4], [4], (g) => g.node('Concat', [], { axis: 0 }, 1, 'cat')[0]),
      mx: graph(17, [4], [4], (g) => g.node('Max', [], {}, 1, 'mx')[0]),
      wh: graph(17, [4], [4], (g, x) => g.node('Where', [x, x], {}, 1, 'wh')[0]),
      id2: graph(17, [4], [4], (g, x) => g.node('Identity', [x, x], {}, 1, 'id2')[0]),
      mxc: graph(17, [4], [4], (g, x) => g.op('Add', [x, g.node('Min', [], {}, 1, 'mxc')[0]])),
    };
    for (const [name, bytes] of Object.entries(cases))
      assert.throws(
        () => fromOnnx(bytes),
        (e: unknown) => e instanceof FormatError && new RegExp(`'${name}'`).test(e.message),
        name,
      );
    // Every operator the importer computes declares its input counts.
    assert.deepEqual(
      Object.keys(ONNX_OPS).filter((op) => !ONNX_ARITY[op]),
      [],
    );
  });
});
