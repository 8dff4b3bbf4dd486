import { Command } from 'commander';
import { CaError, UsageError } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath, collect } from '../../flags.js';
import { editCaConfig, provisionersOf, readCaConfig, type CaConfigJson, type Claims, type ProvisionerJson } from '../../../config/ca-config.js';
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
import { printRemoteSaved, printSaved } from './saved.js';
import { adminFlagsFrom, adminSession, addAdminFlags, managementMode, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { fromLinked, toLinked, type LinkedProvisioner } from '../../../config/linkedca.js';
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

/**
 * The provisioner after the change, checked against all the others; throws and changes nothing on
 * error. `otherTypes` says what to do with a type ca does not update.
 */
function changed(before: ProvisionerJson, others: ProvisionerJson[], claims: Claims | undefined, opts: UpdateOptions, otherTypes: string): ProvisionerJson {
  if (isOidc(before)) {
    const after = applyOidcChanges(before, opts.changes);
    validateOidcProvisioner(after, others, claims, claimFlagLabel(opts.changes));
    return after;
  }
  if (isJwk(before)) {
    if (opts.oidcFlags.length > 0) {
      throw new UsageError(`flag '${opts.oidcFlags[0]}' is not for JWK provisioners: ${opts.name} is one`, {
        hint: 'a JWK provisioner takes --name and the claims flags (--x509-*-dur, --disable-renewal, --allow-renewal-after-expiry)',
      });
    }
    const after = applyJwkChanges(before, opts.changes);
    validateJwkProvisioner(after, others, claims, claimFlagLabel(opts.changes));
    return after;
  }
  throw new CaError('ERR_PROVISIONER_INVALID', `provisioner ${opts.name} is of type ${before.type}; ca updates OIDC and JWK provisioners only`, {
    hint: otherTypes,
  });
}

function updated(config: CaConfigJson, opts: UpdateOptions): { index: number; before: ProvisionerJson; after: ProvisionerJson } {
  const list = provisionersOf(config);
  const index = findProvisioner(list, opts.name, opts.configPath);
  const before = list[index] as ProvisionerJson;
  const others = list.filter((_, i) => i !== index);
  return { index, before, after: changed(before, others, config.authority?.claims, opts, `edit ${opts.configPath} by hand for other types`) };
}

/** Whether the edit changes nothing, compared in the shape an edit writes (so a provisioner written by hand in another order is not a change). */
function unchanged(before: ProvisionerJson, after: ProvisionerJson): boolean {
  const asWritten = isOidc(before) ? normalizeOidc(before) : isJwk(before) ? applyJwkChanges(before, {}) : before;
  return JSON.stringify(asWritten) === JSON.stringify(after);
}

/** The discovery check of a changed endpoint (or, with --no-check, the offline checks). */
async function checkChangedEndpoint(before: ProvisionerJson, after: ProvisionerJson, opts: UpdateOptions, ctx: UpdateCtx): Promise<void> {
  const endpointChanged = before.configurationEndpoint !== after.configurationEndpoint || before.tenantID !== after.tenantID;
  if (isOidc(after) && opts.check && endpointChanged) await checkOidcEndpoint(after.name, after.configurationEndpoint, { fetch: ctx.fetch });
  if (isOidc(after) && !opts.check && before.configurationEndpoint !== after.configurationEndpoint) checkUncheckedEndpoint(after.configurationEndpoint);
}

export async function updateRun(opts: UpdateOptions, ctx: UpdateCtx): Promise<void> {
  const { before, after } = updated(await readCaConfig(opts.configPath), opts);
  if (unchanged(before, after)) {
    status(ctx.io, `Nothing to change: provisioner ${before.name} already has these settings; ${opts.configPath} is untouched.`);
    return;
  }
  await checkChangedEndpoint(before, after, opts, ctx);
  await editCaConfig(opts.configPath, (config) => {
    const { index, after: fresh } = updated(config, opts); // against the file as it is now, under the lock
    provisionersOf(config)[index] = fresh;
  });
  printSaved(ctx.io, opts.configPath);
}

/**
 * The same change through the CA's admin API, as step does it: GET the provisioner (linkedca
 * protojson), apply the flags to its ca.json shape, check it against the CA's other provisioners,
 * and PUT it back with the same id. The CA uses it at once.
 */
export async function updateRemoteRun(opts: UpdateOptions & { admin: AdminFlags & CaTargetFlags }, ctx: UpdateCtx & AdminCtx): Promise<void> {
  const { target, admin } = await adminSession(opts.admin, ctx);
  const linked = await admin.provisioner(opts.name);
  const before = fromLinked(linked);
  const others = (await target.client.provisioners()).filter((p) => p.name !== before.name);
  const after = changed(before, others, undefined, opts, "change other types with step's CLI (step ca provisioner update)");
  if (unchanged(before, after)) {
    status(ctx.io, `Nothing to change: provisioner ${before.name} already has these settings; the CA at ${target.caUrl} is untouched.`);
    return;
  }
  await checkChangedEndpoint(before, after, opts, ctx);
  await admin.updateProvisioner(opts.name, withIdentity(toLinked(after), linked));
  printRemoteSaved(ctx.io, target.caUrl, `changed provisioner ${after.name}`);
}

/** The changed provisioner keeps what names it on the CA (and what ca.json cannot hold), as the CA requires. */
export function withIdentity(next: LinkedProvisioner, current: LinkedProvisioner): LinkedProvisioner {
  const { id, authorityId, createdAt, deletedAt, x509Template, sshTemplate } = current;
  return {
    ...next,
    ...(id !== undefined && { id }),
    ...(authorityId !== undefined && { authorityId }),
    ...(createdAt !== undefined && { createdAt }),
    ...(deletedAt !== undefined && { deletedAt }),
    ...(next.x509Template === undefined && x509Template !== undefined && { x509Template }),
    ...(next.sshTemplate === undefined && sshTemplate !== undefined && { sshTemplate }),
  };
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

export function create(ctx: Ctx, run = updateRun, remoteRun = updateRemoteRun): Command {
  const cmd = new Command('update')
    .summary('change a JWK or OIDC provisioner (in ca.json, or on a CA with remote management)')
    .description(
      `Change a provisioner in the CA configuration, as 'step ca provisioner update' does. Every provisioner takes --name and the claims flags (--x509-*-dur, --disable-renewal, --allow-renewal-after-expiry). For OIDC provisioners, list flags (--admin, --domain, --group, --scope, --auth-param) add values; their --remove-* twins take values away (removals first, then additions); other flags replace the value. Unlike step, --remove-group works. On a CA with remote management (authority.enableAdmin, or no ca.json here, or --ca-url without --ca-config) the change goes through the CA's admin API and takes effect at once; you log in as an admin first unless a kept admin certificate or --admin-cert is at hand.`,
    )
    .argument('<name>', 'the name of the provisioner to change')
    .option('--name <new-name>', 'rename the provisioner');
  addClaimFlags(addOidcFlags(cmd))
    .option('--remove-admin <email|group>', 'OIDC: remove an admin (repeatable)', collect)
    .option('--remove-domain <domain>', 'OIDC: remove an allowed domain (repeatable)', collect)
    .option('--remove-group <group>', 'OIDC: remove an allowed group (repeatable)', collect)
    .option('--remove-scope <scope>', 'OIDC: remove a scope (repeatable)', collect)
    .option('--remove-auth-param <key=value>', 'OIDC: remove an authorization parameter (repeatable)', collect)
    .addOption(caConfigOption());
  addAdminFlags(cmd)
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
  $ ca provisioner update admin --allow-renewal-after-expiry --x509-max-dur 720h

  # A CA with remote management: bob may now get certificates for any name, at once
  $ ca provisioner update Okta --admin bob@example.com --ca-url https://ca.example.com`,
    )
    .action(async (name: string, o: UpdateFlagValues, self: Command) => {
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
      const admin = adminFlagsFrom(o as unknown as Record<string, unknown>, self, ctx.env);
      const mode = await managementMode(admin, ctx);
      const opts: UpdateOptions = { name, changes, oidcFlags, check: o.check, configPath: mode.kind === 'local' ? mode.configPath : caConfigPath(ctx, o.caConfig) };
      if (mode.kind === 'local') await run(opts, ctx);
      else await remoteRun({ ...opts, admin }, ctx);
    });
  return cmd;
}
