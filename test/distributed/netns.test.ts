// Two machines on one (tools/netns-mpi.sh): a 2-rank job whose ranks sit in two network namespaces joined by a veth
// pair, talking over MPI's TCP transport only. Checks that the ranks really ran apart (different namespaces and
// hosts), that the collectives' results are right, and that their bytes crossed the veth. Runs where this process
// may make namespaces (root, iproute2); skips with the reason elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirunMissing, program } from './mpirun.js';
import { loadMpiAddon } from '../../src/distributed/mpi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tool = join(root, 'tools', 'netns-mpi.sh');

/** Why namespaces cannot be made here, or undefined when they can. */
function namespacesMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: making network namespaces needs root';
  const name = `candor-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.error) return 'iproute2 (ip) is not installed';
  if (add.status !== 0) return `ip netns add fails here: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  if (spawnSync('unshare', ['--version']).error) return 'unshare (util-linux) is not installed';
  return undefined;
}

const mpi = loadMpiAddon();
const skip = mpirunMissing() ?? (mpi.addon ? undefined : mpi.reason) ?? namespacesMissing();

/** The tool's run of `args` (its stdout's JSON lines); killed at the timeout (its trap then cleans up). */
function runTool(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; lines: any[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ code, lines, stderr });
    });
  });
}

test('2 ranks in two network namespaces: allreduce over the veth, data-parallel fit in step', { skip }, async () => {
  const r = await runTool([process.execPath, program('netns-allreduce'), '--fit']);
  assert.equal(r.code, 0, r.stderr);
  const summary = r.lines[r.lines.length - 1];
  const ranks = r.lines.filter((l) => 'arrayError' in l).sort((a, b) => a.rank - b.rank);
  assert.deepEqual(
    ranks.map((l) => [l.rank, l.size]),
    [
      [0, 2],
      [1, 2],
    ],
  );
  // Each rank in its own namespace (the probe's, run by the same mpirun), under its own host name.
  assert.equal(summary.probe.length, 2);
  for (const l of ranks) assert.equal(l.netns, summary.probe[l.rank].netns);
  assert.notEqual(ranks[0].netns, ranks[1].netns);
  assert.notEqual(ranks[0].host, ranks[1].host);
  assert.deepEqual(ranks[0].hosts, [ranks[0].host, ranks[1].host]);
  assert.match(summary.probe[0].addresses, /10\.77\.0\.1\//);
  assert.match(summary.probe[1].addresses, /10\.77\.0\.2\//);
  for (const l of ranks) {
    assert.equal(l.arrayError, 0);
    assert.ok(l.tensorError < 1e-5, String(l.tensorError));
  }
  // The 1 MiB allreduce alone moves 1 MiB each way between the two ranks (ring: 2(p-1)/p x bytes), and all that
  // MPI sent went through the veth (rank 0's end sends what rank 0 sent, and receives what rank 1 sent).
  assert.ok(ranks[0].bytesSent >= 1 << 20, String(ranks[0].bytesSent));
  assert.ok(summary.veth.txBytes >= ranks[0].bytesSent, JSON.stringify(summary.veth));
  assert.ok(summary.veth.rxBytes >= ranks[1].bytesSent, JSON.stringify(summary.veth));
  // Rank 0's initial weights were broadcast and every step's gradients averaged: the ranks end with equal weights.
  assert.equal(typeof ranks[0].weightsChecksum, 'number');
  assert.equal(ranks[0].weightsChecksum, ranks[1].weightsChecksum);
  // The trap removed the namespaces.
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const ns of summary.namespaces) assert.ok(!left.includes(ns), `${ns} left behind`);
});
