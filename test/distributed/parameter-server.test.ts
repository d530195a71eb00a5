// The parameter server: shard plans, the stale-synchronous schedule and the sharded optimizer in process; sync mode
// against one process with the global batch, and async mode on MNIST, under mpirun.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planShards } from '../../src/distributed/ps-shards.js';
import { ShardState, SspSchedule } from '../../src/distributed/ps-server.js';
import { ParameterServer, type PsCommunicator } from '../../src/distributed/parameter-server.js';
import { adam } from '../../src/optim/index.js';
import { fromTypedArray } from '../../src/tensor/tensor.js';
import { ArgumentError } from '../../src/errors.js';
import * as c from '../../src/index.js';
import { rejects } from '../helpers.js';

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
