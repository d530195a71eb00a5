// TF.js (the @tensorflow/tfjs devDependency, on its CPU backend) reading and writing layers-model files in
// node without tfjs-node: a save handler that writes model.json + one shard, a load handler that reads them.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Saves a TF.js model as TF.js' file handlers do: model.json and the weights in `shard` beside it. */
export async function saveFromTfjs(model: tf.LayersModel, dir: string, shard = 'weights.bin'): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData!;
      const buffers = Array.isArray(data) ? data : [data];
      writeFileSync(join(dir, shard), Buffer.concat(buffers.map((b) => Buffer.from(b))));
      const json: ModelJson = {
        modelTopology: a.modelTopology as object,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        weightsManifest: [{ paths: [`./${shard}`], weights: a.weightSpecs! }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** The model at `modelJson`, loaded by TF.js itself (shards read by the manifest's relative paths). */
export async function loadInTfjs(modelJson: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as ModelJson;
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(modelJson), p))));
  const all = Buffer.concat(shards);
  return tf.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    }),
  });
}

export { tf };
