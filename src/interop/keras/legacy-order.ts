// Which dataset of a legacy .h5 layer group is which Candor weight. Keras writes a group with _legacy_weights(layer)
// = layer.trainable_weights + layer.non_trainable_weights (keras/src/legacy/saving/legacy_h5_format.py; Keras 2
// alike): for a nested model, the trainable weights of all its layers first, then the non-trainable ones
// (BatchNormalization's moving statistics, every weight of a frozen layer), and weight_names names each dataset
// after its variable ('dense_1/kernel:0', 'sequential/dense_1/kernel:0').
import type { Layer } from '../../nn/layer.js';
import { Model } from '../../train/model.js';
import { FormatError } from '../errors.js';
import { kerasModelWeights, kerasWeights, type KerasWeight } from './weights.js';

/** One Candor weight of a group: its layer, and the name Keras 2 gives it ('dense_1/kernel'). */
interface Slot {
  layer: Layer;
  weight: KerasWeight;
  key: string;
}

/** A variable's name without its ':0' suffix, and its last part ('kernel'). */
const bare = (name: string) => name.replace(/:\d+$/, '');
const tail = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/**
 * For each Candor layer holding weights in `layer` (itself, or a nested model's layers), in kerasWeights order,
 * the indices of its weights' datasets in the group's weight_names list `names`. A dataset is matched by its name
 * when the names identify every weight (its trailing '<layer>/<weight>' is one Candor weight's), otherwise by
 * Keras' order (trainable weights first, by the Candor layers' trainable flags); a name that contradicts that
 * order (a 'gamma' where the order says 'kernel', or another layer's weight) is a FormatError naming the group.
 */
export function legacyGroupOrder(
  layer: Layer,
  names: readonly string[],
  where: string,
): { layer: Layer; at: number[] }[] {
  const parts = layer instanceof Model ? kerasModelWeights(layer) : [{ layer, weights: kerasWeights(layer) }];
  const slots: Slot[] = parts.flatMap((p) =>
    p.weights.map((weight) => ({ layer: p.layer, weight, key: `${p.layer.name}/${weight.name}` })),
  );
  if (slots.length !== names.length)
    throw new FormatError(
      `${where}: layer '${layer.name}' (${layer.className}) takes ${slots.length} weights, the file lists ` +
        `${names.length} (${names.join(', ') || 'none'})`,
    );
  const bareNames = names.map(bare);
  // The slots each dataset's name identifies: its trailing '<layer>/<weight>' (whole '/'-separated parts).
  const named = bareNames.map((n) => slots.flatMap((s, j) => (n === s.key || n.endsWith(`/${s.key}`) ? [j] : [])));
  const datasetOf = new Array<number>(slots.length).fill(-1);
  if (named.every((js) => js.length === 1) && new Set(named.map((js) => js[0])).size === slots.length)
    named.forEach(([j], i) => (datasetOf[j] = i));
  else {
    const trainable = new Set(layer.trainableWeights);
    const order = [...slots.keys()].sort(
      (a, b) => Number(!trainable.has(slots[a].weight.variable)) - Number(!trainable.has(slots[b].weight.variable)),
    );
    const tails = new Set(slots.map((s) => tail(s.weight.name)));
    order.forEach((j, i) => {
      const n = bareNames[i];
      const otherLayer = named[i].length === 1 && named[i][0] !== j;
      const otherWeight = tails.has(tail(n)) && tail(n) !== tail(slots[j].weight.name);
      if (otherLayer || otherWeight)
        throw new FormatError(
          `${where}: weight_names does not identify the weights of '${layer.name}' (${layer.className}): the names ` +
            `are not the Candor layers', and by Keras' order (trainable weights first) '${names[i]}' would be ` +
            `'${slots[j].key}' (is the model's trainable flag of each layer as when it was saved?)`,
        );
      datasetOf[j] = i;
    });
  }
  let at = 0;
  return parts.map((p) => ({ layer: p.layer, at: datasetOf.slice(at, (at += p.weights.length)) }));
}
