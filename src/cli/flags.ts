import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option } from 'commander';
import { CaError, UsageError, fileProblem } from '../errors.js';
import type { Ctx } from './context.js';

/** Commander's collector for a flag that may be given more than once. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A repeatable flag whose values may also be comma-separated (`--dns a,b --dns c`). */
export function collectCsv(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** `--ca-config FILE` (or $CA_CONFIG): which ca.json a command reads and edits. */
export function caConfigOption(): Option {
  return new Option('--ca-config <file>', 'the CA configuration to use (default: $CA_PATH/config/ca.json)').env('CA_CONFIG');
}

export function caConfigPath(ctx: Pick<Ctx, 'caPath'>, flag: string | undefined): string {
  return flag ?? join(ctx.caPath, 'config', 'ca.json');
}

/** Read a password file as step does: the whole file, trailing white space trimmed. */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CaError(missing ? 'ERR_FILE_NOT_FOUND' : 'ERR_FILE_IO', missing ? `the password file ${path} does not exist` : `cannot read the password file ${path}: ${fileProblem(err)}`, {
      cause: err,
      hint: 'check the path given to --password-file (or $CA_PASSWORD_FILE)',
    });
  }
  const password = text.replace(/\s+$/, '');
  if (!password) throw new CaError('ERR_PASSWORD', `the password file ${path} is empty`);
  return password;
}

/** `--ca-url` and `--root`, with their CA_URL / CA_ROOT twins. */
export function caUrlOption(): Option {
  return new Option('--ca-url <url>', "the CA's URL (default: from $CA_PATH/config/defaults.json)").env('CA_URL');
}
export function rootOption(): Option {
  return new Option('--root <file>', "the CA's root certificate to trust (default: $CA_PATH/certs/root_ca.crt)").env('CA_ROOT');
}

/** `--size BITS` of a new RSA key: a whole number (the range is checked with the key type). */
export function parseKeySize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`invalid value '${value}' for flag '--size': expected a number of bits`);
  return n;
}
