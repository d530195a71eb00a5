// The model's inputs and outputs as the run record keeps them (model.inputs / model.outputs): name, shape
// (null: any size, e.g. the batch axis), dtype, and for outputs what the numbers mean ('softmax probabilities
// over 10 classes'). They describe the model, not the training targets.
import type { Schema } from './json-schema.js';

export interface TensorSpec {
  name: string;
  /** Batch axis first; null where any size is accepted. */
  shape: (number | null)[];
  dtype: string;
  /** For outputs: what the values are, from the last layer's activation and the loss. */
  meaning?: string;
}

export const TENSOR_SPECS_SCHEMA: Schema = {
  type: 'array',
  description: "The model's inputs or outputs: name, shape (null: any size), dtype and, for outputs, their meaning.",
  items: {
    type: 'object',
    required: ['name', 'shape', 'dtype'],
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: ['integer', 'null'] } },
      dtype: { type: 'string' },
      meaning: { type: 'string' },
    },
  },
};

/** '[null, 784] float32' style text of one spec, without the batch axis when it is null. */
export function specText(s: TensorSpec): string {
  const dims = s.shape[0] === null ? s.shape.slice(1) : s.shape;
  return `${s.dtype} [${dims.map((d) => (d === null ? 'any' : String(d))).join(', ')}] per sample`;
}
