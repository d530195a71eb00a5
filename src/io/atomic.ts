// Crash-safe file writes (temp file in the same directory, fsync, rename), removal of the temp files of
// writers that died, and a byte-level file reader.
import { open, readdir, rename, unlink, readFile } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * partial write: the bytes go to a temp file beside the target (same directory, so the rename stays on
 * one file system and is atomic), are fsynced, then renamed over the target; the directory is fsynced
 * so the rename itself survives a crash. On any error the temp file is removed and the error rethrown.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  // The pid in the name lets removeStaleTemps tell a dead writer's leftovers from a live writer's file.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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

const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

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
 * Removes the temp files writeFileAtomic left in `dir` when its process was killed mid-write (those
 * whose pid is no longer alive; this process's own are left to it). Returns the names removed. Best
 * effort: a file that cannot be removed is skipped. A reused pid only keeps a stale file a while longer.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = TEMP_NAME.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
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
