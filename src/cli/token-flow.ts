/**
 * Getting a token from one of the CA's provisioners, as step's token flow does, for every command
 * that needs one (`ca token`, `ca certificate`, `ca revoke`): list the CA's provisioners, pick one
 * (`--provisioner`, `--kid`, or a picker), then either sign a one-time token with a JWK
 * provisioner's key (decrypted with its password) or log in at an OIDC provisioner's IdP.
 *
 * Without a terminal (or with CI=true) nothing is asked: `planToken` lists every flag that would
 * be needed, so a command can report them all at once together with its own.
 */
import { CaError, UsageError } from '../errors.js';
import { tryParseTimeOrDuration } from '../config/duration.js';
import type { Ctx } from './context.js';
import { envFlag } from './env-flags.js';
import { readPasswordFile } from './flags.js';
import { success } from './output.js';
import type { RemoteProvisioner } from '../client/ca-client.js';
import type { CaTarget } from '../client/target.js';
import { isJwkProvisioner, provisionerLabel, tokenProvisioners } from '../client/provisioners.js';
import { makeJwkToken, revokeAudience, rootFingerprintOf, signAudience } from '../client/token.js';

/** Something a command needs and, with no terminal, cannot ask for. */
export interface Missing {
  /** The flag (or argument) that supplies it. */
  flag: string;
  /** The whole sentence, when it is the only thing missing: `alice.crt exists; pass --force to overwrite`. */
  sentence: string;
  /** A few words for a list of several: `alice.crt exists`. */
  short: string;
  /** What to do, when it is more than passing the flag or asking on a terminal. */
  hint?: string;
}

/** One error for everything missing: the sentence for one, a list for several. */
export function missingError(missing: Missing[]): CaError {
  const hint = 'with a terminal (and without CI=true) ca asks instead';
  const [only] = missing;
  if (only && missing.length === 1) return new CaError('ERR_MISSING_FLAG', only.sentence, { exitCode: 2, hint: only.hint ?? hint });
  const list = missing.map((m) => `${m.flag} (${m.short})`).join('; ');
  return new CaError('ERR_MISSING_FLAG', `missing ${missing.length} things, and there is no terminal to ask for them: ${list}`, {
    exitCode: 2,
    hint: `pass them all; ${hint}`,
  });
}

export type TokenCtx = Pick<Ctx, 'io' | 'env' | 'now' | 'fetch' | 'prompter'> & {
  /** Opens the login page; tests pass one that drives a real headless browser. */
  openBrowser?: (url: string) => Promise<boolean>;
};

export interface TokenRequest {
  /** `--provisioner NAME`. */
  provisioner?: string;
  /** The flag that names the provisioner, for messages and the picker (default `--provisioner`; the admin login's is `--admin-provisioner`). */
  provisionerFlag?: string;
  /** `--kid`: a JWK key id or an OIDC client ID. */
  kid?: string;
  /** The JWK provisioner's password file; asked for on a terminal when absent. */
  passwordFile?: string;
  /** The flag that gives it, for messages (`--password-file`, `--provisioner-password-file`). */
  passwordFlag: string;
  /** A sign token (audience `.../1.0/sign`) or a revoke token (`.../1.0/revoke`, no names). */
  purpose: 'sign' | 'revoke';
  /** `sub`: the certificate's subject, or the serial to revoke. A JWK token needs one. */
  subject?: string;
  /** Names for a sign token; default `[subject]`. */
  sans: string[];
  /**
   * The token's own validity (`nbf`, `exp`), as `--not-before`/`--not-after` give it: an RFC 3339
   * time or a duration from the moment the token is made. Default: now to 5 minutes later.
   */
  notBefore?: string;
  notAfter?: string;
  /** OIDC: log in without a browser on this machine. */
  console: boolean;
  listen?: string;
  timeoutMs?: number;
  /** How else the command takes a token, offered when it cannot log in (`--token` for `ca certificate`). */
  tokenFlag?: string;
}

export interface MadeToken {
  token: string;
  provisioner: RemoteProvisioner;
  kind: 'jwk' | 'oidc';
  /** The checked claims of an OIDC ID token (email, sub, ...); undefined for a JWK token. */
  idClaims?: Record<string, unknown>;
}

/** --not-before / --not-after of a token: an RFC 3339 time, or a Go duration from `now`. */
export function tokenTime(value: string | undefined, flag: string, now: Date): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const time = tryParseTimeOrDuration(value, now);
  if (!time) throw new UsageError(`invalid value '${value}' for flag '${flag}': expected an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (5m)`);
  return time;
}

/** The provisioners to choose from, and what would be missing to use them with no terminal. */
export interface TokenPlan {
  candidates: RemoteProvisioner[];
  /** Empty on a terminal: there the questions are asked. */
  missing: Missing[];
}

/** With no terminal, an OIDC login starts only when asked for: --console, or CA_OPEN_BROWSER=1. */
export function loginAllowed(req: Pick<TokenRequest, 'console'>, ctx: Pick<TokenCtx, 'prompter' | 'env'>): boolean {
  return ctx.prompter.interactive || req.console || envFlag(ctx.env.CA_OPEN_BROWSER) === true;
}

function loginMissing(req: TokenRequest): Missing {
  const ways = `${req.tokenFlag ? `pass ${req.tokenFlag} with a token, ` : ''}pass --console to log in on another device, or set CA_OPEN_BROWSER=1 to open a browser anyway`;
  return {
    flag: req.tokenFlag ?? '--console',
    sentence: `there is no terminal (or CI=true), so ca starts no login by itself: ${ways}`,
    short: 'no terminal to log in from',
  };
}

function passwordMissing(p: RemoteProvisioner, req: TokenRequest): Missing {
  return {
    flag: req.passwordFlag,
    sentence: `the key of provisioner ${p.name} needs its password: pass ${req.passwordFlag} FILE`,
    short: `the password of provisioner ${p.name}`,
  };
}

/** List the CA's provisioners, keep the ones the flags allow, and (no terminal) say what is missing. */
export async function planToken(req: TokenRequest, target: CaTarget, ctx: TokenCtx): Promise<TokenPlan> {
  const candidates = tokenProvisioners(await target.client.provisioners(), { name: req.provisioner, kid: req.kid });
  const missing: Missing[] = [];
  if (!ctx.prompter.interactive) {
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (!only) {
      const names = candidates.map((p) => p.name).join(', ');
      const flag = req.provisionerFlag ?? '--provisioner';
      missing.push({
        flag,
        sentence: `the CA has ${candidates.length} provisioners to choose from (${names}): pass ${flag} NAME`,
        short: `the CA has ${names}`,
      });
    } else if (isJwkProvisioner(only)) {
      if (!req.passwordFile) missing.push(passwordMissing(only, req));
    } else if (!loginAllowed(req, ctx)) {
      missing.push(loginMissing(req));
    }
  }
  return { candidates, missing };
}

/** The picked provisioner: the only one, or the user's choice, announced as step does. */
export async function pickProvisioner(candidates: RemoteProvisioner[], ctx: Pick<TokenCtx, 'io' | 'prompter'>, flag = '--provisioner'): Promise<RemoteProvisioner> {
  const chosen =
    candidates.length === 1
      ? (candidates[0] as RemoteProvisioner)
      : await ctx.prompter.select(
          'What provisioner key do you want to use?',
          candidates.map((p) => ({ name: provisionerLabel(p), value: p })),
          { flag },
        );
  success(ctx.io, 'Provisioner', provisionerLabel(chosen));
  return chosen;
}

/** The provisioner's password: from the file, or asked for (no echo). */
async function provisionerPassword(p: RemoteProvisioner, req: TokenRequest, ctx: Pick<TokenCtx, 'prompter'>): Promise<string> {
  if (req.passwordFile) return readPasswordFile(req.passwordFile);
  if (!ctx.prompter.interactive) throw missingError([passwordMissing(p, req)]);
  return ctx.prompter.password('Please enter the password to decrypt the provisioner key:', {
    flag: req.passwordFlag,
    validate: (v) => (v ? true : 'the password cannot be empty'),
  });
}

/** A one-time token signed with the JWK provisioner's key. */
async function jwkToken(p: RemoteProvisioner, req: TokenRequest, target: CaTarget, ctx: TokenCtx): Promise<string> {
  if (req.subject === undefined || req.subject === '') throw new CaError('ERR_USAGE', 'a JWK token needs a subject', { exitCode: 2 });
  // step-ca lists the encrypted key with the provisioner; a CA that leaves it out serves it by kid
  // (404 when it has none: then openProvisionerKey says the key is not in ca.json).
  const kid = p.key?.kid;
  const encryptedKey =
    p.encryptedKey ??
    (kid ? await target.client.provisionerKey(kid).catch((err: unknown) => (err instanceof CaError && err.status === 404 ? undefined : Promise.reject(err))) : undefined);
  const password = await provisionerPassword(p, req, ctx);
  const now = ctx.now();
  return makeJwkToken({
    provisioner: { name: p.name, key: p.key, encryptedKey },
    password,
    subject: req.subject,
    audience: req.purpose === 'revoke' ? revokeAudience(target.caUrl) : signAudience(target.caUrl),
    sans: req.purpose === 'revoke' ? undefined : req.sans,
    notBefore: tokenTime(req.notBefore, '--not-before', now),
    notAfter: tokenTime(req.notAfter, '--not-after', now),
    rootFingerprint: rootFingerprintOf(target.rootPem, target.rootPath),
    now,
  });
}

/** An ID token from the OIDC provisioner's IdP: the browser login, or the console one. */
async function oidcToken(p: RemoteProvisioner, req: TokenRequest, ctx: TokenCtx): Promise<{ token: string; claims: Record<string, unknown> }> {
  if (!loginAllowed(req, ctx)) throw missingError([loginMissing(req)]);
  if (!p.configurationEndpoint || !p.clientID) {
    throw new CaError('ERR_PROVISIONER_INVALID', `provisioner ${p.name} has no configurationEndpoint or clientID`);
  }
  // The OIDC client is loaded only when a login happens: JWK and --token runs never need it.
  const { login } = await import('../oidc/index.js');
  const { openBrowser } = await import('../oidc/browser.js');
  const { idToken, claims } = await login(
    {
      configurationEndpoint: p.configurationEndpoint,
      clientId: p.clientID,
      clientSecret: p.clientSecret,
      tenantId: p.tenantID,
      scopes: p.scopes,
      authParams: p.authParams,
      listen: req.listen ?? p.listenAddress,
      console: req.console,
      timeoutMs: req.timeoutMs,
    },
    { fetch: ctx.fetch, now: ctx.now, io: ctx.io, env: ctx.env, prompter: ctx.prompter, openBrowser: ctx.openBrowser ?? ((url) => openBrowser(url, ctx.env)) },
  );
  return { token: idToken, claims };
}

/** Pick the provisioner (or take the only one) and get its token. */
export async function runToken(plan: TokenPlan, req: TokenRequest, target: CaTarget, ctx: TokenCtx): Promise<MadeToken> {
  const provisioner = await pickProvisioner(plan.candidates, ctx);
  return tokenFrom(provisioner, req, target, ctx);
}

/** The token of a provisioner already picked. */
export async function tokenFrom(provisioner: RemoteProvisioner, req: TokenRequest, target: CaTarget, ctx: TokenCtx): Promise<MadeToken> {
  if (isJwkProvisioner(provisioner)) return { token: await jwkToken(provisioner, req, target, ctx), provisioner, kind: 'jwk' };
  const { token, claims } = await oidcToken(provisioner, req, ctx);
  return { token, provisioner, kind: 'oidc', idClaims: claims };
}

/**
 * Everything at once, for a command with nothing else to ask: plan, fail listing what is
 * missing (no terminal), pick, make the token. This is what `ca token` and `ca revoke` call.
 */
export async function obtainToken(req: TokenRequest, target: CaTarget, ctx: TokenCtx): Promise<MadeToken> {
  const plan = await planToken(req, target, ctx);
  if (plan.missing.length > 0) throw missingError(plan.missing);
  return runToken(plan, req, target, ctx);
}
