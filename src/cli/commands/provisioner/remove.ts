import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath } from '../../flags.js';
import { editCaConfig, provisionersOf } from '../../../config/ca-config.js';
import { findProvisioner } from '../../../config/provisioner.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { adminFlagsFrom, adminSession, addAdminFlags, managementMode, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { printRemoteSaved, printSaved } from './saved.js';

export interface RemoveOptions {
  name: string;
  configPath: string;
}

export async function removeRun(opts: RemoveOptions, ctx: Pick<Ctx, 'io'>): Promise<void> {
  await editCaConfig(opts.configPath, (config) => {
    const list = provisionersOf(config);
    list.splice(findProvisioner(list, opts.name, opts.configPath), 1);
  });
  printSaved(ctx.io, opts.configPath);
}

/** Through the admin API: the CA stops using it at once, and its admins go with it. */
export async function removeRemoteRun(opts: RemoveOptions & { admin: AdminFlags & CaTargetFlags }, ctx: AdminCtx): Promise<void> {
  const { target, admin } = await adminSession(opts.admin, ctx);
  await admin.removeProvisioner(opts.name);
  printRemoteSaved(ctx.io, target.caUrl, `removed provisioner ${opts.name} (and its admins)`);
}

export function create(ctx: Ctx, run = removeRun, remoteRun = removeRemoteRun): Command {
  const cmd = new Command('remove')
    .summary('remove a provisioner (from ca.json, or from a CA with remote management)')
    .description(
      "Remove a provisioner from the CA configuration, as 'step ca provisioner remove' does. On a CA with remote management (authority.enableAdmin, or no ca.json here, or --ca-url without --ca-config) it is removed through the CA's admin API, with its admins, and stops serving at once.",
    )
    .argument('<name>', 'the name of the provisioner to remove')
    .addOption(caConfigOption());
  return addAdminFlags(cmd)
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca provisioner remove Google\n  $ ca provisioner remove Okta --ca-config /srv/ca/config/ca.json\n  $ ca provisioner remove Okta --ca-url https://ca.example.com --admin-subject alice@example.com`,
    )
    .action(async (name: string, o: Record<string, unknown>, self: Command) => {
      const admin = adminFlagsFrom(o, self, ctx.env);
      const mode = await managementMode(admin, ctx);
      if (mode.kind === 'local') await run({ name, configPath: mode.configPath }, ctx);
      else await remoteRun({ name, configPath: caConfigPath(ctx, admin.caConfig), admin }, ctx);
    });
}
