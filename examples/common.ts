// Argument parsing and the final report shared by the examples.
import { getBackend } from '../src/index.js';

export function parseExampleArgs(defaults: { epochs: number }): { epochs: number; json: boolean; verbose: 0 | 'auto' } {
  const args = process.argv.slice(2);
  const at = args.indexOf('--epochs');
  const epochs = at >= 0 ? Number(args[at + 1]) : defaults.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer, got ${args[at + 1]}`);
  const json = args.includes('--json');
  return { epochs, json, verbose: json ? 0 : 'auto' };
}

/** Prints the figures; with --json the last line is one JSON object. */
export function report(json: boolean, figures: Record<string, string | number>): void {
  const all: Record<string, string | number> = { ...figures, backend: getBackend().name };
  if (json) {
    console.log(JSON.stringify(all));
    return;
  }
  console.log(Object.entries(all).map(([k, v]) => `${k}: ${typeof v === 'number' ? Number(v.toFixed(4)) : v}`).join('\n'));
}
