// The run record's sub-schema of data fingerprints ($defs tensor, dataset and source): see fingerprint.ts.
import type { Schema } from './json-schema.js';

const count = { type: 'integer', minimum: 0 };
const text = { type: 'string' };
const hex = (digits: number) => ({ type: 'string', pattern: `^[0-9a-f]{${digits}}$` });

const PUBLISHED_CHECKSUM: Schema = {
  type: 'object',
  required: ['of', 'md5', 'by', 'matches'],
  additionalProperties: false,
  properties: { of: text, md5: hex(32), by: text, matches: { type: ['boolean', 'null'] } },
};

/** $defs of run-record-schema.ts: a tensor's fingerprint, a dataset's, and a data set's published source. */
export const FINGERPRINT_DEFS: Record<string, Schema> = {
  tensor: {
    type: 'object',
    required: ['shape', 'dtype', 'bytes'],
    // Records before keyed fingerprints hold the plain sha256 only; they still validate.
    anyOf: [{ required: ['hmacSha256', 'keyId'] }, { required: ['sha256'] }],
    additionalProperties: false,
    description:
      "HMAC-SHA256 under the user's fingerprint key (keyId) of 'candor-tensor-fingerprint-v1', dtype, shape and " +
      'the elements; sha256 (plain, of the elements) only when the user asked for plain hashes.',
    properties: {
      shape: { type: 'array', items: count },
      dtype: text,
      bytes: count,
      hmacSha256: hex(64),
      keyId: hex(16),
      sha256: hex(64),
    },
  },
  datasetSource: {
    type: 'object',
    required: ['name', 'licence', 'url', 'files'],
    additionalProperties: false,
    properties: {
      name: text,
      licence: text,
      url: text,
      citation: text,
      note: text,
      files: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'sha256', 'bytes'],
          additionalProperties: false,
          properties: {
            name: text,
            sha256: hex(64),
            bytes: count,
            md5: hex(32),
            published: { type: 'array', items: PUBLISHED_CHECKSUM },
          },
        },
      },
    },
  },
  dataset: {
    type: 'object',
    required: ['name', 'samples', 'x'],
    additionalProperties: false,
    properties: {
      name: text,
      samples: count,
      x: { type: 'array', minItems: 1, items: { $ref: '#/$defs/tensor' } },
      y: { type: 'array', items: { $ref: '#/$defs/tensor' } },
      labelDistribution: { type: 'object', additionalProperties: count },
      labelDistributionWithheld: { type: 'boolean' },
      source: { $ref: '#/$defs/datasetSource' },
      sameAs: text,
      description: text,
    },
  },
};
