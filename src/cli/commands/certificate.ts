import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, collect, parseKeySize, rootOption } from '../flags.js';
import { askOverwrite, checkWritable, existingFiles, filesExist } from '../files.js';
import { result, status, success } from '../output.js';
import { writeFilesAtomic } from '../../config/atomic.js';
import { tryParseTimeOrDuration } from '../../config/duration.js';
import { envFlag, parseTimeout } from '../env-flags.js';
import { checkListenAddress } from '../../config/provisioner.js';
import { resolveCaTarget, type CaTarget } from '../../client/target.js';
import { chainPem, type RemoteProvisioner } from '../../client/ca-client.js';
import { checkTokenProvisioner, isJwkProvisioner, readGivenToken, type GivenToken } from '../../client/provisioners.js';
import { classifyName, createKeyAndRequest, keySpecFromFlags, oidcRequestNames, type RequestNames, type TokenIdentity } from '../../pki/request.js';
import { subjectAltNameValues } from '../../pki/inspect/extensions.js';
import { parseCertificate } from '../../pki/inspect/model.js';
import { commonName, ipString } from '../../pki/inspect/names.js';
import { ipAddressBytes } from '../../pki/certificate.js';
import { parsePem, type PemBlock } from '../../pki/pem.js';
import { missingError, pickProvisioner, planToken, tokenFrom, type Missing, type TokenCtx, type TokenPlan, type TokenRequest } from '../token-flow.js';

export interface CertificateOptions {
  /** Undefined in the two-argument form: the subject then comes from the ID token. */
  subject?: string;
  crtFile: string;
  keyFile: string;
  provisioner?: string;
  /** The JWK provisioner's password file. */
  provisionerPasswordFile?: string;
  sans: string[];
  notBefore?: string;
  notAfter?: string;
  kty?: string;
  curve?: string;
  size?: number;
  /** A token made elsewhere; '' (an unset variable) is an error, not "log in". */
  token?: string;
  console: boolean;
  listen?: string;
  force: boolean;
  caUrl?: string;
  root?: string;
  json: boolean;
  /** How long to wait for the login; unset: 2 minutes, 5 for the device flow. */
  timeoutMs?: number;
}

type CertificateCtx = TokenCtx & Pick<Ctx, 'caPath'>;

/** --not-before / --not-after: an RFC 3339 time or a Go duration, passed to the CA as given. */
function checkTime(value: string | undefined, flag: string): void {
  if (value === undefined || value === '') return;
  if (tryParseTimeOrDuration(value, new Date(0)) !== undefined) return;
  throw new UsageError(`invalid value '${value}' for flag '${flag}': expected an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (8h)`);
}

function subjectRequired(provisioner: string | undefined): Missing {
  const example = `ca certificate localhost localhost.crt localhost.key${provisioner ? ` --provisioner ${provisioner}` : ''}`;
  return {
    flag: 'SUBJECT',
    sentence: `a JWK ${provisioner ? `provisioner (${provisioner}) ` : 'token '}needs the SUBJECT argument, the name the certificate is for: ${example}`,
    short: 'the name the certificate is for',
    hint: 'only an OIDC login may leave SUBJECT out: the ID token names you',
  };
}

/** step's checks of a JWK token given with --token: the subject must be its `sub`, and its names are its own. */
function checkGivenJwkToken(token: GivenToken, opts: CertificateOptions): void {
  if (opts.subject === undefined) throw missingError([subjectRequired(undefined)]);
  const sub = String(token.claims.sub ?? '');
  if (sub !== opts.subject) {
    throw new UsageError(`token subject '${sub}' and argument '${opts.subject}' do not match`, {
      hint: `pass '${sub}' as SUBJECT, or make a token for '${opts.subject}' (ca token ${opts.subject})`,
    });
  }
  if (opts.sans.length > 0) {
    throw new UsageError("flag '--token' is incompatible with '--san'", {
      hint: `the token already holds the names; make it with them instead: ca token ${opts.subject} --san NAME`,
    });
  }
}

/** The identity in an OIDC ID token, which the request is built from. */
function identityOf(claims: Record<string, unknown>): TokenIdentity {
  const { sub, iss, email } = claims;
  if (typeof sub !== 'string' || typeof iss !== 'string') throw new UsageError('the token has no "sub" or "iss" claim: it is not an OIDC ID token');
  return { sub, iss, email: typeof email === 'string' ? email : undefined };
}

/** The names a JWK token allows: CN = its subject, SANs = its `sans` (step-ca requires exactly these). */
function jwkRequestNames(claims: Record<string, unknown>): RequestNames {
  const sans = Array.isArray(claims.sans) ? claims.sans.filter((s): s is string => typeof s === 'string') : [];
  return { commonName: String(claims.sub ?? ''), sans: sans.map(classifyName) };
}

/** A file name as a shell needs it, bare when it is plain. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** "in 24 hours", "in 5 minutes": how long a certificate has left, in words. */
export function timeLeft(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'in less than a minute';
  if (minutes < 120) return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  if (hours < 72) return `in ${hours} hours`;
  return `in ${Math.round(hours / 24)} days`;
}

interface Obtained {
  token: string;
  provisioner?: RemoteProvisioner;
  kind: 'jwk' | 'oidc';
  claims: Record<string, unknown>;
}

/**
 * Everything `ca certificate` needs before it makes a key: the token (given, made with a JWK key,
 * or from a login). With no terminal every missing flag is reported at once, before any login.
 */
async function obtain(opts: CertificateOptions, given: GivenToken | undefined, target: CaTarget, ctx: CertificateCtx): Promise<Obtained> {
  const existing = existingFiles([opts.crtFile, opts.keyFile], opts.force);
  const request: TokenRequest = {
    provisioner: opts.provisioner,
    passwordFile: opts.provisionerPasswordFile,
    passwordFlag: '--provisioner-password-file',
    purpose: 'sign',
    subject: opts.subject,
    sans: opts.sans,
    console: opts.console,
    listen: opts.listen,
    timeoutMs: opts.timeoutMs,
    tokenFlag: '--token',
  };
  let plan: TokenPlan | undefined;
  if (given) {
    if (opts.provisioner !== undefined) {
      // An OIDC token names its provisioner by client ID: only the CA's list says whose that is.
      checkTokenProvisioner(given, opts.provisioner, given.kind === 'oidc' ? await target.client.provisioners() : undefined);
    }
  } else {
    plan = await planToken(request, target, ctx);
  }
  if (!ctx.prompter.interactive) {
    const missing = existing.length > 0 ? [filesExist(existing)] : [];
    const only = plan?.candidates.length === 1 ? plan.candidates[0] : undefined;
    if (only && isJwkProvisioner(only) && opts.subject === undefined) missing.push(subjectRequired(only.name));
    missing.push(...(plan?.missing ?? []));
    if (missing.length > 0) throw missingError(missing);
  }
  await askOverwrite(existing, ctx);

  if (given) return { token: opts.token?.trim() ?? '', kind: given.kind, claims: given.claims };
  const provisioner = await pickProvisioner((plan as TokenPlan).candidates, ctx);
  if (isJwkProvisioner(provisioner) && opts.subject === undefined) throw missingError([subjectRequired(provisioner.name)]);
  const made = await tokenFrom(provisioner, request, target, ctx);
  return { token: made.token, provisioner, kind: made.kind, claims: made.kind === 'jwk' ? readGivenToken(made.token).claims : (made.idClaims ?? {}) };
}

export async function certificateRun(opts: CertificateOptions, ctx: CertificateCtx): Promise<void> {
  const keySpec = keySpecFromFlags(opts.kty, opts.curve, opts.size);
  checkTime(opts.notBefore, '--not-before');
  checkTime(opts.notAfter, '--not-after');
  if (opts.listen) checkListenAddress(opts.listen, '--listen');
  if (opts.crtFile === opts.keyFile) throw new UsageError('the certificate and the key must go to different files');
  // An empty --token (an unset CA_TOKEN in CI) is a mistake to report, not a reason to log in.
  const given = opts.token !== undefined ? readGivenToken(opts.token) : undefined;
  if (given?.kind === 'jwk') checkGivenJwkToken(given, opts);
  await checkWritable([opts.crtFile, opts.keyFile]);
  const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);

  const { token, provisioner, kind, claims } = await obtain(opts, given, target, ctx);
  let names: RequestNames;
  if (kind === 'jwk') {
    names = jwkRequestNames(claims);
  } else {
    const id = identityOf(claims);
    let subject = opts.subject;
    if (subject === undefined) {
      subject = id.email ?? id.sub;
      success(ctx.io, 'Subject', `${subject} (the ${id.email ? 'email' : 'subject'} in the ID token)`);
    }
    names = oidcRequestNames(subject, opts.sans, id);
  }
  const { csrPem, keyPem } = await createKeyAndRequest(keySpec, names);

  const signed = await target.client.sign({ csr: csrPem, ott: token, notBefore: opts.notBefore, notAfter: opts.notAfter });
  success(ctx.io, 'CA', target.caUrl);
  await writeFilesAtomic([
    { path: opts.crtFile, data: chainPem(signed), mode: 0o600 },
    { path: opts.keyFile, data: keyPem, mode: 0o600 },
  ]);
  success(ctx.io, 'Certificate', opts.crtFile);
  success(ctx.io, 'Private Key', opts.keyFile);

  const leaf = parseCertificate((parsePem(signed.crt, 'the CA\'s answer')[0] as PemBlock).der);
  status(ctx.io, `The certificate expires at ${leaf.notAfter.toISOString().replace(/\.000Z$/, 'Z')} (${timeLeft(leaf.notAfter.getTime() - ctx.now().getTime())}); to keep it fresh, run:`);
  status(ctx.io, `  ca renew --daemon ${shellWord(opts.crtFile)} ${shellWord(opts.keyFile)}`);
  const issuedNames = subjectAltNameValues(leaf.extensions);
  const left = leftOut(names, issuedNames);
  if (left.length > 0) {
    // step-ca (unlike `ca serve`, which refuses) silently gives a non-admin the names in the ID token.
    status(ctx.io, `warning: the CA left out ${left.join(', ')}; the certificate names ${issuedNames.join(', ') || 'nothing'} (a non-admin gets the names in their ID token: ask an admin to make you an admin of the provisioner)`);
  }

  if (opts.json) {
    result(
      ctx.io,
      JSON.stringify(
        {
          certificate: opts.crtFile,
          key: opts.keyFile,
          serial: leaf.serial.toString(10),
          subject: commonName(leaf.subject),
          sans: issuedNames,
          notBefore: leaf.notBefore.toISOString(),
          notAfter: leaf.notAfter.toISOString(),
          provisioner: provisioner?.name ?? (kind === 'jwk' ? String(claims.iss ?? '') : undefined),
          ca: target.caUrl,
        },
        null,
        2,
      ),
    );
  }
}

/** The requested names that the issued certificate does not carry (case-insensitive; IPs in the certificate's spelling). */
export function leftOut(requested: RequestNames, issued: readonly string[]): string[] {
  const have = new Set(issued.map((v) => v.toLowerCase()));
  const spelled = (n: RequestNames['sans'][number]): string => (n.type === 'ip' ? ipString(ipAddressBytes(n.value)) : n.value).toLowerCase();
  return requested.sans.filter((n) => !have.has(spelled(n))).map((n) => n.value);
}

/** The positional arguments: `SUBJECT CRT KEY`, or `CRT KEY` (the subject then comes from the ID token). */
export function splitArguments(args: (string | undefined)[]): { subject?: string; crtFile: string; keyFile: string } {
  const given = args.filter((a): a is string => a !== undefined);
  if (given.length === 3) return { subject: given[0], crtFile: given[1] as string, keyFile: given[2] as string };
  if (given.length === 2) return { crtFile: given[0] as string, keyFile: given[1] as string };
  throw new UsageError(`ca certificate takes [SUBJECT] CRT KEY: ${given.length === 0 ? 'the certificate and key files are missing' : 'the key file is missing'}`, {
    hint: 'for example: ca certificate alice.crt alice.key (your login names you), or ca certificate localhost localhost.crt localhost.key',
  });
}

export function create(ctx: Ctx, run = certificateRun): Command {
  return new Command('certificate')
    .summary('log in and get a certificate (single sign-on, or a JWK provisioner key)')
    .description(
      "Get a certificate from the CA, as 'step ca certificate' does: pick a provisioner, prove who you are, make a key and a certificate request on this machine, and save the certificate chain and the key. With an OIDC provisioner you log in at your identity provider in the browser (or on the console, or pass an ID token with --token in CI); SUBJECT may be left out: your email (else your IdP user ID) from the ID token is used, and the certificate names your IdP user ID, your email and the iss#sub URI. With a JWK provisioner (its password from --provisioner-password-file, or asked) or a token from 'ca token', the certificate is for SUBJECT and the --san names (default SUBJECT): the way a server gets its certificate.",
    )
    .usage('[options] [subject] <crt-file> <key-file>')
    .argument('[subject]', 'who the certificate is for: your email (may be left out with OIDC), or a host name with a JWK provisioner')
    .argument('[crt-file]', 'where to save the certificate chain (leaf + intermediate)')
    .argument('[key-file]', 'where to save the private key (unencrypted, mode 0600)')
    .option('--provisioner <name>', 'the provisioner to use (default: the only one, or ask); with --token, the one the token must be for')
    .addOption(new Option('--issuer <name>', 'alias of --provisioner').hideHelp())
    .option('--provisioner-password-file <file>', "a file holding the JWK provisioner's password (asked for on a terminal otherwise)")
    .option('--san <name>', 'a name for the certificate (repeatable; OIDC: admins only, unless it is your own)', collect)
    .option('--not-before <time|duration>', 'when the certificate starts being valid: RFC 3339 time or a duration from now')
    .option('--not-after <time|duration>', 'when it expires: RFC 3339 time or a duration, e.g. 8h (default: the provisioner\'s)')
    .addOption(new Option('--kty <type>', 'the type of the new key; OKP means Ed25519').choices(['EC', 'RSA', 'OKP']).default('EC'))
    .option('--curve <curve>', 'EC curve P-256 (default), P-384, P-521; or Ed25519 with --kty OKP')
    .addOption(new Option('--crv <curve>').hideHelp())
    .option('--size <bits>', 'RSA key size (default 2048)', parseKeySize)
    .addOption(new Option('--token <jwt>', "a token to use instead of logging in: an ID token (CI) or one from 'ca token'; no browser, no prompt").env('CA_TOKEN'))
    .option('--console', 'log in without a local browser: device code, or paste the redirect URL (or CA_CONSOLE=true)')
    .addOption(new Option('--listen <host:port>', "the loopback address for the login callback (default: the provisioner's, or a random port)").env('CA_LISTEN'))
    .option('-f, --force', 'overwrite existing files without asking', false)
    .addOption(caUrlOption())
    .addOption(rootOption())
    .option('--json', 'print what was written as JSON on standard output', false)
    .option('--timeout <duration>', 'how long to wait for the login (default: 2m; 5m for the device flow)')
    .addHelpText(
      'after',
      `
Examples:
  # Log in in the browser and get a certificate for yourself (named by your login)
  $ ca certificate developer.crt developer.key

  # The same, saying who you are
  $ ca certificate alice@example.com alice.crt alice.key

  # On a server over SSH: show a code to enter on another device
  $ ca certificate alice@example.com alice.crt alice.key --console

  # A server's certificate, from the JWK provisioner 'ca init' made
  $ ca certificate localhost localhost.crt localhost.key --provisioner admin --provisioner-password-file pw.txt

  # With a token made elsewhere by 'ca token' (no password on this machine)
  $ ca certificate api.internal api.crt api.key --token "$(cat api.token)"

  # In CI, with an ID token from the CI's own OIDC issuer
  $ ca certificate ci@example.com ci.crt ci.key --token "$ID_TOKEN" --provisioner GitHub

  # An OIDC admin asking for a service name, valid 8 hours
  $ ca certificate api.internal api.crt api.key --san api.internal --san 10.0.0.7 --not-after 8h

With no terminal (or CI=true) nothing is asked and no login starts by itself: pass --token, --console,
or set CA_OPEN_BROWSER=1; every missing flag is named at once.

Environment: CA_URL, CA_ROOT, CA_TOKEN, CA_CONSOLE, CA_LISTEN, CA_OPEN_BROWSER=0 or false (print the URL
instead of opening a browser; 1 or true: open one even with no terminal), BROWSER (the command that
opens it), HTTPS_PROXY / NO_PROXY.`,
    )
    .action(async (a: string | undefined, b: string | undefined, c: string | undefined, o: Record<string, unknown>) => {
      await run(
        {
          ...splitArguments([a, b, c]),
          provisioner: (o.provisioner ?? o.issuer) as string | undefined,
          provisionerPasswordFile: o.provisionerPasswordFile as string | undefined,
          sans: (o.san as string[] | undefined) ?? [],
          notBefore: o.notBefore as string | undefined,
          notAfter: o.notAfter as string | undefined,
          kty: o.kty as string,
          curve: (o.curve ?? o.crv) as string | undefined,
          size: o.size as number | undefined,
          token: o.token as string | undefined,
          console: o.console === true || envFlag(ctx.env.CA_CONSOLE) === true,
          listen: o.listen as string | undefined,
          force: Boolean(o.force),
          caUrl: o.caUrl as string | undefined,
          root: o.root as string | undefined,
          json: Boolean(o.json),
          timeoutMs: o.timeout === undefined ? undefined : parseTimeout(o.timeout as string, '--timeout'),
        },
        ctx,
      );
    });
}
