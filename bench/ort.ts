// onnxruntime-node as a benchmark peer: the bench's MNIST CNN (float32, and its int8 variant) built in Candor,
// exported by Candor's ONNX exporter and timed in session.run with as many intra-op threads as the other peers.
import * as ort from 'onnxruntime-node';
import * as c from '../src/index.js';
import { CNN_VARIANTS, cnnModel } from './cnn-models.js';
import { PeerOutput, peerArgs } from './measure.js';

const args = peerArgs();
const out = new PeerOutput('ort', args);
const version = (ort.env as { versions?: { common?: string } }).versions?.common ?? '?';
out.describe(`onnxruntime-node ${version}, cpu, intraOpNumThreads ${args.threads}, models from interop.toOnnx`);

/** A session for the model's ONNX export: sequential execution, `args.threads` threads inside each op. */
function session(model: c.Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(c.interop.toOnnx(model), {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

/** Times session.run on random [0, 1) images at each predict batch, under cnnPredict{batch}{suffix}. */
async function timeRun(build: () => c.Model, suffix: string): Promise<void> {
  const keys = args.cnn.predictBatches.map((b) => `cnnPredict${b}${suffix}`);
  let s: ort.InferenceSession;
  try {
    s = await session(build());
  } catch (e) {
    // The int8 layers have no ONNX exporter yet on some branches: that figure is pending, not a bench failure.
    for (const key of keys) out.skip(key, `export or load failed: ${e instanceof Error ? e.message : e}`.slice(0, 300));
    return;
  }
  for (const b of args.cnn.predictBatches) {
    const { height, width } = args.cnn;
    const x = c.randomUniform([b, height, width, 1], { seed: 1 });
    const feed = { [s.inputNames[0]]: new ort.Tensor('float32', x.dataSync() as Float32Array, [b, height, width, 1]) };
    x.dispose();
    // The output tensor's data is on the JS side once run resolves: nothing more to read back.
    await out.time(`cnnPredict${b}${suffix}`, () => ({ call: () => s.run(feed) }));
  }
  await s.release();
}

if (args.sections.includes('predict')) await timeRun(() => cnnModel(args), '');
if (args.sections.includes('compress')) {
  const float = cnnModel(args);
  await timeRun(() => float, 'Float');
  await timeRun(() => CNN_VARIANTS.Int8(args, float), 'Int8');
}
out.emit();
