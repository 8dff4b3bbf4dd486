import { Command, Option } from 'commander';
import { UsageError } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath } from '../../flags.js';
import { editCaConfig, provisionersOf, readCaConfig, requireCaConfig } from '../../../config/ca-config.js';
import { checkUncheckedEndpoint, claimFlagLabel, newOidcProvisioner, STEP_PROVISIONER_TYPES, validateOidcProvisioner, type OidcChanges } from '../../../config/provisioner.js';
import { checkOidcEndpoint } from '../../../authority/discovery.js';
import { addOidcFlags, changesFromFlags, type OidcFlagValues } from './oidc-flags.js';
import { printSaved } from './saved.js';

export interface AddOptions {
  name: string;
  type: string;
  changes: OidcChanges;
  check: boolean;
  configPath: string;
}

type AddCtx = Pick<Ctx, 'io' | 'fetch'>;

function checkType(type: string): void {
  const upper = type.toUpperCase();
  if (upper === 'OIDC') return;
  if (STEP_PROVISIONER_TYPES.includes(upper)) {
    throw new UsageError(`provisioner type ${upper} is not supported by ca: it issues certificates to OIDC logins`, {
      hint: 'use --type OIDC (other step provisioners already in ca.json are kept as they are)',
    });
  }
  throw new UsageError(`invalid value '${type}' for flag '--type'; options are ${STEP_PROVISIONER_TYPES.join(', ')}`, {
    hint: 'ca adds OIDC provisioners: --type OIDC',
  });
}

export async function addRun(opts: AddOptions, ctx: AddCtx): Promise<void> {
  checkType(opts.type);
  const provisioner = newOidcProvisioner(opts.name, opts.changes);
  // Fail fast on what the file alone can tell, before touching the network.
  const before = await readCaConfig(opts.configPath);
  requireCaConfig(before, opts.configPath);
  const label = claimFlagLabel(opts.changes);
  validateOidcProvisioner(provisioner, provisionersOf(before), before.authority?.claims, label);
  if (opts.check) await checkOidcEndpoint(provisioner.name, provisioner.configurationEndpoint, { fetch: ctx.fetch });
  else checkUncheckedEndpoint(provisioner.configurationEndpoint);
  await editCaConfig(opts.configPath, (config) => {
    requireCaConfig(config, opts.configPath);
    const list = provisionersOf(config);
    validateOidcProvisioner(provisioner, list, config.authority?.claims, label); // again: another process may have added one
    list.push(provisioner);
  });
  printSaved(ctx.io, opts.configPath);
}

export function create(ctx: Ctx, run = addRun): Command {
  const cmd = new Command('add')
    .summary('add an OIDC provisioner to ca.json')
    .description(
      `Add a provisioner to the CA configuration, as 'step ca provisioner add' does. An OIDC provisioner lets the users of an identity provider (Google, Okta, Entra ID, Keycloak, ...) get certificates by logging in. The discovery document is fetched first to check the endpoint, unless --no-check.`,
    )
    .argument('<name>', 'the name of the provisioner, shown to users when they pick one')
    .addOption(new Option('--type <type>', "the provisioner type: OIDC, the one type ca adds (step's others are refused)").default('OIDC'));
  addOidcFlags(cmd)
    .addOption(caConfigOption())
    .addHelpText(
      'after',
      `
Examples:
  # Google Workspace: only example.com accounts, alice is an admin
  $ ca provisioner add Google --type OIDC \\
      --client-id 1087...apps.googleusercontent.com --client-secret GOCSPX-... \\
      --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration \\
      --domain example.com --admin alice@example.com

  # Okta, fixed callback port, members of "engineering" only
  $ ca provisioner add Okta --client-id 0oa... --client-secret ... \\
      --configuration-endpoint https://acme.okta.com/.well-known/openid-configuration \\
      --listen-address 127.0.0.1:10000 --group engineering --x509-default-dur 8h

  # Microsoft Entra ID
  $ ca provisioner add Entra --client-id 1a2b... --client-secret ... --tenant-id 72f9... \\
      --configuration-endpoint https://login.microsoftonline.com/72f9.../v2.0/.well-known/openid-configuration`,
    )
    .action(async (name: string, o: OidcFlagValues & { type: string; caConfig?: string }) => {
      await run({ name, type: o.type, changes: changesFromFlags(o), check: o.check, configPath: caConfigPath(ctx, o.caConfig) }, ctx);
    });
  return cmd;
}
