// The peer side of the benchmark in TypeScript: read the arguments, time a call (warm-up, then the median
// of repeats within a time budget), collect timings and print them as the process's last line.
import { RESULT_TAG, type PeerArgs, type PeerName, type PeerResult, type Timing } from './spec.js';

/** The arguments the orchestrator passes as JSON in argv[2]. */
export function peerArgs(): PeerArgs {
  const raw = process.argv[2];
  if (!raw) throw new Error('bench peer: expected the peer arguments as JSON (run it through `npm run bench`)');
  return JSON.parse(raw) as PeerArgs;
}

const MAX_REPEATS = 2000;

/**
 * Median seconds of fn: `warmup` calls first, then repeats until `budgetSeconds` of them have passed. A
 * first call longer than the budget is the measurement itself (TF.js cpu takes minutes per CNN step).
 * A Promise result is awaited.
 */
export async function measure(
  fn: () => unknown,
  { warmup, budgetSeconds }: Pick<PeerArgs, 'warmup' | 'budgetSeconds'>,
): Promise<Timing> {
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const r = fn();
    if (r instanceof Promise) await r;
    return (performance.now() - t0) / 1000;
  };
  const first = await once();
  if (first > budgetSeconds) return { seconds: first, repeats: 1, note: 'one call, over the time budget: no warm-up' };
  for (let i = 1; i < warmup; i++) await once();
  const runs: number[] = [];
  for (let spent = 0; runs.length === 0 || (spent < budgetSeconds && runs.length < MAX_REPEATS);) {
    runs.push(await once());
    spent += runs[runs.length - 1];
  }
  runs.sort((a, b) => a - b);
  return { seconds: runs[Math.floor(runs.length / 2)], repeats: runs.length };
}

/** Collects a peer's timings; a figure that throws is reported as skipped with its error, the rest go on. */
export class PeerOutput {
  private readonly result: PeerResult;
  constructor(
    peer: PeerName,
    readonly args: PeerArgs,
  ) {
    this.result = { peer, description: '', timings: {}, skipped: {} };
  }

  describe(description: string): void {
    this.result.description = description;
  }

  skip(key: string, reason: string): void {
    this.result.skipped[key] = reason;
  }

  /** Times `setup()`'s returned call under `key`; `dispose` runs afterwards whatever happened. */
  async time(key: string, setup: () => { call: () => unknown; dispose?: () => void }): Promise<void> {
    let dispose: (() => void) | undefined;
    try {
      const made = setup();
      dispose = made.dispose;
      const t = await measure(made.call, this.args);
      this.result.timings[key] = t;
      process.stderr.write(`  ${this.result.peer} ${key}: ${(t.seconds * 1e3).toFixed(3)} ms x ${t.repeats}\n`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // TF.js wasm lacks some gradient kernels (Conv2DBackpropFilter, UnsortedSegmentSum): not a bench failure;
      // nor is an explanation method still being built on this branch.
      const why = /not registered for backend/.test(message)
        ? 'unsupported'
        : /is being built/.test(message)
          ? 'pending'
          : 'failed';
      this.skip(key, `${why}: ${message}`.slice(0, 300));
      process.stderr.write(`  ${this.result.peer} ${key}: ${this.result.skipped[key]}\n`);
    } finally {
      dispose?.();
    }
  }

  emit(): void {
    console.log(RESULT_TAG + JSON.stringify(this.result));
  }
}
