// Transfer learning on MNIST (issue 16's proof): a CNN trained on digits 0-4 is fine-tuned on 5-9 from 1,000
// labelled examples by the Keras workflow (frozen base, new head, then the top of the base unfrozen at a low
// learning rate), and compared with the same network trained from scratch on those 1,000 examples.
import { dispose, tidy } from '../tensor/storage.js';
import { tensor } from '../ops/creation.js';
import { gather } from '../ops/indexing.js';
import { permutation, setSeed } from '../ops/random.js';
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../registry.js';
import { input } from '../nn/input.js';
import { Conv2D } from '../nn/layers/conv.js';
import { BatchNormalization } from '../nn/layers/batch-normalization.js';
import { Activation } from '../nn/layers/activation.js';
import { MaxPooling2D } from '../nn/layers/pooling.js';
import { Flatten } from '../nn/layers/reshaping.js';
import { Dense } from '../nn/layers/dense.js';
import type { SymbolicTensor } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { Sequential } from '../train/sequential.js';
import { adam } from '../optim/index.js';
import type { Split } from '../data/utils.js';

/**
 * The study's CNN for 28x28x1 images: two conv blocks with BatchNormalization, a 64-unit 'features' layer and a
 * softmax 'head'. Named layers, so that a base is cut at getLayer('flatten') and weights load by name.
 */
export function transferCnn(classes: number, name?: string): Sequential {
  return new Sequential({
    name,
    layers: [
      new Conv2D({ filters: 16, kernelSize: 3, inputShape: [28, 28, 1], name: 'conv1' }),
      new BatchNormalization({ name: 'bn1' }),
      new Activation({ activation: 'relu', name: 'relu1' }),
      new MaxPooling2D({ poolSize: 2, name: 'pool1' }),
      new Conv2D({ filters: 32, kernelSize: 3, name: 'conv2' }),
      new BatchNormalization({ name: 'bn2' }),
      new Activation({ activation: 'relu', name: 'relu2' }),
      new MaxPooling2D({ poolSize: 2, name: 'pool2' }),
      new Flatten({ name: 'flatten' }),
      new Dense({ units: 64, activation: 'relu', name: 'features' }),
      new Dense({ units: classes, activation: 'softmax', name: 'head' }),
    ],
  });
}

export interface TransferStudyOptions {
  /** Images [N, 28, 28, 1] in [0, 1] and int32 labels 0-9 (datasets.mnist({ flatten: false })). */
  train: Split;
  test: Split;
  /** The digits the base is trained on (default 0-4) and those it is fine-tuned on (default 5-9). */
  sourceClasses?: number[];
  targetClasses?: number[];
  /** How many labelled target images fine-tuning (and the scratch network) sees (default 1000). */
  labelled?: number;
  /** How many source images pretraining uses (default 12000) and for how many epochs (default 2). */
  pretrainSamples?: number;
  pretrainEpochs?: number;
  /** Epochs of the new head on the frozen base (default 10), then of the unfrozen top (default 5). */
  headEpochs?: number;
  fineTuneEpochs?: number;
  /** The low learning rate of the unfrozen top (default 1e-4; the rest trains at 1e-3). */
  fineTuneLearningRate?: number;
  /** The base's last layer (default 'flatten': the conv blocks); the new head is the layers above it, made anew. */
  cutAt?: string;
  /** The first layer of the base unfrozen for fine-tuning, and all above it (default 'conv2'). */
  unfreezeFrom?: string;
  /** One run per seed: its own labelled subset and initial weights, for both networks (default [1]). */
  seeds?: number[];
  batchSize?: number;
}

/** One seed's test accuracies on the target digits. */
export interface TransferRun {
  seed: number;
  /** After training the new head on the frozen base, then after fine-tuning the unfrozen top. */
  headOnly: number;
  fineTuned: number;
  /** The same network trained from random weights on the same labelled images for as many epochs. */
  scratch: number;
}

export interface TransferStudyResult {
  /** Means over the seeds of the target-digit test accuracy. */
  fineTuned: number;
  scratch: number;
  headOnly: number;
  runs: TransferRun[];
  /** The pretrained network's accuracy on the source digits' test images. */
  sourceAccuracy: number;
  labelled: number;
  testSamples: number;
  /** The base layers frozen throughout, and those unfrozen for fine-tuning (the new head always trains). */
  frozenLayers: string[];
  fineTunedLayers: string[];
  seconds: number;
}

const OPTIONS = [
  'train',
  'test',
  'sourceClasses',
  'targetClasses',
  'labelled',
  'pretrainSamples',
  'pretrainEpochs',
  'headEpochs',
  'fineTuneEpochs',
  'fineTuneLearningRate',
  'cutAt',
  'unfreezeFrom',
  'seeds',
  'batchSize',
];

/** The images of `classes` (in file order, at most `limit`), labelled by their index in `classes`. */
function selectClasses(split: Split, classes: readonly number[], limit = Infinity): Split {
  const labels = split.y.dataSync();
  const index: number[] = [];
  const mapped: number[] = [];
  for (let i = 0; i < labels.length && index.length < limit; i++) {
    const k = classes.indexOf(labels[i]);
    if (k >= 0) (index.push(i), mapped.push(k));
  }
  return tidy(() => ({ x: gather(split.x, index), y: tensor(Int32Array.from(mapped), [mapped.length]) }));
}

/** `n` images of `split` drawn without replacement by a seeded permutation. */
function subset(split: Split, n: number, seed: number): Split {
  const order = tidy(() => permutation(split.y.shape[0], { seed }).dataSync().slice(0, n));
  const index = Array.from(order);
  return tidy(() => ({ x: gather(split.x, index), y: gather(split.y, index) }));
}

const accuracyOf = async (model: Model, data: Split): Promise<number> =>
  (await model.evaluate(data.x, data.y, { batchSize: 256, verbose: 0 })).accuracy;

/**
 * Pretrains transferCnn on the source digits, then for each seed fine-tunes it on `labelled` target images
 * (Keras' transfer-learning guide: base = the layers up to `cutAt`, frozen, called with training: false;
 * a new head; then the layers from `unfreezeFrom` up unfrozen and recompiled at a low learning rate) and
 * trains the same network from scratch on the same images for as many epochs. Accuracies are on every
 * target-digit test image. About a minute of training with the defaults on two cores.
 */
export async function transferStudy(options: TransferStudyOptions): Promise<TransferStudyResult> {
  checkOptions('transferStudy', options, OPTIONS);
  const {
    train,
    test,
    sourceClasses = [0, 1, 2, 3, 4],
    targetClasses = [5, 6, 7, 8, 9],
    labelled = 1000,
    pretrainSamples = 12000,
    pretrainEpochs = 2,
    headEpochs = 10,
    fineTuneEpochs = 5,
    fineTuneLearningRate = 1e-4,
    cutAt = 'flatten',
    unfreezeFrom = 'conv2',
    seeds = [1],
    batchSize = 32,
  } = options;
  if (!train?.x || !test?.x || train.x.rank !== 4 || test.x.rank !== 4)
    throw new ArgumentError(
      'transferStudy: train and test need images [N, 28, 28, 1]: datasets.mnist({ flatten: false })',
    );
  if (seeds.length === 0) throw new ArgumentError('transferStudy: seeds must name at least one seed');
  const started = performance.now();
  setSeed(seeds[0]);
  const pretrained = transferCnn(sourceClasses.length, 'pretrained');
  const names = pretrained.layers.map((l) => l.name);
  const cut = names.indexOf(cutAt) + 1;
  const from = names.indexOf(unfreezeFrom);
  const bad =
    cut <= 0 || cut >= names.length
      ? `cutAt '${cutAt}' is not a layer below the head: ${names.slice(0, -1).join(', ')}`
      : from < 0 || from >= cut
        ? `unfreezeFrom '${unfreezeFrom}' is not a base layer: ${names.slice(0, cut).join(', ')}`
        : undefined;
  if (bad) {
    pretrained.dispose();
    throw new ArgumentError(`transferStudy: ${bad}`);
  }
  const source = selectClasses(train, sourceClasses, pretrainSamples);
  const sourceTest = selectClasses(test, sourceClasses);
  const target = selectClasses(train, targetClasses);
  const targetTest = selectClasses(test, targetClasses);
  const fitArgs = { batchSize, verbose: 0 as const };
  try {
    if (target.y.shape[0] < labelled)
      throw new ArgumentError(
        `transferStudy: ${labelled} labelled images asked, the target digits have ${target.y.shape[0]}`,
      );
    pretrained.compile({
      optimizer: adam({ learningRate: 1e-3 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    await pretrained.fit(source.x, source.y, { ...fitArgs, epochs: pretrainEpochs, seed: seeds[0] });
    const sourceAccuracy = await accuracyOf(pretrained, sourceTest);
    const initial = pretrained.getWeights();
    const runs: TransferRun[] = [];
    for (const seed of seeds) {
      pretrained.setWeights(initial); // each seed fine-tunes the same pretrained weights
      const few = subset(target, labelled, seed);
      try {
        setSeed(seed);
        // Keras: base_model.trainable = False; x = base_model(inputs, training=False); outputs = new head.
        const base = new Model({
          inputs: pretrained.input!,
          outputs: pretrained.getLayer(cutAt).output,
          name: 'base',
        });
        base.trainable = false;
        const inputs = input({ shape: [28, 28, 1] });
        let x = base.apply(inputs, { training: false }) as SymbolicTensor;
        // The new head: the layers above the cut, made anew (initialised as the scratch network's are).
        const fresh = transferCnn(targetClasses.length, 'fresh');
        for (const layer of fresh.layers.slice(cut)) x = layer.apply(x) as SymbolicTensor;
        const model = new Model({ inputs, outputs: x, name: 'fine_tuned' });
        const compileArgs = { loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] };
        model.compile({ optimizer: adam({ learningRate: 1e-3 }), ...compileArgs });
        await model.fit(few.x, few.y, { ...fitArgs, epochs: headEpochs, seed });
        const headOnly = await accuracyOf(model, targetTest);
        // Then unfreeze the top of the base and recompile with a low learning rate (BN stays in inference mode).
        model.optimizer?.dispose(); // compile() below makes a new one (Keras: a new optimizer to fine-tune)
        base.trainable = true;
        for (const layer of base.layers) if (names.indexOf(layer.name) < from) layer.trainable = false;
        model.compile({ optimizer: adam({ learningRate: fineTuneLearningRate }), ...compileArgs });
        await model.fit(few.x, few.y, { ...fitArgs, epochs: fineTuneEpochs, seed });
        const fineTuned = await accuracyOf(model, targetTest);

        setSeed(seed);
        const scratchModel = transferCnn(targetClasses.length, 'scratch');
        scratchModel.compile({ optimizer: adam({ learningRate: 1e-3 }), ...compileArgs });
        await scratchModel.fit(few.x, few.y, { ...fitArgs, epochs: headEpochs + fineTuneEpochs, seed });
        const scratch = await accuracyOf(scratchModel, targetTest);
        runs.push({ seed, headOnly, fineTuned, scratch });
        for (const m of [model, scratchModel]) m.optimizer?.dispose(); // model.dispose() leaves it
        fresh.dispose();
        scratchModel.dispose();
      } finally {
        dispose([few.x, few.y]);
      }
    }
    dispose(initial);
    const mean = (key: 'headOnly' | 'fineTuned' | 'scratch') => runs.reduce((s, r) => s + r[key], 0) / runs.length;
    return {
      fineTuned: mean('fineTuned'),
      scratch: mean('scratch'),
      headOnly: mean('headOnly'),
      runs,
      sourceAccuracy,
      labelled,
      testSamples: targetTest.y.shape[0],
      frozenLayers: names.slice(0, from),
      fineTunedLayers: names.slice(from, cut),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    pretrained.optimizer?.dispose();
    pretrained.dispose();
    dispose([source.x, source.y, sourceTest.x, sourceTest.y, target.x, target.y, targetTest.x, targetTest.y]);
  }
}
