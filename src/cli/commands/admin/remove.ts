import { Command, Option } from 'commander';
import type { Ctx } from '../../context.js';
import { success } from '../../output.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { adminFlagsFrom, adminSession, addAdminFlags, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { findAdmin, provisionerText, provisionersById } from './shared.js';

export interface AdminRemoveOptions {
  subject: string;
  provisioner?: string;
  admin: AdminFlags & CaTargetFlags;
}

export async function adminRemoveRun(opts: AdminRemoveOptions, ctx: AdminCtx): Promise<void> {
  const { admin } = await adminSession(opts.admin, ctx);
  const byId = await provisionersById(admin);
  const found = findAdmin(await admin.admins(), opts.subject, opts.provisioner, byId);
  await admin.removeAdmin(found.id);
  success(ctx.io, 'Removed admin', `${found.subject} of ${provisionerText(found.provisionerId, byId)} (${found.type})`);
}

export function create(ctx: Ctx, run = adminRemoveRun): Command {
  const cmd = new Command('remove')
    .summary('remove an admin (super admins only)')
    .description(
      "Remove an admin from a CA with remote management, as 'step ca admin remove' does. When SUBJECT is an admin of several provisioners, --provisioner says which. The CA refuses to remove its last super admin.",
    )
    .argument('<subject>', 'the admin to remove')
    .addOption(new Option('--provisioner <name>', "the admin's provisioner, when SUBJECT is an admin of several"));
  return addAdminFlags(cmd)
    .addHelpText('after', `\nExamples:\n  $ ca admin remove bob@example.com\n  $ ca admin remove bob@example.com --provisioner Okta`)
    .action(async (subject: string, o: Record<string, unknown>, self: Command) => {
      await run({ subject, provisioner: o.provisioner as string | undefined, admin: adminFlagsFrom(o, self, ctx.env) }, ctx);
    });
}
