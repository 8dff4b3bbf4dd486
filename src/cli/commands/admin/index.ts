import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import * as add from './add.js';
import * as list from './list.js';
import * as update from './update.js';
import * as remove from './remove.js';

export function create(ctx: Ctx): Command {
  return new Command('admin')
    .summary('list, add, change and remove the admins of a CA with remote management')
    .description(
      "Manage who may administer a CA with remote management (authority.enableAdmin), as 'step ca admin' does, through the CA's admin API. An admin belongs to a provisioner: the subject is the name a login at that provisioner gives (an email for OIDC). A SUPER_ADMIN may also manage admins; an ADMIN manages provisioners only.",
    )
    .addCommand(list.create(ctx))
    .addCommand(add.create(ctx))
    .addCommand(update.create(ctx))
    .addCommand(remove.create(ctx))
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca admin list\n  $ ca admin add alice@example.com Okta --super\n  $ ca admin update alice@example.com --super=false\n  $ ca admin remove alice@example.com`,
    );
}
