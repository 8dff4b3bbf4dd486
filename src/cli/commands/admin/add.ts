import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import { result } from '../../output.js';
import type { CaTargetFlags } from '../../../client/target.js';
import { adminFlagsFrom, adminSession, addAdminFlags, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { adminTable, provisionersById } from './shared.js';

export interface AdminAddOptions {
  subject: string;
  provisioner: string;
  superAdmin: boolean;
  admin: AdminFlags & CaTargetFlags;
}

export async function adminAddRun(opts: AdminAddOptions, ctx: AdminCtx): Promise<void> {
  const { admin } = await adminSession(opts.admin, ctx);
  const added = await admin.addAdmin({ subject: opts.subject, provisioner: opts.provisioner, type: opts.superAdmin ? 'SUPER_ADMIN' : 'ADMIN' });
  result(ctx.io, adminTable([added], await provisionersById(admin)));
}

export function create(ctx: Ctx, run = adminAddRun): Command {
  const cmd = new Command('add')
    .summary('make someone an admin of the CA (super admins only)')
    .description(
      "Add an admin to a CA with remote management, as 'step ca admin add' does: SUBJECT logs in with PROVISIONER (for OIDC, the email the login gives). Only a super admin may add admins.",
    )
    .argument('<subject>', 'who: the name a login at the provisioner gives, e.g. alice@example.com')
    .argument('<provisioner>', 'the provisioner the admin logs in with')
    .option('--super', 'a super admin, who may also manage admins (default: an admin, who manages provisioners)', false);
  return addAdminFlags(cmd)
    .addHelpText('after', `\nExamples:\n  $ ca admin add alice@example.com Okta\n  $ ca admin add bob@example.com Okta --super --ca-url https://ca.example.com`)
    .action(async (subject: string, provisioner: string, o: Record<string, unknown>, self: Command) => {
      await run({ subject, provisioner, superAdmin: o.super === true, admin: adminFlagsFrom(o, self, ctx.env) }, ctx);
    });
}
