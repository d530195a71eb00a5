// Empty operands (a dimension of 0: an empty batch, K = 0) on the native backend give the reference's
// results. Run in a child process: a native kernel that divides by an empty extent kills the process
// (SIGFPE), which must fail this test rather than the whole test runner.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skip } from './parity.js';

const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** Each case builds its operands from ones, so results are exact; the child prints [shape, elements] per case. */
const CASES: Record<string, string> = {
  'matmul, M = 0': 'c.matmul(c.ones([0, 3]), c.ones([3, 2]))',
  'matmul, K = 0': 'c.matmul(c.ones([2, 0]), c.ones([0, 3]))',
  'matmul, N = 0': 'c.matmul(c.ones([2, 3]), c.ones([3, 0]))',
  'batched matmul, batch = 0': 'c.matmul(c.ones([0, 2, 3]), c.ones([0, 3, 4]))',
  'batched matmul, K = 0': 'c.matmul(c.ones([2, 3, 0]), c.ones([2, 0, 4]))',
  'Dense on an empty batch': 'c.add(c.matmul(c.ones([0, 5]), c.ones([5, 4])), c.ones([4]))',
  'sum over an empty axis': 'c.sum(c.ones([0, 3]), 0)',
  'max over a non-empty axis of an empty tensor': 'c.max(c.ones([0, 3]), 1)',
  'softmax of an empty batch': 'c.softmax(c.ones([0, 3]), -1)',
  'gather of no rows': "c.gather(c.ones([4, 3]), c.tensor([], [0], 'int32'), 0)",
  'concat with an empty piece': 'c.concat([c.ones([0, 3]), c.ones([2, 3])], 0)',
  'conv2d of an empty batch': 'c.conv2d(c.ones([0, 5, 5, 1]), c.ones([3, 3, 1, 2]))',
};

function run(backend: string): Record<string, [number[], number[]]> {
  const body = Object.entries(CASES)
    .map(([name, expr]) => `{ const y = ${expr}; out[${JSON.stringify(name)}] = [y.shape, Array.from(y.dataSync())]; }`)
    .join('\n');
  const script = `const c = await import(${JSON.stringify(index)}); c.setBackend('${backend}'); const out = {};\n${body}
console.log(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.signal, null, `${backend}: the process died with ${child.signal}`);
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout);
}

test('empty operands give the reference results on the native backend', { skip }, () => {
  const reference = run('js');
  assert.deepEqual(reference['matmul, K = 0'], [
    [2, 3],
    [0, 0, 0, 0, 0, 0],
  ]);
  assert.deepEqual(run('native'), reference);
});
