import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CaError, UsageError, fileProblem } from '../../errors.js';
import type { Ctx } from '../context.js';
import { parsePem } from '../../pki/pem.js';
import { inspect, type InspectFormat } from '../../pki/inspect/index.js';

export interface InspectOptions {
  file: string;
  format: InspectFormat;
  short: boolean;
  bundle: boolean;
}

/** Read a file, or stdin for "-". */
export async function readInput(file: string, ctx: Pick<Ctx, 'io'>): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CaError('ERR_FILE_NOT_FOUND', `file ${file} does not exist`);
    throw new CaError('ERR_FILE_IO', `cannot read ${file}: ${fileProblem(err)}`, { cause: err });
  }
}

export async function inspectRun(opts: InspectOptions, ctx: Pick<Ctx, 'io'>): Promise<void> {
  if (opts.short && opts.format !== 'text') throw new UsageError(`flag '--short' is incompatible with '--format ${opts.format}'`);
  const blocks = parsePem(await readInput(opts.file, ctx), opts.file === '-' ? 'standard input' : opts.file);
  ctx.io.stdout.write(inspect(blocks, { format: opts.format, short: opts.short, bundle: opts.bundle }));
}

export function create(ctx: Ctx, run = inspectRun): Command {
  return new Command('inspect')
    .summary('print what a certificate or CSR holds')
    .description("Print the contents of a certificate or certificate signing request, as 'step certificate inspect' does.")
    .argument('<file>', 'a PEM or DER file, or - for standard input')
    .option('--short', 'print a short summary: subject, names, issuer, provisioner, validity', false)
    .addOption(new Option('--format <format>', 'how to print it: text for people, json for scripts, pem to re-encode').choices(['text', 'json', 'pem']).default('text'))
    .option('--bundle', 'show every certificate in the file (a chain), not only the first', false)
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca inspect alice.crt\n  $ ca inspect alice.crt --short\n  $ ca inspect alice.crt --bundle --format json | jq '.[0].subject'\n  $ openssl s_client -connect api:443 </dev/null 2>/dev/null | ca inspect - --short`,
    )
    .action(async (file: string, o: { short: boolean; format: InspectFormat; bundle: boolean }) => {
      await run({ file, short: Boolean(o.short), format: o.format, bundle: Boolean(o.bundle) }, ctx);
    });
}
