import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { decodeJwt } from 'jose';
import { CaError, UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, collect, rootOption } from '../flags.js';
import { result, success } from '../output.js';
import { writeFilesAtomic } from '../../config/atomic.js';
import { tryParseTimeOrDuration } from '../../config/duration.js';
import { envFlag, parseTimeout } from '../env-flags.js';
import { checkListenAddress } from '../../config/provisioner.js';
import { resolveCaTarget, type CaTarget } from '../../client/target.js';
import type { RemoteProvisioner, SignResult } from '../../client/ca-client.js';
import { createKeyAndRequest, keySpecFromFlags, oidcRequestNames, type TokenIdentity } from '../../pki/request.js';
import { x509 } from '../../pki/crypto.js';

export interface CertificateOptions {
  subject: string;
  crtFile: string;
  keyFile: string;
  provisioner?: string;
  sans: string[];
  notBefore?: string;
  notAfter?: string;
  kty?: string;
  curve?: string;
  size?: number;
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

type CertificateCtx = Pick<Ctx, 'io' | 'env' | 'now' | 'fetch' | 'prompter' | 'caPath'> & {
  /** Opens the login page; tests pass one that drives a real headless browser. */
  openBrowser?: (url: string) => Promise<boolean>;
};

/** step's label for a provisioner in its picker and in the `✔ Provisioner:` line. */
export function provisionerLabel(p: RemoteProvisioner): string {
  const type = p.type.toUpperCase();
  if (type === 'OIDC') return `${p.name} (OIDC) [client: ${p.clientID ?? ''}]`;
  if (type === 'JWK') return `${p.name} (JWK) [kid: ${p.key?.kid ?? ''}]`;
  if (type === 'AZURE') return `${p.name} (Azure) [tenant: ${p.tenantID ?? ''}]`;
  return `${p.name} (${p.type})`;
}

/** --not-before / --not-after: an RFC 3339 time or a Go duration, passed to the CA as given. */
function checkTime(value: string | undefined, flag: string): void {
  if (value === undefined || value === '') return;
  if (tryParseTimeOrDuration(value, new Date(0)) !== undefined) return;
  throw new UsageError(`invalid value '${value}' for flag '${flag}': expected an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (8h)`);
}

/** Before anyone logs in: the files' directories must exist and be writable. */
async function checkWritable(files: string[]): Promise<void> {
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

/** Existing output files need --force or a yes; asked before the login so nobody logs in for nothing. */
async function confirmOverwrite(files: string[], force: boolean, ctx: CertificateCtx): Promise<void> {
  for (const file of files) {
    if (force || !existsSync(file)) continue;
    const yes = await ctx.prompter.confirm(`Would you like to overwrite ${file}?`, { flag: '--force' });
    if (!yes) throw new CaError('ERR_FILE_EXISTS', `${file} already exists`, { hint: 'pass --force to overwrite it' });
  }
}

async function chooseProvisioner(target: CaTarget, wanted: string | undefined, ctx: CertificateCtx): Promise<RemoteProvisioner> {
  const all = await target.client.provisioners();
  if (all.length === 0) throw new CaError('ERR_PROVISIONER_NOT_FOUND', 'cannot create a new token: the CA does not have any provisioner configured');
  const oidc = all.filter((p) => p.type.toUpperCase() === 'OIDC');
  if (wanted !== undefined) {
    const named = all.find((p) => p.name === wanted);
    if (!named) {
      throw new UsageError(`invalid value '${wanted}' for flag '--provisioner'`, {
        hint: `the CA has: ${all.map((p) => p.name).join(', ')}`,
      });
    }
    if (named.type.toUpperCase() !== 'OIDC') {
      throw new UsageError(`provisioner ${wanted} is of type ${named.type}; ca certificate logs in with OIDC provisioners`, {
        hint: 'for other provisioners get a token elsewhere and pass it with --token',
      });
    }
    return named;
  }
  if (oidc.length === 0) {
    throw new CaError('ERR_PROVISIONER_NOT_FOUND', 'the CA has no OIDC provisioner to log in with', {
      hint: "an admin adds one with 'ca provisioner add NAME --type OIDC ...'; or pass a token with --token",
    });
  }
  if (oidc.length === 1) return oidc[0] as RemoteProvisioner;
  return ctx.prompter.select(
    'What provisioner key do you want to use?',
    oidc.map((p) => ({ name: provisionerLabel(p), value: p })),
    { flag: '--provisioner' },
  );
}

function identityOf(token: string): TokenIdentity {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new UsageError('the token is not a JWT', { hint: 'pass the ID token itself (three base64url parts separated by dots)' });
  }
  const { sub, iss, email } = claims;
  if (typeof sub !== 'string' || typeof iss !== 'string') throw new UsageError('the token has no "sub" or "iss" claim: it is not an OIDC ID token');
  return { sub, iss, email: typeof email === 'string' ? email : undefined };
}

async function getToken(opts: CertificateOptions, target: CaTarget, ctx: CertificateCtx): Promise<{ token: string; provisioner?: RemoteProvisioner }> {
  if (opts.token) return { token: opts.token };
  const provisioner = await chooseProvisioner(target, opts.provisioner, ctx);
  success(ctx.io, 'Provisioner', provisionerLabel(provisioner));
  if (!provisioner.configurationEndpoint || !provisioner.clientID) {
    throw new CaError('ERR_PROVISIONER_INVALID', `provisioner ${provisioner.name} has no configurationEndpoint or clientID`);
  }
  // The OIDC client is loaded only when a login happens: --token runs in CI never need it.
  const { login } = await import('../../oidc/index.js');
  const { openBrowser } = await import('../../oidc/browser.js');
  const { idToken } = await login(
    {
      configurationEndpoint: provisioner.configurationEndpoint,
      clientId: provisioner.clientID,
      clientSecret: provisioner.clientSecret,
      tenantId: provisioner.tenantID,
      scopes: provisioner.scopes,
      authParams: provisioner.authParams,
      listen: opts.listen ?? provisioner.listenAddress,
      console: opts.console,
      timeoutMs: opts.timeoutMs,
    },
    { fetch: ctx.fetch, now: ctx.now, io: ctx.io, env: ctx.env, prompter: ctx.prompter, openBrowser: ctx.openBrowser ?? ((url) => openBrowser(url, ctx.env)) },
  );
  return { token: idToken, provisioner };
}

function chainPem(signed: SignResult): string {
  const chain = signed.certChain?.length ? signed.certChain : [signed.crt, signed.ca];
  return chain.map((c) => `${c.trim()}\n`).join('');
}

export async function certificateRun(opts: CertificateOptions, ctx: CertificateCtx): Promise<void> {
  const keySpec = keySpecFromFlags(opts.kty, opts.curve, opts.size);
  checkTime(opts.notBefore, '--not-before');
  checkTime(opts.notAfter, '--not-after');
  if (opts.listen) checkListenAddress(opts.listen, '--listen');
  if (opts.crtFile === opts.keyFile) throw new UsageError('the certificate and the key must go to different files');
  await checkWritable([opts.crtFile, opts.keyFile]);
  const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);
  await confirmOverwrite([opts.crtFile, opts.keyFile], opts.force, ctx);

  const { token, provisioner } = await getToken(opts, target, ctx);
  const names = oidcRequestNames(opts.subject, opts.sans, identityOf(token));
  const { csrPem, keyPem } = await createKeyAndRequest(keySpec, names);

  success(ctx.io, 'CA', target.caUrl);
  const signed = await target.client.sign({ csr: csrPem, ott: token, notBefore: opts.notBefore, notAfter: opts.notAfter });
  await writeFilesAtomic([
    { path: opts.crtFile, data: chainPem(signed), mode: 0o600 },
    { path: opts.keyFile, data: keyPem, mode: 0o600 },
  ]);
  success(ctx.io, 'Certificate', opts.crtFile);
  success(ctx.io, 'Private Key', opts.keyFile);

  if (opts.json) {
    const leaf = new x509.X509Certificate(signed.crt);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    result(
      ctx.io,
      JSON.stringify(
        {
          certificate: opts.crtFile,
          key: opts.keyFile,
          serial: BigInt(`0x${leaf.serialNumber}`).toString(10),
          subject: leaf.subjectName.getField('CN')[0] ?? '',
          sans: san ? san.names.items.map((n) => n.value) : [],
          notBefore: leaf.notBefore.toISOString(),
          notAfter: leaf.notAfter.toISOString(),
          provisioner: provisioner?.name,
          ca: target.caUrl,
        },
        null,
        2,
      ),
    );
  }
}

function parseSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`invalid value '${value}' for flag '--size': expected a number of bits`);
  return n;
}

export function create(ctx: Ctx, run = certificateRun): Command {
  return new Command('certificate')
    .summary('log in and get a certificate (single sign-on)')
    .description(
      "Get a certificate for SUBJECT from the CA, as 'step ca certificate' does: pick a provisioner, log in at your identity provider in the browser (or on the console, or with --token in CI), make a key and a certificate request on this machine, and save the certificate chain and the key. For an OIDC login the usual SUBJECT is your own email: the certificate then names your IdP user ID, your email and the iss#sub URI.",
    )
    .argument('<subject>', 'who the certificate is for: your email, or (admins) any name')
    .argument('<crt-file>', 'where to save the certificate chain (leaf + intermediate)')
    .argument('<key-file>', 'where to save the private key (unencrypted, mode 0600)')
    .option('--provisioner <name>', 'the provisioner to use (default: the only OIDC one, or ask)')
    .addOption(new Option('--issuer <name>', 'alias of --provisioner').hideHelp())
    .option('--san <name>', 'a name for the certificate (repeatable; admins only, unless it is your own)', collect)
    .option('--not-before <time|duration>', 'when the certificate starts being valid: RFC 3339 time or a duration from now')
    .option('--not-after <time|duration>', 'when it expires: RFC 3339 time or a duration, e.g. 8h (default: the provisioner\'s)')
    .addOption(new Option('--kty <type>', 'the type of the new key; OKP means Ed25519').choices(['EC', 'RSA', 'OKP']).default('EC'))
    .option('--curve <curve>', 'EC curve P-256 (default), P-384, P-521; or Ed25519 with --kty OKP')
    .addOption(new Option('--crv <curve>').hideHelp())
    .option('--size <bits>', 'RSA key size (default 2048)', parseSize)
    .addOption(new Option('--token <jwt>', 'an ID token to use instead of logging in (CI): no browser, no prompt').env('CA_TOKEN'))
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
  # Log in in the browser and get a certificate for yourself
  $ ca certificate alice@example.com alice.crt alice.key

  # On a server over SSH: show a code to enter on another device
  $ ca certificate alice@example.com alice.crt alice.key --console

  # In CI, with an ID token from the CI's own OIDC issuer
  $ ca certificate ci@example.com ci.crt ci.key --token "$ID_TOKEN" --provisioner GitHub

  # An admin asking for a service name, valid 8 hours
  $ ca certificate api.internal api.crt api.key --san api.internal --san 10.0.0.7 --not-after 8h

Environment: CA_URL, CA_ROOT, CA_TOKEN, CA_CONSOLE, CA_LISTEN, CA_OPEN_BROWSER=0 or false (print the URL
instead of opening a browser), BROWSER (the command that opens it), HTTPS_PROXY / NO_PROXY.`,
    )
    .action(async (subject: string, crtFile: string, keyFile: string, o: Record<string, unknown>) => {
      await run(
        {
          subject,
          crtFile,
          keyFile,
          provisioner: (o.provisioner ?? o.issuer) as string | undefined,
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
