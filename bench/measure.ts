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
 * Median seconds of fn: `warmup` calls first (and more until `warmupSeconds` have passed), then repeats until
 * `budgetSeconds` of them have passed. A first call longer than the budget is the measurement itself (TF.js cpu
 * takes minutes per CNN step). A Promise result is awaited.
 */
export async function measure(
  fn: () => unknown,
  { warmup, warmupSeconds, budgetSeconds }: Pick<PeerArgs, 'warmup' | 'warmupSeconds' | 'budgetSeconds'>,
): Promise<Timing> {
  const once = () => secondsOf(fn);
  const first = await once();
  if (first > budgetSeconds) return { seconds: first, repeats: 1, note: 'one call, over the time budget: no warm-up' };
  for (let i = 1, warmed = first; i < warmup || warmed < warmupSeconds; i++) warmed += await once();
  const runs: number[] = [];
  for (let spent = 0; runs.length === 0 || (spent < budgetSeconds && runs.length < MAX_REPEATS);) {
    runs.push(await once());
    spent += runs[runs.length - 1];
  }
  return medianOf(runs);
}

/** Seconds of one call of fn (a Promise result awaited). */
async function secondsOf(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  const r = fn();
  if (r instanceof Promise) await r;
  return (performance.now() - t0) / 1000;
}

function medianOf(runs: readonly number[], note?: string): Timing {
  const sorted = [...runs].sort((a, b) => a - b);
  return { seconds: sorted[Math.floor(sorted.length / 2)], repeats: sorted.length, ...(note ? { note } : {}) };
}

/**
 * Median seconds of each of two calls timed in alternation, round by round, so that both see the same machine
 * (on a shared VM, epoch times drift by a third from minute to minute): one warm-up round (none when
 * `warmupSeconds` is 0), then at least three rounds and more until `budgetSeconds` have passed. For figures
 * whose ratio is the point (fit's epoch against as many bare steps).
 */
export async function measurePaired(
  fns: readonly [() => unknown, () => unknown],
  { warmupSeconds, budgetSeconds }: Pick<PeerArgs, 'warmupSeconds' | 'budgetSeconds'>,
): Promise<[Timing, Timing]> {
  if (warmupSeconds > 0) for (const fn of fns) await secondsOf(fn);
  const runs: [number[], number[]] = [[], []];
  const minRounds = budgetSeconds > 0 ? 3 : 1;
  for (let spent = 0; runs[0].length < minRounds || spent < budgetSeconds;) {
    for (let i = 0; i < 2; i++) {
      runs[i].push(await secondsOf(fns[i]));
      spent += runs[i][runs[i].length - 1];
    }
  }
  return [medianOf(runs[0], 'timed in alternation'), medianOf(runs[1], 'timed in alternation')];
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

  /** Times the two calls `setup()` returns in alternation (measurePaired) under `keys`. */
  async timePaired(
    keys: readonly [string, string],
    setup: () => { calls: readonly [() => unknown, () => unknown]; dispose?: () => void },
  ): Promise<void> {
    let dispose: (() => void) | undefined;
    try {
      const made = setup();
      dispose = made.dispose;
      const timings = await measurePaired(made.calls, this.args);
      keys.forEach((key, i) => {
        this.result.timings[key] = timings[i];
        process.stderr.write(
          `  ${this.result.peer} ${key}: ${(timings[i].seconds * 1e3).toFixed(3)} ms x ${timings[i].repeats}\n`,
        );
      });
    } catch (e) {
      for (const key of keys) this.skip(key, `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300));
    } finally {
      dispose?.();
    }
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

  /** Records the process's peak resident set around a section: `beforeKiB` read before it, the peak now. */
  memory(section: string, beforeKiB: number): void {
    const peakKiB = process.resourceUsage().maxRSS;
    (this.result.memory ??= {})[section] = { beforeKiB, peakKiB };
    process.stderr.write(`  ${this.result.peer} ${section} max RSS: ${(peakKiB / 1024).toFixed(0)} MiB\n`);
  }

  emit(): void {
    console.log(RESULT_TAG + JSON.stringify(this.result));
  }
}
