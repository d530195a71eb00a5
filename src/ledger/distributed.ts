// The run record's `distributed` section: what a run trained across several processes (MPI ranks) used, rank by
// rank, and how the cluster was laid out (world size, strategy, hosts, bytes communicated). record.compute,
// record.training.cpuSeconds and record.energy of such a run are the sums over the ranks (cluster-merge.ts).
import type { Schema } from './json-schema.js';

/** One rank's figures over its fit (a server rank: over its serve()). */
export interface RankFigures {
  rank: number;
  /** os.hostname() of the rank. */
  host: string;
  /** 'worker': trained on its shard; 'server': held parameters of a parameter server. */
  role: 'worker' | 'server';
  /** Training rows this rank read (0 on a server). */
  samples: number;
  /** Training steps this rank took (a server: the pushes it applied). */
  steps: number;
  /** FLOPs of the kernels the rank ran during fit. */
  flops: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** The rank's energy (PUE included), its host's idle power shared among the host's ranks; null: energy off. */
  energyJoules: number | null;
  /** Bytes the rank sent and received through the transport (MPI), as the communicator counts them. */
  bytesSent: number;
  bytesReceived: number;
  /** Seconds the rank spent blocked waiting on communication. */
  commSeconds: number;
}

export interface DistributedRecord {
  worldSize: number;
  strategy: 'data-parallel' | 'parameter-server';
  /** A parameter server's mode. */
  mode?: 'sync' | 'async';
  /** An asynchronous parameter server's staleness bound (steps). */
  staleness?: number;
  /** 'mpi (Open MPI 4.1.4)', ... */
  transport: string;
  /** Each host and the ranks it ran, in rank order. */
  hosts: { host: string; ranks: number[] }[];
  /** Summed over the ranks. */
  bytesCommunicated: { sent: number; received: number };
  ranks: RankFigures[];
}

const nonNegative = { type: 'number', minimum: 0 };
const count = { type: 'integer', minimum: 0 };
const text = { type: 'string' };

const RANK_SCHEMA: Schema = {
  type: 'object',
  required: [
    'rank',
    'host',
    'role',
    'samples',
    'steps',
    'flops',
    'cpuSeconds',
    'wallSeconds',
    'energyJoules',
    'bytesSent',
    'bytesReceived',
    'commSeconds',
  ],
  additionalProperties: false,
  properties: {
    rank: count,
    host: text,
    role: { enum: ['worker', 'server'] },
    samples: count,
    steps: count,
    flops: nonNegative,
    cpuSeconds: nonNegative,
    wallSeconds: nonNegative,
    energyJoules: { anyOf: [nonNegative, { type: 'null' }] },
    bytesSent: nonNegative,
    bytesReceived: nonNegative,
    commSeconds: nonNegative,
  },
};

/** The record's `distributed` property (absent for a run in one process). */
export const DISTRIBUTED_SCHEMA: Schema = {
  type: 'object',
  required: ['worldSize', 'strategy', 'transport', 'hosts', 'bytesCommunicated', 'ranks'],
  additionalProperties: false,
  description:
    'A run trained across several processes (MPI ranks): world size, strategy, hosts, bytes communicated and ' +
    "each rank's figures. record.compute, record.training.cpuSeconds and record.energy are the sums over ranks.",
  properties: {
    worldSize: { type: 'integer', minimum: 1 },
    strategy: { enum: ['data-parallel', 'parameter-server'] },
    mode: { enum: ['sync', 'async'] },
    staleness: count,
    transport: text,
    hosts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['host', 'ranks'],
        additionalProperties: false,
        properties: { host: text, ranks: { type: 'array', minItems: 1, items: count } },
      },
    },
    bytesCommunicated: {
      type: 'object',
      required: ['sent', 'received'],
      additionalProperties: false,
      properties: { sent: nonNegative, received: nonNegative },
    },
    ranks: { type: 'array', minItems: 1, items: RANK_SCHEMA },
  },
};
