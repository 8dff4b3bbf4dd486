import { Command } from 'commander';
import type { Ctx } from '../context.js';
import { caUrlOption, rootOption } from '../flags.js';
import { result } from '../output.js';
import { resolveCaTarget, type CaTargetFlags } from '../../client/target.js';

export async function rootsRun(flags: CaTargetFlags, ctx: Pick<Ctx, 'io' | 'env' | 'caPath'>): Promise<void> {
  const { client } = await resolveCaTarget(flags, ctx);
  result(ctx.io, (await client.roots()).map((pem) => pem.trim()).join('\n'));
}

export function create(ctx: Ctx, run = rootsRun): Command {
  return new Command('roots')
    .summary('print every root certificate the CA trusts')
    .description("Print the PEM of each of the CA's roots, as 'step ca roots' does.")
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText('after', `\nExamples:\n  $ ca roots > roots.pem\n  $ ca roots --ca-url https://ca.example.com:8443 --root root_ca.crt`)
    .action(async (o: CaTargetFlags) => run(o, ctx));
}
