import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CaError } from '../errors.js';
import type { Prompter } from './prompter.js';

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

/**
 * Existing files need --force or a yes, asked before anything is requested; without a terminal
 * the question is an error naming --force, and the files stay as they are.
 */
export async function confirmOverwrite(files: string[], force: boolean, ctx: { prompter: Prompter }): Promise<void> {
  for (const file of files) {
    if (force || !existsSync(file)) continue;
    const yes = await ctx.prompter.confirm(`Would you like to overwrite ${file}?`, { flag: '--force' });
    if (!yes) throw new CaError('ERR_FILE_EXISTS', `${file} already exists`, { hint: 'pass --force to overwrite it' });
  }
}
