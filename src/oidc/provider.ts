import * as oidc from 'openid-client';
import { CaError, UsageError, describe } from '../errors.js';
import { checkDiscoveredEndpoint, discoveryUrl, isLoopbackHost } from '../config/provisioner.js';

/**
 * The identity provider as openid-client sees it: discovery, the authorization request, the
 * token requests, and the checks on what comes back. Everything network-facing goes through the
 * injected fetch; everything that fails becomes a CaError in step's words.
 */

/** The token endpoint's answer, in the fields `step oauth` prints. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
}

/** Tokens from a finished login; `claims` are the ID token's, checked (signature, iss, aud, exp, nonce). */
export interface TokenResult {
  tokens: TokenResponse;
  claims?: Record<string, unknown>;
}

export interface ProviderDeps {
  fetch: typeof fetch;
  now: () => Date;
}

/** One authorization request's secrets, kept in memory until its response arrives. */
export interface AuthorizationChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Parameters our authorization request sets itself; --auth-param may not replace them. */
const PROTECTED_PARAMS = new Set([
  'client_id', 'redirect_uri', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'scope',
]);

/** The discovery URL of a provider: https, or http on a loopback host (a local test IdP). */
export function providerDiscoveryUrl(configurationEndpoint: string): URL {
  let url: URL;
  try {
    url = new URL(discoveryUrl(configurationEndpoint));
  } catch {
    throw new UsageError(`invalid provider '${configurationEndpoint}': not a URL`, {
      hint: 'use the https URL of the identity provider, e.g. https://accounts.google.com',
    });
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return url;
  throw new UsageError(`invalid provider '${configurationEndpoint}': must use https`, {
    hint: 'http is accepted only for loopback hosts (127.0.0.1, ::1, localhost)',
  });
}

/** `k=v` strings as step's --auth-param takes them; the value may contain '='. */
export function parseAuthParams(params: readonly string[]): [string, string][] {
  return params.map((param) => {
    const eq = param.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`invalid value '${param}' for flag '--auth-param': expected key=value`, {
        hint: 'for example --auth-param prompt=select_account',
      });
    }
    const key = param.slice(0, eq);
    if (PROTECTED_PARAMS.has(key)) {
      throw new UsageError(`invalid value '${param}' for flag '--auth-param': ${key} is set by ca itself`, {
        hint: key === 'scope' ? 'use --scope' : 'leave it out',
      });
    }
    return [key, param.slice(eq + 1)];
  });
}

/**
 * Where providers depart from the standard in ways openid-client refuses or changes, and what we
 * keep of their answers. It sits in the fetch, so the rest of the login stays standard.
 */
interface ProviderQuirks {
  /** The device and token endpoints, known once discovery is done. */
  deviceEndpoint?: string;
  tokenEndpoint?: string;
  /** token_type as the provider sent it, by access token: openid-client lower-cases it, `ca oauth` prints it as sent. */
  tokenTypes: Map<string, string>;
}

const quirksOf = new WeakMap<oidc.Configuration, ProviderQuirks>();

function sameUrl(a: string, b: string | undefined): boolean {
  return b !== undefined && URL.canParse(a) && URL.canParse(b) && new URL(a).href === new URL(b).href;
}

/** The provider's answer, with its quirks evened out. */
async function evenOut(quirks: ProviderQuirks, url: string, res: Response): Promise<Response> {
  const device = sameUrl(url, quirks.deviceEndpoint);
  if (!res.ok || !(device || sameUrl(url, quirks.tokenEndpoint))) return res;
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return res; // openid-client reports it
  }
  if (typeof body !== 'object' || body === null) return res;
  const fields = body as Record<string, unknown>;
  if (!device) {
    if (typeof fields.access_token === 'string' && typeof fields.token_type === 'string') quirks.tokenTypes.set(fields.access_token, fields.token_type);
    return res;
  }
  // Google's device endpoint answers `verification_url`, an older draft's name for RFC 8628's
  // `verification_uri`, which openid-client requires.
  if (typeof fields.verification_uri === 'string' || typeof fields.verification_url !== 'string') return res;
  const headers = new Headers(res.headers);
  headers.delete('content-length');
  return new Response(JSON.stringify({ ...fields, verification_uri: fields.verification_url }), { status: res.status, statusText: res.statusText, headers });
}

/** The discovery fields whose URLs the login calls or trusts. */
const ENDPOINT_FIELDS = ['authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'jwks_uri'] as const;

/**
 * Fetch the discovery document and build openid-client's view of provider and client. Each
 * endpoint must be https (http on loopback hosts only). An issuer with `{tenantid}` (Microsoft
 * Entra's multi-tenant endpoints) is completed with `tenantId`, as step-ca does.
 */
export async function connect(
  configurationEndpoint: string,
  client: { clientId: string; clientSecret?: string; tenantId?: string },
  deps: ProviderDeps,
): Promise<oidc.Configuration> {
  const url = providerDiscoveryUrl(configurationEndpoint);
  // A client secret means client_secret_post, as step sends it; none means a public client.
  const auth = client.clientSecret ? oidc.ClientSecretPost(client.clientSecret) : oidc.None();
  const metadata: Partial<oidc.ClientMetadata> = {
    // openid-client reads the clock itself; the skew makes its token-time checks use ours.
    [oidc.clockSkew]: Math.round((deps.now().getTime() - Date.now()) / 1000),
  };
  if (client.clientSecret) metadata.client_secret = client.clientSecret;
  const quirks: ProviderQuirks = { tokenTypes: new Map() };
  const customFetch: oidc.CustomFetch = async (input, init) => evenOut(quirks, input, await deps.fetch(input, init as RequestInit));
  let config: oidc.Configuration;
  try {
    config = await oidc.discovery(url, client.clientId, metadata, auth, {
      [oidc.customFetch]: customFetch,
      // https is required by default; a loopback http IdP (tests, local dev) is allowed explicitly.
      execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
      timeout: 30,
    });
  } catch (err) {
    throw new CaError('ERR_DISCOVERY', `failed to get the provider configuration from ${url.href}: ${describeProviderError(err)}`, {
      cause: err,
      hint: 'check the provider URL and that the identity provider is reachable (and any HTTPS_PROXY setting)',
    });
  }
  const server = config.serverMetadata();
  let insecure = url.protocol === 'http:';
  for (const field of ENDPOINT_FIELDS) {
    const value = server[field];
    if (value === undefined) continue;
    checkDiscoveredEndpoint(field, String(value), url.href);
    insecure ||= String(value).startsWith('http:');
  }
  if (server.issuer.includes('{tenantid}')) {
    if (!client.tenantId) {
      throw new CaError('ERR_DISCOVERY', `the provider's issuer ${server.issuer} names no tenant ({tenantid}), and no tenant ID was given`, {
        hint: "set the provisioner's tenant ID (ca provisioner update NAME --tenant-id ID), or pass --tenant-id",
      });
    }
    const { supportsPKCE: _helper, ...document } = server;
    config = new oidc.Configuration({ ...document, issuer: server.issuer.replaceAll('{tenantid}', client.tenantId) }, client.clientId, metadata, auth);
    config[oidc.customFetch] = customFetch;
    config.timeout = 30;
  }
  // http endpoints passed the loopback rule above.
  if (insecure) oidc.allowInsecureRequests(config);
  // Without this openid-client trusts the ID token's signature to TLS; we check it against the
  // provider's keys, so a token that reaches the CA has passed the same test here.
  oidc.enableNonRepudiationChecks(config);
  quirks.deviceEndpoint = server.device_authorization_endpoint;
  quirks.tokenEndpoint = server.token_endpoint;
  quirksOf.set(config, quirks);
  return config;
}

/** The authorization request: code flow with PKCE S256, a fresh state and nonce. */
export async function authorizationRequest(
  config: oidc.Configuration,
  opts: { redirectUri: string; scopes: readonly string[]; authParams: readonly [string, string][] },
): Promise<{ url: URL; checks: AuthorizationChecks }> {
  const metadata = config.serverMetadata();
  if (!metadata.authorization_endpoint) {
    throw new CaError('ERR_DISCOVERY', "missing or invalid 'authorization_endpoint' in provider metadata");
  }
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const checks: AuthorizationChecks = {
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    codeVerifier,
    redirectUri: opts.redirectUri,
  };
  const params = new URLSearchParams({
    redirect_uri: opts.redirectUri,
    response_type: 'code',
    scope: opts.scopes.join(' '),
    state: checks.state,
    nonce: checks.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  for (const [key, value] of opts.authParams) params.append(key, value);
  const url = oidc.buildAuthorizationUrl(config, params);
  // Keys in order, as step's Go url.Values writes them: the same URL shape users know from step.
  url.searchParams.sort();
  return { url, checks };
}

/**
 * Check an authorization response (from the loopback listener or pasted back) and return its
 * code. Our state must come back, errors included (RFC 6749 §4.1.2.1: the provider returns it with
 * an error too), so only our own login's response can end it with the IdP's message; an `iss`
 * that names another provider (RFC 9207, mix-up defence) is refused.
 */
export function checkAuthorizationResponse(config: oidc.Configuration, params: URLSearchParams, state: string): string {
  if (params.get('state') !== state) throw stateMismatch();
  const error = params.get('error');
  if (error) throw authorizationError(error, params.get('error_description'));
  const metadata = config.serverMetadata();
  const iss = params.get('iss');
  if (iss !== null && iss !== metadata.issuer) {
    throw new CaError('ERR_LOGIN_FAILED', `the authorization response comes from issuer '${iss}', expected '${metadata.issuer}'`);
  }
  if (iss === null && metadata.authorization_response_iss_parameter_supported) {
    throw new CaError('ERR_LOGIN_FAILED', "the authorization response has no 'iss' parameter, which the provider promises to send");
  }
  const code = params.get('code');
  if (!code) throw new CaError('ERR_LOGIN_FAILED', "the authorization response has no 'code' parameter");
  return code;
}

export function stateMismatch(): CaError {
  return new CaError('ERR_LOGIN_STATE_MISMATCH', 'failed to authenticate: missing or invalid state', {
    hint: 'the callback did not come from the login this command started (another tab, an old link, or a forged request); run the command again',
  });
}

/** An OAuth `error` from the provider, as the user should read it. */
export function authorizationError(error: string, description: string | null | undefined): CaError {
  const detail = description ? `${error}: ${description}` : error;
  if (error === 'access_denied') {
    return new CaError('ERR_LOGIN_DENIED', `the login was denied (${detail})`, {
      hint: 'log in again and allow access, or ask your administrator whether your account may use this client',
    });
  }
  return new CaError('ERR_LOGIN_FAILED', `failed to authenticate: ${detail}`);
}

/** Exchange the authorization code for tokens (client_secret_post or none, with the PKCE verifier). */
export async function exchangeCode(
  config: oidc.Configuration,
  code: string,
  checks: AuthorizationChecks,
  opts: { requireIdToken: boolean; tenantId?: string },
): Promise<TokenResult> {
  // openid-client's authorizationCodeGrant() derives redirect_uri from a URL object, which always
  // ends in '/'; ours has no path (as step's and the IdP registrations made for step), and the
  // token endpoint compares it exactly. The generic grant sends it as we give it; openid-client
  // still checks the ID token (signature, iss, aud, exp, azp); we check the nonce below.
  let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  try {
    response = await oidc.genericGrantRequest(config, 'authorization_code', {
      code,
      redirect_uri: checks.redirectUri,
      code_verifier: checks.codeVerifier,
    });
  } catch (err) {
    throw tokenError(err, 'failed exchanging authorization code');
  }
  return tokenResult(config, response, { requireIdToken: opts.requireIdToken, nonce: checks.nonce, tenantId: opts.tenantId });
}

/** Turn a checked token endpoint response into our result, with the checks openid-client leaves to us. */
export function tokenResult(
  config: oidc.Configuration,
  response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  opts: { requireIdToken: boolean; nonce?: string; tenantId?: string },
): TokenResult {
  const claims = response.claims() as Record<string, unknown> | undefined;
  if (opts.requireIdToken && (!response.id_token || !claims)) {
    throw new CaError('ERR_ID_TOKEN_INVALID', 'the identity provider returned no ID token', {
      hint: "the 'openid' scope must be requested and allowed for this client",
    });
  }
  if (claims && opts.nonce !== undefined && claims.nonce !== opts.nonce) {
    throw new CaError('ERR_ID_TOKEN_INVALID', "the ID token's nonce does not match the login request");
  }
  if (claims && opts.tenantId !== undefined && claims.tid !== undefined && claims.tid !== opts.tenantId) {
    throw new CaError('ERR_ID_TOKEN_INVALID', `the ID token is for tenant ${String(claims.tid)}, not ${opts.tenantId}`);
  }
  const tokenType = quirksOf.get(config)?.tokenTypes.get(response.access_token) ?? response.token_type;
  const tokens: TokenResponse = { access_token: response.access_token, token_type: tokenType };
  if (response.id_token) tokens.id_token = response.id_token;
  if (response.refresh_token) tokens.refresh_token = response.refresh_token;
  if (typeof response.expires_in === 'number') tokens.expires_in = response.expires_in;
  if (typeof response.scope === 'string') tokens.scope = response.scope;
  return claims ? { tokens, claims } : { tokens };
}

/** openid-client error codes that mean "the ID token (or its signature) is not acceptable". */
const ID_TOKEN_CODES = new Set([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
]);

/** A failed token request: the provider's OAuth error, an unacceptable ID token, or the network. */
export function tokenError(err: unknown, doing: string): CaError {
  if (err instanceof CaError) return err;
  if (err instanceof oidc.ResponseBodyError) {
    const detail = err.error_description ? `${err.error}. ${err.error_description}` : err.error;
    return new CaError('ERR_LOGIN_FAILED', `${doing}: ${detail}`, { cause: err });
  }
  const code = (err as { code?: unknown } | null)?.code;
  const message = describeProviderError(err);
  if ((typeof code === 'string' && ID_TOKEN_CODES.has(code)) || /JWT|signature/i.test(message)) {
    return new CaError('ERR_ID_TOKEN_INVALID', `the ID token from the identity provider is not valid: ${message}`, { cause: err });
  }
  return new CaError('ERR_NETWORK', `${doing}: ${message}`, { cause: err });
}

/**
 * openid-client wraps the real reason: "fetch failed" around "connect ECONNREFUSED ...", "invalid
 * response encountered" around "JWT signature verification failed". Say the innermost message,
 * and what was compared (claim, expected value) or the HTTP status when the cause holds them.
 */
export function describeProviderError(err: unknown): string {
  let message = describe(err);
  let detail = '';
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      message = current.message || (typeof code === 'string' ? code : current.name);
      current = current.cause;
      continue;
    }
    if (current instanceof Response) {
      detail = `HTTP ${current.status}${current.statusText ? ` ${current.statusText}` : ''}`;
    } else if (typeof current === 'object') {
      const { claim, expected } = current as { claim?: unknown; expected?: unknown };
      detail = [claim !== undefined ? `claim '${String(claim)}'` : '', expected !== undefined ? `expected ${JSON.stringify(expected)}` : '']
        .filter(Boolean)
        .join(', ');
    }
    break;
  }
  return detail ? `${message} (${detail})` : message;
}
