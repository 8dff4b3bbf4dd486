import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CaError, fileProblem } from '../errors.js';

/**
 * Replace a file's content in one step: write a temporary file beside it, fsync, rename over it.
 * A crash or a failure leaves either the old file or the new one, never half of either.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await writeFilesAtomic([{ path, data, mode }]);
}

/**
 * Several files that belong together (a certificate and its key): every one is written and synced
 * beside its target first, and only then are they renamed into place, so a failure while writing
 * (a missing directory, a full disk) changes none of them.
 */
export async function writeFilesAtomic(files: { path: string; data: string | Uint8Array; mode?: number }[]): Promise<void> {
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const file of files) staged.push({ tmp: await stage(file.path, file.data, file.mode), path: file.path });
  } catch (err) {
    await Promise.all(staged.map((s) => unlink(s.tmp).catch(() => undefined)));
    throw err;
  }
  for (const { tmp, path } of staged) {
    try {
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new CaError('ERR_FILE_IO', `cannot write ${path}: ${fileProblem(err)}`, { cause: err });
    }
    syncDir(dirname(path));
  }
}

/** A synced temporary file beside `path` with the new content; the target's mode is kept unless given. */
async function stage(path: string, data: string | Uint8Array, mode?: number): Promise<string> {
  const tmp = tempNameFor(path);
  let keepMode = mode;
  if (keepMode === undefined) {
    try {
      keepMode = (await stat(path)).mode & 0o777;
    } catch {
      keepMode = 0o600;
    }
  }
  try {
    const fh = await open(tmp, 'wx', keepMode);
    try {
      await fh.writeFile(data);
      await fh.chmod(keepMode); // the umask may have narrowed the mode given to open
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CaError('ERR_FILE_IO', `cannot write ${path}: ${fileProblem(err)}`, { cause: err });
  }
}

/** Make the rename itself durable. Some file systems refuse fsync on a directory; that is fine. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

export interface LockOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  /** A lock older than this is taken over even if its owner seems alive (a reused pid; default 30 s). */
  staleMs?: number;
  /** An empty or unreadable lock (not one of ours: ours are never empty) is taken over once this old (default 3 s). */
  unreadableStaleMs?: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The temporary name of a file being staged for `target` by this process. */
function tempNameFor(target: string, infix = ''): string {
  return join(dirname(target), `.${basename(target)}${infix}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** What a lock file held when it was judged: enough to tell it from a newer lock at the same path. */
interface LockSeen {
  ino: number;
  mtimeMs: number;
  text: string;
}

/** The lock as it is now; undefined when it is gone (just try again). One we cannot read names no owner. */
async function seeLock(lockPath: string): Promise<LockSeen | undefined> {
  let ino: number;
  let mtimeMs: number;
  try {
    ({ ino, mtimeMs } = await stat(lockPath));
  } catch {
    return undefined;
  }
  const text = await readFile(lockPath, 'utf8').catch(() => '');
  return { ino, mtimeMs, text };
}

/**
 * May this lock be taken over now? Its owner (the pid on its first line) is not a live process;
 * or it names no owner (empty, garbage: a writer killed mid-way by an older ca) and is a few
 * seconds old; or it is older than `staleMs` whatever it says.
 */
function lockIsStale(seen: LockSeen, opts: Required<Pick<LockOptions, 'staleMs' | 'unreadableStaleMs'>>): boolean {
  const age = Date.now() - seen.mtimeMs;
  const owner = /^(\d+)\s/.exec(`${seen.text}\n`);
  const pid = owner ? Number(owner[1]) : NaN;
  if (Number.isSafeInteger(pid) && pid > 0) return !processAlive(pid) || age > opts.staleMs;
  return age > opts.unreadableStaleMs;
}

/**
 * Remove a stale lock, but only the one that was judged: it is moved aside first (one rename,
 * which only one of several racing processes wins), and if what was moved is a newer lock (its
 * owner released it and another process took it meanwhile), it is put back.
 */
async function removeStaleLock(lockPath: string, seen: LockSeen): Promise<void> {
  const aside = tempNameFor(lockPath, '.stale');
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else removed it
  }
  const moved = await seeLock(aside);
  if (moved && (moved.ino !== seen.ino || moved.text !== seen.text)) await link(aside, lockPath).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/**
 * Create the lock with its owner already in it: the content is written to a temporary file and
 * hard-linked to the lock's name, so the lock never exists empty, even when the process is
 * killed at that moment. File systems without hard links get an exclusive create and a write.
 */
function createLock(lockPath: string): boolean {
  const content = `${process.pid}\n${randomBytes(8).toString('hex')}\n`;
  const tmp = tempNameFor(lockPath);
  try {
    createExclusive(tmp, content);
    linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
  }
  try {
    createExclusive(lockPath, content);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** A new file with `content` (EEXIST when there is one). */
function createExclusive(path: string, content: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Leftovers of ca processes killed while staging: older than this and not a live process's. */
const LEFTOVER_MIN_AGE_MS = 10 * 60_000;

/**
 * Remove the temporary files a killed ca left beside `path` (`.ca.json.<pid>.<hex>.tmp`, which
 * hold the client secrets of ca.json, and lock leftovers): those of a process that is gone, or
 * old ones. Called while holding the lock, when no live editor stages files for `path`.
 */
async function removeLeftovers(path: string): Promise<void> {
  const base = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const leftover = new RegExp(`^\\.${base}(?:\\.lock(?:\\.stale)?)?\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const m = leftover.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const file = join(dirname(path), name);
    try {
      if (pid === process.pid) continue;
      if (processAlive(pid) && Date.now() - (await stat(file)).mtimeMs < LEFTOVER_MIN_AGE_MS) continue;
      await unlink(file);
    } catch {
      /* gone already, or not ours to remove: leave it */
    }
  }
}

/**
 * Run `fn` while holding `<path>.lock`, a file created exclusively, so that concurrent `ca`
 * processes editing the same file take turns instead of losing each other's changes. A lock left
 * by a process that is gone (kill -9) is taken over at once, as are the temporary files it left.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const stale = { staleMs: opts.staleMs ?? 30_000, unreadableStaleMs: opts.unreadableStaleMs ?? 3_000 };
  let wait = 5;
  for (;;) {
    try {
      if (createLock(lockPath)) break;
    } catch (err) {
      throw new CaError('ERR_FILE_IO', `cannot lock ${path}: ${fileProblem(err)}`, { cause: err });
    }
    const seen = await seeLock(lockPath);
    if (seen && lockIsStale(seen, stale)) {
      await removeStaleLock(lockPath, seen);
      continue;
    }
    if (Date.now() > deadline) {
      throw new CaError('ERR_CONFIG_LOCKED', `${path} is locked by another ca process${seen ? ` (${ownerOf(seen)})` : ''}`, {
        hint: `wait for it to finish, or remove ${lockPath} if no ca command is running`,
      });
    }
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
    wait = Math.min(wait * 2, 100);
  }
  try {
    await removeLeftovers(path);
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

function ownerOf(seen: LockSeen): string {
  const pid = /^(\d+)\s/.exec(`${seen.text}\n`)?.[1];
  return pid ? `pid ${pid}` : 'no owner recorded';
}

/**
 * `mkdir -p` with `mode` (with `setMode`, also on a directory that exists, whatever the umask):
 * a CaError naming the directory and why when it cannot (a file in the way, no permission).
 */
export async function makeDirectory(dir: string, mode: number, opts: { setMode?: boolean; hint?: string } = {}): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
    if (opts.setMode) await chmod(dir, mode);
  } catch (err) {
    throw new CaError('ERR_FILE_IO', `cannot create the directory ${dir}: ${fileProblem(err)}`, { cause: err, hint: opts.hint });
  }
}

/** Write a new file that must not exist yet (exclusive create), with the given mode. */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  await writeFile(path, data, { mode, flag: 'wx' });
}
