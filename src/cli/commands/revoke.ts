import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, rootOption } from '../flags.js';
import { status, success } from '../output.js';
import { envFlag, parseTimeout } from '../env-flags.js';
import { readCredentials } from '../lifecycle.js';
import { obtainToken, type TokenCtx } from '../token-flow.js';
import { readGivenToken } from '../../client/provisioners.js';
import { mutualTlsClient, resolveCaTarget } from '../../client/target.js';
import { parseReasonCode, parseSerial } from '../../pki/revocation.js';

export interface RevokeOptions {
  serial?: string;
  reason?: string;
  reasonCode?: string;
  token?: string;
  cert?: string;
  key?: string;
  provisioner?: string;
  passwordFile?: string;
  console: boolean;
  listen?: string;
  timeoutMs?: number;
  caUrl?: string;
  root?: string;
}

/** Whether a token's subject names `serial`, decimal or 0x hex alike. */
function sameSerial(subject: string, serial: string): boolean {
  try {
    return parseSerial(subject) === serial;
  } catch {
    return false;
  }
}

/**
 * step's check before sending: a revoke token names the serial it may revoke. An OIDC admin's ID
 * token names the admin, so only revoke tokens (audience .../revoke) are compared.
 */
function checkTokenSubject(token: string, serial: string): void {
  const { claims } = readGivenToken(token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const isRevokeToken = audiences.some((a) => typeof a === 'string' && /\/revoke$/.test(a));
  if (isRevokeToken && typeof claims.sub === 'string' && !sameSerial(claims.sub, serial)) {
    throw new UsageError(`token subject '${claims.sub}' and serial number '${serial}' do not match`, {
      hint: `make a revoke token for ${serial}: ca token --revoke ${serial}`,
    });
  }
}

export async function revokeRun(opts: RevokeOptions, ctx: TokenCtx & Pick<Ctx, 'caPath'>): Promise<void> {
  const reasonCode = parseReasonCode(opts.reasonCode);
  const byCertificate = opts.cert !== undefined || opts.key !== undefined;
  let serial: string;
  if (byCertificate) {
    if (opts.cert === undefined) throw new UsageError("flag '--key' requires the '--cert' flag");
    if (opts.key === undefined) throw new UsageError("flag '--cert' requires the '--key' flag");
    if (opts.token !== undefined) throw new UsageError("flag '--cert' is incompatible with '--token'");
    if (opts.provisioner !== undefined) throw new UsageError("flag '--cert' is incompatible with '--provisioner'");
    const credentials = await readCredentials(opts.cert, opts.key, opts.passwordFile);
    serial = credentials.leaf.serial;
    if (opts.serial !== undefined && parseSerial(opts.serial) !== serial) {
      throw new UsageError(`serial number ${parseSerial(opts.serial)} is not the serial number of ${opts.cert} (${serial})`, {
        hint: 'leave SERIAL out when revoking with --cert and --key',
      });
    }
    const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);
    success(ctx.io, 'CA', target.caUrl);
    const { client, close } = mutualTlsClient(target, { certPem: credentials.chainPem, keyPem: credentials.keyPem }, ctx.env);
    try {
      await client.revoke({ serial, reasonCode, reason: opts.reason });
    } finally {
      await close();
    }
  } else {
    if (opts.serial === undefined) {
      throw new UsageError('missing SERIAL: the serial number of the certificate to revoke', {
        hint: "see it with 'ca inspect CRT' (Serial Number), or revoke with the certificate itself: --cert CRT --key KEY",
      });
    }
    serial = parseSerial(opts.serial);
    if (opts.token !== undefined) checkTokenSubject(opts.token, serial);
    const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);
    // A JWK provisioner's revoke token made here, or an OIDC admin's login (the token flow of ca token).
    const token =
      opts.token ??
      (
        await obtainToken(
          {
            purpose: 'revoke',
            subject: serial,
            sans: [],
            provisioner: opts.provisioner,
            passwordFile: opts.passwordFile,
            passwordFlag: '--password-file',
            console: opts.console,
            listen: opts.listen,
            timeoutMs: opts.timeoutMs,
            tokenFlag: '--token',
          },
          target,
          ctx,
        )
      ).token;
    success(ctx.io, 'CA', target.caUrl);
    await target.client.revoke({ serial, reasonCode, reason: opts.reason, ott: token });
  }
  status(ctx.io, `Certificate with Serial Number ${serial} has been revoked.`);
}

export function create(ctx: Ctx, run = revokeRun): Command {
  return new Command('revoke')
    .summary('revoke a certificate: it can no longer be renewed and is listed in the CRL')
    .description(
      "Revoke the certificate with serial number SERIAL, as 'step ca revoke' does. The revocation is passive, as with step: the certificate can no longer be renewed or rekeyed, and it is listed in the CA's CRL (ca crl), which services that check it refuse. Authorize it with a one-time token (--token, or one made here from a JWK provisioner with --provisioner and --password-file), by logging in as an admin of an OIDC provisioner, or by proving you hold the certificate: --cert and --key (SERIAL is then taken from the certificate).",
    )
    .argument('[serial]', 'the serial number: decimal, as ca inspect prints it, or hex with 0x')
    .option('--reason <text>', 'why the certificate is revoked, in words (recorded by the CA)')
    .option('--reasonCode <code>', 'RFC 5280 reason: 0-10 or a name such as keyCompromise, superseded, cessationOfOperation (default 0, unspecified)')
    .option('--token <jwt>', "a revoke token (ca token --revoke SERIAL) or an OIDC admin's ID token; nothing else is asked")
    .option('--cert <file>', 'revoke this certificate, proving possession with it (mutual TLS)')
    .option('--key <file>', 'the private key of --cert')
    .option('--provisioner <name>', 'the provisioner that authorizes it (JWK: with --password-file; OIDC: log in as an admin)')
    .addOption(new Option('--issuer <name>', 'alias of --provisioner').hideHelp())
    .option('--password-file <file>', "the JWK provisioner's password (or the password of --key, if it is encrypted)")
    .option('--console', 'log in without a local browser (device code, or paste the redirect URL)')
    .addOption(new Option('--listen <host:port>', 'the loopback address for the login callback').env('CA_LISTEN'))
    .option('--timeout <duration>', 'how long to wait for the login (default: 2m; 5m for the device flow)')
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText(
      'after',
      `
Examples:
  # Revoke your own certificate with the certificate and its key
  $ ca revoke --cert alice.crt --key alice.key --reasonCode keyCompromise

  # As an admin: log in, then revoke by serial number
  $ ca revoke 308893286343609293989051180431574390766 --reason "laptop stolen" --reasonCode 1

  # With a token made beforehand (in a script)
  $ ca revoke 0x3a4f... --token "$(ca token --revoke 0x3a4f... --provisioner admin --password-file pw.txt)"

  # With a JWK provisioner's key
  $ ca revoke 308893286343609293989051180431574390766 --provisioner admin --password-file pw.txt`,
    )
    .action(async (serial: string | undefined, o: Record<string, unknown>) => {
      await run(
        {
          serial,
          reason: o.reason as string | undefined,
          reasonCode: o.reasonCode as string | undefined,
          token: o.token as string | undefined,
          cert: o.cert as string | undefined,
          key: o.key as string | undefined,
          provisioner: (o.provisioner ?? o.issuer) as string | undefined,
          passwordFile: o.passwordFile as string | undefined,
          console: o.console === true || envFlag(ctx.env.CA_CONSOLE) === true,
          listen: o.listen as string | undefined,
          timeoutMs: o.timeout === undefined ? undefined : parseTimeout(o.timeout as string, '--timeout'),
          caUrl: o.caUrl as string | undefined,
          root: o.root as string | undefined,
        },
        ctx,
      );
    });
}
