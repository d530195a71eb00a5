// Records a compression in a run record: through the RunRecording of the run, or into the run.json of a run
// directory (read, validated, rewritten), as explanations are recorded.
import { RunRecording } from '../ledger/recording.js';
import { readRunRecord, writeRunRecord } from '../ledger/record.js';
import { withCompression, type CompressionRecord } from '../ledger/compression.js';
import type { EncryptionKey } from '../io/encryption.js';
import { ArgumentError } from '../errors.js';

export async function recordCompression(
  where: RunRecording | string,
  entry: CompressionRecord,
  options: { encryptionKey?: EncryptionKey } = {},
): Promise<CompressionRecord> {
  if (where instanceof RunRecording) {
    await where.addCompression(entry);
    return entry;
  }
  if (typeof where !== 'string')
    throw new ArgumentError('recordCompression: give a RunRecorder or the path of a run directory');
  const record = await readRunRecord(where, options);
  record.compression = withCompression(record.compression, entry);
  record.createdAt = new Date().toISOString();
  await writeRunRecord(record, where, options);
  return entry;
}
