import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { CaError, UsageError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { status } from '../output.js';
import { makeDirectory, writeFileAtomic } from '../../config/atomic.js';
import { CaClient } from '../../client/ca-client.js';
import { makeFetch } from '../../client/http.js';
import { defaultsPath, normalizeCaUrl } from '../../client/target.js';
import { parsePem, toPem } from '../../pki/pem.js';
import { fingerprint as sha256Fingerprint } from '../../pki/fingerprint.js';

export interface BootstrapOptions {
  caUrl: string;
  fingerprint: string;
  force: boolean;
}

type BootstrapCtx = Pick<Ctx, 'io' | 'env' | 'caPath' | 'prompter'>;

/** step accepts fingerprints with or without dashes/colons, any case. */
export function normalizeFingerprint(value: string): string {
  const fp = value.replace(/[-:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(fp)) {
    throw new UsageError(`invalid value '${value}' for flag '--fingerprint': expected the root's SHA-256 fingerprint (64 hex digits)`, {
      hint: "on the CA, 'ca fingerprint $CA_PATH/certs/root_ca.crt' prints it",
    });
  }
  return fp;
}

/** Write `path` unless it already holds something else, which needs --force or a yes. */
async function writeChecked(path: string, content: string, mode: number, force: boolean, ctx: BootstrapCtx): Promise<void> {
  if (!force && existsSync(path) && (await readFile(path, 'utf8')) !== content) {
    const yes = await ctx.prompter.confirm(`Would you like to overwrite ${path}?`, { flag: '--force' });
    if (!yes) throw new CaError('ERR_FILE_EXISTS', `${path} already exists`, { hint: 'pass --force to overwrite it' });
  }
  await makeDirectory(dirname(path), 0o700, { hint: `set $CA_PATH to a directory you can write` });
  await writeFileAtomic(path, content, mode);
}

function fingerprintMismatch(detail: string): CaError {
  return new CaError('ERR_CERT_INVALID', `fingerprint mismatch: ${detail}`, {
    hint: "check the fingerprint with the CA admin ('ca fingerprint root_ca.crt' on the CA): a wrong one may mean someone is intercepting the connection",
  });
}

/**
 * GET /root/{fingerprint}. A CA answers 404 when it has no root with that fingerprint: that is a
 * fingerprint mismatch, not a missing page, when the server is a CA at all (its /health answers).
 */
async function fetchRoot(client: CaClient, caUrl: string, expected: string): Promise<string> {
  try {
    return await client.root(expected);
  } catch (err) {
    if (!(err instanceof CaError && err.code === 'ERR_CA_RESPONSE' && err.status === 404)) throw err;
    const isCa = await client.health().then((status) => status === 'ok', () => false);
    if (!isCa) {
      throw new CaError('ERR_CA_RESPONSE', `${caUrl} does not look like a CA: it has neither /root/${expected.slice(0, 8)}... nor /health`, {
        hint: 'check --ca-url (the CA\'s URL, e.g. https://ca.example.com:8443)',
      });
    }
    throw fingerprintMismatch(`the CA at ${caUrl} has no root certificate with the fingerprint ${expected}`);
  }
}

export async function bootstrapRun(opts: BootstrapOptions, ctx: BootstrapCtx): Promise<void> {
  const caUrl = normalizeCaUrl(opts.caUrl);
  const expected = normalizeFingerprint(opts.fingerprint);
  // Trust nothing yet: the root is pinned by its fingerprint instead, as step does.
  const client = new CaClient(caUrl, makeFetch({ env: ctx.env, insecure: true }));
  const blocks = parsePem(await fetchRoot(client, caUrl, expected), `the root from ${caUrl}`);
  // Exactly the one certificate the fingerprint covers: anything else in the answer would be
  // trusted later without ever having been checked.
  const der = blocks.length === 1 && blocks[0]?.label === 'CERTIFICATE' ? blocks[0].der : undefined;
  if (!der || sha256Fingerprint(der) !== expected) throw fingerprintMismatch(`the root from ${caUrl} does not match the fingerprint ${expected}`);
  const rootPath = join(ctx.caPath, 'certs', 'root_ca.crt');
  const configPath = defaultsPath(ctx.caPath);
  // Written afresh, as step does: a broken old file must not stop the bootstrap that repairs it.
  const defaults = { 'ca-url': caUrl, fingerprint: expected, root: rootPath };
  await writeChecked(rootPath, toPem('CERTIFICATE', der), 0o600, opts.force, ctx);
  await writeChecked(configPath, `${JSON.stringify(defaults, null, 2)}\n`, 0o600, true, ctx);
  status(ctx.io, `The root certificate has been saved in ${rootPath}.`);
  status(ctx.io, `The authority configuration has been saved in ${configPath}.`);
}

export function create(ctx: Ctx, run = bootstrapRun): Command {
  return new Command('bootstrap')
    .summary("trust a CA: fetch its root, check the fingerprint, save the CA's URL")
    .description(
      "Fetch the root certificate of a CA, check it against the fingerprint the CA admin gave you, and save it with the CA's URL in $CA_PATH (certs/root_ca.crt and config/defaults.json), as 'step ca bootstrap' does. After that no command needs --ca-url or --root.",
    )
    .addOption(new Option('--ca-url <url>', "the CA's URL, e.g. https://ca.example.com").env('CA_URL').makeOptionMandatory())
    .addOption(new Option('--fingerprint <sha256>', "the root's SHA-256 fingerprint, from the CA admin ('ca fingerprint root_ca.crt')").env('CA_FINGERPRINT').makeOptionMandatory())
    .option('-f, --force', 'overwrite an existing, different root without asking', false)
    .addHelpText(
      'after',
      `\nExamples:\n  $ ca bootstrap --ca-url https://ca.example.com --fingerprint 2da8705e6877d186ece7ec2e71722c46c52f81d9d7959ab52e8dcc82c2938ff3\n  $ CA_PATH=~/.ca-lab ca bootstrap --ca-url ca.lab.internal:8443 --fingerprint 2da87...`,
    )
    .action(async (o: { caUrl: string; fingerprint: string; force: boolean }) => {
      await run({ caUrl: o.caUrl, fingerprint: o.fingerprint, force: Boolean(o.force) }, ctx);
    });
}
