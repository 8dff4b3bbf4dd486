import { InvalidArgumentError, Option, type Command } from 'commander';
import { collect } from '../../flags.js';
import type { ClaimChanges, OidcChanges } from '../../../config/provisioner.js';

/**
 * The flags `add` and `update` share, as `step ca provisioner add|update` names them: the claims
 * (any type), OIDC's, and JWK's keys (`add` only).
 */

/** step's boolean flags: `--disable-renewal` alone is true; `--disable-renewal=false` turns it off again. */
export function parseBool(value: string): boolean {
  const word = value.toLowerCase();
  if (['true', '1', 'yes'].includes(word)) return true;
  if (['false', '0', 'no'].includes(word)) return false;
  throw new InvalidArgumentError('expected true or false');
}

export function addClaimFlags(cmd: Command): Command {
  return cmd
    .option('--x509-min-dur <duration>', 'shortest certificate lifetime allowed, e.g. 5m')
    .option('--x509-max-dur <duration>', 'longest certificate lifetime allowed, e.g. 24h')
    .option('--x509-default-dur <duration>', 'lifetime when the user asks for none, e.g. 8h')
    .addOption(new Option('--disable-renewal [bool]', 'refuse to renew its certificates (--disable-renewal=false allows it again)').argParser(parseBool))
    .addOption(
      new Option('--allow-renewal-after-expiry [bool]', 'allow renewing its certificates after they expired (=false to stop)').argParser(parseBool),
    );
}

export function addOidcFlags(cmd: Command): Command {
  return cmd
    .option('--client-id <id>', 'OIDC: the OAuth client ID registered at the identity provider')
    .option('--client-secret <secret>', 'OIDC: the OAuth client secret (may be empty for public clients)')
    .option('--configuration-endpoint <url>', "OIDC: the provider's discovery URL, e.g. https://accounts.google.com/.well-known/openid-configuration")
    .option('--admin <email|group>', 'OIDC: an email or group whose members may ask for any name (repeatable)', collect)
    .option('--domain <domain>', 'OIDC: only emails in this domain get certificates (repeatable)', collect)
    .option('--group <group>', 'OIDC: only members of this group get certificates (repeatable)', collect)
    .option('--listen-address <host:port>', "OIDC: fixed loopback address for the login callback on the user's machine, e.g. :10000")
    .option('--tenant-id <id>', 'OIDC: the Microsoft Entra ID (Azure AD) tenant ID, for {tenantid} issuers')
    .option('--scope <scope>', 'OIDC: an OAuth scope to ask for at login (repeatable; default "openid email")', collect)
    .option('--auth-param <key=value>', 'OIDC: an extra parameter for the authorization URL (repeatable)', collect)
    .option('--no-check', 'OIDC: do not fetch the discovery document to check the endpoint (offline use)');
}

/** The values of the claims flags as commander parsed them. */
export interface ClaimFlagValues {
  x509MinDur?: string;
  x509MaxDur?: string;
  x509DefaultDur?: string;
  disableRenewal?: boolean;
  allowRenewalAfterExpiry?: boolean;
}

/** The values of the OIDC flags as commander parsed them. */
export interface OidcFlagValues extends ClaimFlagValues {
  clientId?: string;
  clientSecret?: string;
  configurationEndpoint?: string;
  admin?: string[];
  domain?: string[];
  group?: string[];
  listenAddress?: string;
  tenantId?: string;
  scope?: string[];
  authParam?: string[];
  check: boolean;
}

/** The OIDC-only flags, by the name commander gives their value, for refusing them on a JWK provisioner. */
export const OIDC_ONLY_FLAGS: Record<string, string> = {
  clientId: '--client-id',
  clientSecret: '--client-secret',
  configurationEndpoint: '--configuration-endpoint',
  admin: '--admin',
  domain: '--domain',
  group: '--group',
  listenAddress: '--listen-address',
  tenantId: '--tenant-id',
  scope: '--scope',
  authParam: '--auth-param',
  removeAdmin: '--remove-admin',
  removeDomain: '--remove-domain',
  removeGroup: '--remove-group',
  removeScope: '--remove-scope',
  removeAuthParam: '--remove-auth-param',
};

/** The OIDC-only flags given, in the order above. */
export function oidcFlagsGiven(o: Record<string, unknown>): string[] {
  return Object.entries(OIDC_ONLY_FLAGS)
    .filter(([key]) => o[key] !== undefined)
    .map(([, flag]) => flag);
}

export function claimChangesFromFlags(o: ClaimFlagValues): ClaimChanges {
  return {
    x509MinDur: o.x509MinDur,
    x509MaxDur: o.x509MaxDur,
    x509DefaultDur: o.x509DefaultDur,
    disableRenewal: o.disableRenewal,
    allowRenewalAfterExpiry: o.allowRenewalAfterExpiry,
  };
}

export function changesFromFlags(o: OidcFlagValues): OidcChanges {
  return {
    ...claimChangesFromFlags(o),
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    configurationEndpoint: o.configurationEndpoint,
    admins: o.admin,
    domains: o.domain,
    groups: o.group,
    listenAddress: o.listenAddress,
    tenantId: o.tenantId,
    scopes: o.scope,
    authParams: o.authParam,
  };
}
