/**
 * The admin side of remote management, as the step CLI does it: whether a command edits ca.json
 * here or asks the CA's admin API, and the admin's credentials for that API. Those are, in order:
 * `--admin-cert`/`--admin-key`; a certificate kept from an earlier login under `$CA_PATH/admin/`
 * (one per CA URL and subject, 0600, reused until it is a minute from expiry); else a login
 * (`No admin credentials found. You must login to execute admin commands.`): the subject asked
 * for, the provisioner picked, its token from the shared token flow (browser for OIDC,
 * `--console`, a JWK password), a CSR for the subject to `/1.0/sign`, and the certificate kept.
 * Without a terminal every missing answer is reported at once, naming its flag.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { CaError, UsageError, fileProblem } from '../errors.js';
import { writeFileAtomic } from '../config/atomic.js';
import { readCaConfig } from '../config/ca-config.js';
import { AdminClient, type AdminIdentity } from '../client/admin-client.js';
import { chainPem, type RemoteProvisioner } from '../client/ca-client.js';
import { isJwkProvisioner } from '../client/provisioners.js';
import { readDefaults, resolveCaTarget, type CaTarget, type CaTargetFlags } from '../client/target.js';
import { credentialsFrom, leafFacts } from '../pki/credentials.js';
import { classifyName, createKeyAndRequest, type RequestNames } from '../pki/request.js';
import type { Ctx } from './context.js';
import { envFlag } from './env-flags.js';
import { caUrlOption, rootOption } from './flags.js';
import { status, success } from './output.js';
import { missingError, pickProvisioner, planToken, tokenFrom, type Missing, type TokenCtx, type TokenRequest } from './token-flow.js';

export const NO_CREDENTIALS = 'No admin credentials found. You must login to execute admin commands.';
export const SUBJECT_QUESTION = 'Please enter admin name/subject (e.g., name@example.com)';

/** A kept certificate is used only while it has more than this left. */
const REUSE_MARGIN_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Remote or local

export interface ModeFlags {
  /** --ca-config (or CA_CONFIG), when given. */
  caConfig?: string;
  /** --ca-url given on the command line (CA_URL in the environment alone does not switch modes). */
  caUrlOnCommandLine: boolean;
  /** --ca-url or CA_URL. */
  caUrl?: string;
}

export type Mode = { kind: 'local'; configPath: string } | { kind: 'remote' };

/**
 * step's rule: `--ca-url` without `--ca-config` means the CA's admin API; so does a ca.json with
 * `authority.enableAdmin: true`, and no ca.json at all when a CA URL is known (flag, CA_URL or
 * `ca bootstrap`'s defaults.json). Otherwise ca.json is edited here, as before. A named
 * --ca-config that is missing or broken stays local, so its error names the file.
 */
export async function managementMode(flags: ModeFlags, ctx: Pick<Ctx, 'caPath'>): Promise<Mode> {
  const configPath = flags.caConfig ?? join(ctx.caPath, 'config', 'ca.json');
  const local: Mode = { kind: 'local', configPath };
  if (flags.caUrlOnCommandLine && flags.caConfig === undefined) return { kind: 'remote' };
  try {
    const config = await readCaConfig(configPath);
    return config.authority?.enableAdmin === true ? { kind: 'remote' } : local;
  } catch (err) {
    if (!(err instanceof CaError) || err.code !== 'ERR_FILE_NOT_FOUND' || flags.caConfig !== undefined) return local;
    if (flags.caUrl) return { kind: 'remote' };
    const defaults = await readDefaults(ctx.caPath).catch(() => ({ 'ca-url': undefined }));
    return defaults['ca-url'] ? { kind: 'remote' } : local;
  }
}

// ---------------------------------------------------------------------------------------------
// Flags

export interface AdminFlags {
  adminCert?: string;
  adminKey?: string;
  adminSubject?: string;
  adminProvisioner?: string;
  adminPasswordFile?: string;
  console: boolean;
  listen?: string;
}

/** The flags every remote command takes: the CA, and the admin's credentials or login. */
export function addAdminFlags(cmd: Command): Command {
  return cmd
    .addOption(caUrlOption())
    .addOption(rootOption())
    .option('--admin-cert <file>', 'remote: the admin certificate (chain) to sign admin tokens with; needs --admin-key')
    .option('--admin-key <file>', 'remote: the private key of --admin-cert')
    .option('--admin-subject <subject>', 'remote: the admin to log in as, e.g. alice@example.com (asked otherwise)')
    .addOption(new Option('--admin-name <subject>', 'alias of --admin-subject').hideHelp())
    .option('--admin-provisioner <name>', 'remote: the provisioner to log in with (picked otherwise)')
    .addOption(new Option('--admin-issuer <name>', 'alias of --admin-provisioner').hideHelp())
    .option('--admin-password-file <file>', "remote: the password of a JWK provisioner's key, for the admin login")
    .option('--console', 'remote: log in without a local browser: device code, or paste the redirect URL (or CA_CONSOLE=true)');
}

/** What commander parsed for `addAdminFlags`, and which source --ca-url came from. */
export function adminFlagsFrom(o: Record<string, unknown>, cmd: Command, env: NodeJS.ProcessEnv): AdminFlags & CaTargetFlags & ModeFlags {
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    adminCert: text(o.adminCert),
    adminKey: text(o.adminKey),
    adminSubject: text(o.adminSubject ?? o.adminName),
    adminProvisioner: text(o.adminProvisioner ?? o.adminIssuer),
    adminPasswordFile: text(o.adminPasswordFile),
    console: o.console === true || envFlag(env.CA_CONSOLE) === true,
    caUrl: text(o.caUrl),
    root: text(o.root),
    caConfig: text(o.caConfig),
    caUrlOnCommandLine: cmd.getOptionValueSource('caUrl') === 'cli',
  };
}

// ---------------------------------------------------------------------------------------------
// Kept certificates

/** An admin certificate kept from a login, as stored (JSON, 0600). */
export interface KeptAdmin {
  caUrl: string;
  subject: string;
  provisioner: string;
  notAfter: string;
  certificate: string;
  key: string;
}

export function adminDir(caPath: string): string {
  return join(caPath, 'admin');
}

/** One file per CA URL and subject: a hash, so no subject ever becomes a path. */
export function keptFile(caPath: string, caUrl: string, subject: string): string {
  const id = createHash('sha256').update(`${caUrl}\n${subject}`).digest('hex').slice(0, 32);
  return join(adminDir(caPath), `${id}.json`);
}

function isKept(v: unknown): v is KeptAdmin {
  const k = v as Record<string, unknown> | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    ['caUrl', 'subject', 'provisioner', 'notAfter', 'certificate', 'key'].every((f) => typeof k[f] === 'string') &&
    !Number.isNaN(Date.parse(k.notAfter as string))
  );
}

/**
 * The kept certificate to use: for this CA, of the subject and provisioner when given, with more
 * than a minute left; the one that lasts longest when several fit. Unreadable files are skipped.
 */
export function chooseKept(kept: KeptAdmin[], want: { caUrl: string; subject?: string; provisioner?: string }, now: Date): KeptAdmin | undefined {
  return kept
    .filter(
      (k) =>
        k.caUrl === want.caUrl &&
        (want.subject === undefined || k.subject === want.subject) &&
        (want.provisioner === undefined || k.provisioner === want.provisioner) &&
        Date.parse(k.notAfter) - now.getTime() > REUSE_MARGIN_MS,
    )
    .sort((a, b) => Date.parse(b.notAfter) - Date.parse(a.notAfter))[0];
}

async function readKept(caPath: string): Promise<{ kept: KeptAdmin; file: string }[]> {
  const dir = adminDir(caPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CaError('ERR_FILE_IO', `cannot read ${dir}: ${fileProblem(err)}`, { hint: `check the permissions of ${dir}` });
  }
  const out: { kept: KeptAdmin; file: string }[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    try {
      const value: unknown = JSON.parse(await readFile(file, 'utf8'));
      if (isKept(value)) out.push({ kept: value, file });
    } catch {
      // A broken or half-removed file is no credential: a login replaces it.
    }
  }
  return out;
}

async function keep(caPath: string, kept: KeptAdmin): Promise<string> {
  await mkdir(adminDir(caPath), { recursive: true, mode: 0o700 });
  const file = keptFile(caPath, kept.caUrl, kept.subject);
  await writeFileAtomic(file, `${JSON.stringify(kept, null, 2)}\n`, 0o600);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Logging in

/** The names of the admin's certificate request: CN = subject, and the subject as a SAN (JWK tokens require it; an email otherwise). */
export function adminRequestNames(subject: string, kind: 'jwk' | 'oidc'): RequestNames {
  const san = classifyName(subject);
  if (kind === 'jwk') return { commonName: subject, sans: [san] };
  return { commonName: subject, sans: san.type === 'email' ? [san] : [] };
}

export type AdminCtx = TokenCtx & Pick<Ctx, 'caPath'>;

function subjectMissing(): Missing {
  return {
    flag: '--admin-subject',
    sentence: 'the admin to log in as is missing: pass --admin-subject SUBJECT (e.g. alice@example.com)',
    short: 'the admin to log in as',
  };
}

/**
 * Whether the CA has an admin API at all, asked before a login so nobody logs in for nothing: a
 * request without a token is refused (401) by a CA with remote management; a CA without it has no
 * such route (404).
 */
export async function checkAdminApi(target: CaTarget): Promise<void> {
  let res: Response;
  try {
    res = await target.fetch(`${target.caUrl}/admin/provisioners`, { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
  } catch {
    return; // the request that follows reports an unreachable CA with its own message
  }
  if (res.status === 404) {
    throw new CaError('ERR_NOT_FOUND', `the CA at ${target.caUrl} has no admin API: remote management is not turned on there`, {
      hint: "turn it on (authority.enableAdmin: true in the CA's ca.json, see 'Running the CA with remote management' in the README), or edit its ca.json with --ca-config on the CA host",
    });
  }
}

/** A new admin certificate from a login at one of the CA's provisioners, kept for the next command. */
async function login(flags: AdminFlags, target: CaTarget, ctx: AdminCtx): Promise<{ identity: AdminIdentity; file: string }> {
  await checkAdminApi(target);
  status(ctx.io, NO_CREDENTIALS);
  const all = await target.client.provisioners();
  if (flags.adminProvisioner !== undefined && !all.some((p) => p.name === flags.adminProvisioner)) {
    throw new UsageError(`invalid value '${flags.adminProvisioner}' for flag '--admin-provisioner'`, { hint: `the CA has: ${all.map((p) => p.name).join(', ') || 'no provisioners'}` });
  }
  const request: TokenRequest = {
    provisioner: flags.adminProvisioner,
    provisionerFlag: '--admin-provisioner',
    passwordFile: flags.adminPasswordFile,
    passwordFlag: '--admin-password-file',
    purpose: 'sign',
    sans: [],
    console: flags.console,
    listen: flags.listen,
  };
  const plan = await planToken(request, target, ctx);
  if (!ctx.prompter.interactive) {
    const missing = [...(flags.adminSubject ? [] : [subjectMissing()]), ...plan.missing];
    if (missing.length > 0) throw missingError(missing);
  }
  const subject =
    flags.adminSubject ??
    (await ctx.prompter.input(SUBJECT_QUESTION, { flag: '--admin-subject', validate: (v) => (v.trim() ? true : 'the subject cannot be empty') })).trim();
  const provisioner: RemoteProvisioner = await pickProvisioner(plan.candidates, ctx, '--admin-provisioner');
  const made = await tokenFrom(provisioner, { ...request, subject, sans: [subject] }, target, ctx);
  const { csrPem, keyPem } = await createKeyAndRequest({ kty: 'EC', curve: 'P-256' }, adminRequestNames(subject, isJwkProvisioner(provisioner) ? 'jwk' : 'oidc'));
  const chain = chainPem(await target.client.sign({ csr: csrPem, ott: made.token }));
  const { facts } = leafFacts(chain, 'the admin certificate');
  const file = await keep(ctx.caPath, {
    caUrl: target.caUrl,
    subject,
    provisioner: provisioner.name,
    notAfter: facts.notAfter.toISOString(),
    certificate: chain,
    key: keyPem,
  });
  success(ctx.io, 'Admin', `${subject} (certificate kept until ${facts.notAfter.toISOString()})`);
  return { identity: { chainPem: chain, keyPem, subject }, file };
}

async function readGiven(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CaError(missing ? 'ERR_FILE_NOT_FOUND' : 'ERR_FILE_IO', missing ? `the file ${path} given to ${flag} does not exist` : `cannot read ${path} (${flag}): ${fileProblem(err)}`, {
      hint: `check the path given to ${flag}`,
    });
  }
}

/** The admin's certificate and key: given, kept from an earlier login, or from a new login. */
export async function adminIdentity(flags: AdminFlags, target: CaTarget, ctx: AdminCtx): Promise<AdminIdentity> {
  if ((flags.adminCert === undefined) !== (flags.adminKey === undefined)) {
    throw new UsageError(`flag '${flags.adminCert === undefined ? '--admin-key' : '--admin-cert'}' needs '${flags.adminCert === undefined ? '--admin-cert' : '--admin-key'}' too`, {
      hint: 'pass both the admin certificate and its key, or neither to log in',
    });
  }
  if (flags.adminCert !== undefined && flags.adminKey !== undefined) {
    const given = credentialsFrom(await readGiven(flags.adminCert, '--admin-cert'), await readGiven(flags.adminKey, '--admin-key'), {
      certFile: flags.adminCert,
      keyFile: flags.adminKey,
    });
    return { chainPem: given.chainPem, keyPem: given.keyPem, subject: flags.adminSubject ?? given.leaf.subject };
  }
  const kept = await readKept(ctx.caPath);
  const chosen = chooseKept(
    kept.map((k) => k.kept),
    { caUrl: target.caUrl, subject: flags.adminSubject, provisioner: flags.adminProvisioner },
    ctx.now(),
  );
  if (chosen) return { chainPem: chosen.certificate, keyPem: chosen.key, subject: chosen.subject };
  return (await login(flags, target, ctx)).identity;
}

/** The CA and its admin API, with the admin's credentials (logging in if need be). */
export async function adminSession(flags: AdminFlags & CaTargetFlags, ctx: AdminCtx, known?: CaTarget): Promise<{ target: CaTarget; admin: AdminClient }> {
  const target = known ?? (await resolveCaTarget({ caUrl: flags.caUrl, root: flags.root }, ctx));
  const identity = await adminIdentity(flags, target, ctx);
  return { target, admin: new AdminClient(target.caUrl, identity, target.fetch, ctx.now) };
}
