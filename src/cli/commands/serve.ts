import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { EventEmitter } from 'node:events';
import { Command, Option } from 'commander';
import { CaError, UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caConfigOption, caConfigPath, readPasswordFile } from '../flags.js';
import { version } from '../main.js';
import { readCaConfig, type CaConfigJson } from '../../config/ca-config.js';
import { resolveIn } from '../../config/paths.js';
import { serve, type PasswordOption } from '../../server/index.js';

export interface ServeOptions {
  configPath: string;
  passwordFile?: string;
  /** Worker processes; 1 serves from this process. Default: one per core. */
  workers: number;
}

type ServeCtx = Pick<Ctx, 'io' | 'caPath' | 'fetch' | 'now' | 'prompter'>;

export function parseWorkers(value: string | undefined): number {
  if (value === undefined || value === '') return availableParallelism();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1024) {
    throw new UsageError(`invalid value '${value}' for flag '--workers': expected a whole number from 1 to 1024`, {
      hint: 'use --workers 1 to serve from a single process',
    });
  }
  return Number(value);
}

/** A key file we can read and that says it is encrypted; a KMS URI or an unreadable path is the authority's to report. */
async function isEncryptedKeyFile(path: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).includes('ENCRYPTED');
  } catch {
    return false;
  }
}

/**
 * The intermediate key's password as step-ca finds it: --password-file, else ca.json's
 * `password` (read again on every reload), else asked for on a terminal — and only when the key
 * is encrypted. Without a terminal that is an error naming the flag.
 */
async function passwordOption(opts: ServeOptions, config: CaConfigJson, ctx: ServeCtx): Promise<PasswordOption> {
  if (opts.passwordFile) return { value: await readPasswordFile(opts.passwordFile), fromFile: true };
  if (typeof config.password === 'string' && config.password !== '') return { value: undefined, fromFile: false };
  const keyPath = typeof config.key === 'string' && config.key !== '' ? resolveIn(ctx.caPath, config.key) : undefined;
  if (!keyPath || !(await isEncryptedKeyFile(keyPath))) return { value: undefined, fromFile: false };
  if (!ctx.prompter.interactive) {
    throw new CaError('ERR_PASSWORD', `the intermediate key ${keyPath} is encrypted and no password was given`, {
      hint: 'pass --password-file FILE (or set "password" in ca.json)',
    });
  }
  const value = await ctx.prompter.password(`Please enter the password to decrypt ${keyPath}:`, { flag: '--password-file' });
  return { value, fromFile: false };
}

export async function serveRun(opts: ServeOptions, ctx: ServeCtx, signals: EventEmitter = process): Promise<void> {
  const config = await readCaConfig(opts.configPath);
  const password = await passwordOption(opts, config, ctx);
  await serve({
    config,
    configPath: opts.configPath,
    caPath: ctx.caPath,
    password,
    workers: opts.workers,
    version: version(),
    fetch: ctx.fetch,
    now: ctx.now,
    stdout: ctx.io.stdout,
    stderr: ctx.io.stderr,
    signals,
  });
}

export function create(ctx: Ctx, run = serveRun): Command {
  return new Command('serve')
    .summary('run the certificate authority (HTTPS)')
    .description(
      `Run the certificate authority as 'step-ca' does: read ca.json, open the intermediate key, and serve step-ca's API over HTTPS on "address" with a certificate for "dnsNames" issued by the intermediate (renewed in the background). It serves TLS 1.2 or later (ca.json "tls" may narrow that) and uses every core: one worker process per core shares the listening socket.

Signals: SIGHUP reloads ca.json (requests in flight finish on the old configuration; a file that does not load keeps the old one); SIGINT or SIGTERM stops accepting connections, finishes the requests in flight and exits 0.

Output: the start lines and lifecycle messages (reloading ..., shutting down ...) go to stderr; stdout gets one JSON line per request (time, level, requestId, method, path, status, ms, and for /sign the provisioner, subject, serial, or the error) and per background event. Tokens, secrets and keys are never logged.`,
    )
    .addOption(caConfigOption())
    .addOption(new Option('--password-file <file>', 'a file holding the password of the intermediate key (default: ca.json "password", else asked for)').env('CA_PASSWORD_FILE'))
    .addOption(new Option('--workers <n>', 'worker processes to serve from (default: one per core; 1 = this process only)').env('CA_WORKERS'))
    .addHelpText(
      'after',
      `
Examples:
  # Serve the CA in $CA_PATH (default ~/.ca), the key's password in a file:
  $ ca serve --password-file ./pw.txt

  # Another configuration, logs to a file, status lines on the terminal:
  $ ca serve --ca-config /srv/ca/config/ca.json --password-file /run/secrets/ca-pw >> /var/log/ca.jsonl

  # Pick up an edited ca.json (e.g. after 'ca provisioner add') without a restart:
  $ kill -HUP <pid>

  # A step-ca home runs unchanged:
  $ CA_PATH=~/.step ca serve --password-file ./pw.txt`,
    )
    .action(async (o: { caConfig?: string; passwordFile?: string; workers?: string }) => {
      await run({ configPath: caConfigPath(ctx, o.caConfig), passwordFile: o.passwordFile, workers: parseWorkers(o.workers) }, ctx);
    });
}
