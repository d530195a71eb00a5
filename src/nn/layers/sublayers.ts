// Helpers for layers made of other layers (wrappers, Transformer blocks).
import { Layer, layerFromConfig, type LayerConfig, type SymShape } from '../layer.js';

/** A layer as saved in a config: what layerFromConfig takes. */
export interface LayerEntry {
  className: string;
  config: LayerConfig;
}

/** The entry of a layer argument given as a layer or as its saved entry (from a config). */
export function layerEntry(layer: Layer | LayerEntry): LayerEntry {
  return layer instanceof Layer
    ? { className: layer.className, config: JSON.parse(JSON.stringify(layer.getConfig())) as LayerConfig }
    : { className: layer.className, config: { ...layer.config } };
}

/**
 * A sublayer rebuilt from `entry` and named `${parent}/${suffix}`: weights are saved by variable name
 * (`parent/suffix/kernel`), so the names must follow from the parent's name and the config alone, not
 * from a global counter that differs between the saving and the loading process.
 */
export function childLayer<T extends Layer>(
  parent: string,
  suffix: string,
  entry: LayerEntry,
  overrides: Record<string, unknown> = {},
): T {
  return layerFromConfig({
    className: entry.className,
    config: { ...entry.config, ...overrides, name: `${parent}/${suffix}` },
  }) as T;
}

/** Builds a sublayer for inputs of this shape unless it is built (apply() would also record a node). */
export function buildSublayer(layer: Layer, shape: SymShape | SymShape[]): void {
  if (layer.built) return;
  layer.build(shape);
  layer.built = true;
}
