import { Command, Option } from 'commander';
import { UsageError } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { result } from '../../output.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { adminFlagsFrom, adminSession, addAdminFlags, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { parseBool } from '../provisioner/flags.js';
import { adminTable, findAdmin, provisionersById } from './shared.js';

export interface AdminUpdateOptions {
  subject: string;
  /** --provisioner: which of the subject's admins, when it has several. */
  provisioner?: string;
  superAdmin: boolean;
  admin: AdminFlags & CaTargetFlags;
}

export async function adminUpdateRun(opts: AdminUpdateOptions, ctx: AdminCtx): Promise<void> {
  const { admin } = await adminSession(opts.admin, ctx);
  const byId = await provisionersById(admin);
  const found = findAdmin(await admin.admins(), opts.subject, opts.provisioner, byId);
  const updated = await admin.updateAdmin(found.id, opts.superAdmin ? 'SUPER_ADMIN' : 'ADMIN');
  result(ctx.io, adminTable([updated], byId));
}

export function create(ctx: Ctx, run = adminUpdateRun): Command {
  const cmd = new Command('update')
    .summary('make an admin a super admin, or not (super admins only)')
    .description(
      "Change an admin's type, as 'step ca admin update' does: --super makes SUBJECT a SUPER_ADMIN, --super=false an ADMIN. When SUBJECT is an admin of several provisioners, --provisioner says which. The CA refuses to demote its last super admin.",
    )
    .argument('<subject>', 'the admin to change')
    .addOption(new Option('--super [bool]', 'SUPER_ADMIN (--super=false: ADMIN)').argParser(parseBool))
    .addOption(new Option('--provisioner <name>', "the admin's provisioner, when SUBJECT is an admin of several"));
  return addAdminFlags(cmd)
    .addHelpText('after', `\nExamples:\n  $ ca admin update alice@example.com --super\n  $ ca admin update alice@example.com --super=false --provisioner Okta`)
    .action(async (subject: string, o: Record<string, unknown>, self: Command) => {
      if (o.super === undefined) {
        throw new UsageError("ca admin update needs '--super' or '--super=false'", { hint: `e.g. ca admin update ${subject} --super` });
      }
      await run({ subject, provisioner: o.provisioner as string | undefined, superAdmin: o.super === true, admin: adminFlagsFrom(o, self, ctx.env) }, ctx);
    });
}
