// docs/ops.md is generated from the code; this fails when it is stale, and checks the composites list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import { COMPOSITES, renderOpsDoc } from '../../tools/ops-doc.js';
import { findBackend } from '../../src/backends/backend.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('docs/ops.md matches the code (run `npm run docs:ops` after changing ops or backends)', () => {
  assert.equal(readFileSync(join(root, 'docs', 'ops.md'), 'utf8'), renderOpsDoc());
});

test('every composite named in the doc is a public op', () => {
  for (const name of Object.keys(COMPOSITES))
    assert.equal(typeof (c as Record<string, unknown>)[name], 'function', name);
});

test('the JS reference backend implements every primitive', () => {
  const js = findBackend('js');
  for (const p of c.PRIMITIVE_NAMES) assert.ok(js.kernels[p], `js lacks ${p}`);
});
