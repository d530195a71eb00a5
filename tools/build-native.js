// Builds Candor's native backend (kernels/ -> build/Release/candor.node) with node-gyp. Run by npm as the
// package's install script, where it must never fail the install: without a compiler, Python or Node's
// headers, it says so in one line and Candor runs on its JavaScript backend. `--required` (npm run
// build:native) makes a failed build exit non-zero. CANDOR_SKIP_NATIVE=1 skips the build. Then, when mpicxx
// is on PATH, the distributed addon (kernels/mpi -> build/Release/candor_mpi.node; log build/mpi-build.log).
// Plain JavaScript, because it runs before the TypeScript is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
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
}
const mpiFailed = buildMpi();
if ((!ok || mpiFailed) && required) process.exit(1);

/**
 * The distributed addon (kernels/mpi -> build/Release/candor_mpi.node), compiled by mpicxx directly (a Node addon
 * needs no link to node). Says one line either way. Returns true only when mpicxx exists and the build failed:
 * without MPI there is simply no distributed addon, and a process under mpirun is told how to get it.
 */
function buildMpi() {
  // --version reaches the underlying compiler through Open MPI's and MPICH's wrappers alike.
  const which = spawnSync('mpicxx', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) {
    say('MPI addon not built (no mpicxx on PATH; apt-get install openmpi-bin libopenmpi-dev, then rebuild)');
    return false;
  }
  // Beside this node, npm's nodedir, or node-gyp's copy of the headers (which the main build may just have fetched).
  const gypHeaders = join(homedir(), '.cache', 'node-gyp', process.versions.node);
  const include = [join(prefix, 'include', 'node'), process.env.npm_config_nodedir ?? '', gypHeaders]
    .map((d) => (d.endsWith(join('include', 'node')) ? d : join(d, 'include', 'node')))
    .find((d) => existsSync(join(d, 'node_api.h')));
  const dir = join(root, 'kernels', 'mpi');
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.cc'))
    .map((f) => join(dir, f));
  const out = join(root, 'build', 'Release', 'candor_mpi.node');
  mkdirSync(dirname(out), { recursive: true });
  let mpiOk = false,
    log = '';
  if (!include) log = "node's headers (include/node/node_api.h) were not found beside this node";
  else {
    const argv = ['-shared', '-fPIC', '-O2', '-std=gnu++17', '-Wall', `-I${include}`, ...sources, '-o', out];
    const run = spawnSync('mpicxx', argv, { cwd: root, encoding: 'utf8', timeout: 5 * 60 * 1000 });
    log = `mpicxx ${argv.join(' ')}\n${run.stdout ?? ''}\n${run.stderr ?? ''}`;
    mpiOk = run.status === 0 && existsSync(out);
  }
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build', 'mpi-build.log'), log);
  if (mpiOk) say('MPI addon built (build/Release/candor_mpi.node)');
  else say('MPI addon not built: mpicxx failed (full log: build/mpi-build.log); distributed runs need it');
  return !mpiOk;
}
