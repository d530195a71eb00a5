// The weights of a Candor layer as Keras and TF.js store them: the one place that says, for every mapped layer,
// which Keras weight each Candor variable is (Keras 2 / TF.js name, Keras 3 object path and index, shape), and
// the one function that assigns loaded values to a layer's variables by those specs (.keras, .h5 and TF.js).
import type { Tensor } from '../../tensor/tensor.js';
import { fmtShape } from '../../errors.js';
import { withWeightSource, type Layer } from '../../nn/layer.js';
import { zeros } from '../../ops/creation.js';
import type { Variable } from '../../nn/variable.js';
import { Model } from '../../train/model.js';
import { Bidirectional, TimeDistributed } from '../../nn/layers/wrappers.js';
import { Recurrent } from '../../nn/layers/recurrent.js';
import { MultiHeadAttention } from '../../nn/layers/attention.js';
import { noGrad } from '../../autograd/tape.js';
import { FormatError } from '../errors.js';

export interface KerasWeight {
  readonly variable: Variable;
  /**
   * The Keras 2 / TF.js name below the layer's ('kernel', 'moving_mean', 'forward_lstm/kernel'): a TF.js
   * manifest and a legacy .h5 file name the weight `${layer.name}/${name}`.
   */
  readonly name: string;
  /**
   * Keras 3 (.keras, .weights.h5): the object below the layer's that holds the weight ('' for the layer's own
   * vars, 'cell' for a recurrent layer's, 'forward_layer/cell', 'query_dense'), and its index in that object's vars.
   */
  readonly path: string;
  readonly index: number;
  readonly shape: readonly number[];
}

/** MultiHeadAttention's sublayers as Keras 3 saves them (Candor names the weights as Keras 2 did). */
const MHA_PATHS: Readonly<Record<string, string>> = {
  query: 'query_dense',
  key: 'key_dense',
  value: 'value_dense',
  attention_output: 'output_dense',
};

/** The part of a variable's name below `layer`'s ('dense/kernel' -> 'kernel'). */
function localName(layer: Layer, v: Variable): string {
  return v.name.startsWith(`${layer.name}/`) ? v.name.slice(layer.name.length + 1) : v.name;
}

const spec = (variable: Variable, name: string, path: string, index: number): KerasWeight => ({
  variable,
  name,
  path,
  index,
  shape: variable.shape,
});

/** The weights of one (non-model) layer, in the order Keras lists them (layer.weights / the vars' order). */
export function kerasWeights(layer: Layer): KerasWeight[] {
  if (layer instanceof Bidirectional) {
    const side = (inner: Layer, path: string) =>
      kerasWeights(inner).map((w) =>
        spec(w.variable, localName(layer, w.variable), w.path ? `${path}/${w.path}` : path, w.index),
      );
    return [...side(layer.forwardLayer, 'forward_layer'), ...side(layer.backwardLayer, 'backward_layer')];
  }
  if (layer instanceof TimeDistributed)
    return kerasWeights(layer.layer).map((w) =>
      spec(w.variable, localName(layer, w.variable), w.path ? `layer/${w.path}` : 'layer', w.index),
    );
  if (layer instanceof Recurrent) return layer.weights.map((v, i) => spec(v, localName(layer, v), 'cell', i));
  if (layer instanceof MultiHeadAttention)
    return layer.weights.map((v) => {
      const [dense, part] = localName(layer, v).split('/');
      return spec(v, localName(layer, v), MHA_PATHS[dense] ?? dense, part === 'bias' ? 1 : 0);
    });
  return layer.weights.map((v, i) => spec(v, localName(layer, v), '', i));
}

/** A layer holding weights in a model, with the names of the models it is nested in (outermost first). */
export interface KerasLayerWeights {
  readonly layer: Layer;
  readonly parents: readonly string[];
  readonly weights: KerasWeight[];
}

/** The layers of a model that hold weights, nested models flattened, in the model's layer order. */
export function kerasModelWeights(model: Model, parents: readonly string[] = []): KerasLayerWeights[] {
  return model.layers.flatMap((layer) =>
    layer instanceof Model
      ? kerasModelWeights(layer, [...parents, layer.name])
      : layer.weights.length > 0
        ? [{ layer, parents, weights: kerasWeights(layer) }]
        : [],
  );
}

/**
 * Assigns a layer's weights from the values `take` returns for each of its Keras weights (and its index),
 * checking each shape (a FormatError naming the layer, the weight and both shapes); the values are cast to the
 * variable's dtype and copied, so the caller keeps ownership of what it passed.
 */
export function assignKerasWeights(
  layer: Layer,
  take: (weight: KerasWeight, index: number) => Tensor,
  format: string,
): void {
  for (const [i, w] of kerasWeights(layer).entries()) {
    const value = take(w, i);
    if (value.shape.length !== w.shape.length || value.shape.some((d, i) => d !== w.shape[i]))
      throw new FormatError(
        `${format}: layer '${layer.name}' (${layer.className}) weight '${w.name}' has shape ${fmtShape(w.shape)}, ` +
          `the file holds ${fmtShape(value.shape)}`,
      );
    noGrad(() => w.variable.assign(value.cast(w.variable.dtype).clone()));
  }
}

/**
 * Runs `fn` (which builds a model from a file's config) with no initializer running: each weight starts as
 * zeros, to be assigned from the file, and the weights together may hold at most `budget` values (what the
 * file holds), so that a config declaring huge layers fails with a FormatError before it allocates them.
 */
export function withWeightBudget<T>(budget: number, format: string, fn: () => T): T {
  let left = budget;
  return withWeightSource(
    {
      take(layer, weight, shape, dtype) {
        const n = shape.reduce((a, b) => a * b, 1);
        if (!(n <= left))
          throw new FormatError(
            `${format}: layer '${layer.name}' declares weight '${weight}' of shape ${fmtShape(shape)}, more than ` +
              `the ${budget} values the file holds in all`,
          );
        left -= n;
        return zeros(shape, dtype);
      },
    },
    fn,
  );
}
