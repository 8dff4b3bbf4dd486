import { Command } from 'commander';
import type { Ctx } from '../context.js';
import { result } from '../output.js';
import { parsePem } from '../../pki/pem.js';
import { fingerprint } from '../../pki/fingerprint.js';
import { readInput } from './inspect.js';

export interface FingerprintOptions {
  file: string;
  bundle: boolean;
}

export async function fingerprintRun(opts: FingerprintOptions, ctx: Pick<Ctx, 'io'>): Promise<void> {
  const blocks = parsePem(await readInput(opts.file, ctx), opts.file === '-' ? 'standard input' : opts.file);
  const shown = opts.bundle ? blocks : blocks.slice(0, 1);
  result(ctx.io, shown.map((b) => fingerprint(b.der)).join('\n'));
}

export function create(ctx: Ctx, run = fingerprintRun): Command {
  return new Command('fingerprint')
    .summary("print a certificate's SHA-256 fingerprint")
    .description(
      "Print the SHA-256 fingerprint of a certificate's DER encoding in lowercase hex, as 'step certificate fingerprint' does: the value 'ca bootstrap --fingerprint' expects.",
    )
    .argument('<file>', 'a PEM or DER certificate, or - for standard input')
    .option('--bundle', 'print the fingerprint of every certificate in the file', false)
    .addHelpText('after', `\nExamples:\n  $ ca fingerprint ~/.ca/certs/root_ca.crt\n  $ ca fingerprint chain.crt --bundle`)
    .action(async (file: string, o: { bundle: boolean }) => {
      await run({ file, bundle: Boolean(o.bundle) }, ctx);
    });
}
