import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CaError, UsageError, fileProblem } from '../../errors.js';
import type { Ctx } from '../context.js';
import { parsePem, type PemBlock } from '../../pki/pem.js';
import { inspect, type InspectFormat } from '../../pki/inspect/index.js';

export interface InspectOptions {
  /** A file, "-" for standard input, or an https:// URL (the chain the server presents). */
  file: string;
  format: InspectFormat;
  short: boolean;
  bundle: boolean;
  /** For a URL: verify the served chain against these roots (a PEM file) instead of the system's. */
  roots?: string;
  /** For a URL: do not verify the served chain. */
  insecure: boolean;
}

async function readFileOrFail(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CaError('ERR_FILE_NOT_FOUND', `file ${file} does not exist`);
    throw new CaError('ERR_FILE_IO', `cannot read ${file}: ${fileProblem(err)}`, { cause: err });
  }
}

/** Read a file, or stdin for "-". */
export async function readInput(file: string, ctx: Pick<Ctx, 'io'>): Promise<Buffer> {
  if (file !== '-') return readFileOrFail(file);
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** What the TLS server at an https:// URL presents, leaf first. */
async function servedChain(opts: InspectOptions): Promise<PemBlock[]> {
  const roots = opts.roots === undefined ? undefined : (await readFileOrFail(opts.roots)).toString('utf8');
  // Loaded only for a URL: node:tls costs a file's inspection ~20 ms of start-up.
  const { fetchServedChain } = await import('../../client/tls-chain.js');
  const chain = await fetchServedChain(opts.file, { roots, insecure: opts.insecure });
  return chain.map((der): PemBlock => ({ label: 'CERTIFICATE', der }));
}

export async function inspectRun(opts: InspectOptions, ctx: Pick<Ctx, 'io'>): Promise<void> {
  if (opts.short && opts.format !== 'text') throw new UsageError(`flag '--short' is incompatible with '--format ${opts.format}'`);
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.file);
  if (!isUrl && (opts.roots !== undefined || opts.insecure)) throw new UsageError("flags '--roots' and '--insecure' apply to an https:// URL, not to a file");
  if (opts.roots !== undefined && opts.insecure) throw new UsageError("flag '--roots' is incompatible with '--insecure'");
  const blocks = isUrl ? await servedChain(opts) : parsePem(await readInput(opts.file, ctx), opts.file === '-' ? 'standard input' : opts.file);
  ctx.io.stdout.write(inspect(blocks, { format: opts.format, short: opts.short, bundle: opts.bundle }));
}

export function create(ctx: Ctx, run = inspectRun): Command {
  return new Command('inspect')
    .summary('print what a certificate, CSR or CRL holds, from a file or a TLS server')
    .description(
      "Print the contents of a certificate or certificate signing request, as 'step certificate inspect' does, or of a certificate revocation list (its issuer, updates, number and every revoked serial with its date and reason), as 'step crl inspect' does. Given an https:// URL it connects and inspects the certificate the server presents (with --bundle the whole chain, up to the root it was verified with), verified against the system's roots, or --roots FILE, or not at all with --insecure.",
    )
    .argument('<file|url>', 'a PEM or DER file, - for standard input, or https://host[:port]')
    .option('--short', 'print a short summary: subject, names, issuer, provisioner, validity (a CRL: updates and revoked serials)', false)
    .addOption(new Option('--format <format>', 'how to print it: text for people, json for scripts, pem to re-encode').choices(['text', 'json', 'pem']).default('text'))
    .option('--bundle', 'show every certificate in the file or chain, not only the first', false)
    .option('--roots <file>', "for a URL: verify the server's chain against these root certificates (PEM)")
    .option('--insecure', "for a URL: do not verify the server's chain", false)
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca inspect alice.crt\n  $ ca inspect alice.crt --short\n  $ ca inspect alice.crt --bundle --format json | jq '.[0].subject'\n  $ ca inspect https://ca.example.com:8443 --roots ~/.ca/certs/root_ca.crt --bundle --short\n  $ ca inspect https://self-signed.example.com --insecure\n  $ openssl s_client -connect api:443 </dev/null 2>/dev/null | ca inspect - --short\n  $ ca crl | ca inspect -`,
    )
    .action(async (file: string, o: { short: boolean; format: InspectFormat; bundle: boolean; roots?: string; insecure: boolean }) => {
      await run({ file, short: Boolean(o.short), format: o.format, bundle: Boolean(o.bundle), roots: o.roots, insecure: Boolean(o.insecure) }, ctx);
    });
}
