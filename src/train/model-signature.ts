// The model's inputs and outputs for the run record (model.inputs / model.outputs): names, shapes and dtypes
// from its symbolic input and output, and what each output means, read from the layer that makes it (its
// activation, its width) and the loss it was trained with. A model whose inputs are not known (a subclass
// model) has none: the card then says so rather than showing the training targets in their place.
import type { SymbolicTensor } from '../nn/layer.js';
import type { TensorSpec } from '../ledger/model-io.js';
import type { Model } from './model.js';

/** The loss's name in lower case and whether it takes logits, for one output (undefined when unknown). */
function lossOf(spec: unknown, output: string, index: number): { name: string; fromLogits: boolean } | undefined {
  if (Array.isArray(spec)) return lossOf(spec[index], output, 0);
  if (typeof spec === 'string') return { name: spec.toLowerCase().replace(/_/g, ''), fromLogits: false };
  if (typeof spec === 'object' && spec !== null) {
    const o = spec as { className?: unknown; config?: { fromLogits?: unknown } };
    if (typeof o.className === 'string')
      return { name: o.className.toLowerCase().replace(/_/g, ''), fromLogits: o.config?.fromLogits === true };
    if (output in o) return lossOf((o as Record<string, unknown>)[output], output, 0);
  }
  return undefined;
}

/** What an output's values are: from the activation of the layer that makes it, its width and the loss. */
export function outputMeaning(
  activation: string | undefined,
  width: number | null,
  loss: { name: string; fromLogits: boolean } | undefined,
): string {
  const n = width === null ? 'a variable number of' : String(width);
  const act = (activation ?? 'linear').toLowerCase();
  const crossentropy = loss?.name.includes('crossentropy') ?? false;
  const binary = loss?.name.includes('binary') ?? false;
  if (act === 'softmax') return `softmax probabilities over ${n} classes`;
  if (act === 'sigmoid')
    return width === 1
      ? 'sigmoid probability of the positive class'
      : `independent sigmoid probabilities for ${n} labels`;
  if (act === 'linear' && crossentropy && !loss?.fromLogits)
    return (
      `unnormalised scores over ${n} classes, which the loss reads as probabilities ` +
      '(no softmax; fromLogits is false)'
    );
  if (act === 'linear' && crossentropy)
    return binary
      ? width === 1
        ? 'logit of the positive class (apply sigmoid for a probability)'
        : `logits of ${n} independent labels (apply sigmoid for probabilities)`
      : `logits over ${n} classes (unnormalised scores; apply softmax for probabilities)`;
  if (act === 'linear' && loss && /(meansquared|meanabsolute|mse|mae|huber|logcosh)/.test(loss.name))
    return `${n} regression value${width === 1 ? '' : 's'} per sample (loss ${loss.name})`;
  return `${act} activations, ${n} per position`;
}

function spec(t: SymbolicTensor, meaning?: string): TensorSpec {
  return { name: t.name, shape: [...t.shape], dtype: t.dtype, ...(meaning ? { meaning } : {}) };
}

/** The model's inputs and outputs, or undefined for a model that does not know them (a subclass model). */
export function modelSignature(model: Model): { inputs: TensorSpec[]; outputs: TensorSpec[] } | undefined {
  const input = model.input;
  if (input === undefined) return undefined;
  const inputs = Array.isArray(input) ? input : [input];
  const output = model.output;
  const outputs = Array.isArray(output) ? output : [output];
  const loss = model.trainingConfig()?.loss;
  return {
    inputs: inputs.map((t) => spec(t)),
    outputs: outputs.map((t, i) => {
      const layer = t.sourceLayer ?? t.node?.layer;
      const config = (layer?.getConfig() ?? {}) as { activation?: unknown };
      const activation =
        layer?.className === 'Softmax'
          ? 'softmax'
          : typeof config.activation === 'string'
            ? config.activation
            : undefined;
      const width = t.shape.length ? t.shape[t.shape.length - 1] : 1;
      return spec(t, outputMeaning(activation, width, lossOf(loss, layer?.name ?? t.name, i)));
    }),
  };
}
