// Fuzzing readEvents: seeded mutations of the fixture event file (raw bit flips, truncations, inserted and
// deleted bytes, hostile length fields with their CRC made valid, and protobuf payload edits re-framed with
// valid CRCs so they reach the Event decoder) either decode or throw FormatError; nothing else, and fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { FormatError, crc32c, parseEvents } from '../../src/interop/index.js';
import { maskCrc } from '../../src/interop/tensorboard/crc32c.js';
import { frameRecord, readRecords } from '../../src/interop/tensorboard/records.js';
import { concatArrays } from '../../src/tensor/dtype.js';
import { Rng } from '../io/rng.js';
import { FIXTURE_DIR, FIXTURE_NAME } from './tensorboard-fixture.js';

const SOURCE = new Uint8Array(readFileSync(join(FIXTURE_DIR, FIXTURE_NAME)));
const RECORDS = readRecords(SOURCE, 'fixture').map((r) => r.slice());
const LENGTHS = [0n, 1n, 7n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

const concat = (parts: Uint8Array[]): Uint8Array => concatArrays(parts, (n) => new Uint8Array(n));

/** A mutation of one record's payload: bit flips, a random byte run, a cut, or a hostile varint. */
function mutatePayload(rng: Rng, data: Uint8Array): Uint8Array {
  const b = data.slice();
  const at = rng.int(b.length + 1);
  switch (rng.int(4)) {
    case 0:
      for (let k = 1 + rng.int(4); k > 0 && b.length > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 1:
      return concat([
        b.subarray(0, at),
        Uint8Array.from({ length: 1 + rng.int(6) }, () => rng.int(256)),
        b.subarray(at),
      ]);
    case 2:
      return b.subarray(0, at);
    default:
      // a length-delimited field (tag byte 0x2a: field 5, wire type 2) declaring a huge length
      return concat([b.subarray(0, at), new Uint8Array([0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f]), b.subarray(at)]);
  }
}

function mutate(rng: Rng): Uint8Array {
  const b = SOURCE.slice();
  switch (rng.int(6)) {
    case 0:
      for (let k = 1 + rng.int(8); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 1:
      return b.subarray(0, rng.int(b.length));
    case 2: {
      const at = rng.int(b.length + 1);
      return concat([
        b.subarray(0, at),
        Uint8Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)),
        b.subarray(at),
      ]);
    }
    case 3: {
      const at = rng.int(b.length);
      return concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]);
    }
    case 4: {
      // a record's length field set to a hostile value, with a valid length CRC so the length itself is read
      const records = RECORDS.map((r) => frameRecord(r));
      const i = rng.int(records.length);
      const view = new DataView(records[i].buffer);
      view.setBigUint64(0, rng.pick(LENGTHS), true);
      view.setUint32(8, maskCrc(crc32c(records[i].subarray(0, 8))), true);
      return concat(records);
    }
    default: {
      // a payload edit, re-framed with valid CRCs: the Event decoder sees it
      const i = rng.int(RECORDS.length);
      return concat(RECORDS.map((r, j) => frameRecord(j === i ? mutatePayload(rng, r) : r)));
    }
  }
}

test('readEvents on mutated event files: events or a FormatError, never another error', () => {
  const rng = new Rng(new c.RandomStream(1515));
  const heapBefore = process.memoryUsage().heapUsed;
  let decoded = 0,
    rejected = 0;
  for (let n = 0; n < 1500; n++) {
    const bytes = mutate(rng);
    try {
      const events = parseEvents(bytes, 'fuzz');
      assert.ok(Array.isArray(events));
      decoded++;
    } catch (e) {
      if (!(e instanceof FormatError)) assert.fail(`mutation ${n}: ${e instanceof Error ? e.stack : String(e)}`);
      rejected++;
    }
  }
  // Both outcomes happen (payload edits often still decode), and no declared length was allocated.
  assert.ok(decoded > 10 && rejected > 500, `decoded ${decoded}, rejected ${rejected}`);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 2 ** 20);
});
