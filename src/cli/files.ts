import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CaError } from '../errors.js';
import type { Prompter } from './prompter.js';
import { missingError, type Missing } from './token-flow.js';

/** Before any work that would be lost: the files' directories must exist and be writable. */
export async function checkWritable(files: string[]): Promise<void> {
  for (const file of files) {
    const dir = dirname(resolve(file));
    try {
      await access(dir, constants.W_OK);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new CaError('ERR_FILE_IO', `cannot write ${file}: the directory ${dir} ${missing ? 'does not exist' : 'is not writable'}`, {
        hint: missing ? `create it first (mkdir -p ${dir})` : 'choose another place for the certificate and key',
      });
    }
  }
}

/** The files among `files` that exist and would be replaced (none with --force). */
export function existingFiles(files: string[], force: boolean): string[] {
  return force ? [] : files.filter((f) => existsSync(f));
}

/** Output files that exist, as one thing missing: --force. */
export function filesExist(files: string[]): Missing {
  const names = files.join(' and ');
  const verb = files.length === 1 ? 'exists' : 'exist';
  return { flag: '--force', sentence: `${names} ${verb}; pass --force to overwrite`, short: `${names} ${verb}` };
}

/** Ask before replacing each of `files`; a no ends the command with nothing changed. */
export async function askOverwrite(files: string[], ctx: { prompter: Prompter }): Promise<void> {
  for (const file of files) {
    const yes = await ctx.prompter.confirm(`Would you like to overwrite ${file}?`, { flag: '--force' });
    if (!yes) throw new CaError('ERR_FILE_EXISTS', filesExist([file]).sentence);
  }
}

/**
 * For commands with nothing else to ask: existing files need --force, or a yes on a terminal;
 * without one the command stops before any request, naming --force, and the files stay.
 */
export async function confirmOverwrite(files: string[], force: boolean, ctx: { prompter: Prompter }): Promise<void> {
  const existing = existingFiles(files, force);
  if (existing.length === 0) return;
  if (!ctx.prompter.interactive) throw missingError([filesExist(existing)]);
  await askOverwrite(existing, ctx);
}
