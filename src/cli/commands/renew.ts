import type { EventEmitter } from 'node:events';
import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { status } from '../output.js';
import { checkWritable, confirmOverwrite } from '../files.js';
import {
  checkWithinValidity,
  durationFlag,
  hooksFrom,
  lifecycleFlags,
  lifecycleOptions,
  notDue,
  readCredentials,
  runHooks,
  withCertificate,
  type LifecycleFlags,
} from '../lifecycle.js';
import { writeFileAtomic } from '../../config/atomic.js';
import { chainPem } from '../../client/ca-client.js';
import { runRenewalDaemon } from '../../client/renewal.js';
import { resolveCaTarget } from '../../client/target.js';
import { leafFacts, type Credentials } from '../../pki/credentials.js';

export interface RenewOptions extends LifecycleFlags {
  crtFile: string;
  keyFile: string;
  out?: string;
  force: boolean;
  expiresIn?: string;
  renewPeriod?: string;
  daemon: boolean;
}

export type RenewCtx = Pick<Ctx, 'io' | 'env' | 'now' | 'prompter' | 'caPath'> & {
  /** Where the daemon hears SIGHUP, SIGINT and SIGTERM (the process). */
  signals: EventEmitter;
  random?: () => number;
};

/** "2026-05-01T12:00:00Z": the daemon's lines carry the time, as step's log lines do. */
function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function renewRun(opts: RenewOptions, ctx: RenewCtx): Promise<void> {
  const expiresInMs = durationFlag(opts.expiresIn, '--expires-in');
  const renewPeriodMs = durationFlag(opts.renewPeriod, '--renew-period');
  if (expiresInMs && renewPeriodMs) throw new UsageError("flag '--expires-in' is incompatible with '--renew-period'");
  if (renewPeriodMs !== undefined && !opts.daemon) throw new UsageError("flag '--renew-period' requires the '--daemon' flag");
  const hooks = await hooksFrom(opts);
  let credentials: Credentials = await readCredentials(opts.crtFile, opts.keyFile, opts.passwordFile);
  checkWithinValidity(credentials.leaf, [
    { flag: '--renew-period', ms: renewPeriodMs, equalAllowed: false },
    { flag: '--expires-in', ms: expiresInMs, equalAllowed: true },
  ]);
  const outFile = opts.out ?? opts.crtFile;
  await checkWritable([outFile]);
  const target = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);

  /** One renewal over mutual TLS with the certificate in force; the new one replaces the file in one step. */
  const renewOnce = async (signal?: AbortSignal): Promise<Credentials> => {
    const pem = chainPem(await withCertificate(target, credentials, ctx, 'renew', (client) => client.renew(), signal));
    const renewed = { ...credentials, chainPem: pem, leaf: leafFacts(pem, 'the renewed certificate').facts };
    await writeFileAtomic(outFile, pem);
    credentials = renewed;
    return renewed;
  };

  if (opts.daemon) {
    await runRenewalDaemon(
      {
        current: () => credentials.leaf,
        renew: async (signal) => {
          const { leaf } = await renewOnce(signal);
          return `renewed ${outFile} (serial ${leaf.serial}, valid until ${stamp(leaf.notAfter)})`;
        },
        afterRenewal: () => runHooks(hooks, ctx.io),
      },
      { expiresInMs, renewPeriodMs },
      { now: ctx.now, signals: ctx.signals, random: ctx.random, log: (line) => status(ctx.io, `${stamp(ctx.now())} ${line}`) },
    );
    return;
  }

  const waiting = notDue(credentials.leaf, expiresInMs, ctx.now(), 'renewed', ctx.random);
  if (waiting) {
    status(ctx.io, waiting);
    return;
  }
  await confirmOverwrite([outFile], opts.force, ctx);
  await renewOnce();
  status(ctx.io, `Your certificate has been saved in ${outFile}.`);
  await runHooks(hooks, ctx.io);
}

export function create(ctx: Ctx, run = renewRun): Command {
  const cmd = new Command('renew')
    .summary('renew a certificate with the certificate itself (mutual TLS)')
    .description(
      "Renew CRT with the CA, as 'step ca renew' does: the certificate and KEY prove who you are over mutual TLS (no login), and the CA issues the same certificate (same names, same key, same lifetime) with a new serial, which replaces CRT in one step. With --daemon it keeps renewing when about two thirds of the lifetime have passed, retrying while the CA is unreachable, and runs --exec or signals --pid after each renewal. A revoked certificate, or one whose provisioner disables renewal, is refused; an expired one too, unless the provisioner allows renewal after expiry.",
    )
    .argument('<crt-file>', 'the certificate to renew (PEM; the chain the CA sent)')
    .argument('<key-file>', 'its private key (unchanged by a renewal)')
    .option('--out <file>', 'write the new certificate here instead of replacing CRT')
    .addOption(new Option('--output-file <file>').hideHelp())
    .option('-f, --force', 'replace the certificate file without asking', false)
    .option('--expires-in <duration>', 'renew only if the certificate expires within this time (e.g. 8h); otherwise say so and exit 0')
    .option('--daemon', 'keep running and renew the certificate before it expires', false)
    .option('--renew-period <duration>', 'with --daemon: renew every this often instead of at two thirds of the lifetime');
  for (const option of lifecycleOptions('renewed')) cmd.addOption(option);
  return cmd
    .addHelpText(
      'after',
      `
Examples:
  # Renew now, replacing the certificate file
  $ ca renew --force svc.crt svc.key

  # Renew only when less than 8 hours are left (for cron); not yet due exits 0
  $ ca renew --force --expires-in 8h svc.crt svc.key

  # Keep a service's certificate fresh and reload nginx after each renewal
  $ ca renew --daemon --exec "nginx -s reload" svc.crt svc.key

  # Signal a process (SIGHUP by default) after each renewal
  $ ca renew --daemon --pid-file /run/envoy.pid svc.crt svc.key

Signals to the daemon: SIGHUP renews at once; SIGTERM or SIGINT stops it (exit 0).`,
    )
    .action(async (crtFile: string, keyFile: string, o: Record<string, unknown>) => {
      await run(
        {
          crtFile,
          keyFile,
          out: (o.out ?? o.outputFile) as string | undefined,
          force: Boolean(o.force),
          expiresIn: o.expiresIn as string | undefined,
          renewPeriod: o.renewPeriod as string | undefined,
          daemon: Boolean(o.daemon),
          ...lifecycleFlags(o),
        },
        { ...ctx, signals: process },
      );
    });
}
