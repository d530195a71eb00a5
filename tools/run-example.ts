// `npm run example -- NAME [args]`: runs dist/examples/NAME.js with the remaining arguments.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples');
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3));
if (!name || !existsSync(join(dir, `${name}.js`))) {
  console.error(`usage: npm run example -- NAME [--json] ...\nexamples: ${available.join(', ')}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(dir, `${name}.js`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
