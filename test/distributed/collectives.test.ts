// The communicator's collectives and messages under mpirun on 2 and 4 ranks (oversubscribed), compared with a plain
// JS reference computed from every rank's known inputs; the world of size 1 without mpirun; the typed errors when
// the MPI addon is missing and when a rank skips a collective (the job fails in bounded time, never hangs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';
import { rankInput, REDUCE_DTYPES, VECTOR, type ReduceDType } from './rank-inputs.js';

const skip = mpirunMissing();
type Row = Record<string, unknown> & { rank: number; size: number };

/** Rows by rank, after checking the job succeeded and every rank printed one. */
function rowsOf(r: Awaited<ReturnType<typeof runMpiRows>>, np: number): Row[] {
  assert.equal(r.code, 0, `mpirun failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`);
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
    const stats = row.stats as c.distributed.CommunicatorStats;
    assert.ok(stats.bytesSent > 0 && stats.bytesReceived > 0 && stats.seconds >= 0, JSON.stringify(stats));
    assert.equal(stats.messages, row.rank === 0 ? 2 + (np - 1) : 3, 'sends and receives');
  }
}

for (const np of [2, 4])
  test(`every collective on ${np} ranks matches the reference`, { skip }, async () => {
    checkCollectives(rowsOf(await runMpiRows(np, program('collectives'), [], { timeoutMs: 60_000 }), np), np);
  });
