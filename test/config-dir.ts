// Imported for its effect: points the user's config directory (fingerprint and signing keys) at a temporary
// folder for this test process, so that no test makes or reads keys in the real home. Removed at exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (!process.env.CANDOR_CONFIG_DIR) {
  const dir = mkdtempSync(join(tmpdir(), 'candor-test-config-'));
  process.env.CANDOR_CONFIG_DIR = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}
