// Which ops the native backend runs in native code and which it borrows from the JS reference backend
// (on the same typed arrays). A static table, so docs/ops.md is the same whether or not the addon is
// built, derived from
// the fused ops' specs; test/backends/native.test.ts checks it against the live kernel tables.
import type { PrimitiveName } from '../../ops/primitives.js';
import { PRIMITIVE_NAMES } from '../../ops/primitives.js';
import { FUSED, FUSED_NAMES } from '../../ops/families/index.js';

export type NativeSupport = 'native' | 'js-fallback';

/** Primitives still running the JS reference kernels: concat and pad copy with typed-array set() and
 *  fill(), which are native already; argsort is a comparison sort (Array.prototype.sort) with no arithmetic. */
export const JS_FALLBACK_PRIMITIVES = ['concat', 'pad', 'argsort'] as const satisfies readonly PrimitiveName[];

/** Fused ops with a native kernel (a spec with a native adapter); the others run their composite default. */
export const NATIVE_FUSED = FUSED_NAMES.filter((f) => FUSED[f].native !== undefined);

export function primitiveSupport(op: PrimitiveName): NativeSupport {
  return (JS_FALLBACK_PRIMITIVES as readonly PrimitiveName[]).includes(op) ? 'js-fallback' : 'native';
}

export const NATIVE_PRIMITIVES: readonly PrimitiveName[] = PRIMITIVE_NAMES.filter(
  (p) => primitiveSupport(p) === 'native',
);
