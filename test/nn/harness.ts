// The shared layer-test harness (as Keras' testing/test_case.py run_layer_test): one call checks config
// and serialization round trips, eager/symbolic/computed output shapes, float64 gradients w.r.t. the
// input and every trainable weight, trainable = false, and that an eager call leaks no tensor.
import assert from 'node:assert/strict';
import { Tensor, assertGradients, copy, memory, tensor, tidy } from '../../src/index.js';
import {
  Layer,
  SymbolicTensor,
  layerFromConfig,
  type LayerClass,
  type LayerConfig,
  type SymShape,
} from '../../src/nn/layer.js';
import '../../src/nn/layers/index.js';
import { assertClose, rand } from '../helpers.js';

export interface LayerTestSpec {
  /** A fresh, unbuilt layer; the harness builds float64 twins from its config for the gradient check. */
  make: () => Layer;
  /** Input shape with the batch dimension, for single-input layers (keep it small: it is gradient-checked). */
  inputShape?: readonly number[];
  /** Input shapes with batch dimensions, for merge layers. */
  inputShapes?: readonly (readonly number[])[];
  /** Output shape of the eager call, with the batch dimension. */
  expectedOutputShape: readonly number[];
  /** Number of trainable and non-trainable weights once built (default: not checked). */
  expectedWeights?: { trainable: number; nonTrainable: number };
  /** Run the gradient check in training mode (BatchNormalization); default inference. */
  gradTraining?: boolean;
  /** Tolerances of the gradient check (defaults of assertGradients). */
  gradTolerance?: { atol?: number; rtol?: number };
  /** Seed of the random inputs. */
  seed?: number;
  /** Range [lo, hi) of the random inputs (default [-2, 2)); e.g. [0, 5) for Embedding ids. */
  inputRange?: readonly [number, number];
  /**
   * The inputs are ids (Embedding): whole numbers (the random values rounded down), held fixed in the
   * gradient check, which differentiates the weights only.
   */
  integerInputs?: boolean;
  /**
   * Why the layer has no gradient (inference-only layers, e.g. the int8 QuantizedDense): the float64 gradient
   * check is skipped, and the layer must have no trainable weights.
   */
  inferenceOnly?: string;
  /**
   * Why finite differences cannot check the layer's gradient: a straight-through estimator (QatDense), whose layer
   * is piecewise constant. The check is skipped; the layer's own tests check the rule against its closed form.
   */
  straightThrough?: string;
}

const withBatchNull = (s: readonly number[]): SymShape => [null, ...s.slice(1)];

/** Runs `fn`, prefixing any failure with the check's name so the report says which check broke. */
function check(name: string, layer: Layer, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) e.message = `[${layer.className} ${name}] ${e.message}`;
    throw e;
  }
}

/** Inputs for the spec in a dtype: one tensor or a list (merge layers). */
function makeInputs(spec: LayerTestSpec, dtype: 'float32' | 'float64'): { list: Tensor[]; arg: Tensor | Tensor[] } {
  const shapes = spec.inputShapes ?? [spec.inputShape!];
  const [lo, hi] = spec.inputRange ?? [-2, 2];
  let list = shapes.map((s, i) => rand(s, (spec.seed ?? 7) + i, { dtype, lo, hi }));
  if (spec.integerInputs)
    list = list.map((t) => {
      const ids = tensor(Float64Array.from(t.dataSync(), Math.floor), t.shape, dtype);
      t.dispose();
      return ids;
    });
  return { list, arg: spec.inputShapes ? list : list[0] };
}

/** The same layer in float64 with a distinct name, rebuilt from its config. */
function float64Twin(layer: Layer): Layer {
  const cls = layer.constructor as unknown as LayerClass;
  return cls.fromConfig({ ...layer.getConfig(), dtype: 'float64', name: `${layer.name}_f64` });
}

export function runLayerTest(spec: LayerTestSpec): void {
  assert.ok(!!spec.inputShape !== !!spec.inputShapes, 'give exactly one of inputShape, inputShapes');
  const layer = spec.make();
  const { list: xs, arg: x } = makeInputs(spec, layer.dtype);
  const symShapes = (spec.inputShapes ?? [spec.inputShape!]).map(withBatchNull);
  const symArg = spec.inputShapes ? symShapes : symShapes[0];

  check('config round trip', layer, () => {
    const config = layer.getConfig();
    // The config must be plain JSON: no undefined fields, functions or tensors.
    const json = JSON.parse(JSON.stringify(config)) as LayerConfig;
    assert.deepEqual(json, config, 'getConfig() is not plain JSON');
    const viaClass = (layer.constructor as unknown as LayerClass).fromConfig(json);
    const viaRegistry = layerFromConfig({ className: layer.className, config: json });
    assert.equal(
      viaRegistry.constructor,
      layer.constructor,
      'layerFromConfig gave another class: is the layer registered?',
    );
    assert.deepEqual(viaClass.getConfig(), config);
    assert.deepEqual(viaRegistry.getConfig(), config);
  });

  const y = layer.apply(x) as Tensor;
  check('output shapes', layer, () => {
    assert.deepEqual([...y.shape], [...spec.expectedOutputShape], 'eager output shape');
    assert.equal(y.dtype, layer.dtype, 'eager output dtype');
    assert.deepEqual(
      layer.computeOutputShape(symArg),
      withBatchNull(spec.expectedOutputShape),
      'computeOutputShape (batch null)',
    );
    if (spec.expectedWeights) {
      assert.equal(layer.trainableWeights.length, spec.expectedWeights.trainable, 'trainable weights');
      assert.equal(layer.nonTrainableWeights.length, spec.expectedWeights.nonTrainable, 'non-trainable weights');
    }
  });

  check('symbolic apply', layer, () => {
    // A fresh layer, so that the symbolic call is also what builds it.
    const fresh = spec.make();
    const sym = symShapes.map((s, i) => new SymbolicTensor(s, fresh.dtype, `input_${i}`));
    const out = fresh.apply(spec.inputShapes ? sym : sym[0]) as SymbolicTensor;
    assert.ok(out instanceof SymbolicTensor, 'symbolic apply must return a SymbolicTensor');
    assert.deepEqual(out.shape, withBatchNull(spec.expectedOutputShape));
    assert.equal(out.sourceLayer, fresh);
    assert.equal(fresh.built, true);
    fresh.dispose();
  });

  check('float64 gradients', layer, () => {
    if (spec.inferenceOnly) {
      assert.equal(
        layer.trainableWeights.length,
        0,
        `inference-only (${spec.inferenceOnly}) but has trainable weights`,
      );
      return;
    }
    if (spec.straightThrough) return;
    const twin = float64Twin(layer);
    const { list: inputs64, arg: arg64 } = makeInputs(spec, 'float64');
    tidy(() => {
      twin.apply(arg64);
    });
    const vars = twin.trainableWeights;
    const weights = vars.map((v) => v.value.clone());
    const training = spec.gradTraining ?? false;
    // Ids are held fixed: only the weights are differentiated.
    const fixed = spec.integerInputs ? inputs64 : [];
    const n = inputs64.length - fixed.length;
    // The layer reads its variables, so each evaluation installs the candidate weights as (recorded)
    // copies; the tape then connects the variables' values to the differentiated arguments.
    const f = (...args: Tensor[]) => {
      vars.forEach((v, i) => v.assign(copy(args[n + i])));
      const xs = spec.integerInputs ? fixed : args.slice(0, n);
      const out = twin.apply(spec.inputShapes ? xs : xs[0], { training }) as Tensor;
      // Identity layers return their input; checkGradients disposes its probe output, so hand it a copy.
      return args.includes(out) ? copy(out) : out;
    };
    assertGradients(f, [...inputs64.slice(0, n), ...weights], spec.gradTolerance);
    for (const t of [...inputs64, ...weights]) t.dispose();
    twin.dispose();
  });

  check('serialization round trip', layer, () => {
    const rebuilt = layerFromConfig({
      className: layer.className,
      config: JSON.parse(JSON.stringify(layer.getConfig())),
    });
    tidy(() => {
      rebuilt.apply(x);
    });
    const values = layer.getWeights();
    rebuilt.setWeights(values);
    for (const v of values) v.dispose();
    tidy(() => assertClose(rebuilt.apply(x) as Tensor, layer.apply(x) as Tensor, { rtol: 0, atol: 0 }));
    rebuilt.dispose();
  });

  check('trainable = false', layer, () => {
    const all = layer.weights.length;
    const trainable = layer.trainableWeights.length;
    layer.trainable = false;
    assert.equal(layer.trainableWeights.length, 0);
    assert.equal(layer.nonTrainableWeights.length, all);
    layer.trainable = true;
    assert.equal(layer.trainableWeights.length, trainable);
  });

  check('no tensor leak', layer, () => {
    for (const training of [false, true]) {
      const before = memory().tensors;
      tidy(() => {
        layer.apply(x, { training });
      });
      assert.equal(memory().tensors, before, `tensors alive after a tidy eager call (training ${training})`);
    }
  });

  if (!xs.includes(y)) y.dispose();
  for (const t of xs) t.dispose();
  layer.dispose();
}
