// Builds Candor's native backend (kernels/ -> build/Release/candor.node) with node-gyp. Run by npm as the
// package's install script, where it must never fail the install: without a compiler, Python or Node's
// headers, it says so in one line and Candor runs on its JavaScript backend. `--required` (npm run
// build:native) makes a failed build exit non-zero. CANDOR_SKIP_NATIVE=1 skips the build.
// Plain JavaScript, because it runs before the TypeScript is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.argv.includes('--required');
const say = (msg) => console.log(`candor: ${msg}`);

if (process.env.CANDOR_SKIP_NATIVE) {
  say('native backend not built (CANDOR_SKIP_NATIVE is set); Candor will use its JavaScript backend');
  process.exit(0);
}

/** node-gyp: the one npm passes to install scripts, else the one bundled with npm beside this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((p) => p && existsSync(p));
}

const gyp = nodeGyp();
const args = ['rebuild'];
// Use the headers installed beside this node when npm has not named a nodedir, so no download is needed.
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')))
  args.push(`--nodedir=${prefix}`);

let ok = false,
  detail = '';
if (!gyp) {
  detail = 'node-gyp was not found';
} else {
  const run = spawnSync(process.execPath, [gyp, ...args], { cwd: root, encoding: 'utf8', timeout: 10 * 60 * 1000 });
  const log = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build', 'native-build.log'), log);
  ok = run.status === 0 && existsSync(join(root, 'build', 'Release', 'candor.node'));
  if (!ok) {
    const firstError =
      log.split('\n').find((l) => /error|not found|ERR!/i.test(l)) ?? run.error?.message ?? `exit status ${run.status}`;
    detail = `${firstError.trim()} (full log: build/native-build.log)`;
  }
}

if (ok) {
  say('native backend built (build/Release/candor.node)');
} else {
  say(`native backend not built: ${detail}; Candor will use its JavaScript backend`);
  if (required) process.exit(1);
}
