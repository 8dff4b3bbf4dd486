import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open, rename, stat, unlink, writeFile, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CaError, describe } from '../errors.js';

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
      throw new CaError('ERR_FILE_IO', `cannot write ${path}: ${describe(err)}`, { cause: err });
    }
    syncDir(dirname(path));
  }
}

/** A synced temporary file beside `path` with the new content; the target's mode is kept unless given. */
async function stage(path: string, data: string | Uint8Array, mode?: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
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
    throw new CaError('ERR_FILE_IO', `cannot write ${path}: ${describe(err)}`, { cause: err });
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
  /** A lock older than this whose owner is gone is taken over (default 30 s). */
  staleMs?: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockIsStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const [info, owner] = await Promise.all([stat(lockPath), readFile(lockPath, 'utf8')]);
    const pid = Number.parseInt(owner, 10);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) return true;
    return Date.now() - info.mtimeMs > staleMs;
  } catch {
    return false; // gone already, or unreadable: just try again
  }
}

/**
 * Run `fn` while holding `<path>.lock`, a file created exclusively, so that concurrent `ca`
 * processes editing the same file take turns instead of losing each other's changes.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const staleMs = opts.staleMs ?? 30_000;
  let wait = 5;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CaError('ERR_FILE_IO', `cannot lock ${path}: ${describe(err)}`, { cause: err });
      }
      if (await lockIsStale(lockPath, staleMs)) {
        await unlink(lockPath).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new CaError('ERR_CONFIG_LOCKED', `${path} is locked by another ca process`, {
          hint: `wait for it to finish, or remove ${lockPath} if no ca command is running`,
        });
      }
      await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
      wait = Math.min(wait * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

/** Write a new file that must not exist yet (exclusive create), with the given mode. */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  await writeFile(path, data, { mode, flag: 'wx' });
}
