// The JSON Schema (draft 2020-12) of run.json. This object is the source; schemas/run-record.schema.json
// is its published copy (`candor schema > schemas/run-record.schema.json`), and a test keeps the two equal.
import type { Schema } from './json-schema.js';
import { PRIVACY_SCHEMA } from './privacy.js';
import { EXPLANATION_SCHEMA } from './explanation.js';
import { COMPRESSION_SCHEMA } from './compression.js';
import { TENSOR_SPECS_SCHEMA } from './model-io.js';
import { CARD_HASHES_SCHEMA } from './file-hashes.js';
import { FINGERPRINT_DEFS } from './fingerprint-schema.js';
import { ENERGY_PLATFORM_PROPERTIES } from './platform.js';
import { STAGES_SCHEMA } from './stages.js';
import { DISTRIBUTED_SCHEMA } from './distributed.js';

const num = { type: 'number' };
const nonNegative = { type: 'number', minimum: 0 };
const count = { type: 'integer', minimum: 0 };
const nullableNumber = { type: ['number', 'null'] };
const text = { type: 'string' };
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const dateTime = { type: 'string', format: 'date-time' };
const phase = { enum: ['forward', 'backward', 'optimizer', 'evaluate', 'other'] };

const totals = {
  type: 'object',
  required: ['calls', 'flops', 'bytes', 'ms'],
  additionalProperties: false,
  properties: { calls: count, flops: nonNegative, bytes: nonNegative, ms: nonNegative },
};

export const RUN_RECORD_SCHEMA: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:candor:schema:run-record:1',
  title: 'Candor run record',
  description:
    'What one training run used and produced: model, compute, energy, emissions, data, hyperparameters, ' +
    'software, machine, metrics and evaluations. Written by RunRecorder as run.json.',
  type: 'object',
  required: [
    'format',
    'version',
    'id',
    'createdAt',
    'status',
    'model',
    'training',
    'compute',
    'energy',
    'emissions',
    'data',
    'evaluation',
    'software',
    'machine',
    'notes',
  ],
  additionalProperties: false,
  properties: {
    format: { const: 'candor-run-record' },
    version: { const: 1 },
    id: {
      type: 'string',
      pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
      description: 'Random UUID of the run.',
    },
    name: text,
    createdAt: { ...dateTime, description: 'When this version of the record was written.' },
    status: { enum: ['completed', 'stopped'], description: "'stopped': a callback ended training early." },
    model: {
      type: 'object',
      required: ['name', 'className', 'architecture', 'architectureSha256', 'parameters', 'layers'],
      additionalProperties: false,
      properties: {
        name: text,
        className: text,
        architecture: { description: "The model's getConfig() (null for subclass models, which have none)." },
        architectureSha256: {
          anyOf: [sha256, { type: 'null' }],
          description: 'SHA-256 of the canonical JSON of {className, config}.',
        },
        parameters: {
          type: 'object',
          required: ['total', 'trainable', 'nonTrainable'],
          additionalProperties: false,
          properties: { total: count, trainable: count, nonTrainable: count },
        },
        layers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'className', 'parameters'],
            additionalProperties: false,
            properties: { name: text, className: text, parameters: count },
          },
        },
        inputs: TENSOR_SPECS_SCHEMA,
        outputs: TENSOR_SPECS_SCHEMA,
        artifacts: {
          type: 'object',
          description: 'Saved model files in the run directory and their SHA-256.',
          additionalProperties: {
            type: 'object',
            required: ['sha256', 'bytes'],
            additionalProperties: false,
            properties: { sha256, bytes: count },
          },
        },
      },
    },
    training: {
      type: 'object',
      required: [
        'startedAt',
        'endedAt',
        'wallSeconds',
        'cpuSeconds',
        'epochs',
        'steps',
        'hyperparameters',
        'seeds',
        'history',
      ],
      additionalProperties: false,
      properties: {
        startedAt: dateTime,
        endedAt: dateTime,
        wallSeconds: nonNegative,
        cpuSeconds: { ...nonNegative, description: 'User + system CPU time of the process during fit.' },
        epochs: {
          type: 'object',
          required: ['requested', 'completed', 'initial'],
          additionalProperties: false,
          properties: { requested: { anyOf: [count, { type: 'null' }] }, completed: count, initial: count },
        },
        steps: count,
        hyperparameters: {
          type: 'object',
          description:
            'Optimizer config, loss, metrics, batch size, epochs, validation split, shuffle, and any the user added.',
        },
        seeds: { type: 'object', additionalProperties: { type: 'integer' } },
        history: {
          type: 'object',
          required: ['epochs', 'metrics'],
          additionalProperties: false,
          properties: {
            epochs: { type: 'array', items: count },
            metrics: {
              type: 'object',
              additionalProperties: { type: 'array', items: nullableNumber },
              description: 'Per-epoch values; null where the value was NaN or infinite.',
            },
          },
        },
      },
    },
    compute: {
      type: 'object',
      required: ['total', 'trainingFlops', 'byPhase', 'rows', 'backends', 'attribution'],
      additionalProperties: false,
      properties: {
        total: totals,
        trainingFlops: {
          ...nonNegative,
          description: 'FLOPs of forward + backward + optimizer kernels (EU AI Act Annex XI 1.2(d)).',
        },
        byPhase: {
          type: 'object',
          required: ['forward', 'backward', 'optimizer', 'evaluate', 'other'],
          additionalProperties: false,
          properties: { forward: totals, backward: totals, optimizer: totals, evaluate: totals, other: totals },
        },
        rows: {
          type: 'array',
          items: {
            type: 'object',
            required: ['phase', 'scope', 'op', 'family', 'fused', 'calls', 'flops', 'bytes', 'ms'],
            additionalProperties: false,
            properties: {
              phase,
              scope: text,
              op: text,
              family: text,
              fused: { type: 'boolean' },
              calls: count,
              flops: nonNegative,
              bytes: nonNegative,
              ms: nonNegative,
            },
          },
        },
        backends: { type: 'array', items: text },
        attribution: {
          type: 'object',
          required: ['phases', 'layers'],
          additionalProperties: false,
          properties: {
            phases: { type: 'boolean' },
            layers: { type: 'boolean' },
            context: {
              enum: ['run', 'process'],
              description:
                "'run': only kernels of this fit's async context were counted (concurrent fits apart); " +
                "'process': every kernel of the process while the meter ran.",
            },
          },
          description:
            'Whether the training loop marked phases and the layers marked scopes while metering (if not, ' +
            'all kernels fall in phase other), and whether kernels were attributed to this run.',
        },
      },
    },
    energy: { anyOf: [{ $ref: '#/$defs/energy' }, { type: 'null' }] },
    emissions: { anyOf: [{ $ref: '#/$defs/emissions' }, { type: 'null' }] },
    data: { type: 'array', items: { $ref: '#/$defs/dataset' } },
    evaluation: { type: 'array', items: { $ref: '#/$defs/evaluation' } },
    privacy: {
      ...(PRIVACY_SCHEMA as object),
      description:
        "DP-SGD's budget and parameters, or mechanism 'none'; PII counts per type; membership-inference audits. " +
        'Absent only in records written before privacy was recorded.',
    },
    explanations: {
      type: 'array',
      items: EXPLANATION_SCHEMA,
      description:
        'Attributions of the trained model (explain()): method, parameters, target, scores, completeness gap, ' +
        'time, a fingerprint of the explained inputs and a bounded, quantised summary of the maps.',
    },
    compression: {
      type: 'array',
      items: COMPRESSION_SCHEMA,
      description:
        'Compressions of the model (pruning, quantisation, distillation, transfer): method, parameters, sparsity ' +
        'and bit widths per layer, and size, accuracy, latency and energy per 1,000 predictions before and after.',
    },
    card: CARD_HASHES_SCHEMA,
    stages: STAGES_SCHEMA,
    distributed: DISTRIBUTED_SCHEMA,
    software: {
      type: 'object',
      required: ['candor', 'node', 'v8', 'platform', 'arch'],
      additionalProperties: false,
      properties: { candor: text, node: text, v8: text, platform: text, arch: text },
    },
    machine: {
      type: 'object',
      required: ['cpuModel', 'logicalCpus', 'totalMemoryBytes', 'backend'],
      additionalProperties: false,
      properties: {
        cpuModel: text,
        logicalCpus: count,
        totalMemoryBytes: count,
        backend: {
          type: 'object',
          required: ['name', 'description', 'threads'],
          additionalProperties: false,
          properties: {
            name: text,
            description: text,
            threads: {
              anyOf: [count, { type: 'null' }],
              description: 'Threads the backend computes with; null when it does not say.',
            },
          },
        },
      },
    },
    notes: {
      type: 'array',
      items: text,
      description: 'Things a reader should know, e.g. values that could not be recorded.',
    },
  },
  $defs: {
    ...FINGERPRINT_DEFS,
    energy: {
      type: 'object',
      required: [
        'method',
        'measured',
        'description',
        'joules',
        'kWh',
        'pue',
        'components',
        'uncertainty',
        'wallSeconds',
        'cpuSeconds',
        'meanMemoryBytes',
        'cpu',
        'dramWattsPerGiB',
        'codecarbonJoules',
      ],
      additionalProperties: false,
      properties: {
        method: { enum: ['rapl', 'estimate'] },
        measured: { type: 'boolean' },
        description: text,
        joules: nonNegative,
        kWh: nonNegative,
        pue: { type: 'number', minimum: 1 },
        components: {
          type: 'object',
          additionalProperties: false,
          properties: { cpu: nonNegative, package: nonNegative, dram: nonNegative },
        },
        uncertainty: {
          type: 'object',
          required: ['low', 'high', 'note'],
          additionalProperties: false,
          properties: { low: nonNegative, high: nonNegative, note: text },
        },
        wallSeconds: nonNegative,
        cpuSeconds: nonNegative,
        meanMemoryBytes: nonNegative,
        cpu: {
          type: 'object',
          required: ['model', 'tdpWatts', 'threadsPerPackage', 'wattsPerThread', 'tdpSource', 'threadsSource'],
          additionalProperties: false,
          properties: {
            model: text,
            tdpWatts: { type: 'number', exclusiveMinimum: 0 },
            threadsPerPackage: { type: 'number', exclusiveMinimum: 0 },
            wattsPerThread: { type: 'number', exclusiveMinimum: 0 },
            tdpSource: text,
            threadsSource: text,
          },
        },
        dramWattsPerGiB: nonNegative,
        domains: {
          type: 'array',
          items: {
            type: 'object',
            required: ['zone', 'name', 'kind', 'joules', 'wraps'],
            additionalProperties: false,
            properties: {
              zone: text,
              name: text,
              kind: { enum: ['package', 'dram'] },
              joules: nonNegative,
              wraps: count,
            },
          },
        },
        raplUnavailable: text,
        codecarbonJoules: nonNegative,
        attribution: {
          type: 'object',
          required: ['method', 'share', 'runKernelMs', 'processKernelMs', 'note'],
          additionalProperties: false,
          description:
            "How the process's energy was attributed to this run: whole ('process') or scaled by the run's " +
            "share of the kernel time when other work ran kernels meanwhile ('kernel-time share').",
          properties: {
            method: { enum: ['process', 'kernel-time share'] },
            share: { type: 'number', minimum: 0, maximum: 1 },
            runKernelMs: nonNegative,
            processKernelMs: nonNegative,
            note: text,
          },
        },
        ...ENERGY_PLATFORM_PROPERTIES,
      },
    },
    emissions: {
      type: 'object',
      required: ['gCO2e', 'low', 'high', 'grid', 'method'],
      additionalProperties: false,
      properties: {
        gCO2e: nonNegative,
        low: nonNegative,
        high: nonNegative,
        method: text,
        grid: {
          type: 'object',
          required: ['region', 'name', 'gPerKWh', 'source'],
          additionalProperties: false,
          properties: { region: text, name: text, gPerKWh: nonNegative, source: text, year: { type: 'integer' } },
        },
      },
    },
    evaluation: {
      type: 'object',
      required: ['name', 'createdAt', 'metrics'],
      additionalProperties: false,
      properties: {
        name: text,
        createdAt: dateTime,
        metrics: { type: 'object', additionalProperties: nullableNumber },
        data: { $ref: '#/$defs/dataset' },
        report: { $ref: '#/$defs/classificationReport' },
      },
    },
    rateMap: { type: 'object', additionalProperties: nullableNumber },
    disparity: {
      type: 'object',
      required: ['value', 'byClass', 'definition'],
      additionalProperties: false,
      properties: { value: nullableNumber, byClass: { $ref: '#/$defs/rateMap' }, definition: text },
    },
    calibration: {
      type: 'object',
      required: ['meanScore', 'positiveRate', 'expectedCalibrationError', 'bins'],
      additionalProperties: false,
      properties: {
        meanScore: num,
        positiveRate: num,
        expectedCalibrationError: nonNegative,
        bins: {
          type: 'array',
          items: {
            type: 'object',
            required: ['lower', 'upper', 'samples', 'meanScore', 'positiveRate'],
            additionalProperties: false,
            properties: { lower: num, upper: num, samples: count, meanScore: num, positiveRate: num },
          },
        },
      },
    },
    fairnessIntervals: {
      type: 'object',
      required: ['method', 'resamples', 'level', 'seed', 'intervals'],
      additionalProperties: false,
      properties: {
        method: text,
        resamples: count,
        level: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        seed: count,
        intervals: {
          type: 'object',
          additionalProperties: { type: ['array', 'null'], items: num, minItems: 2, maxItems: 2 },
        },
      },
    },
    classificationReport: {
      type: 'object',
      required: ['samples', 'accuracy', 'labels', 'perClass', 'confusion'],
      additionalProperties: false,
      properties: {
        samples: count,
        accuracy: { type: 'number', minimum: 0, maximum: 1 },
        labels: { type: 'array', items: text },
        perClass: {
          type: 'array',
          items: {
            type: 'object',
            required: ['label', 'support', 'precision', 'recall', 'f1'],
            additionalProperties: false,
            properties: {
              label: text,
              support: count,
              precision: nullableNumber,
              recall: nullableNumber,
              f1: nullableNumber,
            },
          },
        },
        confusion: { type: 'array', items: { type: 'array', items: count } },
        fairness: {
          type: 'object',
          required: [
            'attribute',
            'groups',
            'accuracyDifference',
            'demographicParityDifference',
            'equalOpportunityDifference',
          ],
          additionalProperties: false,
          properties: {
            attribute: text,
            groups: {
              type: 'array',
              items: {
                type: 'object',
                required: ['group', 'samples', 'accuracy', 'selectionRate', 'truePositiveRate'],
                additionalProperties: false,
                properties: {
                  group: text,
                  samples: count,
                  accuracy: num,
                  selectionRate: { $ref: '#/$defs/rateMap' },
                  truePositiveRate: { $ref: '#/$defs/rateMap' },
                  falsePositiveRate: { $ref: '#/$defs/rateMap' },
                  calibration: { $ref: '#/$defs/calibration' },
                },
              },
            },
            accuracyDifference: num,
            demographicParityDifference: { $ref: '#/$defs/disparity' },
            equalOpportunityDifference: { $ref: '#/$defs/disparity' },
            demographicParityRatio: { $ref: '#/$defs/disparity' },
            equalizedOddsDifference: { $ref: '#/$defs/disparity' },
            fourFifthsRule: {
              type: 'object',
              required: ['threshold', 'passes'],
              additionalProperties: false,
              properties: { threshold: num, passes: { type: ['boolean', 'null'] } },
            },
            confidenceIntervals: { $ref: '#/$defs/fairnessIntervals' },
            positiveClass: text,
          },
        },
      },
    },
  },
};
