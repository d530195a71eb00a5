// Writes the TensorBoard fixture (test/fixtures/interop/tensorboard/): Candor's event file with fixed wall times,
// and what the independent Python decoder (tools/tensorboard-decode.py, Debian's python3-protobuf) reads from it.
// Run from the repository root after a build:  node dist/tools/tensorboard-fixture.js
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_DIR, FIXTURE_NAME, writeFixtureEvents } from '../test/interop/tensorboard-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'candor-tb-fixture-'));
try {
  const target = join(FIXTURE_DIR, FIXTURE_NAME);
  copyFileSync(writeFixtureEvents(tmp), target);
  const run = spawnSync('/usr/bin/python3', ['tools/tensorboard-decode.py', target], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tools/tensorboard-decode.py failed: ${run.stderr}`);
  writeFileSync(join(FIXTURE_DIR, 'events.json'), run.stdout);
  console.log(`wrote ${target} and events.json`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
