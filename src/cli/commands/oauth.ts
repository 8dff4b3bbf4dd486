import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { collect } from '../flags.js';
import { result } from '../output.js';
import { checkListenAddress } from '../../config/provisioner.js';
import { envFlag, parseTimeout } from '../env-flags.js';
import type { LoginDeps, TokenResponse } from '../../oidc/index.js';

export interface OauthOptions {
  provider: string;
  clientId: string;
  clientSecret?: string;
  /** Microsoft Entra's tenant, for a `{tenantid}` issuer (as a provisioner's --tenant-id). */
  tenantId?: string;
  scopes: string[];
  authParams: string[];
  /** Print (with --bare) the ID token instead of the access token; ask for the openid scope. */
  oidc: boolean;
  /** Print only the token, for scripts (`ca certificate` reads `--oidc --bare`). */
  bare: boolean;
  console: boolean;
  listen?: string;
  /** --timeout; unset, the login's own default (2 minutes, 5 for the device flow). */
  timeoutMs?: number;
}

export type OauthCtx = Pick<Ctx, 'io' | 'env' | 'now' | 'fetch' | 'prompter'> & {
  /** Opens the login page; tests pass one that drives a real headless browser. */
  openBrowser?: (url: string) => Promise<boolean>;
  /** Waits between device-flow polls (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
};

/** step's shorthand: `--provider google`. (Its `github` is OAuth-only and has no ID tokens.) */
const PROVIDER_SHORTHANDS: Record<string, string> = { google: 'https://accounts.google.com' };

/** The token as step prints it without --bare: its Go struct, zero values included, indented. */
function stepTokenJson(tokens: TokenResponse): string {
  const shape = {
    access_token: tokens.access_token,
    id_token: tokens.id_token ?? '',
    refresh_token: tokens.refresh_token ?? '',
    expires_in: tokens.expires_in ?? 0,
    token_type: tokens.token_type,
  };
  return JSON.stringify(shape, null, 2);
}

export async function oauthRun(opts: OauthOptions, ctx: OauthCtx): Promise<void> {
  if (!opts.clientId) throw new UsageError("flag '--client-id' required with '--provider'");
  if (opts.listen) checkListenAddress(opts.listen, '--listen');
  const { authorize } = await import('../../oidc/index.js');
  const openBrowser: LoginDeps['openBrowser'] =
    ctx.openBrowser ?? (async (url) => (await import('../../oidc/browser.js')).openBrowser(url, ctx.env));
  let scopes = opts.scopes.length ? opts.scopes : ['openid', 'email'];
  if (opts.oidc && !scopes.includes('openid')) scopes = ['openid', ...scopes];
  const { tokens } = await authorize(
    {
      configurationEndpoint: PROVIDER_SHORTHANDS[opts.provider.toLowerCase()] ?? opts.provider,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      tenantId: opts.tenantId,
      scopes,
      authParams: opts.authParams,
      listen: opts.listen,
      console: opts.console,
      timeoutMs: opts.timeoutMs,
    },
    { fetch: ctx.fetch, now: ctx.now, io: ctx.io, env: ctx.env, prompter: ctx.prompter, openBrowser, sleep: ctx.sleep },
    { requireIdToken: opts.oidc },
  );
  if (opts.bare) {
    result(ctx.io, (opts.oidc ? tokens.id_token : tokens.access_token) ?? '');
    return;
  }
  result(ctx.io, stepTokenJson(tokens));
}

interface OauthFlagValues {
  provider?: string;
  idp?: string;
  clientId?: string;
  clientSecret?: string;
  tenantId?: string;
  scope?: string[];
  authParam?: string[];
  oidc?: boolean;
  bare?: boolean;
  console?: boolean;
  listen?: string;
  timeout?: string;
}

export function create(ctx: Ctx, run = oauthRun): Command {
  return new Command('oauth')
    .summary('log in at an OpenID Connect provider and print the tokens')
    .description(
      "Log in at an OAuth 2.0 / OpenID Connect provider and print the tokens, as 'step oauth' does. The browser opens at the provider's login page and returns to a listener on 127.0.0.1; with --console the login happens on another device (the device flow), or, when the provider has none, you paste back the address the browser lands on. 'ca certificate' uses the same login; `--oidc --bare` prints just the ID token it sends to the CA.",
    )
    .addOption(new Option('--provider <url>', "the provider's issuer or discovery URL (https; or 'google')").env('CA_PROVIDER'))
    .addOption(new Option('--idp <url>', 'alias of --provider').hideHelp())
    .option('--client-id <id>', 'the OAuth client ID')
    .option('--client-secret <secret>', 'the OAuth client secret (omit for a public client)')
    .option('--tenant-id <id>', "the Microsoft Entra ID tenant, for a multi-tenant provider whose issuer has '{tenantid}'")
    .option('--scope <scope>', 'a scope to request; repeatable (default: openid email)', collect)
    .option('--auth-param <key=value>', 'a parameter to add to the authorization URL; repeatable', collect)
    .option('--oidc', 'ask for an ID token (the openid scope); with --bare print it')
    .option('--bare', 'print only the token: the ID token with --oidc, else the access token')
    .option('-c, --console', 'log in without a browser on this machine (also CA_CONSOLE=true)')
    .addOption(new Option('--listen <host:port>', 'the loopback address for the login callback (default: 127.0.0.1 and a random port)').env('CA_LISTEN'))
    .option('--timeout <duration>', 'how long to wait for the login (default: 2m; 5m for the device flow)')
    .addHelpText(
      'after',
      `
Examples:
  # Log in and print the ID token (what 'ca certificate' sends to the CA)
  $ ca oauth --oidc --bare --provider https://accounts.google.com \\
      --client-id 1087...apps.googleusercontent.com --client-secret GOCSPX-...

  # On a machine without a browser (SSH): the device flow, or paste the address back
  $ ca oauth --oidc --bare --console --provider https://login.example.com/realms/acme --client-id ca

  # An IdP that only allows a registered port, and a login page that asks which account
  $ ca oauth --provider https://acme.okta.com --client-id 0oa... --listen 127.0.0.1:10000 \\
      --auth-param prompt=select_account

  # Print the URL instead of opening a browser
  $ CA_OPEN_BROWSER=0 ca oauth --oidc --bare --provider https://idp.example.com --client-id ca

Environment:
  CA_LISTEN          same as --listen
  CA_CONSOLE=true    same as --console
  CA_OPEN_BROWSER=0  do not start a browser; print the URL to open
  BROWSER            the browser command(s) to start, ':'-separated; %s stands for the URL`,
    )
    .action(async (o: OauthFlagValues) => {
      const provider = o.provider ?? o.idp;
      if (!provider) throw new UsageError("missing the '--provider' flag", { hint: 'pass the identity provider URL, e.g. --provider https://accounts.google.com' });
      await run(
        {
          provider,
          clientId: o.clientId ?? '',
          clientSecret: o.clientSecret,
          tenantId: o.tenantId,
          scopes: o.scope ?? [],
          authParams: o.authParam ?? [],
          oidc: Boolean(o.oidc),
          bare: Boolean(o.bare),
          // CA_CONSOLE=true (or 1, yes, on) turns --console on; anything else leaves it to the flag.
          console: Boolean(o.console) || envFlag(ctx.env.CA_CONSOLE) === true,
          listen: o.listen,
          // No commander default: an unset --timeout lets the login pick its flow's limit.
          timeoutMs: o.timeout === undefined ? undefined : parseTimeout(o.timeout, '--timeout'),
        },
        ctx,
      );
    });
}
