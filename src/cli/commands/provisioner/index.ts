import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import * as add from './add.js';
import * as update from './update.js';
import * as remove from './remove.js';
import * as list from './list.js';

export function create(ctx: Ctx): Command {
  return new Command('provisioner')
    .summary('add, change, list and remove provisioners (who may get certificates)')
    .description(
      "Manage the provisioners in ca.json; changes take effect when the CA reloads (SIGHUP) or restarts. On a CA with remote management (authority.enableAdmin: true; or no ca.json here, or --ca-url without --ca-config) add, update and remove go through the CA's admin API as an admin, and take effect at once.",
    )
    .addCommand(add.create(ctx))
    .addCommand(update.create(ctx))
    .addCommand(remove.create(ctx))
    .addCommand(list.create(ctx))
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca provisioner add Google --client-id ID --client-secret SECRET --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration\n  $ ca provisioner list\n  $ ca provisioner update Google --domain example.com\n  $ ca provisioner remove Google\n  $ ca provisioner update Okta --admin bob@example.com --ca-url https://ca.example.com`,
    );
}
