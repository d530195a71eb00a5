// The .keras archive (Keras 3's model file): a zip of config.json, metadata.json and model.weights.h5, read
// with fflate. Only those three entries are inflated, and only after their declared sizes pass the limits, so a
// zip bomb or a huge declared size is refused before any memory is given to it. Each is checked against the CRC-32
// the zip records for it (Keras stores entries uncompressed: a flipped byte would otherwise change a weight).
import { unzipSync } from 'fflate';
import { crc32 } from '../tensorboard/crc32c.js';
import { CandorError, errorMessage } from '../../errors.js';
import { FormatError, InteropError } from '../errors.js';
import { parseJsonObject } from './values.js';

/** Default cap on the bytes a .keras file may inflate to (its three entries together). */
export const DEFAULT_MAX_KERAS_BYTES = 1 << 29; // 512 MiB
/** The JSON entries are small (a few KB; a large functional model's config a few MB). */
const MAX_JSON_BYTES = 64 << 20;
/** More entries than any Keras file has (assets of text layers included): the central directory is junk. */
const MAX_ENTRIES = 10_000;

const CONFIG = 'config.json';
const METADATA = 'metadata.json';
const WEIGHTS = 'model.weights.h5';

export interface KerasArchive {
  /** The model's serialized config: { module, class_name, config, ... }. */
  config: Record<string, unknown>;
  /** { keras_version, date_saved } as Keras wrote it ({} if the entry is absent). */
  metadata: Record<string, unknown>;
  /** The bytes of model.weights.h5 (HDF5). */
  weights: Uint8Array;
}

/**
 * The CRC-32 the central directory records for each wanted entry. fflate reads these records (unzipSync has
 * succeeded on the same bytes before this runs) but does not expose the CRC; the zip64 end record is followed.
 */
function recordedCrcs(bytes: Uint8Array, label: string): Map<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, number>();
  try {
    let end = bytes.length - 22;
    while (view.getUint32(end, true) !== 0x06054b50) end--;
    let count = view.getUint16(end + 10, true);
    let at = view.getUint32(end + 16, true);
    if (end >= 20 && view.getUint32(end - 20, true) === 0x07064b50) {
      const end64 = Number(view.getBigUint64(end - 12, true));
      if (view.getUint32(end64, true) === 0x06064b50) {
        count = Number(view.getBigUint64(end64 + 32, true));
        at = Number(view.getBigUint64(end64 + 48, true));
      }
    }
    for (let i = 0; i < Math.min(count, MAX_ENTRIES); i++) {
      if (view.getUint32(at, true) !== 0x02014b50) break;
      const nameLength = view.getUint16(at + 28, true);
      const utf8 = (view.getUint16(at + 8, true) & 0x800) !== 0;
      const name = new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(bytes.subarray(at + 46, at + 46 + nameLength));
      if (name === CONFIG || name === METADATA || name === WEIGHTS) out.set(name, view.getUint32(at + 16, true));
      at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    }
  } catch (e) {
    throw new FormatError(`${label}: cannot read the zip's central directory: ${errorMessage(e)}`);
  }
  return out;
}

/**
 * Reads a .keras archive. `label` names the file in messages; `maxBytes` caps what its entries may inflate to
 * (raise it for models over 512 MiB). A .keras holding model.weights.npz instead of .h5 is refused.
 */
export function readKerasArchive(bytes: Uint8Array, label: string, maxBytes = DEFAULT_MAX_KERAS_BYTES): KerasArchive {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b)
    throw new FormatError(`${label} is not a .keras file: it does not start with a zip signature ('PK')`);
  const declared = new Map<string, number>();
  let entries = 0;
  let total = 0;
  let npz = false;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(file) {
        if (++entries > MAX_ENTRIES) throw new FormatError(`${label}: the zip lists over ${MAX_ENTRIES} entries`);
        if (file.name === 'model.weights.npz') npz = true;
        if (file.name !== CONFIG && file.name !== METADATA && file.name !== WEIGHTS) return false;
        if (declared.has(file.name)) throw new FormatError(`${label}: the zip holds ${file.name} twice`);
        const cap = file.name === WEIGHTS ? maxBytes : MAX_JSON_BYTES;
        if (!Number.isSafeInteger(file.originalSize) || file.originalSize > cap)
          throw new FormatError(
            `${label}: ${file.name} declares ${file.originalSize} bytes uncompressed, over the limit of ${cap}` +
              (file.name === WEIGHTS ? ' (raise it with the maxBytes option if the model is that large)' : ''),
          );
        total += file.originalSize;
        if (total > maxBytes)
          throw new FormatError(`${label}: the entries declare over ${maxBytes} bytes uncompressed in all`);
        if (file.compression !== 0 && file.compression !== 8)
          throw new InteropError(
            `${label}: ${file.name} uses zip compression method ${file.compression}; only stored (0) and ` +
              `deflate (8) are supported`,
          );
        declared.set(file.name, file.originalSize);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof CandorError) throw e;
    throw new FormatError(`${label}: not a readable zip archive: ${errorMessage(e)}`);
  }
  // fflate inflates into a buffer of the declared size and returns what the data filled: a shorter entry was
  // truncated or its size field altered.
  const crcs = recordedCrcs(bytes, label);
  for (const [name, size] of declared) {
    if (files[name].length !== size)
      throw new FormatError(`${label}: ${name} holds ${files[name].length} bytes, its zip entry declares ${size}`);
    if (crc32(files[name]) !== crcs.get(name))
      throw new FormatError(`${label}: ${name} does not match the CRC-32 its zip entry records (the file is corrupt)`);
  }
  if (!files[CONFIG]) throw new FormatError(`${label}: the archive has no ${CONFIG}; is it a Keras 3 .keras file?`);
  if (!files[WEIGHTS])
    throw npz
      ? new InteropError(`${label}: the weights are stored as model.weights.npz; only model.weights.h5 is supported`)
      : new FormatError(`${label}: the archive has no ${WEIGHTS}`);
  return {
    config: parseJsonObject(files[CONFIG], `${label}: ${CONFIG}`),
    metadata: files[METADATA] ? parseJsonObject(files[METADATA], `${label}: ${METADATA}`) : {},
    weights: files[WEIGHTS],
  };
}
