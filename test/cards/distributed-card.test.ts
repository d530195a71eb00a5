// A distributed run's record, card and verification in one process: a RunRecorder whose end-of-fit round is
// synthetic (rank 1's figures made from rank 0's) sums compute, CPU time and energy over the ranks; rank 0 writes
// run.json, the card with its "Distributed training" section and a ledger entry that `candor verify` accepts, and
// a rank other than 0 writes nothing (recorder, publishRun and model.save) while keeping the record in memory.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { publishRun } from '../../src/cards/publish.js';
import { verifyRun } from '../../src/ledger/verify-run.js';
import { readRunRecord } from '../../src/ledger/record.js';
import type { GatheredCluster, OwnFigures } from '../../src/ledger/recording.js';
import { workerContribution, type ClusterWorld } from '../../src/distributed/cluster-record.js';
import { stageEnergiesOf, trainingSummaryOf } from '../../src/cards/exports/facts.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { blobs, tempDir } from '../ledger/fixtures.js';
import { at, figures } from './html.js';

const world = (rank: number): ClusterWorld => ({
  rank,
  host: 'node-a',
  transport: 'mpi (test)',
  comm: {
    allgatherJson: () => assert.fail('the synthetic round gathers nothing'),
    stats: { bytesSent: 4096 * (rank + 1), bytesReceived: 4096, seconds: 0.25 },
  },
});

/** A recorder on rank `rank` of 2 whose round returns its own figures and the other rank's (a copy of its own). */
class TwoRankRecorder extends RunRecorder {
  constructor(
    dir: string,
    private readonly rank: number,
  ) {
    super({ dir, energy: { method: 'estimate' } });
  }
  protected override async gatherCluster(own: OwnFigures): Promise<GatheredCluster> {
    const mine = workerContribution(world(this.rank), own, 15, undefined);
    const other = workerContribution(world(1 - this.rank), { ...own, cpuSeconds: own.cpuSeconds / 2 }, 15, undefined);
    return {
      rank: this.rank,
      info: { worldSize: 2, strategy: 'data-parallel', transport: 'mpi (test)' },
      contributions: [mine, other],
    };
  }
}

async function fit(recorder: RunRecorder) {
  const { x, y } = blobs(30, 3);
  const model = new c.Sequential([
    c.layers.dense({ units: 6, activation: 'relu', inputShape: [4] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { epochs: 1, batchSize: 10, verbose: 0, seed: 3, callbacks: [recorder] });
  c.dispose([x, y]);
  return model;
}

test('rank 0: sums over ranks, the card shows them, and candor verify passes', async () => {
  const tmp = tempDir();
  const dir = join(tmp.dir, 'run');
  try {
    const recorder = new TwoRankRecorder(dir, 0);
    const model = await fit(recorder);
    const r = recorder.record;
    const d = r.distributed!;
    assert.equal(d.ranks.length, 2);
    assert.equal(r.compute.total.flops, d.ranks[0].flops + d.ranks[1].flops);
    assert.equal(r.compute.total.flops, 2 * d.ranks[0].flops);
    assert.ok(Math.abs(r.training.cpuSeconds - (d.ranks[0].cpuSeconds + d.ranks[1].cpuSeconds)) < 1e-9);
    assert.deepEqual(d.bytesCommunicated, { sent: 4096 * 3, received: 8192 });
    assert.ok(r.notes.some((n) => n.startsWith('Distributed run (data-parallel, 2 ranks on 1 host)')));
    assert.ok(existsSync(join(dir, 'run.json')), 'rank 0 writes run.json at the end of fit');

    await model.save(dir);
    const published = await publishRun(recorder, { dir });
    // The saving stage after fit is rank 0's own: the record's energy is re-summed with it, still the ranks' sum.
    const e = published.record.energy!;
    const ranks = published.record.distributed!.ranks;
    assert.ok(Math.abs(e.joules - ranks[0].energyJoules! - ranks[1].energyJoules!) < 1e-9 * e.joules);
    assert.ok(Math.abs(published.record.emissions!.gCO2e - e.kWh * published.record.emissions!.grid.gPerKWh) < 1e-9);
    const onDisk = await readRunRecord(dir);
    assert.deepEqual(onDisk.distributed, published.record.distributed);

    const md = readFileSync(join(dir, 'card.md'), 'utf8');
    assert.match(md, /^## Distributed training$/m);
    assert.match(md, /^\| Distributed \| data-parallel on 2 ranks, 1 host, .* sent over mpi \(test\)/m);
    assert.match(md, /^\| Sum \| 1 host \|/m);
    // Every figure of the section shows the record's value at its data-key.
    const tagged = figures(readFileSync(join(dir, 'card.html'), 'utf8')).filter((el) =>
      el.attrs['data-key'].startsWith('distributed.'),
    );
    for (const el of tagged) assert.equal(Number(el.attrs['data-value']), at(onDisk, el.attrs['data-key']));
    assert.ok(tagged.some((el) => el.attrs['data-key'] === 'distributed.ranks.1.flops'));

    // The exports: world size in the training summary; the stages' energy adds up to the cluster's.
    assert.match(trainingSummaryOf(onDisk), /data-parallel on 2 processes/);
    const kWh = stageEnergiesOf(onDisk).reduce((s, x) => s + x.kWh, 0);
    assert.ok(Math.abs(kWh - onDisk.energy!.kWh) < 1e-9 * onDisk.energy!.kWh);

    const v = await verifyRun(dir);
    assert.ok(v.ok, v.checks.map((ch) => `${ch.check}: ${ch.detail}`).join('\n'));
    model.dispose();
  } finally {
    tmp.done();
  }
});

test('a rank other than 0 writes nothing: recorder, publishRun and model.save keep to memory', async () => {
  const tmp = tempDir();
  const dir = join(tmp.dir, 'rank1');
  try {
    const recorder = new TwoRankRecorder(dir, 1);
    const model = await fit(recorder);
    assert.equal(recorder.chief, false);
    assert.equal(recorder.record.distributed!.ranks.length, 2);
    await model.save(dir);
    const published = await publishRun(recorder, { dir });
    assert.equal(published.file, undefined);
    assert.equal(published.entry, undefined);
    assert.equal(published.record, recorder.record);
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, `rank 1 wrote ${existsSync(dir) && readdirSync(dir)}`);
    model.dispose();
  } finally {
    tmp.done();
  }
});
