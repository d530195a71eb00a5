// The parameter server: shard plans, the stale-synchronous schedule and the sharded optimizer in process; sync mode
// against one process with the global batch, and async mode on MNIST, under mpirun; a recorded fit's run record.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planShards } from '../../src/distributed/ps-shards.js';
import { ShardState, SspSchedule } from '../../src/distributed/ps-server.js';
import { ParameterServer, type PsCommunicator } from '../../src/distributed/parameter-server.js';
import { adam } from '../../src/optim/index.js';
import { fromTypedArray } from '../../src/tensor/tensor.js';
import { ArgumentError } from '../../src/errors.js';
import * as c from '../../src/index.js';
import type { DistributedRecord } from '../../src/ledger/distributed.js';
import { rejects } from '../helpers.js';
import { tempDir } from '../ledger/fixtures.js';
import { assertMpiSucceeded, mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';
import { EPOCHS, SAMPLES, reference } from './ps-fixture.js';

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('planShards: contiguous ranges that cover every element once, balanced by bytes', () => {
  const rnd = random(7);
  for (let trial = 0; trial < 200; trial++) {
    const sizes = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => Math.floor(rnd() * 40));
    const bpe = sizes.map(() => (rnd() < 0.5 ? 4 : 8));
    const servers = 1 + Math.floor(rnd() * 5);
    const plans = planShards(sizes, servers, bpe);
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.equal(plans.length, servers);
    assert.equal(plans[0].start, 0);
    assert.equal(plans[servers - 1].end, total);
    const owner = new Array<number>(total).fill(-1);
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    plans.forEach((p, j) => {
      if (j > 0) assert.equal(p.start, plans[j - 1].end, 'contiguous');
      let offset = 0;
      for (const s of p.segments) {
        assert.equal(s.offset, offset, 'segments follow each other in the shard');
        assert.equal(starts[s.weight] + s.start, p.start + s.offset, 'a segment sits where its weight does');
        for (let k = 0; k < s.length; k++) {
          assert.equal(owner[starts[s.weight] + s.start + k], -1, 'each element in one shard');
          owner[starts[s.weight] + s.start + k] = j;
        }
        offset += s.length;
      }
      assert.equal(offset, p.end - p.start);
    });
    assert.ok(
      owner.every((o) => o >= 0),
      'every element covered',
    );
    const elementBytes = sizes.flatMap((n, i) => new Array<number>(n).fill(bpe[i]));
    const bytes = plans.map((p) => elementBytes.slice(p.start, p.end).reduce((a, b) => a + b, 0));
    const ideal = elementBytes.reduce((a, b) => a + b, 0) / servers;
    for (const b of bytes) assert.ok(Math.abs(b - ideal) < 8 || b === ideal, `balanced: ${bytes} for ${sizes}`);
    // One dtype (what the parameter server uses): shards differ by at most one element.
    const uniform = planShards(sizes, servers).map((p) => p.end - p.start);
    assert.ok(Math.max(...uniform) - Math.min(...uniform) <= 1, `balanced: ${uniform} for ${sizes}`);
  }
  // A weight split between servers: 10 + 6 elements into 2 shards of 8.
  assert.deepEqual(
    planShards([10, 6], 2).map((p) => p.segments),
    [
      [{ weight: 0, start: 0, length: 8, offset: 0 }],
      [
        { weight: 0, start: 8, length: 2, offset: 0 },
        { weight: 1, start: 0, length: 6, offset: 2 },
      ],
    ],
  );
  assert.throws(() => planShards([4], 0), ArgumentError);
});

/**
 * Simulates W workers against one server under the stale-synchronous schedule, the workers taking turns at random
 * (a slow worker is picked rarely): each pulls, computes and pushes, as the server loop does with real messages.
 */
function simulate(workers: number, staleness: number, steps: number, seed: number) {
  const rnd = random(seed);
  const schedule = new SspSchedule(workers, staleness);
  let version = 0;
  // What each worker holds: parameters read at (version, minClock), or undefined while it waits for them.
  const held: ({ version: number; minClock: number } | undefined)[] = Array.from({ length: workers }, () => ({
    version: 0,
    minClock: 0,
  }));
  const clocks = new Array<number>(workers).fill(0);
  let maxAhead = 0;
  for (let guard = 0; schedule.active > 0; guard++) {
    assert.ok(guard < 100_000, 'the schedule deadlocked');
    const runnable = held.map((h, w) => (h && clocks[w] <= steps ? w : -1)).filter((w) => w >= 0);
    assert.ok(runnable.length > 0, 'no worker can run: deadlock');
    // Worker 0 is slow: it runs one time in five.
    const pick = runnable.find((w) => w !== 0 && rnd() < 0.8) ?? runnable[0];
    const h = held[pick]!;
    if (clocks[pick] === steps) {
      schedule.finish(pick);
      held[pick] = undefined;
      clocks[pick]++;
    } else {
      schedule.push(pick, clocks[pick], h.version, h.minClock, version);
      version++;
      clocks[pick]++;
      held[pick] = undefined;
    }
    for (const w of schedule.ready()) {
      held[w] = { version, minClock: schedule.minClock };
      const live = clocks.filter((_, i) => clocks[i] <= steps);
      maxAhead = Math.max(maxAhead, clocks[w] - Math.min(...live));
    }
  }
  return { stats: schedule.stats, maxAhead };
}

test('SspSchedule: the staleness bound holds, is reached by a slow worker, and nothing deadlocks', () => {
  for (const staleness of [0, 1, 2, 4]) {
    for (const workers of [2, 3]) {
      const { stats, maxAhead } = simulate(workers, staleness, 30, 11 + staleness);
      assert.equal(stats.updates, workers * 30);
      assert.ok(stats.maxStaleness <= staleness, `staleness ${stats.maxStaleness} > bound ${staleness}`);
      assert.equal(stats.maxStaleness, staleness, 'a slow worker lets the fast ones run to the bound');
      assert.ok(maxAhead <= staleness, `a worker ran ${maxAhead} steps ahead of the slowest`);
      assert.ok(stats.maxVersionLag <= (workers - 1) * (2 * staleness + 1), `version lag ${stats.maxVersionLag}`);
      if (staleness === 0) assert.ok(stats.maxVersionLag <= workers - 1, 'lockstep: only the same step is missing');
    }
  }
});

test('ShardState: the optimizer on shards is the optimizer on whole weights, element by element', () => {
  const rnd = random(3);
  const shapes = [[3, 4], [4], [2, 2]];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const initial = Float32Array.from({ length: total }, () => rnd() - 0.5);
  const grads = Array.from({ length: 5 }, () => Float32Array.from({ length: total }, () => rnd() - 0.5));
  const plans = planShards(sizes, 3);
  const shards = plans.map(
    (p) => new ShardState(p, 'float32', adam({ learningRate: 0.1 }), initial.slice(p.start, p.end)),
  );
  const whole = adam({ learningRate: 0.1 });
  let params = shapes.map((s, i) => {
    const from = sizes.slice(0, i).reduce((a, b) => a + b, 0);
    return fromTypedArray(initial.slice(from, from + sizes[i]), s);
  });
  for (const g of grads) {
    shards.forEach((s, j) => s.apply(g.slice(plans[j].start, plans[j].end)));
    let from = 0;
    const gs = shapes.map((s, i) => fromTypedArray(g.slice(from, (from += sizes[i])), s));
    const next = whole.apply(params, gs);
    c.dispose([...params, ...gs]);
    params = next;
  }
  const expected = Float32Array.from(params.flatMap((p) => [...(p.dataSync() as Float32Array)]));
  const got = new Float32Array(total);
  shards.forEach((s, j) => {
    const part = new Float32Array(s.length);
    s.read(part);
    got.set(part, plans[j].start);
    assert.equal(s.version, grads.length);
  });
  assert.deepEqual(got, expected);
  shards.forEach((s) => s.dispose());
  c.dispose(params);
  whole.dispose();
});

test('ParameterServer: options and models it cannot serve get typed errors', async () => {
  assert.throws(() => new ParameterServer({ servers: 0 }), /servers must be a positive integer/);
  assert.throws(() => new ParameterServer({ mode: 'lazy' as 'sync' }), /mode must be 'sync' or 'async'/);
  assert.throws(() => new ParameterServer({ staleness: -1 }), /staleness must be a non-negative integer/);
  assert.throws(() => new ParameterServer({ server: 2 } as never), ArgumentError);
  // Rank 0 of a 2-rank world whose collectives are the identity (its answer is every rank's).
  const comm = (size: number): PsCommunicator =>
    ({ rank: 0, size, broadcastJson: <T>(v: T) => v, allgatherJson: <T>(v: T) => [v] }) as unknown as PsCommunicator;
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  model.build([null, 3]);
  const ctx = (optimizer: c.optimizers.Optimizer) =>
    ({ model, optimizer, epochs: 1, initialEpoch: 0, batchSize: 4, seed: 1 }) as never;
  await rejects(() => new ParameterServer({}, comm(1)).begin(ctx(adam())), ArgumentError, /need at least 2 ranks/);
  await rejects(
    () => new ParameterServer({}, comm(2)).begin(ctx(adam({ clipnorm: 1 }))),
    ArgumentError,
    /clips by norm .* each server holds a shard/,
  );
  model.dispose();
});

const skip = mpirunMissing();
const WORKERS = 2;

/** The largest |a - b| over the largest |b|, weight by weight (0 when equal). */
function relativeError(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length);
  return Math.max(
    ...a.map((w, i) => {
      const scale = Math.max(Number.MIN_VALUE, ...b[i].map(Math.abs)); // a zero bias compares absolutely
      return Math.max(...w.map((v, k) => Math.abs(v - b[i][k]))) / scale;
    }),
  );
}

async function run(np: number, args: string[], timeoutMs = 90_000) {
  const r = await runMpiRows(np, program('parameter-server'), args, { timeoutMs });
  assert.equal(r.code, 0, `mpirun -np ${np} parameter-server ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  assert.equal(r.rows.length, np, `a row from each rank:\n${r.stderr}`);
  return r.rows as unknown as Row[];
}

interface Row {
  rank: number;
  role: 'worker' | 'server';
  weights?: number[][];
  losses?: number[];
  loss?: number[];
  iterations?: number;
  accuracy?: number;
  steps?: number;
  samples?: number;
  stats: { bytesSent: number; bytesReceived: number };
  observed: { updates: number; maxStaleness: number; maxVersionLag: number; shardBytes: number[] };
}

for (const servers of [1, 2])
  test(
    `fit with ParameterServer sync, ${WORKERS} workers + ${servers} server(s) = one process, global batch`,
    {
      skip,
    },
    async () => {
      const expected = await reference(WORKERS * 4);
      const rows = await run(WORKERS + servers, ['sync', String(servers)]);
      assert.deepEqual(
        rows.map((r) => r.role),
        [...Array(WORKERS).fill('worker'), ...Array(servers).fill('server')],
        'workers first, servers last',
      );
      const steps = EPOCHS * Math.ceil(SAMPLES / (WORKERS * 4));
      assert.equal(steps, 20);
      for (const r of rows.filter((r) => r.role === 'worker')) {
        const error = relativeError(r.weights!, expected);
        assert.ok(error <= 1e-5, `rank ${r.rank}: relative error ${error} after ${steps} steps`);
        assert.equal(r.iterations, steps, "the worker's optimizer counts its steps");
        assert.equal(r.loss!.length, EPOCHS);
      }
      // Strided shards of each epoch's 37 rows: the last global batch's 5 rows split 3 + 2 (rows-weighted average).
      assert.deepEqual(
        rows.slice(0, WORKERS).map((r) => r.samples),
        [19 * EPOCHS, 18 * EPOCHS],
      );
      const shards = rows[0].observed.shardBytes;
      assert.equal(shards.length, servers);
      assert.equal(
        shards.reduce((a, b) => a + b, 0),
        4 * (6 * 8 + 8 + 8 * 3 + 3),
        'the trainable weights (not the frozen layer) are sharded, as float32',
      );
      assert.equal(rows[0].observed.updates, steps, 'one update a step');
      assert.equal(rows[0].observed.maxStaleness, 0);
      // The communicator counts the servers' traffic: each worker's pushes of each shard, and the replies.
      rows.slice(WORKERS).forEach((r, j) => {
        assert.ok(
          r.stats.bytesReceived >= WORKERS * steps * shards[j],
          `server ${j} received ${r.stats.bytesReceived}`,
        );
        assert.ok(r.stats.bytesSent >= WORKERS * (steps + 1) * shards[j], `server ${j} sent ${r.stats.bytesSent}`);
      });
    },
  );

test(
  'fit with ParameterServer async (stale-synchronous, bound 2): converges on MNIST and keeps the bound',
  {
    skip,
  },
  async () => {
    const staleness = 2;
    const rows = await run(WORKERS + 1, ['async', '1', String(staleness)], 120_000);
    const workers = rows.filter((r) => r.role === 'worker');
    for (const r of workers) {
      const losses = r.losses!;
      assert.equal(losses.length, 63, '2,000 rows a worker at 32 a step');
      const start = losses.slice(0, 3).reduce((a, b) => a + b, 0) / 3;
      const end = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
      assert.ok(start > 1.8, `rank ${r.rank}: the loss starts near ln 10 (${start})`);
      assert.ok(end < 0.6, `rank ${r.rank}: the loss falls from ${start} to ${end}`);
      assert.ok(r.accuracy! >= 0.8, `rank ${r.rank}: test accuracy ${r.accuracy}`);
    }
    assert.deepEqual(workers[0].weights, workers[1].weights, "every worker ends with the servers' final parameters");
    const observed = rows[0].observed;
    assert.equal(observed.updates, WORKERS * 63, 'one update per gradient');
    assert.ok(observed.maxStaleness <= staleness, `observed staleness ${observed.maxStaleness} > ${staleness}`);
    assert.ok(observed.maxVersionLag <= (WORKERS - 1) * (2 * staleness + 1), `version lag ${observed.maxVersionLag}`);
  },
);

interface RecordedRow {
  rank: number;
  role: 'worker' | 'server';
  fitWrote: boolean;
  files: string[];
  distributed?: DistributedRecord;
  flops?: number;
  verify?: { ok: boolean; checks: string[] };
}

// fit records by default: its recorder's round waits for the strategy's end(), where the servers, which serve instead
// of running callbacks, join it once they have left serve(). Before that, this fit hung (the timeout is the guard).
for (const mode of ['sync', 'async'] as const)
  test(`a recorded fit with ParameterServer ${mode}: rank 0 writes one record of all 3 ranks`, { skip }, async () => {
    const tmp = tempDir();
    try {
      const r = await runMpiRows(WORKERS + 1, program('parameter-server'), [mode, '1', '1', tmp.dir], {
        timeoutMs: 60_000,
      });
      assertMpiSucceeded(r);
      const rows = r.rows as unknown as RecordedRow[];
      assert.deepEqual(
        rows.map((x) => [x.rank, x.role]),
        [
          [0, 'worker'],
          [1, 'worker'],
          [2, 'server'],
        ],
      );
      assert.ok(
        ['run.json', 'card.md', 'ledger.jsonl'].every((f) => rows[0].files.includes(f)),
        `${rows[0].files}`,
      );
      assert.deepEqual(
        rows.map((x) => x.fitWrote),
        [true, false, false],
        "fit's recorder wrote run.json at rank 0 alone",
      );
      assert.deepEqual([rows[1].files, rows[2].files], [[], []], 'only rank 0 writes');
      const d = rows[0].distributed!;
      assert.deepEqual(
        [d.strategy, d.mode, d.staleness, d.worldSize],
        ['parameter-server', mode, mode === 'async' ? 1 : undefined, 3],
      );
      assert.deepEqual(
        d.ranks.map((x) => [x.rank, x.role]),
        rows.map((x) => [x.rank, x.role]),
      );
      const steps = EPOCHS * Math.ceil(SAMPLES / (WORKERS * 4));
      // Workers: their steps and rows; the server: one update a step (sync) or a gradient (async, no empty ones).
      assert.deepEqual(
        d.ranks.map((x) => [x.steps, x.samples]),
        [
          [steps, 19 * EPOCHS],
          [steps, 18 * EPOCHS],
          [mode === 'sync' ? steps : WORKERS * steps, 0],
        ],
      );
      assert.ok(
        d.ranks.every((x) => x.flops > 0 && x.bytesSent > 0 && x.bytesReceived > 0),
        JSON.stringify(d.ranks),
      );
      assert.equal(
        d.bytesCommunicated.sent,
        d.ranks.reduce((a, x) => a + x.bytesSent, 0),
      );
      assert.equal(
        rows[0].flops,
        d.ranks.reduce((a, x) => a + x.flops, 0),
        'record.compute is the sum over ranks',
      );
      assert.deepEqual(rows[1].distributed?.ranks.length, 3, 'every worker holds the cluster record');
      assert.ok(rows[0].verify!.ok, rows[0].verify!.checks.join('\n'));
    } finally {
      tmp.done();
    }
  });
