import type { Command } from 'commander';
import { collect } from '../../flags.js';
import type { OidcChanges } from '../../../config/provisioner.js';

/** The OIDC flags `add` and `update` share, as `step ca provisioner add|update` names them. */
export function addOidcFlags(cmd: Command): Command {
  return cmd
    .option('--client-id <id>', 'the OAuth client ID registered at the identity provider')
    .option('--client-secret <secret>', 'the OAuth client secret (may be empty for public clients)')
    .option('--configuration-endpoint <url>', "the provider's discovery URL, e.g. https://accounts.google.com/.well-known/openid-configuration")
    .option('--admin <email|group>', 'an email or group whose members may ask for any name (repeatable)', collect)
    .option('--domain <domain>', 'only emails in this domain get certificates (repeatable)', collect)
    .option('--group <group>', 'only members of this group get certificates (repeatable)', collect)
    .option('--listen-address <host:port>', "fixed loopback address for the login callback on the user's machine, e.g. :10000")
    .option('--tenant-id <id>', 'the Microsoft Entra ID (Azure AD) tenant ID, for {tenantid} issuers')
    .option('--scope <scope>', 'an OAuth scope to ask for at login (repeatable; default "openid email")', collect)
    .option('--auth-param <key=value>', 'an extra parameter for the authorization URL (repeatable)', collect)
    .option('--x509-min-dur <duration>', 'shortest certificate lifetime allowed, e.g. 5m')
    .option('--x509-max-dur <duration>', 'longest certificate lifetime allowed, e.g. 24h')
    .option('--x509-default-dur <duration>', 'lifetime when the user asks for none, e.g. 8h')
    .option('--no-check', 'do not fetch the discovery document to check the endpoint (offline use)');
}

/** The values of those flags as commander parsed them. */
export interface OidcFlagValues {
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
  x509MinDur?: string;
  x509MaxDur?: string;
  x509DefaultDur?: string;
  check: boolean;
}

export function changesFromFlags(o: OidcFlagValues): OidcChanges {
  return {
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
    x509MinDur: o.x509MinDur,
    x509MaxDur: o.x509MaxDur,
    x509DefaultDur: o.x509DefaultDur,
  };
}
