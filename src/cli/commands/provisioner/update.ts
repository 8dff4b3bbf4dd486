import { Command } from 'commander';
import { CaError, UsageError } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath, collect } from '../../flags.js';
import { editCaConfig, provisionersOf, readCaConfig, type CaConfigJson, type ProvisionerJson } from '../../../config/ca-config.js';
import { applyJwkChanges, isJwk, validateJwkProvisioner } from '../../../config/jwk.js';
import {
  applyOidcChanges,
  checkUncheckedEndpoint,
  claimFlagLabel,
  findProvisioner,
  isOidc,
  normalizeOidc,
  validateOidcProvisioner,
  type OidcChanges,
} from '../../../config/provisioner.js';
import { checkOidcEndpoint } from '../../../authority/discovery.js';
import { addClaimFlags, addOidcFlags, changesFromFlags, oidcFlagsGiven, type OidcFlagValues } from './flags.js';
import { printSaved } from './saved.js';
import { status } from '../../output.js';

export interface UpdateOptions {
  name: string;
  changes: OidcChanges;
  /** The OIDC-only flags given: refused for a JWK provisioner. */
  oidcFlags: string[];
  check: boolean;
  configPath: string;
}

type UpdateCtx = Pick<Ctx, 'io' | 'fetch'>;

/** The provisioner after the change, checked against all the others; throws and changes nothing on error. */
function updated(config: CaConfigJson, opts: UpdateOptions): { index: number; before: ProvisionerJson; after: ProvisionerJson } {
  const list = provisionersOf(config);
  const index = findProvisioner(list, opts.name, opts.configPath);
  const before = list[index] as ProvisionerJson;
  const others = list.filter((_, i) => i !== index);
  if (isOidc(before)) {
    const after = applyOidcChanges(before, opts.changes);
    validateOidcProvisioner(after, others, config.authority?.claims, claimFlagLabel(opts.changes));
    return { index, before, after };
  }
  if (isJwk(before)) {
    if (opts.oidcFlags.length > 0) {
      throw new UsageError(`flag '${opts.oidcFlags[0]}' is not for JWK provisioners: ${opts.name} is one`, {
        hint: 'a JWK provisioner takes --name and the claims flags (--x509-*-dur, --disable-renewal, --allow-renewal-after-expiry)',
      });
    }
    const after = applyJwkChanges(before, opts.changes);
    validateJwkProvisioner(after, others, config.authority?.claims, claimFlagLabel(opts.changes));
    return { index, before, after };
  }
  throw new CaError('ERR_PROVISIONER_INVALID', `provisioner ${opts.name} is of type ${before.type}; ca updates OIDC and JWK provisioners only`, {
    hint: `edit ${opts.configPath} by hand for other types`,
  });
}

export async function updateRun(opts: UpdateOptions, ctx: UpdateCtx): Promise<void> {
  const { before, after } = updated(await readCaConfig(opts.configPath), opts);
  // Compared in the shape an edit writes, so a provisioner written by hand in another order is not a change.
  const asWritten = isOidc(before) ? normalizeOidc(before) : isJwk(before) ? applyJwkChanges(before, {}) : before;
  if (JSON.stringify(asWritten) === JSON.stringify(after)) {
    status(ctx.io, `Nothing to change: provisioner ${before.name} already has these settings; ${opts.configPath} is untouched.`);
    return;
  }
  const endpointChanged = before.configurationEndpoint !== after.configurationEndpoint || before.tenantID !== after.tenantID;
  if (isOidc(after) && opts.check && endpointChanged) await checkOidcEndpoint(after.name, after.configurationEndpoint, { fetch: ctx.fetch });
  if (isOidc(after) && !opts.check && before.configurationEndpoint !== after.configurationEndpoint) checkUncheckedEndpoint(after.configurationEndpoint);
  await editCaConfig(opts.configPath, (config) => {
    const { index, after: fresh } = updated(config, opts); // against the file as it is now, under the lock
    provisionersOf(config)[index] = fresh;
  });
  printSaved(ctx.io, opts.configPath);
}

interface UpdateFlagValues extends OidcFlagValues {
  name?: string;
  removeAdmin?: string[];
  removeDomain?: string[];
  removeGroup?: string[];
  removeScope?: string[];
  removeAuthParam?: string[];
  caConfig?: string;
}

export function create(ctx: Ctx, run = updateRun): Command {
  const cmd = new Command('update')
    .summary('change a JWK or OIDC provisioner in ca.json')
    .description(
      `Change a provisioner in the CA configuration, as 'step ca provisioner update' does. Every provisioner takes --name and the claims flags (--x509-*-dur, --disable-renewal, --allow-renewal-after-expiry). For OIDC provisioners, list flags (--admin, --domain, --group, --scope, --auth-param) add values; their --remove-* twins take values away (removals first, then additions); other flags replace the value. Unlike step, --remove-group works.`,
    )
    .argument('<name>', 'the name of the provisioner to change')
    .option('--name <new-name>', 'rename the provisioner');
  addClaimFlags(addOidcFlags(cmd))
    .option('--remove-admin <email|group>', 'OIDC: remove an admin (repeatable)', collect)
    .option('--remove-domain <domain>', 'OIDC: remove an allowed domain (repeatable)', collect)
    .option('--remove-group <group>', 'OIDC: remove an allowed group (repeatable)', collect)
    .option('--remove-scope <scope>', 'OIDC: remove a scope (repeatable)', collect)
    .option('--remove-auth-param <key=value>', 'OIDC: remove an authorization parameter (repeatable)', collect)
    .addOption(caConfigOption())
    .addHelpText(
      'after',
      `
Examples:
  # Make bob an admin and stop treating alice as one
  $ ca provisioner update Google --admin bob@example.com --remove-admin alice@example.com

  # Rename, and allow a second domain
  $ ca provisioner update Google --name Workspace --domain example.org

  # Certificates valid for 8 hours unless the user asks otherwise
  $ ca provisioner update Okta --x509-default-dur 8h

  # The JWK provisioner 'admin': renewable after expiry, at most 30 days
  $ ca provisioner update admin --allow-renewal-after-expiry --x509-max-dur 720h`,
    )
    .action(async (name: string, o: UpdateFlagValues) => {
      const changes: OidcChanges = {
        ...changesFromFlags(o),
        name: o.name,
        removeAdmins: o.removeAdmin,
        removeDomains: o.removeDomain,
        removeGroups: o.removeGroup,
        removeScopes: o.removeScope,
        removeAuthParams: o.removeAuthParam,
      };
      const oidcFlags = oidcFlagsGiven(o as unknown as Record<string, unknown>);
      await run({ name, changes, oidcFlags, check: o.check, configPath: caConfigPath(ctx, o.caConfig) }, ctx);
    });
  return cmd;
}
