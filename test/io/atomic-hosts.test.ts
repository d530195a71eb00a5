// removeStaleTemps on a file system shared by several hosts: a pid means something only on the host that made it,
// so only this host's temp files of dead writers are removed, never another host's (live or not, it cannot tell)
// nor an older version's temp name, which says no host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTemps, tempName, tempWriter, writeFileAtomic } from '../../src/io/atomic.js';
import { deadPid } from '../helpers.js';

test('tempName says the pid and this host; tempWriter reads it back, and reads older names without a host', () => {
  const name = tempName('model.json', 1234);
  const ours = tempWriter(name);
  assert.equal(ours?.pid, 1234);
  assert.match(ours?.host ?? '', /^[0-9a-f]{8}$/);
  assert.deepEqual(tempWriter('.a.b.json.77.0123456789ab.tmp'), { pid: 77, host: undefined });
  assert.deepEqual(tempWriter('.a.json.77-0badcafe.0123456789ab.tmp'), { pid: 77, host: '0badcafe' });
  assert.equal(tempWriter('model.json'), undefined);
});

test("removeStaleTemps removes this host's dead writers' temps only", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-atomic-hosts-'));
  try {
    const dead = deadPid();
    const host = tempWriter(tempName('x', dead))!.host!;
    const other = host === '0badcafe' ? '1badcafe' : '0badcafe';
    const ourDead = tempName('w.safetensors', dead);
    const ourLive = tempName('w.safetensors', process.ppid);
    const otherHost = `.w.safetensors.${dead}-${other}.0123456789ab.tmp`; // the same pid, alive there for all we know
    const older = `.w.safetensors.${dead}.0123456789ab.tmp`;
    for (const n of [ourDead, ourLive, otherHost, older]) writeFileSync(join(dir, n), 'partial');
    assert.deepEqual(await removeStaleTemps(dir), [ourDead]);
    assert.deepEqual(readdirSync(dir).sort(), [ourLive, otherHost, older].sort());
    await writeFileAtomic(join(dir, 'w.safetensors'), 'whole');
    assert.ok(readdirSync(dir).includes('w.safetensors'), 'writeFileAtomic renames its temp over the target');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
