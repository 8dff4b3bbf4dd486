import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, collect, rootOption } from '../flags.js';
import { result } from '../output.js';
import { envFlag, parseTimeout } from '../env-flags.js';
import { obtainToken, tokenTime, type TokenCtx } from '../token-flow.js';
import { writeFileAtomic } from '../../config/atomic.js';
import { checkListenAddress } from '../../config/provisioner.js';
import { resolveCaTarget } from '../../client/target.js';

export interface TokenOptions {
  subject: string;
  sans: string[];
  provisioner?: string;
  kid?: string;
  passwordFile?: string;
  /** The token's own nbf / exp: an RFC 3339 time or a duration from now. */
  notBefore?: string;
  notAfter?: string;
  /** A token for `ca revoke`: SUBJECT is the serial number. */
  revoke: boolean;
  outputFile?: string;
  caUrl?: string;
  root?: string;
  console: boolean;
  listen?: string;
  timeoutMs?: number;
}

export async function tokenRun(opts: TokenOptions, ctx: TokenCtx & Pick<Ctx, 'caPath'>): Promise<void> {
  if (opts.subject.trim() === '') throw new UsageError(`the ${opts.revoke ? 'serial number' : 'subject'} cannot be empty`);
  if (opts.revoke && opts.sans.length > 0) throw new UsageError("flag '--san' is incompatible with '--revoke'", { hint: 'a revoke token names only the serial number' });
  if (opts.listen) checkListenAddress(opts.listen, '--listen');
  // Checked before the CA is asked anything; the token's times count from when it is made.
  tokenTime(opts.notBefore, '--not-before', ctx.now());
  tokenTime(opts.notAfter, '--not-after', ctx.now());
  const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);
  const { token } = await obtainToken(
    {
      provisioner: opts.provisioner,
      kid: opts.kid,
      passwordFile: opts.passwordFile,
      passwordFlag: '--password-file',
      purpose: opts.revoke ? 'revoke' : 'sign',
      subject: opts.subject,
      sans: opts.sans,
      notBefore: opts.notBefore,
      notAfter: opts.notAfter,
      console: opts.console,
      listen: opts.listen,
      timeoutMs: opts.timeoutMs,
    },
    target,
    ctx,
  );
  // The token is a credential: only its owner may read the file.
  if (opts.outputFile) await writeFileAtomic(opts.outputFile, `${token}\n`, 0o600);
  else result(ctx.io, token);
}

export function create(ctx: Ctx, run = tokenRun): Command {
  return new Command('token')
    .summary('make a one-time token for a certificate (or a revocation)')
    .description(
      "Make a one-time token that the CA accepts for a certificate for SUBJECT, as 'step ca token' does, and print it. With a JWK provisioner the token is signed here with the provisioner's key (decrypted with its password): it names the subject, the names the certificate may have (--san, default SUBJECT), the CA's address and root, and lasts 5 minutes. With an OIDC provisioner it is your ID token, after a login. Pass it to 'ca certificate SUBJECT CRT KEY --token TOKEN' on the machine that needs the certificate, or (--revoke) to 'ca revoke SERIAL --token TOKEN'.",
    )
    .argument('<subject>', 'the certificate subject (e.g. a host name); with --revoke, the serial number to revoke')
    .option('--san <name>', 'a name the certificate may have (repeatable; default: SUBJECT)', collect)
    .option('--provisioner <name>', 'the provisioner to use (default: the only one, or ask)')
    .addOption(new Option('--issuer <name>', 'alias of --provisioner').hideHelp())
    .option('--kid <id>', 'pick the provisioner by its key ID (JWK) or client ID (OIDC)')
    .option('--password-file <file>', "a file holding the JWK provisioner's password (asked for on a terminal otherwise)")
    .addOption(new Option('--provisioner-password-file <file>', 'alias of --password-file').hideHelp())
    .option('--not-before <time|duration>', 'when the token becomes valid (nbf): RFC 3339 time or a duration from now')
    .option('--not-after <time|duration>', 'when the token expires (exp): RFC 3339 time or a duration (default: 5m after --not-before)')
    .option('--revoke', 'make a token for revoking the certificate whose serial number is SUBJECT', false)
    .option('--output-file <file>', 'write the token to this file (mode 0600) instead of standard output')
    .addOption(caUrlOption())
    .addOption(rootOption())
    .option('--console', 'OIDC: log in without a local browser (device code, or paste the redirect URL)')
    .addOption(new Option('--listen <host:port>', 'OIDC: the loopback address for the login callback').env('CA_LISTEN'))
    .option('--timeout <duration>', 'OIDC: how long to wait for the login (default: 2m; 5m for the device flow)')
    .addHelpText(
      'after',
      `
Examples:
  # A token for a server certificate, from the JWK provisioner "admin"
  $ ca token localhost --provisioner admin --password-file pw.txt > token.txt
  $ ca certificate localhost localhost.crt localhost.key --token "$(cat token.txt)"

  # More names, valid for 10 minutes, written to a file only its owner can read
  $ ca token api.internal --san api.internal --san 10.0.0.7 --not-after 10m --output-file api.token

  # A token to revoke certificate 1234...
  $ ca token 123456789012345 --revoke --provisioner admin --password-file pw.txt

  # With an OIDC provisioner: log in and print the ID token
  $ ca token alice@example.com --provisioner Google

Environment: CA_URL, CA_ROOT, CA_LISTEN, CA_CONSOLE, CA_OPEN_BROWSER.`,
    )
    .action(async (subject: string, o: Record<string, unknown>) => {
      await run(
        {
          subject,
          sans: (o.san as string[] | undefined) ?? [],
          provisioner: (o.provisioner ?? o.issuer) as string | undefined,
          kid: o.kid as string | undefined,
          passwordFile: (o.passwordFile ?? o.provisionerPasswordFile) as string | undefined,
          notBefore: o.notBefore as string | undefined,
          notAfter: o.notAfter as string | undefined,
          revoke: Boolean(o.revoke),
          outputFile: o.outputFile as string | undefined,
          caUrl: o.caUrl as string | undefined,
          root: o.root as string | undefined,
          console: o.console === true || envFlag(ctx.env.CA_CONSOLE) === true,
          listen: o.listen as string | undefined,
          timeoutMs: o.timeout === undefined ? undefined : parseTimeout(o.timeout as string, '--timeout'),
        },
        ctx,
      );
    });
}
