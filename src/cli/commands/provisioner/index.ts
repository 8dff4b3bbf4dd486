import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import * as add from './add.js';
import * as update from './update.js';
import * as remove from './remove.js';
import * as list from './list.js';

export function create(ctx: Ctx): Command {
  return new Command('provisioner')
    .summary('add, change, list and remove provisioners (who may get certificates)')
    .description('Manage the provisioners in ca.json. Changes take effect when the CA reloads (SIGHUP) or restarts.')
    .addCommand(add.create(ctx))
    .addCommand(update.create(ctx))
    .addCommand(remove.create(ctx))
    .addCommand(list.create(ctx))
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca provisioner add Google --client-id ID --client-secret SECRET --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration\n  $ ca provisioner list\n  $ ca provisioner update Google --domain example.com\n  $ ca provisioner remove Google`,
    );
}
