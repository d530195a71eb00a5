// An exclusive lock beside a file (FILE.lock) that outlives a crash of its holder: the lock file records its
// owner (pid, host, time, a random token), and a lock whose owner is dead, or that is older than any real
// holder, is taken over instead of failing every later caller until someone deletes it.
//
// Invariants: a lock is created only with O_EXCL (two creators cannot both succeed); a lock is removed
// only by its owner (checked by token) or by the one process that holds FILE.lock.break and has re-read
// the lock under it and found the very lock it judged stale (same inode, same bytes). So two processes
// that both judge a lock stale cannot remove each other's fresh lock. Not covered: a process killed in the
// microseconds while it holds FILE.lock.break, while another one breaks the same lock (the break lock is
// then removed by age), and a dead owner's pid reused by a live process (the lock then ages out).
import { processAlive } from '../io/atomic.js';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LedgerError } from './errors.js';

/** What a lock file holds (its JSON). */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  time: string;
  /** Random: tells this holding apart from a later one by the same process. */
  token: string;
}

/** A lock older than this is stale whoever holds it: an append takes milliseconds, a verify seconds. */
export const LOCK_STALE_MS = 10 * 60_000;
/**
 * A lock file without a readable owner (a holder killed between creating and writing it, or a lock of an
 * older Candor, which wrote none) is stale after this: a live holder writes its owner right after creating.
 */
const OWNERLESS_STALE_MS = 5_000;
/** FILE.lock.break is held for a read and an unlink; one older than this was left by a killed process. */
const BREAK_STALE_MS = 10_000;
const POLL_MS = 25;

export interface LockOptions {
  /** How long to wait for a live holder before failing (default 10 s). */
  timeoutMs?: number;
}

/** A lock file as read: its bytes, inode and age, and its owner when the bytes are one. */
interface SeenLock {
  raw: string;
  ino: number;
  mtimeMs: number;
  owner?: LockOwner;
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const o = JSON.parse(raw) as Partial<LockOwner> | null;
    if (o && Number.isSafeInteger(o.pid) && o.pid! > 0 && typeof o.hostname === 'string' && typeof o.token === 'string')
      return o as LockOwner;
  } catch {
    // not an owner: judged by age
  }
  return undefined;
}

/** The lock at `lock` (bytes and inode read through one handle), or undefined when there is none. */
async function readLock(lock: string): Promise<SeenLock | undefined> {
  let h: FileHandle;
  try {
    h = await open(lock, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LedgerError(`ledger: cannot read lock ${lock}: ${(e as Error).message}`);
  }
  try {
    const s = await h.stat();
    const raw = (await h.readFile()).toString('utf8');
    return { raw, ino: s.ino, mtimeMs: s.mtimeMs, owner: parseOwner(raw) };
  } finally {
    await h.close();
  }
}

/** Why `seen` is stale (for messages), or undefined while its holder may be alive. */
function staleReason(seen: SeenLock, now = Date.now()): string | undefined {
  const age = now - seen.mtimeMs;
  const o = seen.owner;
  if (o && o.hostname === hostname() && !processAlive(o.pid))
    return `its owner, process ${o.pid} on this host, is dead`;
  if (age > LOCK_STALE_MS) return `it is ${(age / 1000).toFixed(0)} s old`;
  if (!o && age > OWNERLESS_STALE_MS) return `it names no owner and is ${(age / 1000).toFixed(0)} s old`;
  return undefined;
}

const describeOwner = (seen: SeenLock): string =>
  seen.owner
    ? `process ${seen.owner.pid} on ${seen.owner.hostname} (since ${seen.owner.time})`
    : 'an unknown process (the lock names no owner)';

/** Creates `lock` holding `me` (with the time now), only if no lock exists; false when one does. */
async function tryCreate(lock: string, me: LockOwner): Promise<boolean> {
  let h: FileHandle;
  try {
    h = await open(lock, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LedgerError(`ledger: cannot create lock ${lock}: ${(e as Error).message}`);
  }
  try {
    await h.writeFile(JSON.stringify({ ...me, time: new Date().toISOString() }));
  } catch (e) {
    await unlink(lock).catch(() => {}); // still ours: a fresh ownerless lock is not stale yet
    throw new LedgerError(`ledger: cannot write lock ${lock}: ${(e as Error).message}`);
  } finally {
    await h.close();
  }
  return true;
}

/**
 * Removes `lock` if it is still exactly `seen`, holding `lock.break` while it re-reads and removes it, so
 * that of several processes that judged the same lock stale, one removes it and the rest find it gone or
 * replaced. False when another process is breaking it now.
 */
async function breakLock(lock: string, seen: SeenLock): Promise<boolean> {
  const breaker = `${lock}.break`;
  try {
    await (await open(breaker, 'wx')).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new LedgerError(`ledger: cannot create ${breaker}: ${(e as Error).message}`);
    const s = await stat(breaker).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > BREAK_STALE_MS) await unlink(breaker).catch(() => {});
    return false;
  }
  try {
    const now = await readLock(lock);
    if (now && now.ino === seen.ino && now.raw === seen.raw && now.mtimeMs === seen.mtimeMs) {
      await unlink(lock).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw new LedgerError(`ledger: cannot remove stale lock ${lock}: ${e.message}`);
      });
    }
    return true;
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/** Removes `lock` if it is still ours (a lock broken as stale and taken by another process is left alone). */
async function release(lock: string, me: LockOwner): Promise<void> {
  const now = await readLock(lock).catch(() => undefined);
  if (now?.owner?.token === me.token) await unlink(lock).catch(() => {});
}

/**
 * Runs fn while holding `${path}.lock`. Waits for a live holder (up to timeoutMs, then a LedgerError that
 * names it); takes over a stale lock (owner dead on this host, or older than LOCK_STALE_MS) at once.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = `${path}.lock`;
  const me: LockOwner = { pid: process.pid, hostname: hostname(), time: '', token: randomBytes(12).toString('hex') };
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (await tryCreate(lock, me)) break;
    const seen = await readLock(lock);
    if (!seen) continue; // released since: try again at once
    const stale = staleReason(seen);
    if (stale !== undefined && (await breakLock(lock, seen))) continue;
    // A stale lock that another process is breaking (or died breaking) is waited for past the deadline,
    // until that break lock ages out.
    if (Date.now() > deadline + (stale !== undefined ? 2 * BREAK_STALE_MS : 0)) {
      const age = (Date.now() - seen.mtimeMs) / 1000;
      throw new LedgerError(
        stale !== undefined
          ? `ledger: ${lock} is stale (${stale}) but ${lock}.break stops it being taken over; delete both`
          : `ledger: ${lock} is held by ${describeOwner(seen)}, for ${age.toFixed(0)} s; it is taken over once ` +
              `its owner has died (or after ${LOCK_STALE_MS / 60_000} min); if no process uses the ledger, delete it`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await release(lock, me);
  }
}

/** The owner recorded in `${path}.lock`, or undefined when there is no lock or it names none. */
export async function lockOwner(path: string): Promise<LockOwner | undefined> {
  return (await readLock(`${path}.lock`))?.owner;
}
