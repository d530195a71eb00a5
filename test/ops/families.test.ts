// The op families stay in step with everything derived from them: the meter's families, the gradient
// rules, and every backend's kernel tables (a backend that misses a spec fails here, not in a user's run).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js';
import { listBackends, findBackend, type Backend } from '../../src/backends/backend.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { NATIVE_FUSED } from '../../src/backends/native/support.js';
import { PRIMITIVE_NAMES } from '../../src/ops/primitives.js';
import { FUSED, FUSED_NAMES } from '../../src/ops/families/index.js';
import { gradRuleOf } from '../../src/autograd/rules.js';
import { opFamily } from '../../src/ledger/meter.js';

/** The backends that start on this machine (the native one needs its addon built). */
function startedBackends(): Backend[] {
  return listBackends()
    .filter((name) => name !== 'native' || loadAddon().addon)
    .map((name) => findBackend(name));
}

describe('op families', () => {
  test('the meter groups every op under a family, each fused op under its spec family', () => {
    for (const op of FUSED_NAMES) assert.equal(opFamily(op), FUSED[op].family, op);
    for (const op of [...PRIMITIVE_NAMES, ...FUSED_NAMES]) assert.notEqual(opFamily(op), 'other', op);
  });

  test('every op has a gradient entry', () => {
    for (const op of [...PRIMITIVE_NAMES, ...FUSED_NAMES]) assert.ok(gradRuleOf(op) !== undefined, op);
  });

  test('every backend has a kernel for every primitive, and the native one for every spec with an adapter', () => {
    const backends = startedBackends();
    assert.ok(backends.some((b) => b.name === 'js'));
    for (const b of backends) for (const op of PRIMITIVE_NAMES) assert.ok(b.kernels[op], `${b.name} lacks ${op}`);
    const native = backends.find((b) => b.name === 'native');
    assert.deepEqual(
      NATIVE_FUSED,
      FUSED_NAMES.filter((f) => FUSED[f].native),
    );
    if (native) for (const f of FUSED_NAMES) assert.equal(Boolean(native.fused[f]), Boolean(FUSED[f].native), f);
  });
});
