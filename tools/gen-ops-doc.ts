// Writes docs/ops.md (atomically: temp file + rename) from renderOpsDoc().
import { renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/index.js';
import { renderOpsDoc } from './ops-doc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = join(root, 'docs', 'ops.md');
mkdirSync(dirname(target), { recursive: true });
const tmp = `${target}.${process.pid}.tmp`;
writeFileSync(tmp, renderOpsDoc());
renameSync(tmp, target);
console.log(`wrote ${target}`);
