// Keras-style unique layer names (dense, dense_1, ...) and the snake_case rule for class names.

const counters = new Map<string, number>();

/**
 * Notes an explicitly given name (e.g. from a loaded config) so later default names do not repeat it:
 * after 'dense_3', the next default Dense is 'dense_4'.
 */
export function reserveName(name: string): void {
  const m = /^(.*?)(?:_(\d+))?$/.exec(name)!;
  const next = m[2] === undefined ? 1 : Number(m[2]) + 1;
  if ((counters.get(m[1]) ?? 0) < next) counters.set(m[1], next);
}

/** dense, dense_1, dense_2, ... per prefix, as Keras names layers. */
export function uniqueName(prefix: string): string {
  const n = counters.get(prefix) ?? 0;
  counters.set(prefix, n + 1);
  return n === 0 ? prefix : `${prefix}_${n}`;
}

/** Keras' rule: Conv2DTranspose -> conv2d_transpose, MaxPooling2D -> max_pooling2d, InputLayer -> input_layer. */
export function snake(name: string): string {
  return name
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}
