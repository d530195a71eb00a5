// Records a compression in a run record: through the RunRecording of the run, or into the run.json of a run
// directory (read, validated, rewritten), as explanations are recorded; and describes what a compression did to
// each layer, read from the two models themselves.
import { RunRecording } from '../ledger/recording.js';
import { readRunRecord, writeRunRecord } from '../ledger/record.js';
import { withCompression, type CompressionRecord } from '../ledger/compression.js';
import type { EncryptionKey } from '../io/encryption.js';
import { ArgumentError } from '../errors.js';
import type { Model } from '../train/model.js';
import type { Layer } from '../nn/layer.js';
import type { CompressionLayerRecord } from '../ledger/compression.js';

const BITS: Readonly<Record<string, number>> = { int8: 8, float32: 32, float64: 64 };

const kernelOf = (layer: Layer) => layer.weights.find((v) => /(^|\/)kernel$/.test(v.name));

/**
 * Each layer of `after` with weights, beside the layer of the same name in `before`: parameters, units or filters
 * when they changed, the fraction of its kernel exactly zero, and the bits per stored weight and per input value
 * (8 for the int8 layers, whose inputs are quantised to uint8).
 */
export function describeLayers(before: Model, after: Model): CompressionLayerRecord[] {
  const original = new Map(before.flattenLayers().map((l) => [l.name, l]));
  return after
    .flattenLayers()
    .filter((l) => l !== after && l.countParams() > 0)
    .map((layer) => {
      const was = original.get(layer.name);
      const entry: CompressionLayerRecord = {
        name: layer.name,
        className: layer.className,
        parameters: { before: was?.countParams() ?? 0, after: layer.countParams() },
      };
      const kernel = kernelOf(layer);
      if (!kernel) return entry;
      const values = kernel.value.dataSync();
      let zeros = 0;
      for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
      entry.sparsity = values.length ? zeros / values.length : 0;
      entry.weightBits = BITS[kernel.dtype];
      entry.activationBits = kernel.dtype === 'int8' ? 8 : 32;
      const units = kernel.shape[kernel.shape.length - 1],
        unitsBefore = was && kernelOf(was)?.shape.at(-1);
      if (unitsBefore !== undefined && unitsBefore !== units) entry.units = { before: unitsBefore, after: units };
      return entry;
    });
}

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
