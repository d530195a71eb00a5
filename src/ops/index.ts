// The op surface: everything users call on tensors, re-exported from one place.
export * from './creation.js';
export * from './elementwise.js';
export * from './views.js';
export * from './reduce.js';
export * from './linalg.js';
export * from './indexing.js';
export * from './nn.js';
export * from './random.js';
export * from './train-ops.js';
