// Log-space arithmetic of the accountants: logAdd and logSub at their edges, logErfc against mpmath.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logAdd, logErfc, logSub } from '../../src/privacy/log-math.js';

test('logAdd and logSub: exact at -Infinity, no overflow for large logs', () => {
  assert.equal(logAdd(-Infinity, -Infinity), -Infinity);
  assert.equal(logAdd(-Infinity, 3), 3);
  assert.equal(logAdd(3, -Infinity), 3);
  assert.ok(Math.abs(logAdd(Math.log(2), Math.log(5)) - Math.log(7)) < 1e-15);
  assert.equal(logAdd(1000, 1000), 1000 + Math.LN2);
  assert.equal(logSub(5, -Infinity), 5);
  assert.equal(logSub(5, 5), -Infinity);
  assert.ok(Math.abs(logSub(Math.log(7), Math.log(5)) - Math.LN2) < 1e-15);
  assert.ok(Math.abs(logSub(1001, 1000) - (1000 + Math.log(Math.E - 1))) < 1e-12);
});

test('logErfc matches mpmath (40 digits) from erfc near 2 to erfc underflowing far below 1e-308', () => {
  // python3: mpmath.mp.dps = 40; float(mpmath.log(mpmath.erfc(x)))
  const reference: [number, number][] = [
    [-30, 0.6931471805599453],
    [-3, 0.6931361352504468],
    [-0.5, 0.41903914777555956],
    [0, 0.0],
    [0.3, -0.39843005144008525],
    [1, -1.8496055099332482],
    [2.4, -7.280975056055788],
    [2.5, -7.806815272727264],
    [2.6, -8.351532930819747],
    [5, -27.200889545537436],
    [9, -83.77566987952909],
    [30, -903.9741171106439],
    [1000, -1000007.4801207219],
    [1e8, -1.0000000000000018e16],
  ];
  for (const [x, expected] of reference) {
    const got = logErfc(x);
    assert.ok(Math.abs(got - expected) <= 1e-13 * Math.max(1, Math.abs(expected)), `logErfc(${x}) = ${got}`);
  }
  assert.equal(logErfc(Infinity), -Infinity);
  assert.equal(logErfc(-Infinity), Math.LN2);
});
