import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CaError, UsageError, describe } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath, readPasswordFile } from '../../flags.js';
import { success } from '../../output.js';
import type { Prompter } from '../../prompter.js';
import {
  editCaConfig,
  effectiveTlsDurations,
  provisionersOf,
  readCaConfig,
  requireCaConfig,
  type CaConfigJson,
  type Claims,
  type ClaimLabel,
  type ProvisionerJson,
} from '../../../config/ca-config.js';
import {
  checkUncheckedEndpoint,
  checkUniqueName,
  claimFlagLabel,
  newOidcProvisioner,
  STEP_PROVISIONER_TYPES,
  validateOidcProvisioner,
  type OidcChanges,
  type OidcProvisionerJson,
} from '../../../config/provisioner.js';
import { newJwkProvisioner, validateJwkProvisioner, type JwkProvisionerJson } from '../../../config/jwk.js';
import { checkOidcEndpoint } from '../../../authority/discovery.js';
import { encryptJwk, generateProvisionerKey, jwkThumbprint, publicJwkOf, readPrivateKeyFile, readPublicKeyFile, type Jwk } from '../../../pki/jwk.js';
import { provisionerLabel } from '../../../client/provisioners.js';
import { addClaimFlags, addOidcFlags, changesFromFlags, oidcFlagsGiven, type OidcFlagValues } from './flags.js';
import { printRemoteSaved, printSaved } from './saved.js';
import { adminFlagsFrom, adminSession, addAdminFlags, managementMode, type AdminCtx, type AdminFlags } from '../../admin-login.js';
import { resolveCaTarget, type CaTargetFlags } from '../../../client/target.js';
import { toLinked } from '../../../config/linkedca.js';

/** Where a JWK provisioner's key comes from (`add --type JWK`). */
export interface JwkKeySource {
  /** Make a new key. */
  create: boolean;
  /** A public key file: JWK or PEM. */
  publicKey?: string;
  /** A private key file: JWK, PEM or JWE. */
  privateKey?: string;
  /** The password that encrypts the key in ca.json (and opens an encrypted --private-key). */
  passwordFile?: string;
}

export interface AddOptions {
  name: string;
  /** --type; unset, it is JWK when a JWK key flag is given, else OIDC. */
  type?: string;
  changes: OidcChanges;
  jwk: JwkKeySource;
  /** The OIDC-only flags given (they make no sense for a JWK provisioner). */
  oidcFlags: string[];
  check: boolean;
  configPath: string;
}

type AddCtx = Pick<Ctx, 'io' | 'fetch' | 'prompter'>;

function jwkFlagsGiven(k: JwkKeySource): string[] {
  return [k.create && '--create', k.publicKey !== undefined && '--public-key', k.privateKey !== undefined && '--private-key'].filter(
    (f): f is string => typeof f === 'string',
  );
}

/** JWK or OIDC: the two types ca makes; step's others are named and refused. */
function resolveType(opts: AddOptions): 'JWK' | 'OIDC' {
  const jwkFlags = jwkFlagsGiven(opts.jwk);
  const type = opts.type?.toUpperCase() ?? (jwkFlags.length > 0 ? 'JWK' : 'OIDC');
  if (type !== 'JWK' && type !== 'OIDC') {
    if (STEP_PROVISIONER_TYPES.includes(type)) {
      throw new UsageError(`provisioner type ${type} is not supported by ca: it adds JWK and OIDC provisioners`, {
        hint: 'use --type OIDC (logins at an identity provider) or --type JWK (a key for services); other step provisioners already in ca.json are kept as they are',
      });
    }
    throw new UsageError(`invalid value '${opts.type}' for flag '--type'; options are ${STEP_PROVISIONER_TYPES.join(', ')}`, {
      hint: 'ca adds --type OIDC and --type JWK',
    });
  }
  const wrong = type === 'JWK' ? opts.oidcFlags : jwkFlags;
  if (wrong.length > 0) throw new UsageError(`flag '${wrong[0]}' is not for --type ${type}`, { hint: `leave it out, or use --type ${type === 'JWK' ? 'OIDC' : 'JWK'}` });
  return type;
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CaError('ERR_FILE_NOT_FOUND', `cannot read ${file}: ${describe(err)}`, { exitCode: 1 });
  }
}

/** The passwords of `add --type JWK`: from --password-file, or asked (a new one twice, to catch a typo). */
function passwords(file: string | undefined, prompter: Prompter): { existing: () => Promise<string>; fresh: () => Promise<string> } {
  let password: string | undefined;
  const existing = async (): Promise<string> =>
    (password ??= file
      ? await readPasswordFile(file)
      : await prompter.password('Please enter the password to decrypt the private key:', { flag: '--password-file' }));
  const fresh = async (): Promise<string> => {
    if (password !== undefined) return password;
    if (file) return (password = await readPasswordFile(file));
    const first = await prompter.password('Please enter a password to encrypt the provisioner private key:', {
      flag: '--password-file',
      validate: (v) => (v ? true : 'the password cannot be empty'),
    });
    const again = await prompter.password('Please enter the password again:', { flag: '--password-file' });
    if (first !== again) throw new UsageError('the passwords do not match', { hint: 'run the command again, or pass --password-file FILE' });
    return (password = first);
  };
  return { existing, fresh };
}

/** The provisioner's public key and (unless only a public key was given) its encrypted private key. */
async function jwkKeys(k: JwkKeySource, prompter: Prompter): Promise<{ key: Jwk; encryptedKey?: string }> {
  const { existing, fresh } = passwords(k.passwordFile, prompter);
  if (k.create) {
    if (k.publicKey !== undefined) throw new UsageError("flag '--create' is incompatible with '--public-key'");
    if (k.privateKey !== undefined) throw new UsageError("flag '--create' is incompatible with '--private-key'");
    const { publicJwk, privateJwk } = await generateProvisionerKey();
    return { key: publicJwk, encryptedKey: await encryptJwk(privateJwk, await fresh()) };
  }
  if (k.publicKey === undefined && k.privateKey === undefined) {
    throw new UsageError("'--type JWK' requires the '--create', '--public-key' or '--private-key' flag", {
      hint: 'pass --create to make a new key, or give the key files you have',
    });
  }
  const publicJwk = k.publicKey !== undefined ? await readPublicKeyFile(await readKeyFile(k.publicKey), k.publicKey) : undefined;
  if (k.privateKey === undefined) return { key: publicJwk as Jwk };
  const privateJwk = await readPrivateKeyFile(await readKeyFile(k.privateKey), k.privateKey, existing);
  if (publicJwk && (await jwkThumbprint(publicJwk)) !== (await jwkThumbprint(privateJwk))) {
    throw new UsageError(`the key in ${k.publicKey} is not the public half of the key in ${k.privateKey}`);
  }
  // The public file's kid, when given, is the one tokens name; the private key is stored under it.
  const key = publicJwk ?? publicJwkOf(privateJwk);
  return { key, encryptedKey: await encryptJwk({ ...privateJwk, kid: key.kid }, await fresh()) };
}

/** What the CA already has, that a new provisioner is checked against. */
interface Known {
  others: ProvisionerJson[];
  claims: Claims | undefined;
}

async function newJwk(opts: AddOptions, ctx: AddCtx, label: ClaimLabel, known: Known): Promise<JwkProvisionerJson> {
  // Fail on what is known already (a taken name, a bad duration) before asking for any password.
  checkUniqueName({ type: 'JWK', name: opts.name }, known.others);
  effectiveTlsDurations(newJwkProvisioner(opts.name, { kty: 'EC' }, undefined, { fromAdd: true, changes: opts.changes }).claims, known.claims, label);
  const { key, encryptedKey } = await jwkKeys(opts.jwk, ctx.prompter);
  const provisioner = newJwkProvisioner(opts.name, key, encryptedKey, { fromAdd: true, changes: opts.changes });
  validateJwkProvisioner(provisioner, known.others, known.claims, label);
  return provisioner;
}

async function checkEndpoint(oidc: OidcProvisionerJson, opts: AddOptions, ctx: AddCtx): Promise<void> {
  if (opts.check) await checkOidcEndpoint(oidc.name, oidc.configurationEndpoint, { fetch: ctx.fetch });
  else checkUncheckedEndpoint(oidc.configurationEndpoint);
}

/** The check a provisioner of this type must pass against the others (again under the lock). */
function validatorFor(type: 'JWK' | 'OIDC', label: ClaimLabel): (p: ProvisionerJson, list: ProvisionerJson[], claims: Claims | undefined) => void {
  return type === 'JWK'
    ? (p, list, claims) => validateJwkProvisioner(p as JwkProvisionerJson, list, claims, label)
    : (p, list, claims) => validateOidcProvisioner(p as OidcProvisionerJson, list, claims, label);
}

async function localConfig(configPath: string): Promise<CaConfigJson> {
  const config = await readCaConfig(configPath);
  requireCaConfig(config, configPath);
  return config;
}

export async function addRun(opts: AddOptions, ctx: AddCtx): Promise<void> {
  const type = resolveType(opts);
  const label = claimFlagLabel(opts.changes);
  let provisioner: ProvisionerJson;
  if (type === 'JWK') {
    const before = await localConfig(opts.configPath);
    provisioner = await newJwk(opts, ctx, label, { others: provisionersOf(before), claims: before.authority?.claims });
  } else {
    const oidc = newOidcProvisioner(opts.name, opts.changes);
    // Fail fast on what the file alone can tell, before touching the network.
    const before = await localConfig(opts.configPath);
    validateOidcProvisioner(oidc, provisionersOf(before), before.authority?.claims, label);
    await checkEndpoint(oidc, opts, ctx);
    provisioner = oidc;
  }
  const validate = validatorFor(type, label);
  await editCaConfig(opts.configPath, (config) => {
    requireCaConfig(config, opts.configPath);
    const list = provisionersOf(config);
    validate(provisioner, list, config.authority?.claims); // again: another process may have added one
    list.push(provisioner);
  });
  if (type === 'JWK') success(ctx.io, 'Provisioner', provisionerLabel(provisioner));
  printSaved(ctx.io, opts.configPath);
}

/**
 * The same provisioner added through the CA's admin API: checked here against the CA's public
 * list (a taken name or client ID fails before any login), then sent as linkedca protojson. It
 * serves at once; the CA checks it again.
 */
export async function addRemoteRun(opts: AddOptions & { admin: AdminFlags & CaTargetFlags }, ctx: AddCtx & AdminCtx): Promise<void> {
  const type = resolveType(opts);
  const label = claimFlagLabel(opts.changes);
  const oidc = type === 'OIDC' ? newOidcProvisioner(opts.name, opts.changes) : undefined;
  const target = await resolveCaTarget(opts.admin, ctx);
  const known: Known = { others: await target.client.provisioners(), claims: undefined };
  let provisioner: ProvisionerJson;
  if (oidc) {
    validateOidcProvisioner(oidc, known.others, known.claims, label);
    await checkEndpoint(oidc, opts, ctx);
    provisioner = oidc;
  } else {
    provisioner = await newJwk(opts, ctx, label, known);
  }
  const { admin } = await adminSession(opts.admin, ctx, target);
  await admin.addProvisioner(toLinked(provisioner));
  success(ctx.io, 'Provisioner', provisionerLabel(provisioner));
  printRemoteSaved(ctx.io, target.caUrl, `added provisioner ${provisioner.name}`);
}

interface AddFlagValues extends OidcFlagValues {
  type?: string;
  create?: boolean;
  publicKey?: string;
  privateKey?: string;
  passwordFile?: string;
  caConfig?: string;
}

export function create(ctx: Ctx, run = addRun, remoteRun = addRemoteRun): Command {
  const cmd = new Command('add')
    .summary('add a JWK or OIDC provisioner (to ca.json, or to a CA with remote management)')
    .description(
      `Add a provisioner to the CA configuration, as 'step ca provisioner add' does. An OIDC provisioner lets the users of an identity provider (Google, Okta, Entra ID, Keycloak, ...) get certificates by logging in; its discovery document is fetched first to check the endpoint, unless --no-check. A JWK provisioner is a key: whoever has its password can make tokens ('ca token') and certificates for any name, e.g. for servers and CI jobs; its private key is stored in ca.json encrypted with that password. On a CA with remote management (authority.enableAdmin in its ca.json, or no ca.json here, or --ca-url without --ca-config) the provisioner is added through the CA's admin API and serves at once; you log in as an admin first unless a kept admin certificate or --admin-cert is at hand.`,
    )
    .argument('<name>', 'the name of the provisioner, shown to users when they pick one')
    .addOption(new Option('--type <type>', 'JWK or OIDC (default: OIDC, or JWK with --create, --public-key or --private-key)'))
    .option('--create', 'JWK: make a new key (EC P-256)')
    .option('--public-key <file>', 'JWK: the public key, a JWK or PEM file')
    .option('--private-key <file>', 'JWK: the private key, a JWK, PEM or JWE file; stored encrypted with the password')
    .option('--password-file <file>', 'JWK: a file holding the password that encrypts the key (asked twice on a terminal otherwise)');
  addOidcFlags(cmd);
  addAdminFlags(addClaimFlags(cmd).addOption(caConfigOption()))
    .addHelpText(
      'after',
      `
Examples:
  # A key for services and CI jobs: whoever has pw.txt can get certificates for any name
  $ ca provisioner add ci --type JWK --create --password-file pw.txt --x509-default-dur 2h

  # A JWK provisioner from keys you have (the private key is stored encrypted)
  $ ca provisioner add ops --type JWK --public-key ops.pub.json --private-key ops.key.pem --password-file pw.txt

  # Google Workspace: only example.com accounts, alice is an admin
  $ ca provisioner add Google --type OIDC \\
      --client-id 1087...apps.googleusercontent.com --client-secret GOCSPX-... \\
      --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration \\
      --domain example.com --admin alice@example.com

  # Okta, fixed callback port, members of "engineering" only
  $ ca provisioner add Okta --client-id 0oa... --client-secret ... \\
      --configuration-endpoint https://acme.okta.com/.well-known/openid-configuration \\
      --listen-address 127.0.0.1:10000 --group engineering --x509-default-dur 8h

  # Microsoft Entra ID
  $ ca provisioner add Entra --client-id 1a2b... --client-secret ... --tenant-id 72f9... \\
      --configuration-endpoint https://login.microsoftonline.com/72f9.../v2.0/.well-known/openid-configuration

  # A CA with remote management, from an admin's laptop: log in with the CA's admin provisioner
  $ ca provisioner add Okta --client-id 0oa... --client-secret ... \\
      --configuration-endpoint https://acme.okta.com/.well-known/openid-configuration \\
      --ca-url https://ca.example.com --admin-subject alice@example.com --admin-provisioner authority-admin`,
    )
    .action(async (name: string, o: AddFlagValues, self: Command) => {
      const admin = adminFlagsFrom(o as unknown as Record<string, unknown>, self, ctx.env);
      const mode = await managementMode(admin, ctx);
      const opts: AddOptions = {
        name,
        type: o.type,
        changes: changesFromFlags(o),
        jwk: { create: Boolean(o.create), publicKey: o.publicKey, privateKey: o.privateKey, passwordFile: o.passwordFile },
        oidcFlags: oidcFlagsGiven(o as unknown as Record<string, unknown>),
        check: o.check,
        configPath: mode.kind === 'local' ? mode.configPath : caConfigPath(ctx, o.caConfig),
      };
      if (mode.kind === 'local') await run(opts, ctx);
      else await remoteRun({ ...opts, admin }, ctx);
    });
  return cmd;
}
