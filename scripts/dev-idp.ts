/**
 * The bundled development IdP (the tests' oidc-provider on 127.0.0.1) as a program, for the demo
 * and for trying `ca` by hand:
 *
 *   node --import tsx scripts/dev-idp.ts serve --state FILE
 *       runs the IdP until SIGTERM or SIGINT; once it listens, FILE gets its issuer, discovery URL,
 *       pid and test user as JSON;
 *   node --import tsx scripts/dev-idp.ts browse URL      (what scripts/dev-idp-browser runs)
 *       a browser for machines without one: opens an authorization URL of this IdP, logs the
 *       test user in on its login page with plain HTTP requests, and follows the redirect back
 *       to the login listener of `ca certificate` / `ca oauth`. It works only with this IdP,
 *       whose pages it knows; a real IdP needs a real browser (or --console).
 *
 * `browse` reads DEV_IDP_USER and DEV_IDP_PASSWORD (default the test user alice) and, when set,
 * writes how it went to DEV_IDP_RESULT (JSON: outcome landed|failed, error).
 */
import { rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FormBrowser, pageError, pageId, parseForm } from '../test/fixtures/idp-browser.js';
import { DEFAULT_USERS, startIdp } from '../test/fixtures/idp.js';

const USAGE = `usage: node --import tsx scripts/dev-idp.ts serve --state FILE
       node --import tsx scripts/dev-idp.ts browse URL
`;

const alice = DEFAULT_USERS.find((u) => u.username === 'alice');
/** The test user the demo and `browse` log in as. */
export const DEV_USER = { username: alice?.username ?? 'alice', password: alice?.password ?? 'alice-password', email: alice?.email, groups: alice?.groups };

export interface DevIdpState {
  issuer: string;
  discoveryUrl: string;
  pid: number;
  user: { username: string; password: string; email?: string; groups?: string[] };
}

async function serve(stateFile: string): Promise<void> {
  const idp = await startIdp();
  const state: DevIdpState = {
    issuer: idp.issuer,
    discoveryUrl: idp.discoveryUrl,
    pid: process.pid,
    user: DEV_USER,
  };
  // Written whole, then renamed: a reader never sees half of it.
  await writeFile(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${stateFile}.tmp`, stateFile);
  process.stderr.write(`development IdP at ${idp.issuer} (pid ${process.pid})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await idp.close();
}

/** Walk this IdP's login page over HTTP and deliver the redirect to the login listener. */
export async function browse(url: string, user = DEV_USER.username, password = DEV_USER.password): Promise<void> {
  const browser = new FormBrowser(new URL(url).origin);
  let page = await browser.open(url);
  if (!page.redirectedOutTo) {
    if (pageId(page.body) !== 'login') throw new Error(`expected the development IdP's login page at ${page.url.href}, got ${pageId(page.body) ?? `HTTP ${page.status}`}`);
    page = await browser.submit(parseForm(page.body, 'login-form', page.url), { login: user, password });
  }
  if (!page.redirectedOutTo) throw new Error(`the login as ${user} did not redirect back: ${pageError(page.body) ?? pageId(page.body) ?? `HTTP ${page.status}`}`);
  // As a browser would: follow the redirect to the loopback listener, which finishes the login.
  const landing = await fetch(page.redirectedOutTo);
  await landing.text();
  if (!landing.ok) throw new Error(`the login listener answered ${landing.status}`);
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { state: { type: 'string' } } });
  const [command, url] = positionals;
  if (command === 'serve' && values.state) {
    await serve(values.state);
    return 0;
  }
  if (command === 'browse' && url) {
    const resultFile = process.env.DEV_IDP_RESULT;
    try {
      await browse(url, process.env.DEV_IDP_USER || undefined, process.env.DEV_IDP_PASSWORD || undefined);
      if (resultFile) await writeFile(resultFile, JSON.stringify({ outcome: 'landed' }));
      return 0;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (resultFile) await writeFile(resultFile, JSON.stringify({ outcome: 'failed', error }));
      process.stderr.write(`dev-idp browse: ${error}\n`);
      return 1;
    }
  }
  process.stderr.write(USAGE);
  return 2;
}

// Run as a program, not when the demo imports DEV_USER.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dev-idp: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
