// Name helpers shared by the registries: "did you mean" suggestions and Keras-style unique layer names.

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}

/** "; did you mean 'x'? Known: a, b, c" — for error messages about an unknown name. */
export function suggest(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase().replace(/[_-]/g, '');
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase().replace(/[_-]/g, ''));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const hint = bestD <= Math.max(2, Math.floor(lower.length / 3)) ? `; did you mean '${best}'?` : '';
  return `${hint} Known: ${known.join(', ')}`;
}

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
