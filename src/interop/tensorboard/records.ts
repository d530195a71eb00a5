// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length (little endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data.
import { FormatError } from '../errors.js';
import { crc32c, maskCrc } from './crc32c.js';

/** Bytes of framing around each record's data: 8 (length) + 4 (its CRC) + 4 (the data's CRC). */
export const RECORD_OVERHEAD = 16;

/** One record holding `data`, framed. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + RECORD_OVERHEAD);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskCrc(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskCrc(crc32c(data)), true);
  return out;
}

/**
 * The data of every record in `bytes`, in order (views into `bytes`, nothing copied). Both CRCs are checked;
 * a truncated record, a wrong CRC or a declared length beyond the end of the file is a FormatError naming
 * `source` and the record's offset. Nothing is allocated from a declared length: it is checked against the
 * bytes present first.
 */
export function readRecords(bytes: Uint8Array, source: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  const fail = (what: string): never => {
    throw new FormatError(`${source}: TFRecord ${records.length} at byte ${at}: ${what}`);
  };
  while (at < bytes.length) {
    if (bytes.length - at < 12) fail(`truncated header (${bytes.length - at} of 12 bytes)`);
    const declared = view.getBigUint64(at, true);
    if (view.getUint32(at + 8, true) !== maskCrc(crc32c(bytes.subarray(at, at + 8))))
      fail('the length CRC does not match (corrupt length field)');
    const room = BigInt(bytes.length - at - RECORD_OVERHEAD);
    if (declared > room) fail(`declares ${declared} bytes of data but only ${room < 0n ? 0n : room} remain`);
    const length = Number(declared);
    const data = bytes.subarray(at + 12, at + 12 + length);
    if (view.getUint32(at + 12 + length, true) !== maskCrc(crc32c(data)))
      fail('the data CRC does not match (corrupt data)');
    records.push(data);
    at += length + RECORD_OVERHEAD;
  }
  return records;
}
