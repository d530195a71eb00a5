// Reading data-set files: missing files become an error that says how to get them; gzip is undone.
import { gunzipSync } from 'node:zlib';
import { CandorError } from '../errors.js';
import { FormatError } from '../io/safetensors.js';
import { readFileBytes } from '../io/atomic.js';

/** A data set's files are not where the loader looked; the message says how to get them. */
export class MissingDataError extends CandorError {}

/**
 * The bytes of `path`, or of `path.gz` when only the gzipped copy exists (as data sets are often
 * distributed); gzipped content is recognised by its magic bytes and inflated.
 * `op` names the caller and `hint` says how to obtain the file; both go into the errors.
 */
export async function readDataFile(path: string, op: string, hint: string): Promise<Uint8Array> {
  let bytes: Uint8Array | undefined;
  for (const candidate of [path, `${path}.gz`]) {
    try {
      bytes = await readFileBytes(candidate);
      path = candidate;
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  if (bytes === undefined) throw new MissingDataError(`${op}: ${path} not found (nor ${path}.gz); ${hint}`);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const out = gunzipSync(bytes);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw new FormatError(`${op}: ${path} looks gzipped but does not inflate (${(e as Error).message})`);
    }
  }
  return bytes;
}
