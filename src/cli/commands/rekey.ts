import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { parseKeySize } from '../flags.js';
import { status, success } from '../output.js';
import { checkWritable, confirmOverwrite } from '../files.js';
import { durationFlag, hooksFrom, lifecycleFlags, lifecycleOptions, notDue, readCredentials, runHooks, withCertificate, type LifecycleFlags } from '../lifecycle.js';
import { writeFilesAtomic } from '../../config/atomic.js';
import { chainPem } from '../../client/ca-client.js';
import { resolveCaTarget } from '../../client/target.js';
import { createKeyAndRequest, keySpecFromFlags } from '../../pki/request.js';

export interface RekeyOptions extends LifecycleFlags {
  crtFile: string;
  keyFile: string;
  outCert?: string;
  outKey?: string;
  kty?: string;
  curve?: string;
  size?: number;
  force: boolean;
  expiresIn?: string;
}

export type RekeyCtx = Pick<Ctx, 'io' | 'env' | 'now' | 'prompter' | 'caPath'> & { random?: () => number };

export async function rekeyRun(opts: RekeyOptions, ctx: RekeyCtx): Promise<void> {
  const keySpec = keySpecFromFlags(opts.kty, opts.curve, opts.size);
  const expiresInMs = durationFlag(opts.expiresIn, '--expires-in');
  const hooks = await hooksFrom(opts);
  const outCert = opts.outCert ?? opts.crtFile;
  const outKey = opts.outKey ?? opts.keyFile;
  if (outCert === outKey) throw new UsageError('the certificate and the key must go to different files');
  const credentials = await readCredentials(opts.crtFile, opts.keyFile, opts.passwordFile);
  await checkWritable([outCert, outKey]);
  const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);

  const waiting = notDue(credentials.leaf, expiresInMs, ctx.now(), 'rekeyed', ctx.random);
  if (waiting) {
    status(ctx.io, waiting);
    return;
  }
  await confirmOverwrite([outCert, outKey], opts.force, ctx);

  // The CA keeps the names of the certificate; the request only carries the new key.
  const { csrPem, keyPem } = await createKeyAndRequest(keySpec, { commonName: credentials.leaf.subject, sans: [] });
  const pem = chainPem(await withCertificate(target, credentials, ctx, 'rekey', (client) => client.rekey(csrPem)));
  // Both are written beside their targets first and renamed together: never a new certificate with the old key.
  await writeFilesAtomic([
    { path: outCert, data: pem },
    { path: outKey, data: keyPem, mode: 0o600 },
  ]);
  success(ctx.io, 'Certificate', outCert);
  success(ctx.io, 'Private Key', outKey);
  await runHooks(hooks, ctx.io);
}

export function create(ctx: Ctx, run = rekeyRun): Command {
  const cmd = new Command('rekey')
    .summary('replace a certificate and its key with a new key (mutual TLS)')
    .description(
      "Get a new key for CRT, as 'step ca rekey' does: a new key pair is made on this machine, the old certificate and KEY prove who you are over mutual TLS, and the CA issues the same certificate (same names, same lifetime) for the new key. The new certificate and key replace CRT and KEY together (or go to --out-cert and --out-key).",
    )
    .argument('<crt-file>', 'the certificate to rekey (PEM)')
    .argument('<key-file>', 'its current private key')
    .option('--out-cert <file>', 'write the new certificate here instead of replacing CRT')
    .option('--out-key <file>', 'write the new private key here instead of replacing KEY (mode 0600)')
    .addOption(new Option('--kty <type>', 'the type of the new key; OKP means Ed25519').choices(['EC', 'RSA', 'OKP']).default('EC'))
    .option('--curve <curve>', 'EC curve P-256 (default), P-384, P-521; or Ed25519 with --kty OKP')
    .addOption(new Option('--crv <curve>').hideHelp())
    .option('--size <bits>', 'RSA key size (default 2048)', parseKeySize)
    .option('-f, --force', 'replace existing files without asking', false)
    .option('--expires-in <duration>', 'rekey only if the certificate expires within this time; otherwise say so and exit 0');
  for (const option of lifecycleOptions('rekeyed')) cmd.addOption(option);
  return cmd
    .addHelpText(
      'after',
      `
Examples:
  # A new key for a certificate, replacing both files
  $ ca rekey --force svc.crt svc.key

  # Keep the old files; write the new ones elsewhere
  $ ca rekey svc.crt svc.key --out-cert new.crt --out-key new.key

  # An RSA key this time, and reload the service afterwards
  $ ca rekey --force --kty RSA --size 3072 --exec "systemctl reload nginx" svc.crt svc.key`,
    )
    .action(async (crtFile: string, keyFile: string, o: Record<string, unknown>) => {
      await run(
        {
          crtFile,
          keyFile,
          outCert: o.outCert as string | undefined,
          outKey: o.outKey as string | undefined,
          kty: o.kty as string,
          curve: (o.curve ?? o.crv) as string | undefined,
          size: o.size as number | undefined,
          force: Boolean(o.force),
          expiresIn: o.expiresIn as string | undefined,
          ...lifecycleFlags(o),
        },
        ctx,
      );
    });
}
