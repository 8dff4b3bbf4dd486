/**
 * What `ca renew` and `ca rekey` share: their flags as step spells them, reading the certificate
 * and key they prove possession with, the "not yet due" check of --expires-in, the hooks run after
 * a renewal (--pid/--signal, --exec) and the words for a CA's refusal.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { Option } from 'commander';
import { formatDuration, tryParseDuration } from '../config/duration.js';
import { CaError, UsageError, describe } from '../errors.js';
import { credentialsFrom, type Credentials, type LeafFacts } from '../pki/credentials.js';
import type { CaClient } from '../client/ca-client.js';
import { mutualTlsClient, type CaTarget } from '../client/target.js';
import type { IOStreams } from './io.js';
import { caUrlOption, readPasswordFile, rootOption } from './flags.js';

export interface HookOptions {
  /** A command line, split on blanks and run without a shell. */
  exec?: string;
  pid?: number;
  signal: NodeJS.Signals;
}

/** `--signal`: a number as step takes it (1 = SIGHUP), or a name (HUP, SIGHUP). */
export function parseSignal(value: string): NodeJS.Signals {
  const signals = constants.signals as Record<string, number>;
  const byNumber = /^\d+$/.test(value) ? Object.keys(signals).find((name) => signals[name] === Number(value)) : undefined;
  const name = byNumber ?? (value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`);
  if (!(name in signals) || signals[name] === 0) {
    throw new UsageError(`invalid value '${value}' for flag '--signal': not a signal`, { hint: 'pass a number (1 is SIGHUP) or a name such as HUP or USR1' });
  }
  return name as NodeJS.Signals;
}

function parsePid(value: string): number {
  const pid = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new UsageError(`invalid value '${value}' for flag '--pid': expected a process id`);
  return pid;
}

/** A duration flag (--expires-in, --renew-period), as a usage error naming it when it is not one. */
export function durationFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new UsageError(`invalid value '${value}' for flag '${flag}': expected a duration such as 8h or 30m`);
  return ms;
}

/** The flags renew and rekey share: what runs after, the key's password, where the CA is. */
export interface LifecycleFlags {
  exec?: string;
  pid?: string;
  pidFile?: string;
  signal?: string;
  passwordFile?: string;
  caUrl?: string;
  root?: string;
}

/** Those flags as step's renew and rekey take them. */
export function lifecycleOptions(verb: 'renewed' | 'rekeyed'): Option[] {
  return [
    new Option('--exec <command>', `a command to run after the certificate has been ${verb} (split on blanks, no shell), e.g. "nginx -s reload"`),
    new Option('--pid <pid>', `the process to signal after the certificate has been ${verb}`),
    new Option('--pid-file <file>', 'a file holding the process id to signal'),
    new Option('--signal <signal>', 'the signal to send it: a number or a name (default: 1, SIGHUP)'),
    new Option('--password-file <file>', 'the password of KEY, if it is encrypted'),
    caUrlOption(),
    rootOption(),
  ];
}

/** The values of lifecycleOptions() from commander's parsed options. */
export function lifecycleFlags(o: Record<string, unknown>): LifecycleFlags {
  const text = (v: unknown) => (v === undefined ? undefined : String(v));
  return {
    exec: text(o.exec),
    pid: text(o.pid),
    pidFile: text(o.pidFile),
    signal: text(o.signal),
    passwordFile: text(o.passwordFile),
    caUrl: text(o.caUrl),
    root: text(o.root),
  };
}

/** --exec, --pid, --pid-file and --signal, checked; the pid file is read now, so a wrong one fails before the CA is asked. */
export async function hooksFrom(o: { exec?: string; pid?: string; pidFile?: string; signal?: string }): Promise<HookOptions> {
  if (o.pid !== undefined && o.pidFile !== undefined) throw new UsageError("flag '--pid' is incompatible with '--pid-file'");
  let pid = o.pid === undefined ? undefined : parsePid(o.pid);
  if (o.pidFile !== undefined) {
    let text: string;
    try {
      text = await readFile(o.pidFile, 'utf8');
    } catch (err) {
      throw new CaError('ERR_FILE_NOT_FOUND', `cannot read the pid file ${o.pidFile}: ${describe(err)}`);
    }
    pid = parsePid(text);
  }
  const exec = o.exec?.trim() ? o.exec.trim() : undefined;
  return { exec, pid, signal: o.signal === undefined ? 'SIGHUP' : parseSignal(o.signal) };
}

/** step's order: signal the process, then run the command. Throws CaError naming what failed. */
export async function runHooks(hooks: HookOptions, io: IOStreams): Promise<void> {
  if (hooks.pid !== undefined) {
    try {
      process.kill(hooks.pid, hooks.signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ESRCH' ? 'no such process' : code === 'EPERM' ? 'not allowed' : describe(err);
      throw new CaError('ERR_INTERNAL', `cannot send ${hooks.signal} to process ${hooks.pid}: ${why}`, { hint: 'check --pid / --pid-file' });
    }
  }
  if (hooks.exec) await runCommand(hooks.exec, io);
}

function runCommand(line: string, io: IOStreams): Promise<void> {
  const [cmd, ...args] = line.split(/\s+/) as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(io.stdout, { end: false });
    child.stderr.pipe(io.stderr, { end: false });
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CaError('ERR_INTERNAL', `cannot run --exec ${cmd}: ${err.code === 'ENOENT' ? 'command not found' : describe(err)}`, { hint: 'give the full path of the command' })),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CaError('ERR_INTERNAL', `the --exec command '${line}' ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`));
    });
  });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CaError('ERR_FILE_NOT_FOUND', `the ${what} ${file} does not exist`);
    throw new CaError('ERR_FILE_IO', `cannot read ${file}: ${describe(err)}`, { cause: err });
  }
}

/** The certificate and key files, checked to be a pair; `passwordFile` opens an encrypted key. */
export async function readCredentials(certFile: string, keyFile: string, passwordFile?: string): Promise<Credentials> {
  const [certText, keyText] = await Promise.all([readText(certFile, 'certificate'), readText(keyFile, 'key')]);
  const password = passwordFile ? await readPasswordFile(passwordFile) : undefined;
  return credentialsFrom(certText, keyText, { certFile, keyFile }, password);
}

/** Go's Duration.String() to the second, as step prints time left ("10h52m5s"). */
function roundedDuration(ms: number): string {
  return formatDuration(Math.round(ms / 1000) * 1000);
}

/**
 * --expires-in: step's "not yet" line when more than `expiresInMs` (plus a jitter of up to a
 * twentieth of it) is left; undefined when the certificate is due.
 */
export function notDue(leaf: LeafFacts, expiresInMs: number | undefined, now: Date, verb: 'renewed' | 'rekeyed', random = Math.random): string | undefined {
  if (!expiresInMs || expiresInMs <= 0) return undefined;
  const left = leaf.notAfter.getTime() - now.getTime();
  if (left <= expiresInMs + random() * (expiresInMs / 20)) return undefined;
  return `certificate not ${verb}: expires in ${roundedDuration(left)}`;
}

/** step's limits: --expires-in and a renew period must fit in the certificate's lifetime. */
export function checkWithinValidity(leaf: LeafFacts, flags: { flag: string; ms: number | undefined; equalAllowed: boolean }[]): void {
  const validity = leaf.notAfter.getTime() - leaf.notBefore.getTime();
  for (const { flag, ms, equalAllowed } of flags) {
    if (ms === undefined || ms < validity || (equalAllowed && ms === validity)) continue;
    throw new UsageError(
      `flag '${flag}' must be within (lower than) the certificate validity period; ${flag.slice(2)}=${formatDuration(ms)}, cert-validity-period=${formatDuration(validity)}`,
    );
  }
}

/**
 * A CA's refusal of a renewal or rekey, said for this certificate: expired, revoked or renewal
 * disabled all end with "get a new one"; the CA's own message says which rule it was.
 */
export function refusal(err: unknown, leaf: LeafFacts, now: Date, action: 'renew' | 'rekey'): unknown {
  if (!(err instanceof CaError) || err.code !== 'ERR_CA_RESPONSE' || err.status < 400 || err.status >= 500) return err;
  const expired = leaf.notAfter.getTime() <= now.getTime();
  const message = expired ? `cannot ${action} an expired certificate (it expired at ${leaf.notAfter.toISOString()}): ${err.message}` : err.message;
  const hint = expired
    ? "get a new certificate with 'ca certificate'; an admin can allow renewing expired ones with the provisioner claim allowRenewalAfterExpiry"
    : "get a new certificate with 'ca certificate' (a revoked certificate, or one whose provisioner disables renewal, cannot be renewed)";
  return new CaError('ERR_CA_RESPONSE', message, { status: err.status, hint, cause: err });
}

/**
 * One request over mutual TLS with the certificate and key (its own connections, closed after);
 * a refusal is said for this certificate (see refusal()). `signal` aborts it.
 */
export async function withCertificate<T>(
  target: CaTarget,
  credentials: Credentials,
  ctx: { env: NodeJS.ProcessEnv; now: () => Date },
  action: 'renew' | 'rekey',
  call: (client: CaClient) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const { client, close } = mutualTlsClient(target, { certPem: credentials.chainPem, keyPem: credentials.keyPem }, ctx.env, signal);
  try {
    return await call(client);
  } catch (err) {
    throw refusal(err, credentials.leaf, ctx.now(), action);
  } finally {
    await close();
  }
}
