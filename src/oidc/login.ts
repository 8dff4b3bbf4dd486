import type { Writable } from 'node:stream';
import type * as oidc from 'openid-client';
import { CaError, UsageError } from '../errors.js';
import { formatDuration } from '../config/duration.js';
import { envFlag } from '../config/env-flags.js';
import { deviceLogin } from './device.js';
import { listenForCallback, listenTarget, type ListenTarget } from './loopback.js';
import { startProgress, type Progress } from './progress.js';
import {
  authorizationRequest,
  checkAuthorizationResponse,
  connect,
  exchangeCode,
  parseAuthParams,
  type AuthorizationChecks,
  type TokenResponse,
  type TokenResult,
} from './provider.js';

/**
 * Log in at an OpenID Provider the way `step oauth` does, and return checked tokens. Three ways
 * to get the user's consent:
 *
 * - browser (default): a loopback listener on 127.0.0.1, the browser opened (or the URL printed)
 *   at the authorization endpoint, authorization code + PKCE, the code exchanged on the callback;
 * - `console` with a provider that has a device endpoint: the device authorization grant;
 * - `console` without one: the URL printed, and the address the browser lands on pasted back
 *   (the listener runs too, so a browser on this machine also finishes the login).
 */

/** What to log in to and how. */
export interface LoginRequest {
  /** The provider: its issuer URL or its discovery URL (`/.well-known/openid-configuration` is added when absent). */
  configurationEndpoint: string;
  clientId: string;
  /** Sent with client_secret_post; none (a public client) when empty. */
  clientSecret?: string;
  /** Microsoft Entra's tenant (the provisioner's tenantID): fills in a `{tenantid}` issuer; the ID token's `tid` must match. */
  tenantId?: string;
  /** Default `openid email`, as step. */
  scopes?: readonly string[];
  /** `key=value` strings appended to the authorization URL (e.g. `prompt=select_account`). */
  authParams?: readonly string[];
  /** host:port for the callback listener (`--listen`, $CA_LISTEN, or the provisioner's listenAddress); default 127.0.0.1:0. */
  listen?: string;
  /** No browser on this machine: device flow, or paste the redirect back. */
  console?: boolean;
  /**
   * How long to wait for the user, when the user chose it (--timeout). Unset, the default: 2
   * minutes for the browser and the paste, 5 minutes for the device flow (as step); the device
   * flow never waits past its code's lifetime either way.
   */
  timeoutMs?: number;
}

/** The streams the login writes to: status lines on stderr, the spinner only on a terminal. */
export interface LoginIO {
  stderr: Writable;
  stderrIsTTY: boolean;
}

/** The one question the login may ask (the pasted address), and whether anyone can answer it. */
export interface LoginPrompter {
  readonly interactive: boolean;
  /**
   * `signal` withdraws the question when the browser finished the login first; a prompter that
   * cannot withdraw a question ignores it (and the question stays on screen until answered).
   */
  input(message: string, opts: { flag: string; validate?: (value: string) => true | string; signal?: AbortSignal }): Promise<string>;
}

export interface LoginDeps {
  /** The network, for discovery, keys and token requests. */
  fetch: typeof fetch;
  /** The clock; token time checks read it. */
  now: () => Date;
  io: LoginIO;
  /** CA_OPEN_BROWSER=0 (or false, no, off) turns the browser off. */
  env: NodeJS.ProcessEnv;
  /** Opens the URL in a browser; false when none could be started. */
  openBrowser: (url: string) => Promise<boolean>;
  prompter: LoginPrompter;
  /** Waits between device-flow polls; default a timer (tests shorten it and record the intervals). */
  sleep?: (ms: number) => Promise<void>;
}

export interface LoginResult {
  /** The raw ID token: what `ca certificate` sends to the CA. */
  idToken: string;
  /** Its claims, after the signature, iss, aud, exp and nonce checks. */
  claims: Record<string, unknown>;
  /** Everything the token endpoint returned. */
  tokens: TokenResponse;
}

export const DEFAULT_SCOPES: readonly string[] = ['openid', 'email'];
export const DEFAULT_TIMEOUT_MS = 120_000;
/** The device flow's default wait: the user may have to find another device first. */
export const DEFAULT_DEVICE_TIMEOUT_MS = 300_000;

/** Log in and return the ID token and its checked claims. Adds the `openid` scope if it is missing. */
export async function login(req: LoginRequest, deps: LoginDeps): Promise<LoginResult> {
  const scopes = req.scopes?.length ? [...req.scopes] : [...DEFAULT_SCOPES];
  if (!scopes.includes('openid')) scopes.unshift('openid');
  const { tokens, claims } = await authorize({ ...req, scopes }, deps, { requireIdToken: true });
  if (!tokens.id_token || !claims) throw new CaError('ERR_ID_TOKEN_INVALID', 'the identity provider returned no ID token');
  return { idToken: tokens.id_token, claims, tokens };
}

/**
 * Log in and return whatever the token endpoint gave (`ca oauth` without --oidc wants the access
 * token). An ID token, when present, has been checked all the same.
 */
export async function authorize(req: LoginRequest, deps: LoginDeps, opts: { requireIdToken: boolean }): Promise<TokenResult> {
  if (!req.clientId) throw new UsageError("missing the '--client-id' flag", { hint: 'pass the OAuth client ID registered at the identity provider' });
  if (req.timeoutMs !== undefined && !(req.timeoutMs > 0)) throw new TypeError(`timeoutMs must be positive, got ${req.timeoutMs}`);
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scopes = req.scopes?.length ? [...req.scopes] : [...DEFAULT_SCOPES];
  const authParams = parseAuthParams(req.authParams ?? []);
  // Checked before any network traffic: a bad --listen is a usage error, not a provider problem.
  const target = listenTarget(req.listen);

  const config = await connect(req.configurationEndpoint, { clientId: req.clientId, clientSecret: req.clientSecret, tenantId: req.tenantId }, deps);
  const flow: FlowSettings = { config, scopes, authParams, target, timeoutMs, requireIdToken: opts.requireIdToken, tenantId: req.tenantId };

  if (req.console) {
    if (config.serverMetadata().device_authorization_endpoint) {
      return deviceLogin(
        config,
        { scopes, timeoutMs: req.timeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS, requireIdToken: opts.requireIdToken, tenantId: req.tenantId },
        {
          now: deps.now,
          sleep: deps.sleep ?? sleep,
          log: (line) => deps.io.stderr.write(`${line}\n`),
          waiting: () => startProgress(deps.io, 'Waiting for the login to be approved (Ctrl-C to cancel)'),
        },
      );
    }
    return pasteLogin(flow, deps);
  }
  return browserLogin(flow, deps);
}

interface FlowSettings {
  config: oidc.Configuration;
  scopes: string[];
  authParams: [string, string][];
  target: ListenTarget;
  timeoutMs: number;
  requireIdToken: boolean;
  tenantId?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Who logged in, in the words a person recognises: email first, the subject last. */
function whoOf(claims: Record<string, unknown> | undefined): string | undefined {
  for (const key of ['email', 'preferred_username', 'name', 'sub']) {
    const value = claims?.[key];
    if (typeof value === 'string' && value) return value;
  }
  return undefined;
}

/** Settle with `work`, or fail with `onTimeout()` once `ms` have passed. */
async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function timeoutError(ms: number, redirectUri: string): CaError {
  return new CaError('ERR_LOGIN_TIMEOUT', `login timed out after ${formatDuration(ms)} waiting for the browser to return to ${redirectUri}`, {
    hint: 'try again, or use --console to log in without a browser on this machine',
  });
}

/**
 * Start the callback listener and build the authorization request for its redirect URI. The
 * listener's callback checks state (and iss) and exchanges the code before answering the browser,
 * so the page it shows tells the truth about the login.
 *
 * `complete` runs once: the browser's callback and a pasted address may both arrive (the same
 * code, or not), and a second exchange of a code fails with invalid_grant (which could win the
 * race) and makes some providers revoke the tokens of the first. Every later caller gets the
 * first call's promise, so the browser tab and the terminal both see how the login ended.
 */
async function startCallback(flow: FlowSettings, log: (line: string) => void) {
  let checks: AuthorizationChecks | undefined;
  let completing: Promise<TokenResult> | undefined;
  const completeOnce = async (params: URLSearchParams, started: AuthorizationChecks): Promise<TokenResult> => {
    const code = checkAuthorizationResponse(flow.config, params, started.state);
    return exchangeCode(flow.config, code, started, { requireIdToken: flow.requireIdToken, tenantId: flow.tenantId });
  };
  const complete = (params: URLSearchParams): Promise<TokenResult> => {
    // No callback can be ours before the request exists (not kept: it is no attempt at our login).
    if (!checks) return Promise.reject(new CaError('ERR_LOGIN_FAILED', 'a callback arrived before the login started'));
    completing ??= completeOnce(params, checks);
    return completing;
  };
  // A callback without our state is nobody's login: the listener answers 400 and goes on waiting.
  const belongs = (params: URLSearchParams): boolean => checks !== undefined && params.get('state') === checks.state;
  const listener = await listenForCallback<TokenResult>({ target: flow.target, log, complete, belongs, who: (r) => whoOf(r.claims) });
  try {
    const request = await authorizationRequest(flow.config, { redirectUri: listener.redirectUri, scopes: flow.scopes, authParams: flow.authParams });
    checks = request.checks;
    return { listener, url: request.url.href, complete };
  } catch (err) {
    await listener.close();
    throw err;
  }
}

async function browserLogin(flow: FlowSettings, deps: LoginDeps): Promise<TokenResult> {
  const say = (line = '') => deps.io.stderr.write(`${line}\n`);
  let progress: Progress | undefined;
  const { listener, url } = await startCallback(flow, (line) => (progress ? progress.log(line) : say(line)));
  try {
    const disabled = envFlag(deps.env.CA_OPEN_BROWSER) === false;
    const launched = !disabled && (await deps.openBrowser(url).catch(() => false));
    if (launched) {
      say('Your default web browser has been opened to visit:');
    } else {
      if (!disabled) say('Cannot open a web browser on your platform.\n');
      say('Open a local web browser and visit:');
    }
    say();
    say(url);
    say();
    progress = startProgress(deps.io, 'Waiting for the login to finish in the browser (Ctrl-C to cancel)');
    try {
      return await withTimeout(listener.result, flow.timeoutMs, () => timeoutError(flow.timeoutMs, listener.redirectUri));
    } finally {
      progress.stop();
    }
  } finally {
    await listener.close();
  }
}

/** The callback parameters in what the user pasted: the whole address, or just its query. */
export function parsePastedCallback(text: string): URLSearchParams | undefined {
  const value = text.trim();
  let params: URLSearchParams;
  if (/^https?:\/\//i.test(value)) {
    if (!URL.canParse(value)) return undefined;
    params = new URL(value).searchParams;
  } else {
    params = new URLSearchParams(value.replace(/^[^?]*\?/, ''));
  }
  if (params.get('error')) return params;
  return params.get('code') && params.get('state') ? params : undefined;
}

async function pasteLogin(flow: FlowSettings, deps: LoginDeps): Promise<TokenResult> {
  if (!deps.prompter.interactive) {
    throw new CaError(
      'ERR_NOT_INTERACTIVE',
      'the identity provider has no device authorization endpoint, so --console needs the address the browser returns to pasted into this terminal, and there is no terminal to read it from',
      { exitCode: 2, hint: 'run the command in a terminal, or log in elsewhere and pass the ID token with --token' },
    );
  }
  const say = (line = '') => deps.io.stderr.write(`${line}\n`);
  const { listener, url, complete } = await startCallback(flow, say);
  const question = new AbortController();
  try {
    say('Open a local web browser and visit:');
    say();
    say(url);
    say();
    say(`After the login the browser goes to ${listener.redirectUri}/?code=... (the page may fail to load on another machine).`);
    const pasted = deps.prompter
      .input('Paste that address here:', {
        flag: '--console',
        signal: question.signal,
        validate: (value) => (parsePastedCallback(value) ? true : `paste the whole address, starting with ${listener.redirectUri}`),
      })
      .then((text) => {
        const params = parsePastedCallback(text);
        if (!params) throw new UsageError(`the pasted text is not the address the browser returned to (${listener.redirectUri}/?code=...&state=...)`);
        return complete(params);
      });
    // Whichever comes first: the browser reaching the listener, or the pasted address. The
    // question is withdrawn when it lost, so the command can end.
    pasted.catch(() => undefined);
    return await withTimeout(Promise.race([listener.result, pasted]), flow.timeoutMs, () => timeoutError(flow.timeoutMs, listener.redirectUri));
  } finally {
    question.abort();
    await listener.close();
  }
}
