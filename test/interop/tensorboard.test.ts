// TensorBoard event files: CRC32C against its check value and a bitwise reference, TFRecord framing, the
// fixture's bytes rewritten identically by Candor, and Candor's reader against the independent Python decoder
// (tools/tensorboard-decode.py, python3-protobuf with protoc-compiled messages) on the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import { EventFileWriter, FormatError, crc32c, parseEvents, readEvents } from '../../src/interop/index.js';
import type { SummaryValue, TensorBoardEvent } from '../../src/interop/index.js';
import { maskCrc, unmaskCrc } from '../../src/interop/tensorboard/crc32c.js';
import { frameRecord, readRecords } from '../../src/interop/tensorboard/records.js';
import { histogramOf } from '../../src/interop/tensorboard/histogram.js';
import { tempDir } from '../ledger/fixtures.js';
import { Rng } from '../io/rng.js';
import { FIXTURE_DIR, FIXTURE_NAME, writeFixtureEvents } from './tensorboard-fixture.js';

/** CRC32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78). */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('CRC32C: the standard check value and known vectors (RFC 3720 B.4)', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
});

test('CRC32C equals the bitwise reference on random data of odd lengths; masking round-trips', () => {
  const rng = new Rng(new c.RandomStream(15));
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: rng.int(300) }, () => rng.int(256));
    const crc = crc32c(bytes);
    assert.equal(crc, crc32cBitwise(bytes), `length ${bytes.length}`);
    assert.equal(unmaskCrc(maskCrc(crc)), crc);
  }
  // TensorFlow's Mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8, mod 2^32, worked by hand for 0xE3069283.
  assert.equal(maskCrc(0xe3069283), (((0xe3069283 >>> 15) | ((0xe3069283 << 17) >>> 0)) + 0xa282ead8) % 2 ** 32);
});

test('TFRecord framing: length, masked CRCs and data in place; records read back', () => {
  const data = new TextEncoder().encode('hello');
  const framed = frameRecord(data);
  const view = new DataView(framed.buffer);
  assert.equal(framed.length, 5 + 16);
  assert.equal(view.getBigUint64(0, true), 5n);
  assert.equal(view.getUint32(8, true), maskCrc(crc32cBitwise(framed.subarray(0, 8))));
  assert.deepEqual(framed.subarray(12, 17), data);
  assert.equal(view.getUint32(17, true), maskCrc(crc32cBitwise(data)));
  const two = new Uint8Array([...framed, ...frameRecord(new Uint8Array(0))]);
  assert.deepEqual(
    readRecords(two, 'x').map((r) => [...r]),
    [[...data], []],
  );
});

test('the fixture: Candor writes the same bytes again (fixed wall times), named as TensorFlow names files', () => {
  const { dir, done } = tempDir('candor-tb-');
  try {
    const path = writeFixtureEvents(dir);
    assert.equal(path, join(dir, FIXTURE_NAME));
    assert.deepEqual(readFileSync(path), readFileSync(join(FIXTURE_DIR, FIXTURE_NAME)));
  } finally {
    done();
  }
});

/** Candor's decoded events in the Python decoder's JSON shape (proto3 defaults filled in). */
function asDecoderJson(events: TensorBoardEvent[]): unknown[] {
  const b64 = (b?: Uint8Array) => Buffer.from(b ?? []).toString('base64');
  const value = (v: SummaryValue) => ({
    tag: v.tag ?? '',
    ...(v.metadata
      ? {
          metadata: {
            ...(v.metadata.pluginData
              ? {
                  plugin_name: v.metadata.pluginData.pluginName ?? '',
                  plugin_content: b64(v.metadata.pluginData.content),
                }
              : {}),
            ...(v.metadata.displayName ? { display_name: v.metadata.displayName } : {}),
            ...(v.metadata.summaryDescription ? { summary_description: v.metadata.summaryDescription } : {}),
            ...(v.metadata.dataClass ? { data_class: v.metadata.dataClass } : {}),
          },
        }
      : {}),
    ...(v.simpleValue !== undefined ? { simple_value: v.simpleValue } : {}),
    ...(v.histo
      ? {
          histo: {
            min: v.histo.min ?? 0,
            max: v.histo.max ?? 0,
            num: v.histo.num ?? 0,
            sum: v.histo.sum ?? 0,
            sum_squares: v.histo.sumSquares ?? 0,
            bucket_limit: v.histo.bucketLimit ?? [],
            bucket: v.histo.bucket ?? [],
          },
        }
      : {}),
    ...(v.tensor
      ? {
          tensor: {
            dtype: v.tensor.dtype ?? 0,
            shape: (v.tensor.tensorShape?.dim ?? []).map((d) => d.size ?? 0),
            tensor_content: b64(v.tensor.tensorContent),
            float_val: v.tensor.floatVal ?? [],
            double_val: v.tensor.doubleVal ?? [],
          },
        }
      : {}),
  });
  return events.map((e) => ({
    wall_time: e.wallTime ?? 0,
    step: e.step ?? 0,
    ...(e.fileVersion !== undefined ? { file_version: e.fileVersion } : {}),
    ...(e.summary ? { summary: (e.summary.value ?? []).map(value) } : {}),
  }));
}

const PYTHON = '/usr/bin/python3';
function pythonDecoderAvailable(): boolean {
  const ok =
    spawnSync(PYTHON, ['-c', 'import google.protobuf'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('protoc', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!ok && process.env.CI) assert.fail('CI: python3-protobuf and protoc are required for the TensorBoard decoder');
  return ok;
}

test("Candor's reader gives exactly what the independent Python decoder read from the fixture", () => {
  const fixture = join(FIXTURE_DIR, FIXTURE_NAME);
  const expected = JSON.parse(readFileSync(join(FIXTURE_DIR, 'events.json'), 'utf8')) as unknown[];
  const events = readEvents(fixture);
  assert.deepStrictEqual(asDecoderJson(events), expected);
  // Spot checks of what the fixture holds, read as TensorBoard would.
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  assert.equal(events.length, 11);
  const big = events.at(-1)!;
  assert.equal(big.step, 2 ** 40);
  assert.equal(big.summary!.value![0].tensor!.floatVal![0], 2.5);
  assert.equal(events[2].summary!.value![0].simpleValue, Math.fround(0.1));
  if (pythonDecoderAvailable()) {
    const run = spawnSync(PYTHON, ['tools/tensorboard-decode.py', fixture], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepStrictEqual(JSON.parse(run.stdout), expected, 'the decoder, run now, reads what events.json holds');
  }
});

test("histograms follow TensorBoard's default bucketing: 30 equal buckets, one when all are equal", () => {
  const values = [0, 1, 2, 3, 29, 30, 14.999, 15];
  const h = histogramOf(values);
  assert.equal(h.min, 0);
  assert.equal(h.max, 30);
  assert.equal(h.num, 8);
  assert.equal(h.sum, 94.999);
  assert.equal(
    h.sumSquares,
    values.reduce((s, v) => s + v * v, 0),
  );
  assert.deepEqual(
    h.bucketLimit,
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  const counts = new Array(30).fill(0);
  for (const i of [0, 1, 2, 3, 29, 29, 14, 15]) counts[i]++; // 30 = max falls in the last bucket
  assert.deepEqual(h.bucket, counts);
  assert.deepEqual(histogramOf([2, 2]), {
    min: 2,
    max: 2,
    num: 2,
    sum: 4,
    sumSquares: 8,
    bucketLimit: [2],
    bucket: [2],
  });
  assert.deepEqual(histogramOf([NaN]).bucket, []);
  assert.equal(histogramOf([1, NaN, Infinity, 3]).num, 2);
});

test('EventFileWriter: first event brain.Event:2, flushed events are on disk before close, distinct files', () => {
  const { dir, done } = tempDir('candor-tb-');
  try {
    const clock = () => 1234.5;
    const w = new EventFileWriter(dir, { wallTime: clock, hostname: 'h', maxQueue: 2 });
    assert.match(w.path, /events\.out\.tfevents\.1234\.h$/);
    const onDisk = () => parseEvents(new Uint8Array(readFileSync(w.path)));
    assert.deepEqual(onDisk(), [{ wallTime: 1234.5, fileVersion: 'brain.Event:2' }]);
    w.addScalar('a', 1, 1);
    assert.equal(onDisk().length, 1, 'queued, not yet written');
    w.addScalar('a', 2, 2);
    assert.equal(onDisk().length, 3, 'maxQueue reached: appended');
    w.addScalar('a', 3, 3);
    w.flush();
    assert.equal(onDisk().length, 4);
    w.close();
    w.close();
    assert.throws(() => w.addScalar('a', 4, 4), c.ArgumentError);
    assert.throws(() => w.addScalar('a', 4, -1), c.ArgumentError);
    const second = new EventFileWriter(dir, { wallTime: clock, hostname: 'h' });
    second.close();
    assert.equal(second.path, `${w.path}.1`);
    assert.equal(readdirSync(dir).length, 2);
    assert.ok(statSync(second.path).size > 0);
    assert.throws(() => new EventFileWriter(dir, { maxQueue: 0 }), c.ArgumentError);
    assert.throws(() => new EventFileWriter(dir, { flushSecs: 1 } as never), /unknown option 'flushSecs'/);
  } finally {
    done();
  }
});

test('readEvents: a corrupt CRC, a truncated record and a hostile length are FormatErrors naming the record', () => {
  const bytes = new Uint8Array(readFileSync(join(FIXTURE_DIR, FIXTURE_NAME)));
  const flipped = bytes.slice();
  flipped[bytes.length - 10] ^= 1;
  assert.throws(
    () => parseEvents(flipped, 'f'),
    (e: unknown) => e instanceof FormatError && /data CRC/.test(e.message),
  );
  assert.throws(() => parseEvents(bytes.subarray(0, bytes.length - 3), 'f'), FormatError);
  const hostile = bytes.slice();
  const view = new DataView(hostile.buffer);
  view.setBigUint64(0, 2n ** 62n, true);
  view.setUint32(8, maskCrc(crc32c(hostile.subarray(0, 8))), true);
  assert.throws(() => parseEvents(hostile, 'f'), /TFRecord 0 at byte 0: declares 4611686018427387904 bytes/);
});

test('a process killed without closing its writer leaves every appended event readable, losing only the queue', () => {
  const { dir, done } = tempDir('candor-tb-kill-');
  try {
    const entry = fileURLToPath(new URL('../../src/interop/index.js', import.meta.url));
    // maxQueue 2: events 1-2 and 3-4 are appended when the queue fills; event 5 is still queued at the kill.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { EventFileWriter } = await import(${JSON.stringify(entry)});
         const w = new EventFileWriter(${JSON.stringify(dir)}, { maxQueue: 2 });
         for (let step = 1; step <= 5; step++) w.addScalar('x', step, step);
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const [file] = readdirSync(dir);
    const events = readEvents(join(dir, file));
    assert.deepEqual(
      events.map((e) => e.fileVersion ?? e.summary!.value![0].simpleValue),
      ['brain.Event:2', 1, 2, 3, 4],
    );
  } finally {
    done();
  }
});
