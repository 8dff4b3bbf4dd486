import { CaError, describe } from '../errors.js';
import { checkDiscoveredEndpoint, discoveryUrl } from '../config/provisioner.js';

/** The parts of an OpenID Provider's discovery document that the CA and the CLI read. */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  device_authorization_endpoint?: string;
  [key: string]: unknown;
}

export interface FetchOptions {
  fetch: typeof fetch;
  /** Abort a request that takes longer (default 10 s). */
  timeoutMs?: number;
}

function discoveryError(url: string, detail: string, cause?: unknown): CaError {
  return new CaError('ERR_DISCOVERY', `failed to connect to ${url}: ${detail}`, {
    status: 502,
    cause,
    hint: 'check the URL and that the identity provider is reachable (and any HTTPS_PROXY setting)',
  });
}

/**
 * The most we read of a discovery document or a key set. Real ones are a few KiB (a key set with
 * certificate chains a few tens); an answer past this is not one, and is not kept in memory.
 */
export const MAX_DOCUMENT_BYTES = 256 * 1024;
/** The most keys a key set may hold: IdPs publish a handful (current, next, retired). */
export const MAX_JWKS_KEYS = 100;

/** The body as text, refusing (and no longer reading) one larger than `limit` bytes. */
async function readCapped(url: string, res: Response, limit: number): Promise<string> {
  const tooLarge = (): CaError => discoveryError(url, `the response is larger than ${limit} bytes`);
  if (Number(res.headers.get('content-length') ?? 0) > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

async function getJson(url: string, opts: FetchOptions): Promise<{ body: unknown; headers: Headers }> {
  let res: Response;
  try {
    res = await opts.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (err) {
    throw discoveryError(url, describe(err), err);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw discoveryError(url, `HTTP ${res.status} ${res.statusText}`.trim());
  }
  let text: string;
  try {
    text = await readCapped(url, res, MAX_DOCUMENT_BYTES);
  } catch (err) {
    throw err instanceof CaError ? err : discoveryError(url, describe(err), err);
  }
  try {
    return { body: JSON.parse(text) as unknown, headers: res.headers };
  } catch (err) {
    throw discoveryError(url, `the response is not JSON (${describe(err)})`, err);
  }
}

/** Fetch and check a discovery document: it must name its `issuer` and `jwks_uri`, as step-ca requires. */
export async function fetchDiscovery(configurationEndpoint: string, opts: FetchOptions): Promise<DiscoveryDocument> {
  const url = discoveryUrl(configurationEndpoint);
  const { body } = await getJson(url, opts);
  const doc = body as Partial<DiscoveryDocument> | null;
  if (!doc || typeof doc !== 'object') throw discoveryError(url, 'the discovery document is not a JSON object');
  if (typeof doc.issuer !== 'string' || doc.issuer === '') {
    throw new CaError('ERR_DISCOVERY', `error parsing ${url}: issuer cannot be empty`, { status: 502 });
  }
  if (typeof doc.jwks_uri !== 'string' || doc.jwks_uri === '') {
    throw new CaError('ERR_DISCOVERY', `error parsing ${url}: jwks_uri cannot be empty`, { status: 502 });
  }
  checkDiscoveredEndpoint('jwks_uri', doc.jwks_uri, url);
  return doc as DiscoveryDocument;
}

/**
 * Fetch a JSON Web Key Set; returns the keys (objects only, at most MAX_JWKS_KEYS) and the
 * response headers (for Cache-Control).
 */
export async function fetchJwks(jwksUri: string, opts: FetchOptions): Promise<{ keys: Record<string, unknown>[]; headers: Headers }> {
  const { body, headers } = await getJson(jwksUri, opts);
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw discoveryError(jwksUri, 'the key set has no "keys" array');
  if (keys.length > MAX_JWKS_KEYS) throw discoveryError(jwksUri, `the key set has ${keys.length} keys, more than ${MAX_JWKS_KEYS}`);
  const objects = keys.filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null && !Array.isArray(k));
  return { keys: objects, headers };
}

/**
 * What `step ca provisioner add` does before it saves an OIDC provisioner: fetch the discovery
 * document and the keys, so a typo in the endpoint is caught now rather than at the first login.
 */
export async function checkOidcEndpoint(name: string, configurationEndpoint: string, opts: FetchOptions): Promise<DiscoveryDocument> {
  try {
    const doc = await fetchDiscovery(configurationEndpoint, opts);
    // The CA uses only the keys; the users' logins use these, so they are checked now too.
    for (const field of ['authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint'] as const) {
      const value = doc[field];
      if (typeof value === 'string') checkDiscoveredEndpoint(field, value, discoveryUrl(configurationEndpoint));
    }
    await fetchJwks(doc.jwks_uri, opts);
    return doc;
  } catch (err) {
    if (err instanceof CaError) {
      throw new CaError(err.code, `error validating configuration for provisioner "${name}": ${err.message}`, {
        cause: err,
        hint: `${err.hint ? `${err.hint}; ` : ''}or pass --no-check to save it without contacting the provider`,
      });
    }
    throw err;
  }
}
