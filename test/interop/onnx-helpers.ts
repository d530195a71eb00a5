// Helpers of the ONNX tests: run exported bytes in onnxruntime-node, check files with python3-onnx's checker
// (tools/onnx-check.py; skipped where /usr/bin/python3 has no onnx, required when CI=true), and compare.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { interop, tidy, type Model, type Tensor } from '../../src/index.js';
import { assertClose, withDir } from '../helpers.js';

export type Feed = { data: Float32Array | Float64Array | Int32Array; dims: readonly number[] };

/** Runs ONNX bytes in onnxruntime-node on named inputs; returns the outputs by name. */
export async function runOnnxRuntime(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<Record<string, Feed>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds))
    inputs[name] = new ort.Tensor(
      f.data instanceof Int32Array ? 'int32' : f.data instanceof Float64Array ? 'float64' : 'float32',
      f.data,
      [...f.dims],
    );
  const out = await session.run(inputs);
  await session.release();
  const result: Record<string, Feed> = {};
  for (const [name, t] of Object.entries(out))
    result[name] = { data: t.data as Float32Array, dims: t.dims.map(Number) };
  return result;
}

/** A Candor tensor as an onnxruntime feed. */
export function feedOf(t: Tensor): Feed {
  const data = t.dataSync();
  const typed =
    t.dtype === 'int32'
      ? Int32Array.from(data)
      : t.dtype === 'float64'
        ? Float64Array.from(data)
        : Float32Array.from(data);
  return { data: typed, dims: t.shape };
}

const PYTHON = '/usr/bin/python3';
let checkerAvailable: boolean | undefined;
/** Whether python3-onnx can check files here; in CI it must (it is installed by .ci/run). */
export function onnxCheckerAvailable(): boolean {
  checkerAvailable ??= spawnSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
  if (!checkerAvailable && process.env.CI) assert.fail('CI: python3-onnx is required for the ONNX checker tests');
  return checkerAvailable;
}

/** Writes each model under `dir` and runs onnx.checker on them all in one Python process; asserts each is ok. */
export function assertOnnxChecks(dir: string, models: Record<string, Uint8Array>): void {
  const paths = Object.entries(models).map(([name, bytes]) => {
    const path = join(dir, `${name}.onnx`);
    writeFileSync(path, bytes);
    return path;
  });
  const run = spawnSync(PYTHON, ['tools/onnx-check.py', ...paths], { encoding: 'utf8' });
  assert.equal(run.status, 0, `tools/onnx-check.py failed: ${run.stderr}`);
  const results = JSON.parse(run.stdout) as Record<string, string>;
  for (const p of paths) assert.equal(results[p], 'ok', `onnx.checker on ${p}`);
}

/**
 * Exports `model`, runs it in onnxruntime on the inputs `makeInputs(batch)` for each batch size (the batch is
 * dynamic) and asserts every output equals Candor's predict within `tol`; returns the ONNX bytes.
 */
export async function assertOnnxMatchesCandor(
  model: Model,
  makeInputs: (batch: number) => Tensor[],
  { batches = [1, 3], tol = 1e-5 }: { batches?: readonly number[]; tol?: number } = {},
): Promise<Uint8Array> {
  const bytes = interop.toOnnx(model);
  const graph = interop.decodeModelProto(bytes).graph!;
  for (const b of batches) {
    const xs = makeInputs(b);
    const predicted = tidy(() => model.predict(xs.length === 1 ? xs[0] : xs, { batchSize: 64 }));
    const expected = Array.isArray(predicted) ? predicted : [predicted];
    const feeds = Object.fromEntries(graph.input!.map((v, i) => [v.name!, feedOf(xs[i])]));
    const outs = await runOnnxRuntime(bytes, feeds);
    graph.output!.forEach((o, i) => {
      const out = outs[o.name!];
      assert.deepEqual([...out.dims], [...expected[i].shape], `${model.name} batch ${b} output ${i} shape`);
      assertClose(out.data, expected[i], { rtol: tol, atol: tol }, `${model.name} batch ${b} output ${i}`);
    });
    for (const t of [...xs, ...expected]) t.dispose();
  }
  return bytes;
}

/**
 * A record for the exported files of a test file, all checked with python3-onnx's checker in one process
 * after its tests (add each file under a name: record[name] = bytes).
 */
export function checkedAfterAll(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  after(async () => {
    if (Object.keys(files).length > 0 && onnxCheckerAvailable())
      await withDir(async (dir) => assertOnnxChecks(dir, files));
  });
  return files;
}
