// The JavaScript reference backend: typed arrays for buffers, plain loops for kernels. It implements
// every primitive and is the oracle every faster backend is tested against.
import { registerBackend, setKernel, type Backend, type Kernel, type KernelTable } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import {
  ARG_REDUCE_OPS,
  BINARY_OPS,
  COMPARE_OPS,
  LOGICAL_OPS,
  REDUCE_OPS,
  UNARY_FLOAT_OPS,
  type PrimitiveName,
  type PrimitiveParams,
} from '../../ops/primitives.js';
import { binaryKernel, cast, copy, unaryKernel, where } from './elementwise.js';
import { argReduceKernel, reduceKernel } from './reduce.js';
import { matmul } from './matmul.js';
import { concat, gather, pad, scatterAdd } from './indexing.js';
import { logSoftmax, softmax } from './fused.js';
import { argsort } from './sort.js';
import { philoxBlocks } from '../../ops/random.js';

function kernels(): KernelTable {
  const table: { [P in PrimitiveName]?: Kernel<PrimitiveParams[P]> } = {
    where,
    cast,
    copy,
    matmul,
    gather,
    scatterAdd,
    concat,
    pad,
    argsort,
    philox: ([], o, p) => {
      const words = o.buffer as Int32Array;
      philoxBlocks(p.key0, p.key1, p.counter, p.attempt, new Uint32Array(words.buffer, words.byteOffset, words.length));
    },
  };
  for (const op of [...UNARY_FLOAT_OPS, 'logicalNot'] as const) setKernel(table, op, unaryKernel(op));
  for (const op of [...BINARY_OPS, ...COMPARE_OPS, ...LOGICAL_OPS]) setKernel(table, op, binaryKernel(op));
  for (const op of REDUCE_OPS) setKernel(table, op, reduceKernel(op));
  for (const op of ARG_REDUCE_OPS) setKernel(table, op, argReduceKernel(op));
  return table;
}

export function createJsBackend(): Backend {
  return {
    name: 'js',
    description: 'JavaScript reference (typed arrays, single thread)',
    alloc: (dtype: DType, size: number) => allocArray(dtype, size),
    upload: (data: TypedArray) => data.slice(),
    adopt: (data: TypedArray) => data,
    read: (buffer: unknown) => buffer as TypedArray,
    free: () => {},
    kernels: kernels(),
    fused: { softmax, logSoftmax },
    broadcastsScalars: true,
  };
}

registerBackend('js', createJsBackend, 0);
