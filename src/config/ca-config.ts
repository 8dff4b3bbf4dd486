import { readFile } from 'node:fs/promises';
import { CaError, fileProblem } from '../errors.js';
import { withFileLock, writeFileAtomic } from './atomic.js';
import { parseJsonFile } from './json.js';
import { shortDuration, tryParseDuration } from './duration.js';

/**
 * ca.json in step-ca's schema. We model the fields we use and keep every other one as it was
 * read: a step-ca config's `db`, `tls`, `templates`, JWK provisioners and anything newer pass
 * through every edit untouched.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Claims {
  minTLSCertDuration?: string;
  maxTLSCertDuration?: string;
  defaultTLSCertDuration?: string;
  enableSSHCA?: boolean;
  disableRenewal?: boolean;
  allowRenewalAfterExpiry?: boolean;
  disableSmallstepExtensions?: boolean;
  [key: string]: unknown;
}

/** A provisioner as stored: `type` and `name` always, the rest depends on the type. */
export interface ProvisionerJson {
  type: string;
  name: string;
  [key: string]: unknown;
}

export interface CaConfigJson {
  root?: string | string[];
  federatedRoots?: string[] | null;
  crt?: string;
  key?: string;
  address?: string;
  insecureAddress?: string;
  dnsNames?: string[];
  authority?: {
    provisioners?: ProvisionerJson[];
    claims?: Claims;
    backdate?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** step-ca's global claim defaults for X.509 (ms). */
export const GLOBAL_TLS_CLAIMS = { min: 5 * 60_000, max: 24 * 3_600_000, default: 24 * 3_600_000 };

/** A ca.json that parses but is wrong. The hint never suggests 'ca init --force': that would replace the CA's keys. */
export function invalidConfig(path: string, detail: string): CaError {
  return new CaError('ERR_CONFIG_INVALID', `${path}: ${detail}`, { hint: `fix ${path} by hand` });
}

/** Read and parse ca.json; a missing file or bad JSON is a clear error naming the file. */
export async function readCaConfig(path: string): Promise<CaConfigJson> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CaError('ERR_FILE_NOT_FOUND', `the CA configuration ${path} does not exist`, {
        hint: "run 'ca init' first, or point --ca-config (or $CA_PATH) at an existing ca.json",
      });
    }
    throw new CaError('ERR_FILE_IO', `cannot read the CA configuration ${path}: ${fileProblem(err)}`, {
      cause: err,
      hint: 'point --ca-config (or $CA_PATH) at a readable ca.json',
    });
  }
  return parseCaConfig(text, path);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parse ca.json: JSON (a syntax error points at its line and column), an object, and the parts
 * every command walks shaped as step-ca requires (`authority` an object, each provisioner an
 * object with a `type` and a `name`), so no command trips over them later.
 */
export function parseCaConfig(text: string, path: string): CaConfigJson {
  const value = parseJsonFile(text, path);
  if (!isObject(value)) throw invalidConfig(path, `expected a JSON object ({...}), found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  const config = value as CaConfigJson;
  const authority: unknown = config.authority;
  if (authority === undefined || authority === null) return config;
  if (!isObject(authority)) throw invalidConfig(path, '"authority" must be an object');
  const provisioners = authority.provisioners;
  if (provisioners === undefined || provisioners === null) return config;
  if (!Array.isArray(provisioners)) throw invalidConfig(path, '"authority.provisioners" must be an array');
  provisioners.forEach((p: unknown, i) => {
    if (!isObject(p) || typeof p.type !== 'string' || p.type === '' || typeof p.name !== 'string') {
      throw invalidConfig(path, `"authority.provisioners[${i}]" must be an object with a "type" and a "name"`);
    }
  });
  return config;
}

/**
 * Refuse a ca.json that is not a CA's (`{}`, another program's JSON): one that `ca init` or `step
 * ca init` wrote names its root, intermediate certificate and key.
 */
export function requireCaConfig(config: CaConfigJson, path: string): void {
  const named = (v: unknown): boolean => (typeof v === 'string' && v !== '') || (Array.isArray(v) && v.length > 0);
  const missing = (['root', 'crt', 'key'] as const).filter((field) => !named(config[field]));
  if (missing.length > 0) {
    throw new CaError('ERR_CONFIG_INVALID', `${path} is not a CA configuration: it has no ${missing.map((f) => `"${f}"`).join(', ')}`, {
      hint: "point --ca-config (or $CA_PATH) at the ca.json that 'ca init' wrote, or run 'ca init' to create a CA",
    });
  }
}

/** ca.json as step writes it: tab indentation, trailing newline. */
export function serializeCaConfig(config: CaConfigJson): string {
  return `${JSON.stringify(config, null, '\t')}\n`;
}

/**
 * Change ca.json under a lock: read the current file, let `mutate` change it (or throw, leaving
 * the file as it was), and replace it atomically keeping its mode.
 */
export async function editCaConfig<T>(path: string, mutate: (config: CaConfigJson) => T | Promise<T>): Promise<T> {
  return withFileLock(path, async () => {
    const config = await readCaConfig(path);
    const result = await mutate(config);
    await writeFileAtomic(path, serializeCaConfig(config));
    return result;
  });
}

/** The CA's names: ca.json `dnsNames`, else step-ca's defaults (localhost and loopback). */
export function dnsNamesOf(config: CaConfigJson): string[] {
  return Array.isArray(config.dnsNames) && config.dnsNames.length > 0 ? config.dnsNames.map(String) : ['localhost', '127.0.0.1', '::1'];
}

export function provisionersOf(config: CaConfigJson): ProvisionerJson[] {
  config.authority ??= {};
  config.authority.provisioners ??= [];
  return config.authority.provisioners;
}

export interface TlsDurations {
  min: number;
  max: number;
  default: number;
}

function claimMs(claims: Claims | undefined, key: string, where: string): number | undefined {
  const v = claims?.[key];
  if (v === undefined || v === null || v === '') return undefined;
  const ms = typeof v === 'string' ? tryParseDuration(v) : undefined;
  if (ms === undefined) {
    throw new CaError('ERR_DURATION_INVALID', `${where}: "${key}" is not a duration: ${JSON.stringify(v)}`, {
      exitCode: 2,
      hint: 'use a Go duration such as 5m, 1h30m or 24h',
    });
  }
  return ms;
}

export type TlsClaimKey = 'minTLSCertDuration' | 'maxTLSCertDuration' | 'defaultTLSCertDuration';
/** Where a duration in force came from. */
export type ClaimSource = 'provisioner' | 'authority' | 'default';
/** How a message names a duration: a flag when it came from one, else its ca.json field. */
export type ClaimLabel = (key: TlsClaimKey, from: ClaimSource) => string;

const DEFAULT_NAMES: Record<TlsClaimKey, string> = {
  minTLSCertDuration: 'the default minimum',
  maxTLSCertDuration: 'the default maximum',
  defaultTLSCertDuration: 'the default duration',
};

/** ca.json's names: `claims.<key>` of the provisioner, `authority.claims.<key>`, or step-ca's default. */
export const claimFieldLabel: ClaimLabel = (key, from) => (from === 'provisioner' ? `claims.${key}` : from === 'authority' ? `authority.claims.${key}` : DEFAULT_NAMES[key]);

/**
 * The X.509 durations in force for a provisioner: its own claims, else the authority's, else
 * step-ca's defaults. A contradiction names both values where they came from (`label`: the
 * flags of `ca provisioner add`, or the ca.json fields), e.g. "--x509-max-dur 1h is shorter than
 * --x509-min-dur 2h".
 */
export function effectiveTlsDurations(provisionerClaims: Claims | undefined, globalClaims: Claims | undefined, label: ClaimLabel = claimFieldLabel): TlsDurations {
  const fallback: Record<TlsClaimKey, number> = {
    minTLSCertDuration: GLOBAL_TLS_CLAIMS.min,
    maxTLSCertDuration: GLOBAL_TLS_CLAIMS.max,
    defaultTLSCertDuration: GLOBAL_TLS_CLAIMS.default,
  };
  const pick = (key: TlsClaimKey): { ms: number; name: string } => {
    const own = claimMs(provisionerClaims, key, 'claims');
    if (own !== undefined) return { ms: own, name: label(key, 'provisioner') };
    const global = claimMs(globalClaims, key, 'authority.claims');
    if (global !== undefined) return { ms: global, name: label(key, 'authority') };
    return { ms: fallback[key], name: label(key, 'default') };
  };
  const min = pick('minTLSCertDuration');
  const max = pick('maxTLSCertDuration');
  const def = pick('defaultTLSCertDuration');
  const bad = (msg: string) => new CaError('ERR_DURATION_INVALID', msg, { exitCode: 2 });
  const said = (d: { ms: number; name: string }): string => `${d.name} ${shortDuration(d.ms)}`;
  for (const d of [min, max, def]) if (d.ms <= 0) throw bad(`${d.name} must be longer than 0`);
  if (max.ms < min.ms) throw bad(`${said(max)} is shorter than ${said(min)}`);
  if (def.ms < min.ms) throw bad(`${said(def)} is shorter than ${said(min)}`);
  if (def.ms > max.ms) throw bad(`${said(def)} is longer than ${said(max)}`);
  return { min: min.ms, max: max.ms, default: def.ms };
}
