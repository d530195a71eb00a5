// TF.js as a benchmark peer (backend `cpu` or `wasm`, argv[3]; both compute synchronously, so a result
// needs no read-back to be timed): tf.matMul, tf.conv2d and its gradients,
// tf.layers models trained with trainOnBatch and run with predict, and the GPT of tfjs-gpt.ts.
import * as tf from '@tensorflow/tfjs';
import { PeerOutput, peerArgs } from './measure.js';
import { tfjsGpt } from './tfjs-gpt.js';
import type { PeerArgs } from './spec.js';

const args = peerArgs();
const backend = process.argv[3] === 'wasm' ? 'wasm' : 'cpu';
const out = new PeerOutput(backend === 'wasm' ? 'tfjs-wasm' : 'tfjs-cpu', args);
// A missing package ends the process: the orchestrator reports it.
if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' did not initialise`);
await tf.ready();
const simd =
  backend === 'wasm'
    ? (tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ', no SIMD') +
      (tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? ', threads' : ', 1 thread')
    : ', 1 thread';
out.describe(`TF.js ${tf.version.tfjs} ${backend}${simd}`);

/** Labels as TF.js' sparse cross-entropy takes them: float class indices [n, 1]. */
const labels = (n: number, classes: number) => tf.floor(tf.randomUniform([n, 1], 0, classes, 'float32', 2));
const adam = () => tf.train.adam(args.learningRate);

function mlpModel(a: PeerArgs): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: a.mlp.hidden, activation: 'relu', inputShape: [a.mlp.inputs] }));
  m.add(tf.layers.dense({ units: a.mlp.classes, activation: 'softmax' }));
  return m;
}

function cnnModel(a: PeerArgs): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [a.cnn.height, a.cnn.width, 1] }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dropout({ rate: a.cnn.dropout }));
  m.add(tf.layers.dense({ units: a.cnn.classes, activation: 'softmax' }));
  return m;
}

/** One training step per call on a fixed batch (trainOnBatch resolves with the loss read back). */
function trainStep(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) {
  model.compile({ optimizer: adam(), loss: 'sparseCategoricalCrossentropy' });
  return { call: () => model.trainOnBatch(x, y), dispose: () => tf.dispose([x, y]) };
}

const has = (s: PeerArgs['sections'][number]) => args.sections.includes(s);
if (has('gemm'))
  for (const n of args.gemmSizes) {
    await out.time(`gemm${n}`, () => {
      const a = tf.randomUniform([n, n], 0, 1, 'float32', 1),
        b = tf.randomUniform([n, n], 0, 1, 'float32', 2);
      return { call: () => tf.matMul(a, b).dispose(), dispose: () => tf.dispose([a, b]) };
    });
  }
if (has('conv'))
  for (const s of args.convs) {
    const x = tf.randomUniform([s.batch, s.height, s.width, s.inChannels], 0, 1, 'float32', 1);
    const w = tf.randomUniform([s.kernel, s.kernel, s.inChannels, s.outChannels], 0, 1, 'float32', 2);
    const dy = tf.randomUniform(
      [s.batch, s.height - s.kernel + 1, s.width - s.kernel + 1, s.outChannels],
      0,
      1,
      'float32',
      3,
    );
    const conv = (xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'valid');
    await out.time(`${s.name}Fwd`, () => ({ call: () => conv(x, w).dispose() }));
    const both = tf.grads(conv);
    await out.time(`${s.name}FwdBwd`, () => ({ call: () => tf.dispose(both([x, w], dy)) }));
    tf.dispose([x, w, dy]);
  }
if (has('mlp')) {
  await out.time('mlpTrain', () =>
    trainStep(
      mlpModel(args),
      tf.randomUniform([args.mlp.batch, args.mlp.inputs], 0, 1, 'float32', 1),
      labels(args.mlp.batch, args.mlp.classes),
    ),
  );
}
if (has('cnn')) {
  const { batch, height, width, classes } = args.cnn;
  await out.time('cnnTrain', () =>
    trainStep(cnnModel(args), tf.randomUniform([batch, height, width, 1], 0, 1, 'float32', 1), labels(batch, classes)),
  );
}
if (has('predict')) {
  const model = cnnModel(args);
  for (const b of args.cnn.predictBatches) {
    await out.time(`cnnPredict${b}`, () => {
      const x = tf.randomUniform([b, args.cnn.height, args.cnn.width, 1], 0, 1, 'float32', 1);
      return {
        call: () => {
          const p = model.predict(x, { batchSize: b }) as tf.Tensor;
          p.dataSync();
          p.dispose();
        },
        dispose: () => x.dispose(),
      };
    });
  }
}
if (has('gpt')) {
  const g = args.gpt;
  await out.time('gptTrain', () => {
    const model = tfjsGpt(g),
      optimizer = adam();
    const ids = tf.floor(tf.randomUniform([g.batch, g.context], 0, g.vocab, 'float32', 1)).toInt();
    const targets = tf.floor(tf.randomUniform([g.batch * g.context], 0, g.vocab, 'float32', 2)).toInt();
    return {
      call: () => {
        const loss = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(tf.oneHot(targets, g.vocab), model.logits(ids)) as tf.Scalar,
          true,
          model.weights,
        )!;
        loss.dataSync();
        loss.dispose();
      },
      dispose: () => tf.dispose([ids, targets, ...model.weights]),
    };
  });
}
out.emit();
