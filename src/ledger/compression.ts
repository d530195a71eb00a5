// What a run record says about a compression of its model (pruning, quantisation, distillation, transfer): the
// method and its parameters, each layer's sparsity and bit widths, and the model's size, accuracy, latency and
// energy per 1,000 predictions before and after, measured the same way in the same process. The ledger knows
// nothing of src/compress: it fills these in as plain data.
import type { Schema } from './json-schema.js';
import type { JsonValue } from './canonical.js';

/** One layer as compressed. */
export interface CompressionLayerRecord {
  name: string;
  className: string;
  parameters: { before: number; after: number };
  /** Fraction of the layer's kernel weights that are exactly zero after compression. */
  sparsity?: number;
  /** Bits per stored weight and per activation entering the layer (32 for float32). */
  weightBits?: number;
  activationBits?: number;
  /** Units or filters before and after structured pruning. */
  units?: { before: number; after: number };
}

/** One model's figures, measured by compress.measureModel. */
export interface ModelMeasurement {
  /** Accuracy on `evaluatedOn` (null when no labels were given). */
  accuracy: number | null;
  /** Bytes of the saved weights file as written (sparse or int8 storage counted as stored). */
  bytes: number;
  parameters: number;
  /** Median predict latency per call at batch 1 and at batch 256, in milliseconds. */
  msBatch1: number;
  msBatch256: number;
  /** Energy of 1,000 predictions at batch 256 (EnergyMeter: RAPL where readable, else its estimate). */
  joulesPer1000: number;
  /** How the energy figure was obtained ('rapl' or 'estimate'). */
  energyMethod: string;
}

export interface CompressionRecord {
  /** 'magnitude pruning', 'structured pruning', 'int8 post-training quantisation', ... */
  method: string;
  createdAt: string;
  /** The variant's name in a study (e.g. 'pruned80'); an entry of the same name replaces an earlier one. */
  name?: string;
  /** What was done, in one or two sentences. */
  description: string;
  parameters: Record<string, JsonValue>;
  layers: CompressionLayerRecord[];
  before: ModelMeasurement;
  after: ModelMeasurement;
  /** The data the accuracies were measured on, e.g. 'MNIST test set (10,000 images)'. */
  evaluatedOn: string;
}

/** The list with `entry` added; an earlier entry of the same name (when named) is replaced. */
export function withCompression(list: readonly CompressionRecord[] | undefined, entry: CompressionRecord) {
  return [...(list ?? []).filter((e) => e.name === undefined || e.name !== entry.name), entry];
}

const count = { type: 'integer', minimum: 0 };
const nonNegative = { type: 'number', minimum: 0 };
const fraction = { type: 'number', minimum: 0, maximum: 1 };
const bits = { type: 'integer', minimum: 1, maximum: 64 };
const beforeAfter = {
  type: 'object',
  required: ['before', 'after'],
  additionalProperties: false,
  properties: { before: count, after: count },
};

const MEASUREMENT_SCHEMA: Schema = {
  type: 'object',
  required: ['accuracy', 'bytes', 'parameters', 'msBatch1', 'msBatch256', 'joulesPer1000', 'energyMethod'],
  additionalProperties: false,
  properties: {
    accuracy: { anyOf: [fraction, { type: 'null' }] },
    bytes: count,
    parameters: count,
    msBatch1: nonNegative,
    msBatch256: nonNegative,
    joulesPer1000: nonNegative,
    energyMethod: { type: 'string' },
  },
};

/** The run record schema's `compression` items (see run-record-schema.ts). */
export const COMPRESSION_SCHEMA: Schema = {
  type: 'object',
  required: ['method', 'createdAt', 'description', 'parameters', 'layers', 'before', 'after', 'evaluatedOn'],
  additionalProperties: false,
  properties: {
    method: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    name: { type: 'string' },
    description: { type: 'string' },
    parameters: { type: 'object' },
    layers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'className', 'parameters'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          className: { type: 'string' },
          parameters: beforeAfter,
          sparsity: fraction,
          weightBits: bits,
          activationBits: bits,
          units: beforeAfter,
        },
      },
    },
    before: MEASUREMENT_SCHEMA,
    after: MEASUREMENT_SCHEMA,
    evaluatedOn: { type: 'string' },
  },
};
