import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CaError, UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { caUrlOption, rootOption } from '../flags.js';
import { status } from '../output.js';
import { writeFileAtomic } from '../../config/atomic.js';
import { resolveCaTarget, type CaTargetFlags } from '../../client/target.js';
import { DerError } from '../../pki/der.js';
import { parseCrl } from '../../pki/inspect/crl.js';
import { toPem } from '../../pki/pem.js';

export interface CrlOptions extends CaTargetFlags {
  out?: string;
  der: boolean;
  force: boolean;
}

export async function crlRun(opts: CrlOptions, ctx: Pick<Ctx, 'io' | 'env' | 'caPath'>): Promise<void> {
  if (opts.der && !opts.out && ctx.io.stdoutIsTTY) {
    throw new UsageError('not writing a binary (DER) CRL to the terminal', { hint: 'pass --out FILE, pipe it, or leave out --der for PEM' });
  }
  if (opts.out && existsSync(opts.out) && !opts.force) {
    throw new CaError('ERR_FILE_EXISTS', `${opts.out} already exists`, { hint: 'pass --force to replace it (a cron job refreshing a CRL passes it every time)' });
  }
  const target = await resolveCaTarget(opts, ctx);
  let der: Uint8Array;
  try {
    der = await target.client.crl();
  } catch (err) {
    if (err instanceof CaError && err.status === 404) {
      throw new CaError('ERR_NOT_FOUND', `the CA at ${target.caUrl} does not publish a CRL`, {
        hint: 'an admin turns it on with "crl": {"enabled": true} in ca.json, then reloads the CA (kill -HUP)',
      });
    }
    throw err;
  }
  let crl: ReturnType<typeof parseCrl>;
  try {
    crl = parseCrl(der);
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    throw new CaError('ERR_CA_RESPONSE', `the CA at ${target.caUrl} answered /crl with something that is not a CRL: ${err.message}`, {
      hint: 'check that --ca-url points at the CA',
    });
  }
  const data = opts.der ? der : toPem('X509 CRL', der);
  if (!opts.out) {
    ctx.io.stdout.write(data);
    return;
  }
  // A CRL is public and read by services running as other users: a new file is world-readable.
  await writeFileAtomic(opts.out, data, existsSync(opts.out) ? undefined : 0o644);
  const next = crl.nextUpdate ? `, next update ${crl.nextUpdate.toISOString()}` : '';
  status(ctx.io, `The certificate revocation list has been saved in ${opts.out} (${crl.revoked.length} revoked${next}).`);
}

export function create(ctx: Ctx, run = crlRun): Command {
  return new Command('crl')
    .summary("download the CA's certificate revocation list")
    .description(
      "Download the CA's current certificate revocation list (GET /crl) and print it, or save it with --out. PEM by default, which openssl, nginx and Node's TLS take; --der for the binary form. Services that check it refuse revoked certificates: fetch it again before its next update (cron or a systemd timer).",
    )
    .option('--out <file>', 'save it to this file (default: print to standard output)')
    .addOption(new Option('--pem', 'PEM (the default)').conflicts('der'))
    .option('--der', 'the binary DER form (application/pkix-crl)', false)
    .option('-f, --force', 'replace --out if it exists', false)
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText(
      'after',
      `
Examples:
  # Look at it
  $ ca crl | ca inspect -

  # Save it for a service, and check a certificate against it
  $ ca crl --out /etc/ssl/ca.crl.pem --force
  $ openssl verify -crl_check -CAfile root_ca.crt -untrusted intermediate_ca.crt -CRLfile /etc/ssl/ca.crl.pem alice.crt

  # The binary form
  $ ca crl --der --out ca.crl`,
    )
    .action(async (o: CaTargetFlags & { out?: string; der?: boolean; force?: boolean }) =>
      run({ caUrl: o.caUrl, root: o.root, out: o.out, der: Boolean(o.der), force: Boolean(o.force) }, ctx),
    );
}
