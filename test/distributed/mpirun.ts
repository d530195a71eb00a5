// Runs a compiled test program under mpirun for the distributed tests: root and oversubscription allowed, Open
// MPI's noise off, a temporary config directory, and a hard timeout so a hung job fails the test instead of CI.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../config-dir.js';

/** Why mpirun cannot run here, or undefined when it can (tests skip with this reason). */
export function mpirunMissing(): string | undefined {
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)';
}

/** The compiled program dist/test/distributed/programs/<name>.js. */
export function program(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'programs', `${name}.js`);
}

export interface MpiResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Each stdout line that parses as JSON, in order. */
  json: unknown[];
  seconds: number;
}

export interface MpiOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Extra mpirun arguments (before the program). */
  mpirunArgs?: string[];
}

/** Fails the test unless the job exited 0, with its exit code or signal and both outputs in the message. */
export function assertMpiSucceeded(r: Pick<MpiResult, 'code' | 'signal' | 'stdout' | 'stderr'>): void {
  assert.equal(r.code, 0, `mpirun failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`);
}

/** `mpirun -np np node <program> ...args`; resolves when mpirun exits or is killed at the timeout. */
export function runMpi(np: number, script: string, args: string[] = [], options: MpiOptions = {}): Promise<MpiResult> {
  return runMpiCommand(np, [process.execPath, script, ...args], options);
}

/** `mpirun -np np <command...>` (any executable: the benchmark's C program too), as runMpi. */
export function runMpiCommand(np: number, command: string[], options: MpiOptions = {}): Promise<MpiResult> {
  const { timeoutMs = 60_000, env = {}, mpirunArgs = [] } = options;
  const argv = [
    '--allow-run-as-root',
    '--oversubscribe',
    '--bind-to',
    'none',
    '-np',
    String(np),
    ...mpirunArgs,
    ...command,
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('mpirun', argv, {
      env: {
        ...process.env,
        OMPI_MCA_btl_base_warn_component_unused: '0',
        OMPI_MCA_rmaps_base_oversubscribe: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const json: unknown[] = [];
      for (const line of stdout.split('\n'))
        if (line.startsWith('{'))
          try {
            json.push(JSON.parse(line));
          } catch {
            // not a result line
          }
      resolve({ code, signal, stdout, stderr, json, seconds: (Date.now() - started) / 1000 });
    });
  });
}
