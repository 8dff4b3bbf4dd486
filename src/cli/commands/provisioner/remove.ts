import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath } from '../../flags.js';
import { editCaConfig, provisionersOf } from '../../../config/ca-config.js';
import { findProvisioner } from '../../../config/provisioner.js';
import { printSaved } from './saved.js';

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

export function create(ctx: Ctx, run = removeRun): Command {
  return new Command('remove')
    .summary('remove a provisioner from ca.json')
    .description("Remove a provisioner from the CA configuration, as 'step ca provisioner remove' does.")
    .argument('<name>', 'the name of the provisioner to remove')
    .addOption(caConfigOption())
    .addHelpText('after', `\nExamples:\n  $ ca provisioner remove Google\n  $ ca provisioner remove Okta --ca-config /srv/ca/config/ca.json`)
    .action(async (name: string, o: { caConfig?: string }) => {
      await run({ name, configPath: caConfigPath(ctx, o.caConfig) }, ctx);
    });
}
