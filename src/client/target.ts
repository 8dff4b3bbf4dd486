import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError, fileProblem } from '../errors.js';
import { parseJsonFile } from '../config/json.js';
import { makeClosableFetch, makeFetch } from './http.js';
import { CaClient } from './ca-client.js';

/** config/defaults.json as `step ca bootstrap` and `step ca init` write it. */
export interface ClientDefaults {
  'ca-url'?: string;
  root?: string;
  fingerprint?: string;
  'ca-config'?: string;
  [key: string]: unknown;
}

export function defaultsPath(caPath: string): string {
  return join(caPath, 'config', 'defaults.json');
}

export async function readDefaults(caPath: string): Promise<ClientDefaults> {
  const path = defaultsPath(caPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CaError('ERR_CONFIG_INVALID', `cannot read ${path}: ${fileProblem(err)}`, { cause: err, hint: "fix it, or run 'ca bootstrap' again" });
  }
  const value = parseJsonFile(text, path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CaError('ERR_CONFIG_INVALID', `${path}: expected a JSON object ({...})`, { hint: "fix it, or run 'ca bootstrap' again" });
  }
  return value as ClientDefaults;
}

/** step's rule: a CA URL without a scheme gets https://, and it must be https. */
export function normalizeCaUrl(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid value '${value}' for flag '--ca-url': not a URL`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`invalid value '${value}' for flag '--ca-url': must have https scheme`);
  return url.href.replace(/\/+$/, '');
}

export interface CaTargetFlags {
  caUrl?: string;
  root?: string;
}

export interface CaTarget {
  caUrl: string;
  rootPath: string;
  rootPem: string;
  client: CaClient;
  /** A fetch that trusts the CA's root (for the CA) and honours the proxy. */
  fetch: typeof fetch;
}

/**
 * Where the CA is and which root to trust: flags (and their CA_URL / CA_ROOT twins) first, then
 * what `ca bootstrap` saved in $CA_PATH/config/defaults.json.
 */
export async function resolveCaTarget(flags: CaTargetFlags, ctx: { caPath: string; env: NodeJS.ProcessEnv }): Promise<CaTarget> {
  const defaults = await readDefaults(ctx.caPath);
  const rawUrl = flags.caUrl ?? defaults['ca-url'];
  if (!rawUrl) {
    throw new CaError('ERR_MISSING_FLAG', "no CA is configured: missing the '--ca-url' flag", {
      exitCode: 2,
      hint: "run 'ca bootstrap --ca-url URL --fingerprint FP' once, or pass --ca-url and --root (or set CA_URL and CA_ROOT)",
    });
  }
  const caUrl = normalizeCaUrl(rawUrl);
  const rootPath = flags.root ?? defaults.root ?? join(ctx.caPath, 'certs', 'root_ca.crt');
  let rootPem: string;
  try {
    rootPem = await readFile(rootPath, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CaError('ERR_FILE_NOT_FOUND', missing ? `the root certificate ${rootPath} does not exist` : `cannot read ${rootPath}: ${fileProblem(err)}`, {
      hint: "run 'ca bootstrap --ca-url URL --fingerprint FP', or pass --root FILE (or set CA_ROOT)",
    });
  }
  const fetchWithRoot = makeFetch({ env: ctx.env, ca: rootPem });
  return { caUrl, rootPath, rootPem, client: new CaClient(caUrl, fetchWithRoot), fetch: fetchWithRoot };
}

/**
 * A client of the same CA that presents a certificate (mutual TLS: renew, rekey, revoke), with
 * its own connections, which close() ends. `signal` aborts its requests.
 */
export function mutualTlsClient(
  target: CaTarget,
  credentials: { certPem: string; keyPem: string },
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): { client: CaClient; close: () => Promise<void> } {
  const { fetch, close } = makeClosableFetch({ env, ca: target.rootPem, clientCertificate: credentials });
  return { client: new CaClient(target.caUrl, fetch, undefined, signal), close };
}
