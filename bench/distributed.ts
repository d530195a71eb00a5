// The distributed section of `npm run bench` (issue 17): allreduce bandwidth of Candor (typed array and tensor)
// against a plain C program calling MPI_Allreduce, on the same sizes under the same `mpirun -np 2`; and the MNIST
// CNN's training samples/s with 2 ranks x 1 thread (data-parallel) against 1 process x 2 threads, on the same
// global batch. Skipped, with the reason, where mpirun, mpicc or Candor's MPI addon is missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirunMissing, runMpi, runMpiCommand, type MpiResult } from '../test/distributed/mpirun.js';
import { loadMpiAddon } from '../src/distributed/mpi.js';
import { RESULT_TAG, type PeerArgs } from './spec.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/mpi/allreduce.c, beside dist/ (C is not compiled by tsc). */
const cSource = join(here, '..', '..', 'bench', 'mpi', 'allreduce.c');

/** Issue 17's target: Candor's allreduce reaches this share of plain MPI_Allreduce's bandwidth. */
export const ALLREDUCE_RATIO_TARGET = 0.9;
const RANKS = 2;

/** What bench/mpi-allreduce.ts (each rank) is told: sizes minBytes, x factor, ... up to maxBytes. */
export interface AllreduceBenchArgs {
  minBytes: number;
  maxBytes: number;
  factor: number;
  budgetSeconds: number;
  warmup: number;
}

/** What bench/mpi-train.ts (each rank, or the one process) is told: globalBatch rows per step, split over the ranks. */
export interface TrainBenchArgs {
  peer: PeerArgs;
  globalBatch: number;
  steps: number;
  warmup: number;
}

/** One size: algorithm bandwidth (bytes / seconds of one allreduce, GB/s) of each side and Candor / MPI. */
export interface AllreduceRow {
  bytes: number;
  mpiGBs: number;
  arrayGBs: number;
  tensorGBs: number;
  arrayRatio: number;
  tensorRatio: number;
}

export interface DistributedReport {
  skipped?: string;
  ranks: number;
  allreduce?: { transport: string; rows: AllreduceRow[]; minRatio: number; met: boolean } | { skipped: string };
  training?:
    | {
        globalBatch: number;
        ranksSamplesPerSecond: number;
        processSamplesPerSecond: number;
        ratio: number;
      }
    | { skipped: string };
}

/** The result line (after RESULT_TAG, or the C program's JSON) of a run, or why there is none. */
function resultOf<T>(stdout: string, stderr: string, code: number | null): T | { skipped: string } {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_TAG));
  if (line) return JSON.parse(line.slice(RESULT_TAG.length)) as T;
  // The error's line if there is one, else the last line that says something (not a stack frame, not mpirun's
  // rules of dashes or its [host:pid] notes).
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && !/^-+$/.test(l) && !/^\[[^\]]+:\d+\]/.test(l));
  const why = [...lines].reverse().find((l) => /Error\b/.test(l)) ?? lines.pop() ?? '';
  return { skipped: `exited with ${code}: ${why.slice(0, 300)}` };
}
const fromMpi = <T>(r: MpiResult) => resultOf<T>(r.stdout, r.stderr, r.code);
const skippedOf = (v: object): v is { skipped: string } => 'skipped' in v;

interface Timed {
  seconds: number;
  repeats: number;
}

async function allreduce(peer: PeerArgs, smoke: boolean): Promise<NonNullable<DistributedReport['allreduce']>> {
  if (spawnSync('mpicc', ['--version']).error) return { skipped: 'mpicc is not installed (libopenmpi-dev)' };
  const a: AllreduceBenchArgs = {
    minBytes: 4 << 10,
    maxBytes: smoke ? 256 << 10 : 64 << 20,
    factor: 4,
    budgetSeconds: peer.budgetSeconds,
    warmup: peer.warmup,
  };
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-mpi-'));
  try {
    const exe = join(dir, 'allreduce');
    const cc = spawnSync('mpicc', ['-O2', cSource, '-o', exe], { encoding: 'utf8' });
    if (cc.status !== 0) return { skipped: `mpicc failed: ${cc.stderr.trim().slice(0, 300)}` };
    process.stderr.write('distributed: MPI_Allreduce (C)...\n');
    const cArgs = [a.minBytes, a.maxBytes, a.factor, a.budgetSeconds, a.warmup].map(String);
    const mpi = fromMpi<{ sizes: ({ bytes: number } & Timed)[] }>(
      await runMpiCommand(RANKS, [exe, ...cArgs], { timeoutMs: 600_000 }),
    );
    process.stderr.write('distributed: Candor allreduce...\n');
    const candor = fromMpi<{ transport: string; sizes: { bytes: number; array: Timed; tensor: Timed }[] }>(
      await runMpi(RANKS, join(here, 'mpi-allreduce.js'), [JSON.stringify(a)], {
        timeoutMs: 600_000,
      }),
    );
    if (skippedOf(mpi)) return { skipped: `MPI_Allreduce program: ${mpi.skipped}` };
    if (skippedOf(candor)) return { skipped: `Candor: ${candor.skipped}` };
    const gbs = (bytes: number, t: Timed) => bytes / t.seconds / 1e9;
    const rows = candor.sizes.map(({ bytes, array, tensor }): AllreduceRow => {
      const ref = mpi.sizes.find((s) => s.bytes === bytes)!;
      return {
        bytes,
        mpiGBs: gbs(bytes, ref),
        arrayGBs: gbs(bytes, array),
        tensorGBs: gbs(bytes, tensor),
        arrayRatio: ref.seconds / array.seconds,
        tensorRatio: ref.seconds / tensor.seconds,
      };
    });
    const minRatio = Math.min(...rows.flatMap((r) => [r.arrayRatio, r.tensorRatio]));
    return { transport: candor.transport, rows, minRatio, met: minRatio >= ALLREDUCE_RATIO_TARGET };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function training(peer: PeerArgs, quick: boolean, smoke: boolean): Promise<DistributedReport['training']> {
  const t: TrainBenchArgs = {
    peer,
    globalBatch: peer.cnn.batch,
    steps: smoke ? 2 : quick ? 5 : 20,
    warmup: peer.warmup,
  };
  const script = join(here, 'mpi-train.js'),
    payload = JSON.stringify(t);
  interface Trained {
    samplesPerSecond: number;
  }
  process.stderr.write(`distributed: MNIST CNN, ${RANKS} ranks x 1 thread...\n`);
  const ranks = fromMpi<Trained>(
    await runMpi(RANKS, script, [payload], { timeoutMs: 600_000, env: { CANDOR_NUM_THREADS: '1' } }),
  );
  process.stderr.write(`distributed: MNIST CNN, 1 process x ${RANKS} threads...\n`);
  const one = spawnSync(process.execPath, [script, payload], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, CANDOR_NUM_THREADS: String(RANKS) },
  });
  const single = resultOf<Trained>(one.stdout, one.stderr, one.status);
  if (skippedOf(ranks)) return { skipped: `${RANKS} ranks: ${ranks.skipped}` };
  if (skippedOf(single)) return { skipped: `1 process: ${single.skipped}` };
  return {
    globalBatch: t.globalBatch,
    ranksSamplesPerSecond: ranks.samplesPerSecond,
    processSamplesPerSecond: single.samplesPerSecond,
    ratio: ranks.samplesPerSecond / single.samplesPerSecond,
  };
}

/** Runs the section (one mpirun after another, never beside other work). */
export async function runDistributedBench(peer: PeerArgs, quick: boolean, smoke: boolean): Promise<DistributedReport> {
  const mpi = loadMpiAddon();
  const missing = mpirunMissing() ?? (mpi.addon ? undefined : mpi.reason);
  if (missing) return { ranks: RANKS, skipped: missing };
  return { ranks: RANKS, allreduce: await allreduce(peer, smoke), training: await training(peer, quick, smoke) };
}

const size = (bytes: number) => (bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`);
const fixed = (v: number, digits = 2) => v.toFixed(digits);

/** The section's lines in the readable report. */
export function printDistributed(r: DistributedReport, print: (line: string) => void): void {
  print('');
  print(`distributed (issue 17), mpirun -np ${r.ranks} on this machine:`);
  if (r.skipped) return print(`  skipped: ${r.skipped}`);
  const a = r.allreduce!;
  if (skippedOf(a)) print(`  allreduce: skipped: ${a.skipped}`);
  else {
    print(`  allreduce float32 sum over ${a.transport}, algorithm bandwidth (bytes / seconds of one call), GB/s:`);
    print(
      `  ${'size'.padStart(9)}${'MPI (C)'.padStart(10)}${'array'.padStart(10)}${'ratio'.padStart(8)}` +
        `${'tensor'.padStart(10)}${'ratio'.padStart(8)}`,
    );
    for (const row of a.rows) {
      const cells = [row.mpiGBs, row.arrayGBs, row.arrayRatio, row.tensorGBs, row.tensorRatio].map((v, i) =>
        fixed(v, i === 2 || i === 4 ? 2 : 3).padStart(i === 2 || i === 4 ? 8 : 10),
      );
      print(`  ${size(row.bytes).padStart(9)}${cells.join('')}`);
    }
    print(
      `  issue 17, Candor allreduce >= ${ALLREDUCE_RATIO_TARGET}x MPI_Allreduce at every size: ` +
        `lowest ratio ${fixed(a.minRatio)}, ${a.met ? 'met' : 'not met'}`,
    );
  }
  const t = r.training!;
  if (skippedOf(t)) print(`  MNIST CNN training: skipped: ${t.skipped}`);
  else
    print(
      `  MNIST CNN training, global batch ${t.globalBatch}: ${r.ranks} ranks x 1 thread ` +
        `${t.ranksSamplesPerSecond.toFixed(0)} samples/s, 1 process x ${r.ranks} threads ` +
        `${t.processSamplesPerSecond.toFixed(0)} samples/s, ratio ${fixed(t.ratio)}`,
    );
}
