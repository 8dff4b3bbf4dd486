import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CaError, UsageError, missingFlags } from '../../errors.js';
import type { Ctx } from '../context.js';
import { collectCsv, readPasswordFile } from '../flags.js';
import { status, success } from '../output.js';
import { caLayout, type CaLayout } from '../../config/paths.js';
import { serializeCaConfig, type CaConfigJson } from '../../config/ca-config.js';
import { checkListenAddress } from '../../config/provisioner.js';
import { makeDirectory, writeFileAtomic } from '../../config/atomic.js';
import { createCaPair, type IssuedCa } from '../../pki/ca.js';
import { prepareSigningCa } from '../../pki/certificate.js';
import { issueCrl } from '../../pki/crl.js';
import { toPem } from '../../pki/pem.js';
import { encryptPrivateKey } from '../../pki/keys.js';
import { fingerprint } from '../../pki/fingerprint.js';
import { encryptJwk, generateProvisionerKey } from '../../pki/jwk.js';
import { newJwkProvisioner, type JwkProvisionerJson } from '../../config/jwk.js';
import { provisionerLabel } from '../../client/provisioners.js';
import { DEFAULT_ADMIN_SUBJECT } from '../../store/admin-rules.js';

/** step's default name for the first provisioner when none is given. */
export const DEFAULT_PROVISIONER = 'admin';

export interface InitOptions {
  name?: string;
  dns?: string[];
  address?: string;
  passwordFile?: string;
  /** The first provisioner, a JWK one as `step ca init` makes (default `admin`). */
  provisioner?: string;
  /** Its key's password; default the CA password. */
  provisionerPasswordFile?: string;
  /** step's `--remote-management`: `enableAdmin`, no provisioners in ca.json, the JWK one and the first super admin in the database. */
  remoteManagement?: boolean;
  /** The first super admin's subject (default `step`). */
  adminSubject?: string;
  force: boolean;
}

type InitCtx = Pick<Ctx, 'io' | 'now' | 'prompter' | 'caPath'>;

/** step-ca's default TLS settings, written so the file reads as step's does. */
const DEFAULT_TLS = {
  cipherSuites: ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  minVersion: 1.2,
  maxVersion: 1.3,
  renegotiation: false,
};

function checkDnsName(name: string): void {
  if (!/^[A-Za-z0-9*._:[\]-]+$/.test(name)) {
    throw new UsageError(`invalid value '${name}' for flag '--dns': not a DNS name or IP address`);
  }
}

/** `https://<first name>[:port]`, leaving out :443 as step does. */
export function caUrlFor(dnsName: string, address: string): string {
  const port = address.slice(address.lastIndexOf(':') + 1);
  const host = dnsName.includes(':') && !dnsName.startsWith('[') ? `[${dnsName}]` : dnsName;
  return port === '443' ? `https://${host}` : `https://${host}:${port}`;
}

async function gather(opts: InitOptions, ctx: InitCtx): Promise<{ name: string; dns: string[]; address: string; password: string; generated: boolean }> {
  const { prompter } = ctx;
  if (!prompter.interactive) {
    // Nobody to ask: name every missing flag in one run, not one per run.
    const missing: [unknown, string][] = [[opts.name, '--name'], [opts.dns?.length ? opts.dns : undefined, '--dns'], [opts.address, '--address'], [opts.passwordFile, '--password-file']];
    const flags = missing.filter(([value]) => value === undefined).map(([, flag]) => flag);
    if (flags.length > 0) throw missingFlags(flags);
  }
  const name =
    opts.name ??
    (await prompter.input('What would you like to name your new PKI? (e.g. Smallstep)', {
      flag: '--name',
      validate: (v) => (v.trim() ? true : 'a name is required'),
    }));
  if (!name.trim()) throw new UsageError(`invalid value '' for flag '--name': cannot be empty`);
  const dns =
    opts.dns && opts.dns.length > 0
      ? opts.dns
      : (await prompter.input('What DNS names or IP addresses will clients use to reach your new CA? (comma-separated)', {
          flag: '--dns',
          default: 'localhost',
        }))
          .split(',')
          .map((d) => d.trim())
          .filter(Boolean);
  if (dns.length === 0) throw new UsageError(`'ca init' requires at least one '--dns' name`);
  dns.forEach(checkDnsName);
  const address =
    opts.address ??
    (await prompter.input('What IP and port will your new CA bind to? (e.g. :443 or 127.0.0.1:8443)', { flag: '--address', default: ':443' }));
  checkListenAddress(address, '--address', 'for example :443 or 127.0.0.1:8443 (the address and port ca serve listens on; an empty host means every address)');
  if (opts.passwordFile) return { name, dns, address, password: await readPasswordFile(opts.passwordFile), generated: false };
  const typed = await prompter.password('Choose a password for your CA keys [leave empty and we will generate one]', { flag: '--password-file' });
  if (typed) return { name, dns, address, password: typed, generated: false };
  return { name, dns, address, password: randomBytes(24).toString('base64url'), generated: true };
}

/** The first provisioner: a new P-256 key, its private half encrypted with `password`. */
async function firstProvisioner(name: string, password: string): Promise<JwkProvisionerJson> {
  const { publicJwk, privateJwk } = await generateProvisionerKey();
  return newJwkProvisioner(name, publicJwk, await encryptJwk(privateJwk, password));
}

function caConfigFor(layout: CaLayout, dns: string[], address: string, provisioner: JwkProvisionerJson, remote: boolean): CaConfigJson {
  return {
    root: layout.rootCert,
    federatedRoots: null,
    crt: layout.intermediateCert,
    key: layout.intermediateKey,
    address,
    insecureAddress: '',
    dnsNames: dns,
    logger: { format: 'text' },
    db: { type: 'sqlite', dataSource: layout.dbDir },
    // Unlike step ca init: revocation is only useful if services can see it.
    crl: { enabled: true, generateOnRevoke: true },
    // Remote management: the provisioners live in the database (the admin API changes them).
    authority: remote ? { enableAdmin: true, provisioners: [] } : { provisioners: [provisioner] },
    tls: DEFAULT_TLS,
  };
}

/**
 * The root's CRL, empty and valid for the root's whole life, signed while its key is at hand:
 * nginx, HAProxy and Node check a CRL for every CA of a client's chain, and the root key goes
 * offline after init.
 */
function rootCrl(root: IssuedCa): string {
  const der = new Uint8Array(root.cert.rawData);
  const ca = prepareSigningCa(der, createPrivateKey({ key: root.keyPkcs8, format: 'der', type: 'pkcs8' }), { cert: 'root', key: 'root key' });
  const crl = issueCrl(ca, { number: 1n, thisUpdate: root.cert.notBefore, nextUpdate: root.cert.notAfter, entries: [] });
  return toPem('X509 CRL', crl);
}

/** A database that already lists provisioners (another CA's, kept by --force) would not take the new ones. */
async function checkEmptyStore(dbDir: string): Promise<void> {
  if (!existsSync(dbDir)) return;
  const { openSqliteStore } = await import('../../store/sqlite.js');
  const store = openSqliteStore(dbDir);
  try {
    if ((await store.listProvisioners()).length > 0) {
      throw new CaError('ERR_CA_EXISTS', `the database in ${dbDir} already holds provisioners (of the CA there before)`, {
        hint: `move ${dbDir} away first, or set $CA_PATH to another directory`,
      });
    }
  } finally {
    await store.close();
  }
}

/** The first provisioner and super admin, in the new database. */
async function seedStore(dbDir: string, provisioner: JwkProvisionerJson, subject: string, now: Date): Promise<void> {
  const { openSqliteStore } = await import('../../store/sqlite.js');
  const store = openSqliteStore(dbDir);
  try {
    const id = randomUUID();
    const seeded = await store.seedProvisioners(
      [{ id, name: provisioner.name, type: provisioner.type, config: provisioner, createdAt: now }],
      [{ id: randomUUID(), subject, provisionerId: id, type: 'SUPER_ADMIN', createdAt: now }],
      { at: now, actor: 'ca init', action: 'provisioner.add', target: provisioner.name, detail: JSON.stringify({ superAdmin: subject }) },
    );
    if (!seeded) throw new CaError('ERR_CA_EXISTS', `the database in ${dbDir} already holds provisioners`, { hint: `move ${dbDir} away and run 'ca init' again` });
  } finally {
    await store.close();
  }
}

export async function initRun(opts: InitOptions, ctx: InitCtx): Promise<void> {
  const layout = caLayout(ctx.caPath);
  if (!opts.force && (existsSync(layout.caConfig) || existsSync(layout.rootCert) || existsSync(layout.rootKey))) {
    throw new CaError('ERR_CA_EXISTS', `a certificate authority already exists in ${layout.base}`, {
      hint: 'pass --force to replace it (its keys are lost), or set $CA_PATH to another directory',
    });
  }
  const provisionerName = opts.provisioner ?? DEFAULT_PROVISIONER;
  if (!provisionerName.trim()) throw new UsageError(`invalid value '' for flag '--provisioner': cannot be empty`);
  const remote = opts.remoteManagement === true;
  if (opts.adminSubject !== undefined && !remote) throw new UsageError("'--admin-subject' needs '--remote-management' (the admin is kept in the database)");
  const adminSubject = opts.adminSubject ?? DEFAULT_ADMIN_SUBJECT;
  if (!adminSubject.trim()) throw new UsageError(`invalid value '' for flag '--admin-subject': cannot be empty`);
  // The database must take the first admin: checked before anything is written.
  if (remote) await checkEmptyStore(layout.dbDir);
  const answers = await gather(opts, ctx);
  const provisionerPassword = opts.provisionerPasswordFile ? await readPasswordFile(opts.provisionerPasswordFile) : answers.password;

  // Make everything in memory first: a failure here leaves the disk untouched.
  const { root, intermediate } = await createCaPair(answers.name, ctx.now());
  status(ctx.io, 'Generating root certificate... done!');
  status(ctx.io, 'Generating intermediate certificate... done!');
  const rootFingerprint = fingerprint(new Uint8Array(root.cert.rawData));
  const provisioner = await firstProvisioner(provisionerName, provisionerPassword);
  const files: [string, string][] = [
    [layout.rootCert, root.cert.toString('pem') + '\n'],
    [layout.rootCrl, rootCrl(root)],
    [layout.rootKey, encryptPrivateKey(root.keyPkcs8, answers.password)],
    [layout.intermediateCert, intermediate.cert.toString('pem') + '\n'],
    [layout.intermediateKey, encryptPrivateKey(intermediate.keyPkcs8, answers.password)],
    [layout.caConfig, serializeCaConfig(caConfigFor(layout, answers.dns, answers.address, provisioner, remote))],
    [
      layout.defaults,
      `${JSON.stringify(
        { 'ca-url': caUrlFor(answers.dns[0] as string, answers.address), 'ca-config': layout.caConfig, fingerprint: rootFingerprint, root: layout.rootCert },
        null,
        '\t',
      )}\n`,
    ],
  ];

  const hint = `set $CA_PATH to a directory you can write (now ${layout.base})`;
  for (const dir of [layout.base, layout.certsDir, layout.secretsDir, layout.configDir, layout.dbDir]) await makeDirectory(dir, 0o700, { setMode: true, hint });
  for (const [path, content] of files) await writeFileAtomic(path, content, 0o600);
  if (remote) await seedStore(layout.dbDir, provisioner, adminSubject, ctx.now());

  status(ctx.io);
  success(ctx.io, 'Root certificate', layout.rootCert);
  success(ctx.io, 'Root private key', layout.rootKey);
  success(ctx.io, 'Root fingerprint', rootFingerprint);
  success(ctx.io, 'Root CRL', layout.rootCrl);
  success(ctx.io, 'Intermediate certificate', layout.intermediateCert);
  success(ctx.io, 'Intermediate private key', layout.intermediateKey);
  success(ctx.io, 'Database folder', layout.dbDir);
  success(ctx.io, 'Default configuration', layout.defaults);
  success(ctx.io, 'Certificate Authority configuration', layout.caConfig);
  success(ctx.io, 'Provisioner', provisionerLabel(provisioner));
  if (remote) success(ctx.io, 'Super admin', `${adminSubject} (provisioner ${provisionerName}, kept in the database)`);
  if (answers.generated) {
    status(ctx.io);
    status(ctx.io, `The password for your CA keys${opts.provisionerPasswordFile ? '' : ' and the provisioner key'} is: ${answers.password}`);
    status(ctx.io, 'Keep it safe: ca serve needs it (--password-file) to open the intermediate key.');
  }
  status(ctx.io);
  status(ctx.io, 'Your PKI is ready to go. Next, start the CA, and get certificates for services with the provisioner key:');
  status(ctx.io, '  ca serve --password-file FILE');
  status(ctx.io, `  ca certificate localhost localhost.crt localhost.key --provisioner ${provisionerName} --provisioner-password-file FILE`);
  if (remote) {
    status(ctx.io, `Remote management is on: provisioners and admins live in the database and change through the running CA's admin API. Log in as admin "${adminSubject}" with the ${provisionerName} provisioner's password when a command asks.`);
  }
  status(ctx.io, 'To let people in with their single sign-on, add an OIDC provisioner:');
  status(ctx.io, '  ca provisioner add Google --type OIDC --client-id ID --client-secret SECRET \\');
  status(ctx.io, '      --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration');
}

export function create(ctx: Ctx, run = initRun): Command {
  return new Command('init')
    .summary('create a new certificate authority: a root, an intermediate and ca.json')
    .description(
      `Create a new certificate authority in $CA_PATH (default ~/.ca), as 'step ca init' does: an ECDSA P-256 root and intermediate CA valid for 10 years, their keys encrypted with your password, config/ca.json and config/defaults.json, and a first provisioner: a JWK key (default name "admin") whose holder can get certificates for any name, e.g. a server's (its private key is stored in ca.json encrypted with --provisioner-password-file, else with the CA password). Flags that are missing are asked for on a terminal; without one, they are required.`,
    )
    .option('--name <name>', 'the name of the new PKI, used in the CA certificates (e.g. "Acme")')
    .option('--dns <name>', 'a DNS name or IP address of the CA (repeatable, or comma-separated)', collectCsv)
    .option('--address <host:port>', 'the address the CA listens on, e.g. :443 or 127.0.0.1:8443')
    .addOption(new Option('--password-file <file>', 'a file holding the password that encrypts the CA keys').env('CA_PASSWORD_FILE'))
    .option('--provisioner <name>', `the name of the first provisioner, a JWK key (default "${DEFAULT_PROVISIONER}")`)
    .option('--provisioner-password-file <file>', "a file holding the password that encrypts the provisioner's key (default: the CA password)")
    .option('--remote-management', 'manage provisioners and admins on the running CA (its admin API) instead of in ca.json: the first provisioner and a super admin go into the database', false)
    .option('--admin-subject <subject>', `with --remote-management, the first super admin's name (default "${DEFAULT_ADMIN_SUBJECT}")`)
    .option('-f, --force', 'replace an existing CA in $CA_PATH (its keys are lost)', false)
    .addHelpText(
      'after',
      `
Examples:
  # Asks for what is missing:
  $ ca init

  # No questions, for scripts:
  $ ca init --name Acme --dns ca.acme.internal --dns 10.0.0.5 --address :8443 --password-file ./pw.txt

  # The first provisioner named "ops", its key under its own password:
  $ ca init --name Acme --dns localhost --address :8443 --password-file ./pw.txt \\
      --provisioner ops --provisioner-password-file ./ops-pw.txt

  # Remote management (provisioners and admins in the database, changed through the admin API):
  $ ca init --name Acme --dns ca.acme.internal --address :8443 --password-file ./pw.txt \\
      --remote-management --admin-subject alice@acme.com

  # A second CA in another directory:
  $ CA_PATH=/srv/ca ca init --name Lab --dns localhost --address 127.0.0.1:9000 --password-file ./pw.txt`,
    )
    .action(async (o: InitOptions) => {
      await run(
        {
          name: o.name,
          dns: o.dns,
          address: o.address,
          passwordFile: o.passwordFile,
          provisioner: o.provisioner,
          provisionerPasswordFile: o.provisionerPasswordFile,
          remoteManagement: Boolean(o.remoteManagement),
          adminSubject: o.adminSubject,
          force: Boolean(o.force),
        },
        ctx,
      );
    });
}
