// `candor explain RUN_DIR --input FILE --method M`: loads the saved model of a run directory, reads the inputs,
// explains them, prints a summary, records the explanation in the run's run.json and writes the card again.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CandorError, ShapeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { EncryptionKey } from '../io/encryption.js';
import { writeCard } from '../cards/card.js';
import { loadModel } from '../train/saving.js';
import { Sequential } from '../train/sequential.js';
import type { Model } from '../train/model.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { zeros } from '../ops/creation.js';
import { dispose } from '../tensor/storage.js';
import { TextVectorization } from '../nn/preprocessing/text-vectorization.js';
import { StringTensor } from '../nn/preprocessing/string-tensor.js';
import { explain, attributionSums } from '../explain/explain.js';
import { modelInputSpec, modelVocabulary, recordExplanation } from '../explain/record.js';
import type { ExplainOptions, Explanation, MethodName } from '../explain/types.js';
import { batchFor, readInputs } from './explain-inputs.js';

export interface ExplainCommand {
  runDir: string;
  input: string;
  method: MethodName;
  target?: number;
  /** Integrated Gradients' path points. */
  steps?: number;
  /** Noisy copies (smoothGrad) or perturbed samples (lime, kernelShap). */
  samples?: number;
  /** Occlusion's window side (images: a square over all channels). */
  window?: number;
  /** Baseline value (integratedGradients, occlusion, lime). */
  baseline?: number;
  /** Background samples file (kernelShap, shapley); default one all-zero sample. */
  background?: string;
  /** Grad-CAM's Conv2D layer. */
  layer?: string;
  name?: string;
  /** Where the card (and explanation.json with every attribution) go; default RUN_DIR for the card only. */
  out?: string;
  json?: boolean;
  encryptionKey?: EncryptionKey;
}

/** Which options each method takes (the rest are refused, not ignored). */
const TAKES: Record<string, readonly MethodName[]> = {
  steps: ['integratedGradients'],
  samples: ['smoothGrad', 'lime', 'kernelShap'],
  window: ['occlusion'],
  baseline: ['integratedGradients', 'occlusion', 'lime'],
  background: ['kernelShap', 'shapley'],
  layer: ['gradCam'],
};

/** Channels a PNG is read with: the last axis of an image input [H, W, C], else grey (then reshaped to fit). */
const pngChannels = (shape?: (number | null)[]) => (shape?.length === 3 ? (shape[2] ?? 1) : 1);

/** The model to explain and its inputs: a text model's TextVectorization is applied here, the rest explained. */
async function modelInputs(model: Model, cmd: ExplainCommand): Promise<{ explained: Model; x: Tensor; note?: string }> {
  const spec = modelInputSpec(model);
  const first = model.layers[0];
  const raw = await readInputs(cmd.input, pngChannels(spec?.shape));
  if (raw.kind === 'texts') {
    if (!(first instanceof TextVectorization) || !(model instanceof Sequential))
      throw new ShapeError(
        `explain: ${cmd.input} holds texts, but model '${model.name}' does not start with a TextVectorization ` +
          'layer (give token ids as a .json array instead)',
      );
    if (first.getConfig().outputMode !== 'int')
      throw new ShapeError(
        `explain: TextVectorization '${first.name}' outputs '${String(first.getConfig().outputMode)}', not ` +
          "token ids ('int'): per-token attributions need token ids",
      );
    const ids = first.apply(StringTensor.from(raw.texts)) as Tensor;
    return { explained: new Sequential(model.layers.slice(1)), x: ids, note: `${raw.texts.length} texts vectorized` };
  }
  if (!spec) throw new ShapeError(`explain: model '${model.name}' does not declare one input shape`);
  if (spec.dtype === 'string')
    throw new ShapeError(`explain: model '${model.name}' takes texts; give a .txt file (one text per line)`);
  const { x, note } = batchFor(raw, spec.shape, spec.dtype as DType, cmd.input);
  return { explained: model, x, ...(note ? { note } : {}) };
}

async function methodOptions(cmd: ExplainCommand, x: Tensor, model: Model): Promise<ExplainOptions> {
  for (const [option, methods] of Object.entries(TAKES))
    if (cmd[option as keyof ExplainCommand] !== undefined && !methods.includes(cmd.method))
      throw new CandorError(`explain: --${option} is for ${methods.join(', ')}, not ${cmd.method}`);
  const o: Record<string, unknown> = { method: cmd.method };
  if (cmd.target !== undefined) o.target = cmd.target;
  if (cmd.steps !== undefined) o.steps = cmd.steps;
  if (cmd.samples !== undefined) o.samples = cmd.samples;
  if (cmd.baseline !== undefined) o.baseline = cmd.baseline;
  if (cmd.layer !== undefined) o.layer = cmd.layer;
  if (cmd.method === 'gradCam' && cmd.layer === undefined)
    throw new CandorError('explain: gradCam needs --layer NAME (a Conv2D layer of the model)');
  if (cmd.method === 'occlusion') {
    const one = x.shape.slice(1);
    const side = cmd.window ?? (one.length === 3 ? Math.max(1, Math.round(one[0] / 7)) : 1);
    o.window = one.length === 3 ? [side, side, one[2]] : one.map(() => side);
  }
  if (cmd.method === 'kernelShap' || cmd.method === 'shapley') {
    if (cmd.background !== undefined) {
      const spec = modelInputSpec(model);
      const raw = await readInputs(cmd.background, pngChannels(spec?.shape));
      if (raw.kind !== 'numbers') throw new ShapeError(`explain: --background ${cmd.background} holds texts`);
      o.background = batchFor(raw, x.shape.slice(1), x.dtype, cmd.background).x;
    } else o.background = zeros([1, ...x.shape.slice(1)], x.dtype);
  }
  return o as unknown as ExplainOptions;
}

const fmt = (v: number | undefined) =>
  v === undefined ? '-' : v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));

function summaryLines(cmd: ExplainCommand, e: Explanation, sums: Float64Array): string[] {
  const lines = [
    `${e.method} on ${sums.length} sample${sums.length === 1 ? '' : 's'} of ${cmd.input} in ${fmt(e.seconds)} s; ` +
      `parameters ${JSON.stringify(e.parameters)}`,
    ['sample', 'target', 'f(x)', 'sum', 'gap']
      .map((h) => h.padEnd(10))
      .join('')
      .trimEnd(),
  ];
  sums.forEach((s, i) =>
    lines.push(
      [
        String(i),
        e.target === 'custom' ? 'custom' : String(e.target[i]),
        fmt(e.scores[i]),
        fmt(s),
        fmt(e.completenessGap?.[i]),
      ]
        .map((c) => c.padEnd(10))
        .join('')
        .trimEnd(),
    ),
  );
  return lines;
}

/** Runs the command; returns the lines it prints (or one JSON line with cmd.json). */
export async function explainRun(cmd: ExplainCommand): Promise<string[]> {
  if (!existsSync(join(cmd.runDir, 'model.json')))
    throw new CandorError(
      `explain: no saved model in ${cmd.runDir} (model.json is missing; save one there with model.save)`,
    );
  if (!existsSync(join(cmd.runDir, 'run.json')))
    throw new CandorError(`explain: no run record in ${cmd.runDir} (run.json is missing)`);
  const model = await loadModel(cmd.runDir, { encryptionKey: cmd.encryptionKey });
  const made: Tensor[] = [];
  try {
    const { explained, x, note } = await modelInputs(model, cmd);
    made.push(x);
    const options = await methodOptions(cmd, x, explained);
    const background = (options as { background?: Tensor }).background;
    if (background) made.push(background);
    const e = explain(explained, x, options);
    made.push(e.attributions);
    const sums = attributionSums(e.attributions);
    await recordExplanation(cmd.runDir, e, {
      inputs: x,
      // The model explained (for a text model, the layers after TextVectorization), with the full model's words.
      model: explained,
      vocabulary: modelVocabulary(model),
      ...(cmd.name ? { name: cmd.name } : {}),
      encryptionKey: cmd.encryptionKey,
    });
    const card = await writeCard(cmd.runDir, { outDir: cmd.out, encryptionKey: cmd.encryptionKey });
    const files = [join(cmd.runDir, 'run.json'), card.files.html];
    if (cmd.out) {
      await mkdir(cmd.out, { recursive: true });
      const full = join(cmd.out, 'explanation.json');
      const { attributions, ...meta } = e;
      const all = { ...meta, shape: attributions.shape, attributions: Array.from(attributions.dataSync()) };
      await writeFileAtomic(full, JSON.stringify(all) + '\n');
      files.push(full);
    }
    if (cmd.json)
      return [
        JSON.stringify({
          method: e.method,
          samples: sums.length,
          target: e.target,
          scores: e.scores,
          sums: Array.from(sums),
          completenessGap: e.completenessGap ?? null,
          seconds: e.seconds,
          files,
        }),
      ];
    return [
      ...(note ? [note] : []),
      ...summaryLines(cmd, e, sums),
      `recorded in ${files[0]}; wrote ${files.slice(1).join(', ')}`,
    ];
  } finally {
    dispose(made);
    model.dispose();
  }
}
