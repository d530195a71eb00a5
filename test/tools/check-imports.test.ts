// Design item 3 of issue 10, kept: no import cycle outside the core, and the core (tensor, ops,
// autograd, backends, errors.ts) imports nothing outside it. Runs tools/check-imports.ts on src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkImports, importsOf } from '../../tools/check-imports.js';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src');

test('src/ has no import cycle outside the core and the core imports nothing outside it', () => {
  const r = checkImports(src);
  assert.ok(r.files > 100, `${r.files} files read`);
  assert.deepEqual(r.outward, []);
  assert.deepEqual(r.cycles, []);
  assert.deepEqual(r.layerCycles, []);
  // The cycle this check was written for: ledger/ importing train/ (through record.ts) is gone.
  for (const cycle of r.folderCycles) assert.ok(!cycle.some((f) => f.startsWith('ledger/')), cycle.join(' <-> '));
});

test('importsOf reads value, type-only, re-export and dynamic imports, and skips comments', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b.js';",
    "import { type C, type D } from './cd.js';",
    "import { type E, f } from './ef.js';",
    "export { g } from './g.js';",
    "export type { H } from './h.js';",
    "import './side.js';",
    "const m = await import('./lazy.js');",
    "// import { no } from './comment.js';",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text), [
    { spec: './a.js', kind: 'value' },
    { spec: '../b.js', kind: 'type' },
    { spec: './cd.js', kind: 'type' },
    { spec: './ef.js', kind: 'value' },
    { spec: './g.js', kind: 'value' },
    { spec: './h.js', kind: 'type' },
    { spec: './side.js', kind: 'value' },
    { spec: './lazy.js', kind: 'dynamic' },
  ]);
});
