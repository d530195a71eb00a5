// The communicator's collectives and messages under mpirun on 2 and 4 ranks (oversubscribed), compared with a plain
// JS reference computed from every rank's known inputs; the world of size 1 without mpirun; the typed errors when
// the MPI addon is missing and when a rank skips a collective (the job fails in bounded time, never hangs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertMpiSucceeded, mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';
import { flat } from '../helpers.js';
import { hostname } from 'node:os';
import { rankInput, REDUCE_DTYPES, VECTOR, type ReduceDType } from './rank-inputs.js';

const skip = mpirunMissing();
type Row = Record<string, unknown> & { rank: number; size: number };

/** Rows by rank, after checking the job succeeded and every rank printed one. */
function rowsOf(r: Awaited<ReturnType<typeof runMpiRows>>, np: number): Row[] {
  assertMpiSucceeded(r);
  const rows = r.rows as Row[];
  assert.deepEqual(
    rows.map((x) => x.rank),
    [...Array(np).keys()],
  );
  return rows;
}

/** Elementwise closeness: exact for int32, else relative to the float type's precision. */
function close(actual: unknown, expected: number[], dtype: ReduceDType, what: string): void {
  const a = actual as number[];
  assert.equal(a.length, expected.length, `${what}: length`);
  const tol = dtype === 'int32' ? 0 : dtype === 'float32' ? 1e-6 : 1e-13;
  for (let i = 0; i < a.length; i++)
    assert.ok(
      Math.abs(a[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: got ${a[i]}, expected ${expected[i]}`,
    );
}

/** The elementwise reduction over ranks of each rank's inputs(rank). */
function reduce(np: number, inputs: (rank: number) => number[], op: string): number[] {
  const all = [...Array(np).keys()].map(inputs);
  return all[0].map((_, i) => {
    const column = all.map((v) => v[i]);
    if (op === 'max') return Math.max(...column);
    if (op === 'min') return Math.min(...column);
    const sum = column.reduce((s, v) => s + v, 0);
    return op === 'mean' ? sum / np : sum;
  });
}

function checkCollectives(rows: Row[], np: number): void {
  for (const row of rows) {
    const at = `rank ${row.rank} of ${np}`;
    assert.equal(row.size, np);
    assert.match(String(row.transport), /^mpi \(Open MPI \d/);
    assert.equal(row.localSize, np, 'every rank runs on this host');
    assert.equal((row.hosts as string[]).length, np);
    for (const dtype of REDUCE_DTYPES) {
      const input = (r: number) => rankInput(r, VECTOR, dtype, 1);
      for (const op of ['sum', 'max', 'min', ...(dtype === 'int32' ? [] : ['mean'])]) {
        close(row[`allreduce.${dtype}.${op}`], reduce(np, input, op), dtype, `${at} allreduce ${dtype} ${op}`);
        assert.equal(row[`allreduce.${dtype}.${op}.dtype`], dtype);
      }
      close(row[`broadcast.${dtype}`], input(np - 1), dtype, `${at} broadcast ${dtype}`);
      const g = row[`allgather.${dtype}`] as { shape: number[]; values: number[] };
      assert.deepEqual(g.shape, [3 * np, 7]);
      close(
        g.values,
        [...Array(np).keys()].flatMap((r) => rankInput(r, 21, dtype, 2)),
        dtype,
        `${at} allgather`,
      );
      const rs = row[`reduceScatter.${dtype}`] as { shape: number[]; values: number[] };
      assert.deepEqual(rs.shape, [3, 5]);
      const full = reduce(np, (r) => rankInput(r, np * 15, dtype, 3), 'sum');
      close(rs.values, full.slice(row.rank * 15, (row.rank + 1) * 15), dtype, `${at} reduceScatter ${dtype}`);
      close(row[`allreduceArray.${dtype}.max`], reduce(np, input, 'max'), dtype, `${at} allreduceArray ${dtype}`);
    }
    const tr = row['allreduce.transposed'] as { shape: number[]; values: number[] };
    assert.deepEqual(tr.shape, [5, 3]);
    const transposed = (r: number) => {
      const v = rankInput(r, 15, 'float64', 4);
      return [...Array(15).keys()].map((k) => v[(k % 3) * 5 + Math.floor(k / 3)]);
    };
    close(tr.values, reduce(np, transposed, 'sum'), 'float64', `${at} allreduce of a transposed view`);
    (row.allreduceAsync as number[][]).forEach((v, i) =>
      close(
        v,
        reduce(np, (r) => rankInput(r, VECTOR + 2 * i, 'float32', 10 + i), 'sum'),
        'float32',
        `${at} async ${i}`,
      ),
    );
    const mixed = row.mixed as { early: number[]; late: number[]; direct: number[][] };
    close(
      mixed.early,
      reduce(np, (r) => rankInput(r, 9, 'float32', 50), 'sum'),
      'float32',
      `${at} async then blocking`,
    );
    close(
      mixed.late,
      reduce(np, (r) => rankInput(r, 6, 'float32', 51), 'max'),
      'float32',
      `${at} blocking behind async`,
    );
    mixed.direct.forEach((v, i) =>
      close(
        v,
        reduce(np, (r) => rankInput(r, 4, 'float32', 52 + i), 'sum'),
        'float32',
        `${at} blocking ${i}`,
      ),
    );
    (row.allreduceArrayAsync as number[][]).forEach((v, i) =>
      close(
        v,
        reduce(np, (r) => rankInput(r, 5 + i, 'float64', 20 + i), 'mean'),
        'float64',
        `${at} array async ${i}`,
      ),
    );
    const from = (row.rank + np - 1) % np;
    const ring = row.ring as { source: number; tag: number; count: number; values: number[] };
    assert.deepEqual([ring.source, ring.tag, ring.count], [from, 7, 11]);
    close(ring.values, rankInput(from, 11, 'float64', 30), 'float64', `${at} ring message`);
    if (row.rank === 0) {
      const probed = row.probed as { probe: object; recv: object; values: number[] }[];
      assert.equal(probed.length, np - 1);
      probed.forEach((p, k) => {
        const r = k + 1;
        assert.deepEqual(p.probe, { source: r, tag: 100 + r, count: 4 * (r + 2) });
        assert.deepEqual(p.recv, { source: r, tag: 100 + r, count: r + 2 });
        assert.deepEqual(p.values, rankInput(r, r + 2, 'int32', 40));
      });
    }
    assert.deepEqual(
      row.allgatherJson,
      [...Array(np).keys()].map((r) => ({ rank: r, word: `r${r}`, nested: [r, { deep: r * 2 }] })),
    );
    assert.deepEqual(row.broadcastJson, { from: 1 % np, text: 'héllo' });
    assert.deepEqual(row.refused, {
      allgather: `allgather: recv has ${3 * np + 1} elements; expected ${np} x 3`,
      types: 'allreduce: the send and receive arrays must have the same element type',
      lengths: 'allreduce: send has 3 elements but recv has 4',
      notArray: 'allreduce: recv must be a typed array',
      op: 'allreduce: op (0 sum, 1 max, 2 min) must be an integer in [0, 2]',
      dest: `send: dest must be an integer in [0, ${np - 1}]`,
      tag: 'recv: tag (-1 = any) must be an integer in [-1, 32767]',
      root: `bcast: root must be an integer in [0, ${np - 1}]`,
      rootNaN: `bcast: root must be an integer in [0, ${np - 1}]`,
      rootInfinity: `bcast: root must be an integer in [0, ${np - 1}]`,
      reduceScatter: `reduceScatter: send has ${2 * np + 1} elements; expected ${np} x 2`,
      allgatherv: `allgatherv: recv has 1 elements; the counts sum to ${2 * np}`,
      counts: `allgatherv: counts must be an Int32Array of ${np} entries`,
      wait: 'wait: unknown request id (already waited for?)',
    });
    assert.equal(row.afterFinalize, 'CANDOR_DISTRIBUTED_FINALIZED');
    const stats = row.stats as c.distributed.CommunicatorStats;
    assert.ok(stats.bytesSent > 0 && stats.bytesReceived > 0 && stats.seconds >= 0, JSON.stringify(stats));
    assert.equal(stats.messages, row.rank === 0 ? 2 + (np - 1) : 3, 'sends and receives');
  }
}

for (const np of [2, 4])
  test(`every collective on ${np} ranks matches the reference`, { skip }, async () => {
    checkCollectives(rowsOf(await runMpiRows(np, program('collectives'), [], { timeoutMs: 60_000 }), np), np);
  });

test('under mpirun without the MPI addon, init throws a DistributedError saying how to get it', { skip }, async () => {
  const env = { CANDOR_MPI_ADDON: '/nonexistent/candor_mpi.node' };
  const r = await runMpiRows(2, program('init-faults'), ['missing-addon'], { timeoutMs: 30_000, env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.rows.length, 2);
  for (const row of r.rows) {
    assert.equal(row.typed, true, JSON.stringify(row));
    assert.equal(row.name, 'DistributedError');
    assert.equal(row.code, 'CANDOR_DISTRIBUTED_UNAVAILABLE');
    assert.match(String(row.message), /OMPI_COMM_WORLD_SIZE is set/);
    assert.match(String(row.message), /\/nonexistent\/candor_mpi\.node is missing/);
    assert.match(String(row.message), /apt-get install openmpi-bin libopenmpi-dev/);
    assert.match(String(row.message), /tools\/build-native\.js/);
  }
});

test("a rank that throws: its JavaScript error reaches stderr, not only Open MPI's notice", { skip }, async () => {
  const r = await runMpiRows(2, program('init-faults'), ['rank-throws'], { timeoutMs: 40_000 });
  assert.equal(r.signal, null, `the job hung until the runner killed it:\n${r.stderr}`);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Error: rank 1 fails on purpose before its allreduce/);
  assert.match(r.stderr, /init-faults\.js:\d+/, 'the stack trace names the program');
});

test(
  'a rank that skips a collective: the other gets a DistributedError after timeoutMs and the job ends',
  { skip },
  async () => {
    // The runner's timeout is far above timeoutMs (1 s): the job must end on its own (code, no signal), not hang.
    const r = await runMpiRows(2, program('init-faults'), ['skip-collective'], { timeoutMs: 40_000 });
    assert.equal(r.signal, null, `the job hung until the runner killed it:\n${r.stderr}`);
    assert.notEqual(r.code, 0);
    const [chief, other] = r.rows;
    assert.deepEqual(other, { rank: 1, hanging: true });
    assert.equal(chief.typed, true, JSON.stringify(chief));
    assert.equal(chief.code, 'CANDOR_DISTRIBUTED_TIMEOUT');
    const message = String(chief.message);
    for (const part of ['allreduce on rank 0 of 2', '(12 bytes)', 'not done after 1.0 s', 'a rank died or hangs'])
      assert.ok(message.includes(part), `'${part}' in: ${message}`);
    assert.match(r.stderr, /a rank died or hangs/);
  },
);

test('without mpirun: a world of size 1, no MPI loaded, every collective the identity into new tensors', () => {
  assert.equal(c.distributed.launchedBy(), undefined, 'the test process must not look launched by mpirun');
  const d = c.distributed;
  assert.equal(d.world().size, 1, 'world() before init is the size-1 world');
  const w = d.init({ timeoutMs: 5000 });
  assert.equal(d.init(), w, 'init is idempotent');
  const timeout = () => (w.comm as unknown as { options: { timeoutMs: number } }).options.timeoutMs;
  assert.equal(timeout(), 5000, 'a later bare init() keeps the timeout the user chose');
  assert.throws(() => d.init({ timeoutMs: 1e300 }), c.ArgumentError);
  assert.equal(d.world(), w);
  assert.deepEqual(
    [w.rank, w.size, w.localRank, w.localSize, w.host, w.hosts, w.transport],
    [0, 1, 0, 1, hostname(), [hostname()], 'none'],
  );
  assert.ok(d.isChief());
  assert.equal(d.mpiAddonTried(), false, 'a world of size 1 never loads the MPI addon');
  const before = c.memory().tensors;
  const x = c.tensor(rankInput(0, 12, 'float64', 1), [4, 3], 'float64');
  const { comm } = w;
  for (const [name, y] of [
    ['allreduce sum', comm.allreduce(x)],
    ['allreduce mean', comm.allreduce(x, 'mean')],
    ['allreduce max', comm.allreduce(x, 'max')],
    ['broadcast', comm.broadcast(x)],
    ['allgather', comm.allgather(x)],
    ['reduceScatter', comm.reduceScatter(x, 'mean')],
    ['allreduceAsync', comm.allreduceAsync(x).wait()],
  ] as const) {
    assert.notEqual(y, x, name);
    assert.deepEqual([y.shape, y.dtype, flat(y)], [[4, 3], 'float64', flat(x)], name);
    y.dispose();
    assert.deepEqual(flat(x), rankInput(0, 12, 'float64', 1), `${name}: the input is untouched`);
  }
  const t = c.transpose(x);
  const yt = comm.allreduce(t);
  assert.deepEqual([yt.shape, flat(yt)], [[3, 4], flat(t)], 'a transposed view is read in row-major order');
  const pending = comm.allreduceAsync(x);
  assert.ok(pending.test());
  pending.wait().dispose();
  assert.throws(() => pending.wait(), c.ArgumentError, 'a PendingReduce returns its tensor once');
  c.dispose([x, t, yt]);
  assert.equal(c.memory().tensors, before, 'no tensor leaks');

  const arr = new Float32Array([1.5, -2, 3]);
  comm.allreduceArray(arr, 'mean');
  comm.allreduceArrayAsync(arr).wait();
  assert.deepEqual(Array.from(arr), [1.5, -2, 3]);

  comm.send(new Float32Array([1, 2, 3]), 0, 5);
  assert.deepEqual(comm.probe('any', 'any'), { source: 0, tag: 5, count: 12 });
  const inbox = new Float32Array(4);
  assert.deepEqual(comm.recv(inbox, 0, 5), { source: 0, tag: 5, count: 3 });
  assert.deepEqual(Array.from(inbox), [1, 2, 3, 0]);
  assert.throws(() => comm.recv(inbox, 'any', 'any'), d.DistributedError);

  assert.deepEqual(comm.allgatherJson({ a: [1, 'x'] }), [{ a: [1, 'x'] }]);
  assert.deepEqual(comm.broadcastJson({ b: null }), { b: null });
  comm.barrier();
  const stats = comm.stats;
  assert.deepEqual([stats.bytesSent, stats.bytesReceived], [0, 0], 'a world of size 1 moves no bytes');
  d.finalize();
});

test('bad arguments get typed errors naming the operation', () => {
  const { comm } = c.distributed.world();
  const b = c.tensor([1, 0], [2], 'bool');
  const i = c.tensor([1, 2], [2], 'int32');
  assert.throws(
    () => comm.allreduce(b),
    (e) => e instanceof c.DTypeError && /allreduce of bool \[2\]/.test(e.message),
  );
  assert.throws(
    () => comm.allreduce(i, 'mean'),
    (e) => e instanceof c.DTypeError && /mean of int32/.test(e.message),
  );
  assert.throws(() => comm.allreduce(i, 'prod' as 'sum'), c.ArgumentError);
  assert.throws(
    () => comm.reduceScatter(c.scalar(1)),
    (e) => e instanceof c.ShapeError && /axis 0/.test(e.message),
  );
  assert.throws(() => comm.allgather(c.scalar(1)), c.ShapeError);
  assert.throws(
    () => comm.broadcast(i, 1),
    (e) => e instanceof c.ArgumentError && /root must be a rank/.test(e.message),
  );
  assert.throws(() => comm.send(new Int32Array(1), 0, -1), c.ArgumentError);
  assert.throws(() => comm.recv(new Int32Array(1), 2, 0), c.ArgumentError);
  assert.throws(() => comm.allreduceArray(new Uint8Array(2) as unknown as Int32Array), c.DTypeError);
  assert.throws(() => c.distributed.init({ timeoutMs: -1 }), c.ArgumentError);
  for (const v of ['OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_RANK', 'PMI_RANK'])
    assert.equal(c.distributed.launchedBy({ [v]: '2' }), v);
  assert.equal(c.distributed.launchedBy({}), undefined);
});
