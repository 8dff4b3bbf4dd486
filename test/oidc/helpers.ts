import { createServer } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { testIO, type TestIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import type { LoginDeps } from '../../src/oidc/index.js';
import { FormBrowser, pageError, pageId, parseForm } from '../fixtures/idp-browser.js';
import type { TestIdp } from '../fixtures/idp.js';

/** Real deps for login(): global fetch, the real clock, buffered streams; no browser, no prompts unless given. */
export function loginDeps(over: Partial<LoginDeps> = {}): LoginDeps & { io: TestIO } {
  const io = testIO();
  return { fetch, now: () => new Date(), io, env: {}, prompter: scriptedPrompter([], false), openBrowser: async () => false, ...over } as LoginDeps & { io: TestIO };
}

/** Verify an ID token as a relying party would: against the keys the IdP publishes. */
export async function verifyIdToken(idp: TestIdp, token: string, audience: string): Promise<JWTPayload> {
  const jwks = (await (await fetch(idp.jwksUrl)).json()) as Parameters<typeof createLocalJWKSet>[0];
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: idp.issuer, audience });
  return payload;
}

export interface HttpWalk {
  /** Where the IdP sent the browser back to (our redirect URI with code and state, or error). */
  callback: URL;
  /** What our listener answered when the callback was delivered (unless deliver: false). */
  landing?: { status: number; body: string };
}

/**
 * A browser without the browser, for tests about our side rather than the login page: walk the
 * IdP's login form over HTTP (test/fixtures/idp-browser.ts), then deliver the redirect to our
 * listener with fetch, as a browser would follow it. Tests of the real browser use
 * test/fixtures/browser/login.ts.
 */
export async function httpLogin(
  idp: TestIdp,
  url: string,
  opts: { user?: string; password?: string; deny?: boolean; deliver?: boolean } = {},
): Promise<HttpWalk> {
  const browser = new FormBrowser(idp.issuer);
  let page = await browser.open(url);
  if (!page.redirectedOutTo) {
    if (pageId(page.body) !== 'login') throw new Error(`expected the login page, got ${pageId(page.body)}: ${pageError(page.body) ?? ''}`);
    const form = parseForm(page.body, 'login-form', page.url);
    page = await browser.submit(form, opts.deny ? { abort: 'yes' } : { login: opts.user ?? 'alice', password: opts.password ?? 'alice-password' });
  }
  if (!page.redirectedOutTo) throw new Error(`no redirect back: ${pageId(page.body)} ${pageError(page.body) ?? ''}`);
  const callback = page.redirectedOutTo;
  if (opts.deliver === false) return { callback };
  const response = await fetch(callback);
  return { callback, landing: { status: response.status, body: await response.text() } };
}

/** The authorization URL login() printed or opened (the line after the "visit:" line). */
export function printedUrl(stderr: string): string | undefined {
  return /visit:\n\n(\S+)\n/.exec(stderr)?.[1];
}

/** Poll until `probe` returns a value (or fail after `timeoutMs`). */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A port nobody listens on right now (bound and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether something accepts connections at `url` (false once our listener has closed). */
export async function listening(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
