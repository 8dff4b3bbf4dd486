import { Command } from 'commander';
import type { Ctx } from '../context.js';
import { caUrlOption, rootOption } from '../flags.js';
import { result } from '../output.js';
import { resolveCaTarget, type CaTargetFlags } from '../../client/target.js';

export async function healthRun(flags: CaTargetFlags, ctx: Pick<Ctx, 'io' | 'env' | 'caPath'>): Promise<void> {
  const { client } = await resolveCaTarget(flags, ctx);
  result(ctx.io, await client.health());
}

export function create(ctx: Ctx, run = healthRun): Command {
  return new Command('health')
    .summary('check that the CA is up')
    .description("Ask the CA for its health, as 'step ca health' does: prints ok when it answers.")
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText('after', `\nExamples:\n  $ ca health\n  $ ca health --ca-url https://ca.example.com:8443 --root root_ca.crt`)
    .action(async (o: CaTargetFlags) => run(o, ctx));
}
