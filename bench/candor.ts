// Candor as a benchmark peer (`native` or `js` backend, argv[3]), through its public API only: matmul,
// conv2d and its vjp, and the Keras-style models trained with trainOnBatch and run with predict.
import * as c from '../src/index.js';
import { CNN_VARIANTS, cnnModel } from './cnn-models.js';
import { PeerOutput, peerArgs } from './measure.js';
import { CNN_VARIANT_NAMES, type PeerArgs } from './spec.js';

const args = peerArgs();
const backend = process.argv[3] === 'js' ? 'js' : 'native';
const out = new PeerOutput(backend, args);
c.setBackend(backend); // throws when the addon is not built: the orchestrator reports the reason
out.describe(c.getBackend().description);

/** Float32 uniform [0, 1) of `shape`, and int32 labels in [0, classes). */
const uniform = (shape: number[], seed: number) => c.randomUniform(shape, { seed });
const labels = (shape: number[], classes: number, seed: number) =>
  c.tidy(() => c.cast(c.mul(uniform(shape, seed), classes), 'int32'));

function mlpModel(a: PeerArgs): c.Model {
  return new c.Sequential([
    c.layers.dense({ units: a.mlp.hidden, activation: 'relu', inputShape: [a.mlp.inputs] }),
    c.layers.dense({ units: a.mlp.classes, activation: 'softmax' }),
  ]);
}

const compile = (model: c.Model, fromLogits = false) =>
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: args.learningRate }),
    loss: c.losses.sparseCategoricalCrossentropy({ fromLogits }),
  });

/** One training step per call on a fixed batch. */
function trainStep(model: c.Model, x: c.Tensor, y: c.Tensor) {
  return { call: () => model.trainOnBatch(x, y), dispose: () => c.dispose([x, y]) };
}

const has = (s: PeerArgs['sections'][number]) => args.sections.includes(s);
if (has('gemm'))
  for (const n of args.gemmSizes) {
    await out.time(`gemm${n}`, () => {
      const a = uniform([n, n], 1),
        b = uniform([n, n], 2);
      return { call: () => c.matmul(a, b).dispose(), dispose: () => c.dispose([a, b]) };
    });
  }
if (has('conv'))
  for (const s of args.convs) {
    const xShape = [s.batch, s.height, s.width, s.inChannels],
      wShape = [s.kernel, s.kernel, s.inChannels, s.outChannels];
    const outShape = [s.batch, s.height - s.kernel + 1, s.width - s.kernel + 1, s.outChannels];
    await out.time(`${s.name}Fwd`, () => {
      const x = uniform(xShape, 1),
        w = uniform(wShape, 2);
      return { call: () => c.conv2d(x, w).dispose(), dispose: () => c.dispose([x, w]) };
    });
    await out.time(`${s.name}FwdBwd`, () => {
      const x = uniform(xShape, 1),
        w = uniform(wShape, 2),
        dy = uniform(outShape, 3);
      return {
        call: () => {
          const { value, grads } = c.vjp((p) => c.conv2d(p.x, p.w), { x, w }, dy);
          c.dispose([value, grads.x, grads.w]);
        },
        dispose: () => c.dispose([x, w, dy]),
      };
    });
  }
if (has('mlp')) {
  await out.time('mlpTrain', () => {
    const model = mlpModel(args);
    compile(model);
    return trainStep(
      model,
      uniform([args.mlp.batch, args.mlp.inputs], 1),
      labels([args.mlp.batch], args.mlp.classes, 2),
    );
  });
}
if (has('cnn')) {
  const { batch, height, width, classes } = args.cnn;
  const before = process.resourceUsage().maxRSS;
  await out.time('cnnTrain', () => {
    const model = cnnModel(args);
    compile(model);
    return trainStep(model, uniform([batch, height, width, 1], 1), labels([batch], classes, 2));
  });
  out.memory('cnn', before);
}
if (has('dp')) {
  // One fit() of one epoch over exactly one batch (fixed-size sampling, no record): the same batch, the same
  // fit overhead, with and without DP-SGD's per-example clipping, noise and accounting.
  const { batch, height, width, classes } = args.cnn;
  for (const key of ['cnnFitStep', 'cnnDpFitStep'] as const)
    await out.time(key, () => {
      const model = cnnModel(args);
      model.compile({
        optimizer: c.optimizers.adam({ learningRate: args.learningRate }),
        loss: 'sparseCategoricalCrossentropy',
        ...(key === 'cnnDpFitStep' ? { privacy: { ...args.dp, sampling: 'fixed' as const } } : {}),
      });
      const x = uniform([batch, height, width, 1], 1),
        y = labels([batch], classes, 2);
      return {
        call: () => model.fit(x, y, { epochs: 1, batchSize: batch, verbose: 0, record: false }),
        dispose: () => c.dispose([x, y]),
      };
    });
}
/** Times model.predict on random images at each of the CNN's predict batches, under cnnPredict{batch}{suffix}. */
async function timePredict(model: c.Model, suffix = ''): Promise<void> {
  for (const b of args.cnn.predictBatches) {
    await out.time(`cnnPredict${b}${suffix}`, () => {
      const x = uniform([b, args.cnn.height, args.cnn.width, 1], 1);
      // Reading the probabilities back is part of a prediction's latency (as for every peer).
      return {
        call: () => {
          const p = model.predict(x, { batchSize: b }) as c.Tensor;
          p.dataSync();
          p.dispose();
        },
        dispose: () => x.dispose(),
      };
    });
  }
}
if (has('predict')) await timePredict(cnnModel(args));
if (has('compress')) {
  const float = cnnModel(args);
  for (const v of CNN_VARIANT_NAMES) {
    let model: c.Model;
    try {
      model = CNN_VARIANTS[v](args, float);
    } catch (e) {
      for (const b of args.cnn.predictBatches)
        out.skip(`cnnPredict${b}${v}`, `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300));
      continue;
    }
    await timePredict(model, v);
  }
}
if (has('explain')) {
  const e = args.explain;
  const { height, width, classes } = args.cnn;
  const cnn = cnnModel(args);
  await out.time('igCnn', () => {
    const x = uniform([1, height, width, 1], 3);
    const options = { method: 'integratedGradients', steps: e.igSteps, batchSize: e.igSteps, target: 0 } as const;
    return { call: () => c.explain(cnn, x, options).attributions.dispose(), dispose: () => x.dispose() };
  });
  await out.time('cnnTrainStepIg', () => {
    const model = cnnModel(args);
    compile(model);
    return trainStep(model, uniform([e.trainBatch, height, width, 1], 1), labels([e.trainBatch], classes, 2));
  });
  const s = e.shap;
  const mlp = new c.Sequential([
    c.layers.dense({ units: s.hidden, activation: 'relu', inputShape: [s.features] }),
    c.layers.dense({ units: s.classes, activation: 'softmax' }),
  ]);
  await out.time('kernelShap', () => {
    const x = uniform([1, s.features], 4),
      background = uniform([s.background, s.features], 5);
    const options = { method: 'kernelShap', background, samples: s.samples, target: 0, seed: 1 } as const;
    const call = () => {
      const e = c.explain(mlp, x, options);
      e.attributions.dispose();
      // The rate counts s.samples coalitions per call: make sure that is what ran (not a smaller exhaustive set).
      const used = (e.details!.samples as number[])[0];
      if (used !== s.samples) throw new Error(`bench kernelShap: ${used} coalitions ran, the rate counts ${s.samples}`);
    };
    return { call, dispose: () => c.dispose([x, background]) };
  });
}
if (has('gpt')) {
  const g = args.gpt;
  await out.time('gptTrain', () => {
    const model = new c.GPT({
      vocabSize: g.vocab,
      contextLength: g.context,
      hiddenDim: g.hidden,
      numHeads: g.heads,
      numLayers: g.layers,
      intermediateDim: g.ffn,
      seed: 42,
    });
    compile(model, true);
    return trainStep(model, labels([g.batch, g.context], g.vocab, 1), labels([g.batch, g.context], g.vocab, 2));
  });
}
if (has('fit')) {
  // The main job end to end (issue 18): fit() with Keras' defaults (shuffle, progress: one line per epoch to the
  // piped stdout, the run record on) over the real MNIST training set, loaded once; each call trains one more
  // epoch of the same model; the first (JIT-cold) one is the warm-up, by measure's rule, where it fits the budget.
  const f = args.fit;
  let train: c.MnistData['train'] | undefined;
  try {
    if ('skipped' in args.mnist) throw new Error(args.mnist.skipped);
    const data = await c.datasets.mnist({ dir: args.mnist.dir });
    c.dispose([data.test.x, data.test.y]);
    train = data.train;
    if (train.x.shape[0] !== f.samples || train.x.shape[1] !== f.inputs)
      throw new Error(`MNIST train x is [${train.x.shape.join(', ')}], the figure counts [${f.samples}, ${f.inputs}]`);
  } catch (e) {
    for (const key of ['fitStep', 'fitEpoch'])
      out.skip(key, `no data: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300));
  }
  if (train) {
    const { x, y } = train;
    const fitModel = (metrics: string[]) => {
      const model = new c.Sequential([
        c.layers.dense({ units: f.hidden, activation: 'relu', inputShape: [f.inputs] }),
        c.layers.dropout({ rate: f.dropout }),
        c.layers.dense({ units: f.classes, activation: 'softmax' }),
      ]);
      model.compile({
        optimizer: c.optimizers.adam({ learningRate: args.learningRate }),
        loss: 'sparseCategoricalCrossentropy',
        metrics,
      });
      return model;
    };
    // fit's epoch against as many bare steps (trainOnBatch of the same model, compiled without metrics, on one batch
    // of the same data), timed in alternation so that both see the same machine.
    await out.timePaired(['fitStep', 'fitEpoch'], () => {
      const bare = fitModel([]),
        fitted = fitModel(['accuracy']);
      const bx = c.sliceAxis(x, 0, 0, f.batch),
        by = c.sliceAxis(y, 0, 0, f.batch);
      const steps = Math.ceil(f.samples / f.batch);
      return {
        calls: [
          () => {
            for (let i = 0; i < steps; i++) bare.trainOnBatch(bx, by);
          },
          () => fitted.fit(x, y, { epochs: 1, batchSize: f.batch }),
        ],
        dispose: () => c.dispose([bx, by, x, y]),
      };
    });
  }
}
out.emit();
