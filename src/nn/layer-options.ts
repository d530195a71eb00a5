// The option-key check of the `layers` factory: a layer takes the keys its getConfig() saves (config and
// constructor args are the same, see layer.ts) plus the base LayerArgs, so `layers.dense({ unit: 10 })`
// or `{ kernel_initializer }` fails naming the right key instead of being ignored.
import type { Layer, LayerArgs, LayerConfig } from './layer.js';
import { ArgumentError } from '../errors.js';
import { checkOptions, nearestName, optionKeys } from '../registry.js';

export const BASE_OPTIONS = optionKeys<LayerArgs>({
  name: true,
  trainable: true,
  inputShape: true,
  batchSize: true,
  batchInputShape: true,
  dtype: true,
});

/** Throws an ArgumentError (naming `op`, e.g. 'layers.dense') when `args` has a key `layer` does not take. */
export function checkLayerOptions(op: string, layer: Layer, args: unknown): void {
  if (args === undefined) return;
  let config: LayerConfig;
  try {
    config = layer.getConfig();
  } catch {
    return; // not serialisable as made (an unregistered function): its keys are unknown, so nothing is checked
  }
  checkOptions(op, args, [...new Set([...BASE_OPTIONS, ...Object.keys(config)])]);
}

/**
 * A constructor's error for a missing required option ("units must be a positive integer, got undefined")
 * when a given key is a near miss of a word of it ('unit'): the unknown key, named, and the error.
 */
function misspeltRequired(op: string, error: unknown, args: unknown): unknown {
  if (!(error instanceof ArgumentError) || typeof args !== 'object' || args === null) return error;
  const words: string[] = error.message.match(/[A-Za-z]\w*/g) ?? [];
  for (const key of Object.keys(args)) {
    if (BASE_OPTIONS.includes(key) || words.includes(key)) continue;
    const near = nearestName(key, words);
    if (near !== undefined && !Object.hasOwn(args, near))
      return new ArgumentError(`${op}: unknown option '${key}'; did you mean '${near}'? (${error.message})`);
  }
  return error;
}

/** The factories, each checking its options once the layer is made (the layer's config knows its keys). */
export function withOptionChecks<T extends Record<string, (args: never) => Layer>>(factories: T): T {
  const checked: Record<string, (args: never) => Layer> = {};
  for (const [name, make] of Object.entries(factories))
    checked[name] = (args: never) => {
      let layer: Layer;
      try {
        layer = make(args);
      } catch (e) {
        throw misspeltRequired(`layers.${name}`, e, args);
      }
      checkLayerOptions(`layers.${name}`, layer, args);
      return layer;
    };
  return checked as T;
}
