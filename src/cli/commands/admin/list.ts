import { Command, Option } from 'commander';
import type { Ctx } from '../../context.js';
import { result } from '../../output.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { adminFlagsFrom, adminSession, addAdminFlags, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { adminTable, provisionersById } from './shared.js';

export interface AdminListOptions {
  /** Only super admins. */
  superOnly: boolean;
  /** Only the admins of this provisioner. */
  provisioner?: string;
  admin: AdminFlags & CaTargetFlags;
}

export async function adminListRun(opts: AdminListOptions, ctx: AdminCtx): Promise<void> {
  const { admin } = await adminSession(opts.admin, ctx);
  const byId = await provisionersById(admin);
  const admins = (await admin.admins()).filter(
    (a) => (!opts.superOnly || a.type === 'SUPER_ADMIN') && (opts.provisioner === undefined || byId.get(a.provisionerId)?.name === opts.provisioner),
  );
  result(ctx.io, adminTable(admins, byId));
}

export function create(ctx: Ctx, run = adminListRun): Command {
  const cmd = new Command('list')
    .summary('list the admins of the CA')
    .description("List the admins of a CA with remote management, as 'step ca admin list' does: subject, provisioner and type (SUPER_ADMIN or ADMIN).")
    .option('--super', 'only super admins', false)
    .addOption(new Option('--provisioner <name>', 'only the admins of this provisioner'));
  return addAdminFlags(cmd)
    .addHelpText('after', `\nExamples:\n  $ ca admin list\n  $ ca admin list --super\n  $ ca admin list --provisioner Okta --ca-url https://ca.example.com`)
    .action(async (o: Record<string, unknown>, self: Command) => {
      await run({ superOnly: o.super === true, provisioner: o.provisioner as string | undefined, admin: adminFlagsFrom(o, self, ctx.env) }, ctx);
    });
}
