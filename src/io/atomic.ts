// Crash-safe file writes (temp file in the same directory, fsync, rename), removal of the temp files of
// writers that died, and a byte-level file reader.
import { open, readdir, rename, unlink, readFile } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * partial write: the bytes go to a temp file beside the target (same directory, so the rename stays on
 * one file system and is atomic), are fsynced, then renamed over the target; the directory is fsynced
 * so the rename itself survives a crash. On any error the temp file is removed and the error rethrown.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, tempName(basename(path)));
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx'); // 'wx': fail rather than clobber a name some other writer holds
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDirectory(dir);
}

/**
 * This host in temp names: the first 8 hex digits of the SHA-256 of os.hostname() (short and file-name safe, where a
 * host name may be 253 characters). A pid means something only on the host that made it.
 */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** `.<name>.<pid>-<host tag>.<12 hex>.tmp`; names of older versions have no host tag (`.<name>.<pid>.<12 hex>.tmp`). */
const TEMP_NAME = /^\..+\.(\d+)(?:-([0-9a-f]{8}))?\.[0-9a-f]{12}\.tmp$/;

/**
 * writeFileAtomic's temp name for the file `name`, made by process `pid` of this host. The pid and host in the name
 * let removeStaleTemps tell a dead writer's leftovers from a live writer's file.
 */
export function tempName(name: string, pid = process.pid): string {
  return `.${name}.${pid}-${HOST_TAG}.${randomBytes(6).toString('hex')}.tmp`;
}

/** The pid and host tag (undefined for an older name) of a writeFileAtomic temp file's name; undefined if not one. */
export function tempWriter(name: string): { pid: number; host?: string } | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? { pid: Number(m[1]), host: m[2] } : undefined;
}

/**
 * Whether process `pid` exists on this host. Only ESRCH says it does not (EPERM: it exists, owned by another
 * user); any other error counts as alive, so nothing of a live writer is ever taken for a dead one's.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temp files writeFileAtomic left in `dir` when its process was killed mid-write: those made on this
 * host (the host tag in the name) whose pid is no longer alive; this process's own are left to it. A temp file of
 * another host (a file system shared by several hosts) or with no host tag (an older version's) is never removed:
 * its pid says nothing here. Returns the names removed. Best effort: a file that cannot be removed is skipped. A
 * reused pid only keeps a stale file a while longer.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const writer = tempWriter(name);
    if (!writer || writer.host !== HOST_TAG || writer.pid === process.pid || processAlive(writer.pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => {},
    );
  }
  return removed;
}

/** Best effort: some platforms (Windows) cannot open or fsync a directory; the rename is done anyway. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // ignored: durability of the rename is a bonus, its atomicity does not depend on it
  }
}

/** syncDirectory for synchronous writers (a new append-only file's directory entry), best effort likewise. */
export function syncDirectorySync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // ignored, as in syncDirectory
  }
}

/** A file's bytes as a plain Uint8Array (not a Buffer, so callers never see Buffer-specific methods). */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const buf = await readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
