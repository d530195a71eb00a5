// Result rows of programs run under mpirun, passed through files: mpirun forwards each rank's stdout in chunks, and
// once MPI is initialised a line of more than a few KB from one rank comes out interleaved with other ranks' lines.
// A program calls emitResult(row); the test gets every rank's row, by rank, from runMpiRows.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMpi, type MpiOptions, type MpiResult } from './mpirun.js';

const VARIABLE = 'CANDOR_TEST_RESULTS';

/** Writes this rank's row where runMpiRows reads it (or prints it as a JSON line when not run by runMpiRows). */
export function emitResult(rank: number, row: object): void {
  const dir = process.env[VARIABLE];
  if (dir) writeFileSync(join(dir, `${rank}.json`), JSON.stringify(row));
  else console.log(JSON.stringify(row));
}

/** runMpi, with `rows`: each rank's emitResult row, by rank (a rank that wrote none is missing). */
export async function runMpiRows(
  np: number,
  script: string,
  args: string[] = [],
  options: MpiOptions = {},
): Promise<MpiResult & { rows: Record<string, unknown>[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-mpi-results-'));
  try {
    const r = await runMpi(np, script, args, { ...options, env: { ...options.env, [VARIABLE]: dir } });
    const rows = readdirSync(dir)
      .map((f) => ({ rank: Number(f.replace('.json', '')), row: JSON.parse(readFileSync(join(dir, f), 'utf8')) }))
      .sort((a, b) => a.rank - b.rank)
      .map((x) => x.row as Record<string, unknown>);
    return { ...r, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
