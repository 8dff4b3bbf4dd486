import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { CaError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, rootOption } from '../flags.js';
import { result, status } from '../output.js';
import { writeFileAtomic } from '../../config/atomic.js';
import { readDefaults, resolveCaTarget, type CaTargetFlags } from '../../client/target.js';

export interface RootOptions extends CaTargetFlags {
  file?: string;
  force: boolean;
}

export async function rootRun(opts: RootOptions, ctx: Pick<Ctx, 'io' | 'env' | 'caPath'>): Promise<void> {
  const target = await resolveCaTarget(opts, ctx);
  const fp = (await readDefaults(ctx.caPath)).fingerprint;
  const pem = fp ? await target.client.root(fp) : ((await target.client.roots())[0] ?? '');
  if (!opts.file) {
    result(ctx.io, pem.trim());
    return;
  }
  if (existsSync(opts.file) && !opts.force) throw new CaError('ERR_FILE_EXISTS', `${opts.file} already exists`, { hint: 'pass --force to overwrite it' });
  await writeFileAtomic(opts.file, `${pem.trim()}\n`, 0o600);
  status(ctx.io, `The root certificate has been saved in ${opts.file}.`);
}

export function create(ctx: Ctx, run = rootRun): Command {
  return new Command('root')
    .summary("download the CA's root certificate")
    .description("Download the CA's root certificate and print it or save it to FILE, as 'step ca root' does.")
    .argument('[file]', 'where to save it (default: print to standard output)')
    .option('-f, --force', 'overwrite FILE if it exists', false)
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText('after', `\nExamples:\n  $ ca root\n  $ ca root root_ca.crt\n  $ ca root root_ca.crt --force`)
    .action(async (file: string | undefined, o: CaTargetFlags & { force: boolean }) => run({ ...o, file, force: Boolean(o.force) }, ctx));
}
