/**
 * `npm run demo [-- --headless] [-- --keep]`: the whole journey on one machine, each step printed as
 * it happens with the `ca` command a person would type. A throwaway CA (temporary $CA_PATH), the
 * bundled development IdP (scripts/dev-idp.ts: the tests' oidc-provider on 127.0.0.1), `ca serve`,
 * a browser login with `ca certificate`, a server certificate the CI way (`--token`), and an mTLS
 * request to the example server with the certificates it gave.
 *
 * The login: your browser; with --headless, Debian's chromium scripted; where no browser can open
 * (no display), the development IdP's own login page walked with plain HTTP requests
 * (scripts/dev-idp-browser), which works only because it is our IdP.
 *
 * Everything it starts is stopped at the end, on failure and on Ctrl-C; with --keep, after a
 * success, the CA and the IdP keep running and the commands to try them by hand are printed.
 * The commands run the real CLI (bin/ca, built into dist/ by the npm script) in child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startMtlsServer } from '../examples/mtls-server/server.mjs';
import { canOpenBrowser } from '../src/oidc/browser.js';
import { envFlag } from '../src/config/env-flags.js';
import { browserEnv, readBrowserResult, type BrowserScriptResult } from '../test/fixtures/browser/env.js';
import { DEV_USER, type DevIdpState } from './dev-idp.js';

const USAGE = `usage: npm run demo [-- --headless] [-- --keep]
       node --import tsx scripts/demo.ts [--headless] [--keep] [--help]

Runs a throwaway certificate authority end to end and prints each step:
a temporary $CA_PATH, a development IdP on 127.0.0.1 with a test user, ca init,
ca provisioner add, ca serve, ca bootstrap, ca certificate through the browser
login, ca inspect --short, a server certificate with --token as CI gets one, and
an mTLS request to the example server.

The login opens your browser. Where none can open (no display), the demo logs
the test user in through the development IdP's own login page with plain HTTP
requests: it is our IdP, so it knows its pages.

  --headless  let a scripted headless Chromium (Debian's chromium) do the login
              instead of opening your default browser
  --keep      leave the CA and the development IdP running afterwards, and print
              the commands to try the developer and CI flows by hand, and how to
              stop them
  -h, --help  show this help
`;

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const CA_BIN = join(REPO, 'bin', 'ca');
/** $BROWSER for machines without one: the development IdP's login over plain HTTP. */
const HTTP_BROWSER = join(REPO, 'scripts', 'dev-idp-browser');
const DEV_IDP = join(REPO, 'scripts', 'dev-idp.ts');
/** Where Debian installs chromium; the scripted browser of the tests launches this one. */
const CHROMIUM = '/usr/bin/chromium';
const PROVISIONER = 'Demo';
const CLIENT_ID = 'ca-cli';
const CLIENT_SECRET = 'ca-cli-secret';
const ADMIN_GROUP = 'admins';
const STEP_COUNT = 10;
const INDENT = '    ';

const DEMO_TIMEOUT_MS = 6 * 60_000;
const SERVE_START_TIMEOUT_MS = 30_000;
const IDP_START_TIMEOUT_MS = 60_000;
/** Any one command but the login. */
const COMMAND_TIMEOUT_MS = 60_000;
/** `ca certificate --timeout 5m` gives a person time to log in; a little more for the rest of it. */
const LOGIN_TIMEOUT = '5m';
const LOGIN_COMMAND_TIMEOUT_MS = 5 * 60_000 + 20_000;
const SCRIPTED_BROWSER_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** A failure the demo reports as `demo: <message>`, followed by `detail` (a command's stderr). */
class DemoFailure extends Error {
  readonly detail: string;
  constructor(message: string, detail = '') {
    super(message);
    this.name = 'DemoFailure';
    this.detail = detail;
  }
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const note = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Real paths shown as the variables step 1 defines, longest first so $DEV does not become $DEMO/dev. */
let shortNames: [string, string][] = [];
function shorten(text: string): string {
  let shown = text;
  for (const [path, name] of shortNames) shown = shown.split(path).join(name);
  return shown;
}

/** An argument as a shell would need it, kept bare when it is plain. */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, '\\$1')}"`;
}

function commandLine(args: string[], envPrefix = ''): string {
  return shorten(`${envPrefix}ca ${args.map(quote).join(' ')}`);
}

let stepNumber = 0;
let stepTitle = 'starting';
function step(title: string, command?: string): void {
  stepNumber += 1;
  stepTitle = title;
  out(`[${stepNumber}/${STEP_COUNT}] ${title}${command ? `: ${command}` : ''}`);
}

/** Output of a command or a detail of a step, indented under its step line. */
function show(text: string): void {
  for (const line of text.replace(/\n$/, '').split('\n')) out(line ? `${INDENT}${shorten(line)}` : '');
}

/** Calls `onLine` with each complete line the stream writes. */
function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let pending = '';
  stream?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  stream?.on('end', () => {
    if (pending) onLine(pending);
    pending = '';
  });
}

/** Aborted on Ctrl-C, SIGTERM and the demo's own time limit; every wait gives up then. */
const abort = new AbortController();

function aborted(): DemoFailure {
  const reason: unknown = abort.signal.reason;
  return reason instanceof DemoFailure ? reason : new DemoFailure(String(reason));
}

/** Resolves with `work`, or rejects when the demo is aborted or `timeoutMs` passes. */
function bounded<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      abort.signal.removeEventListener('abort', onAbort);
      reject(new DemoFailure(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    if (abort.signal.aborted) return onAbort();
    abort.signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        clearTimeout(timer);
        abort.signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        abort.signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Children still running, stopped by the cleanup whatever happened. */
const running = new Set<ChildProcess>();

/** SIGTERM, then SIGKILL if it has not exited after STOP_TIMEOUT_MS. Resolves once it has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)));
  if (await Promise.race([exited.then(() => false), gaveUp])) {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/** The environment of every `ca` child: the user's, without settings that would point it elsewhere. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // The user's CA_URL, CA_TOKEN, CA_WORKERS... would change what the commands do; a proxy
    // has no business with 127.0.0.1. CA_OPEN_BROWSER=0 is kept: it is how one asks for the URL only.
    if (name.startsWith('CA_') && name !== 'CA_OPEN_BROWSER') continue;
    if (/^(https?|all|no)_proxy$/i.test(name)) continue;
    env[name] = value;
  }
  return env;
}

interface CaRun {
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** How the command is shown in messages. */
  shown: string;
  timeoutMs?: number;
  /** Give the child our terminal (the login's URL and spinner) instead of indenting its output. */
  inheritStdio?: boolean;
  /** Called with each line it writes to stderr (captured runs only). */
  onStderrLine?: (line: string) => void;
  /** Do not show what it writes to stdout (a token). */
  hideStdout?: boolean;
}

/** Run `ca ...` to its end, its output indented under the step; rejects on a non-zero exit. */
function runCa(opts: CaRun): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CA_BIN, ...opts.args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.inheritStdio ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  eachLine(child.stdout, (line) => {
    stdout += `${line}\n`;
    if (!opts.hideStdout) show(line);
  });
  eachLine(child.stderr, (line) => {
    stderr += `${line}\n`;
    show(line);
    opts.onStderrLine?.(line);
  });
  const closed = new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', (err) => reject(new DemoFailure(`${opts.shown} could not start: ${err.message}`)));
    child.once('close', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new DemoFailure(`${opts.shown} exited ${code ?? signal}`, opts.inheritStdio ? '' : stderr));
    });
  });
  return bounded(closed, opts.timeoutMs ?? COMMAND_TIMEOUT_MS, opts.shown);
}

interface Background {
  child: ChildProcess;
  pid: number;
}

interface Serving extends Background {
  url: string;
}

/** Where a background process writes: files under the demo directory, so that it may outlive the demo (--keep). */
function logFiles(logDir: string, name: string): { stdio: ['ignore', number, number]; close: () => void; err: string } {
  const out = openSync(join(logDir, `${name}.log`), 'a');
  const err = openSync(join(logDir, `${name}.err`), 'a');
  return { stdio: ['ignore', out, err], err: join(logDir, `${name}.err`), close: () => [out, err].forEach((fd) => closeSync(fd)) };
}

/**
 * Start a background process (the IdP, ca serve): its output to log files, in its own process
 * group when it is to outlive the demo. Resolves once `ready` finds what it waits for.
 */
async function startBackground<T>(
  command: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; logDir: string; name: string; keep: boolean; shown: string; timeoutMs: number },
  ready: (stderrSoFar: string) => Promise<T | undefined>,
): Promise<Background & { value: T }> {
  const files = logFiles(opts.logDir, opts.name);
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: files.stdio, detached: opts.keep });
  files.close();
  running.add(child);
  child.once('exit', () => running.delete(child));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new DemoFailure(`${opts.shown} could not start: ${err.message}`)));
    child.once('exit', (code, signal) => void readFile(files.err, 'utf8').then((text) => reject(new DemoFailure(`${opts.shown} exited ${code ?? signal} while starting`, text)), () => reject(new DemoFailure(`${opts.shown} exited ${code ?? signal} while starting`))));
  });
  exited.catch(() => undefined);
  const poll = (async (): Promise<T> => {
    for (;;) {
      const value = await ready(await readFile(files.err, 'utf8').catch(() => ''));
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const value = await bounded(Promise.race([poll, exited]), opts.timeoutMs, `${opts.shown} (waiting for it to start)`);
  return { child, pid: child.pid ?? 0, value };
}

/** `ca serve` in the background; resolves once it prints `Serving HTTPS on <address> ...`. */
async function startServe(args: string[], env: NodeJS.ProcessEnv, cwd: string, shown: string, logDir: string, keep: boolean): Promise<Serving> {
  let shownUpTo = 0;
  const started = await startBackground(process.execPath, [CA_BIN, 'serve', ...args], { env, cwd, logDir, name: 'ca-serve', keep, shown, timeoutMs: SERVE_START_TIMEOUT_MS }, async (stderr) => {
    const lines = stderr.split('\n');
    const complete = lines.slice(0, -1);
    for (const line of complete.slice(shownUpTo)) show(line);
    shownUpTo = complete.length;
    const port = complete.map((line) => /^Serving HTTPS on \S*:(\d+) \.\.\.$/.exec(line)?.[1]).find(Boolean);
    return port ? `https://127.0.0.1:${port}` : undefined;
  });
  return { child: started.child, pid: started.pid, url: started.value };
}

/** The development IdP (scripts/dev-idp.ts) in the background; resolves with what it wrote to its state file. */
async function startDevIdp(env: NodeJS.ProcessEnv, demoDir: string, logDir: string, keep: boolean): Promise<Background & { state: DevIdpState }> {
  const stateFile = join(demoDir, 'dev-idp.json');
  const started = await startBackground(
    process.execPath,
    ['--import', 'tsx', DEV_IDP, 'serve', '--state', stateFile],
    { env, cwd: REPO, logDir, name: 'dev-idp', keep, shown: 'the development IdP', timeoutMs: IDP_START_TIMEOUT_MS },
    async () => {
      try {
        return JSON.parse(await readFile(stateFile, 'utf8')) as DevIdpState;
      } catch {
        return undefined;
      }
    },
  );
  return { child: started.child, pid: started.pid, state: started.value };
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** GET `url` with a client certificate, trusting only `root`; resolves with the body of a 200. */
function mtlsGet(url: string, files: { cert: string; key: string; root: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { cert: files.cert, key: files.key, ca: files.root }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new DemoFailure(`GET ${url} answered ${res.statusCode}: ${body}`))));
      res.on('error', reject);
    });
    req.on('error', (err) => reject(new DemoFailure(`GET ${url} failed: ${err.message}`)));
    req.end();
  });
}

interface Options {
  headless: boolean;
  keep: boolean;
}

/** What the cleanup has to stop or remove; filled in as the steps start things. */
interface Started {
  demoDir?: string;
  idp?: Background;
  serve?: Serving;
  mtls?: { close: () => Promise<void> };
  /** The scripted browser's result, awaited before removing the directory it writes to. */
  browserDone?: Promise<unknown>;
  /** Set when the demo got to its end: with --keep the CA and the IdP then stay. */
  finished?: boolean;
}

/** How the login happens: your browser, the scripted Chromium, or the IdP's pages over HTTP. */
type LoginWay = 'browser' | 'headless' | 'http';

function loginWay(opts: Options, env: NodeJS.ProcessEnv): LoginWay {
  if (opts.headless) return 'headless';
  // CA_OPEN_BROWSER=0 asks for the URL to open by hand: a person is there.
  if (envFlag(env.CA_OPEN_BROWSER) === false || canOpenBrowser(env)) return 'browser';
  return 'http';
}

async function demo(opts: Options, started: Started): Promise<void> {
  const alice = DEV_USER;
  if (!alice.email) throw new DemoFailure('the development IdP has no user alice with an email');
  const username = alice.username;
  const email = alice.email;

  // 1. Directories and the password.
  const demoDir = await realpath(await mkdtemp(join(tmpdir(), 'ca-demo-')));
  started.demoDir = demoDir;
  const caPath = join(demoDir, 'ca');
  const devDir = join(demoDir, 'dev');
  const passwordFile = join(caPath, 'password.txt');
  const logDir = join(demoDir, 'logs');
  step(`Making a throwaway CA home in a temporary directory: ${demoDir}${opts.keep ? ' (kept: --keep)' : ' (removed at the end)'}`);
  await mkdir(caPath, { recursive: true, mode: 0o700 });
  await mkdir(devDir, { recursive: true, mode: 0o700 });
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  await writeFile(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  const definitions: [string, string][] = [
    [`CA_PATH=${caPath}`, "the CA's home: its keys, certificates and config/ca.json"],
    [`DEV=${devDir}`, "stands in for a developer's machine: its own CA_PATH and working directory"],
    ['$CA_PATH/password.txt', 'a random password that encrypts the CA keys'],
  ];
  const width = Math.max(...definitions.map(([name]) => name.length));
  for (const [name, meaning] of definitions) show(`${name.padEnd(width)}  ${meaning}`);
  shortNames = [
    [devDir, '$DEV'],
    [caPath, '$CA_PATH'],
  ];

  const caEnv: NodeJS.ProcessEnv = { ...baseEnv(), CA_PATH: caPath };
  const devEnv: NodeJS.ProcessEnv = { ...baseEnv(), CA_PATH: devDir };
  const onDev = 'CA_PATH=$DEV ';
  const caCommand = async (args: string[], more: Partial<CaRun> = {}) => {
    const shown = commandLine(args);
    return runCa({ args, env: caEnv, cwd: caPath, shown, ...more });
  };

  // 2. The IdP.
  step('Starting the development IdP (oidc-provider on 127.0.0.1)', shorten(`node --import tsx scripts/dev-idp.ts serve --state ${join(demoDir, 'dev-idp.json')} &`));
  const idpProcess = await startDevIdp(baseEnv(), demoDir, logDir, opts.keep);
  started.idp = idpProcess;
  const idp = idpProcess.state;
  show(`Issuer: ${idp.issuer}`);
  show(`Test user: ${username}   password: ${alice.password}   (${email}, groups: ${(alice.groups ?? []).join(', ')})`);

  // 3. ca init.
  const initArgs = ['init', '--name', 'Demo CA', '--dns', '127.0.0.1', '--dns', 'localhost', '--address', '127.0.0.1:0', '--password-file', passwordFile];
  step('Creating the CA', commandLine(initArgs));
  await caCommand(initArgs);

  // 4. The IdP as a provisioner.
  const addArgs = [
    'provisioner', 'add', PROVISIONER, '--type', 'OIDC',
    '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET,
    '--configuration-endpoint', idp.discoveryUrl,
    '--admin', ADMIN_GROUP,
  ];
  step(`Adding the IdP as an OIDC provisioner, its group ${ADMIN_GROUP} as the CA's admins`, commandLine(addArgs));
  await caCommand(addArgs);

  // 5. ca serve. --workers 1: one process is plenty for a demo, and starts faster.
  const serveArgs = ['--password-file', passwordFile, '--workers', '1'];
  const serveShown = commandLine(['serve', ...serveArgs]);
  step('Starting the CA in the background', `${serveShown} &`);
  const serve = await startServe(serveArgs, caEnv, caPath, serveShown, logDir, opts.keep);
  started.serve = serve;

  // 6. The developer trusts the CA by its root's fingerprint.
  const rootFile = join(caPath, 'certs', 'root_ca.crt');
  const fingerprintArgs = ['fingerprint', rootFile];
  step("Trusting the CA on the developer's machine; first the admin reads the root's fingerprint", commandLine(fingerprintArgs));
  const fingerprint = (await caCommand(fingerprintArgs)).stdout.trim();
  const bootstrapArgs = ['bootstrap', '--ca-url', serve.url, '--fingerprint', fingerprint];
  const bootstrapShown = commandLine(bootstrapArgs, onDev);
  out(`${INDENT}$ ${bootstrapShown}`);
  await runCa({ args: bootstrapArgs, env: devEnv, cwd: devDir, shown: bootstrapShown });

  // 7. The browser login.
  const way = loginWay(opts, devEnv);
  const certArgs = ['certificate', email, 'alice.crt', 'alice.key', '--provisioner', PROVISIONER, '--timeout', LOGIN_TIMEOUT];
  const certShown = commandLine(certArgs, way === 'http' ? `CA_OPEN_BROWSER=1 BROWSER=${HTTP_BROWSER} ${onDev}` : onDev);
  step(`Getting a certificate for ${email} through the browser login`, certShown);
  if (way === 'headless') {
    show(`(--headless: a scripted headless Chromium logs in as ${username})`);
    const resultFile = join(demoDir, 'browser-result.json');
    // A browser that could not log in fails the step now rather than after the 5 minutes of --timeout.
    let browserFailed: (err: DemoFailure) => void = () => undefined;
    const browserFailure = new Promise<never>((_, reject) => (browserFailed = reject));
    browserFailure.catch(() => undefined);
    const checkBrowser = (result: BrowserScriptResult): void => {
      if (result.outcome === 'landed') return;
      browserFailed(new DemoFailure(`the scripted browser did not log in: ${result.outcome}${result.error ? `: ${result.error}` : ''} (at ${result.url || 'no page'})`));
    };
    let opened = false;
    const certificate = runCa({
      args: certArgs,
      env: { ...devEnv, ...browserEnv({ user: username, password: alice.password, resultFile, timeoutMs: SCRIPTED_BROWSER_TIMEOUT_MS }) },
      cwd: devDir,
      shown: certShown,
      timeoutMs: LOGIN_COMMAND_TIMEOUT_MS,
      onStderrLine: (line) => {
        if (opened || !line.startsWith('Your default web browser has been opened')) return;
        opened = true;
        // The script writes its result once Chromium has closed: waiting for it leaves no browser behind.
        const result = readBrowserResult(resultFile, SCRIPTED_BROWSER_TIMEOUT_MS + 30_000);
        started.browserDone = result.catch(() => undefined);
        result.then(checkBrowser, () => undefined);
      },
    });
    await Promise.race([certificate, browserFailure]);
    if (started.browserDone) await bounded(started.browserDone, SCRIPTED_BROWSER_TIMEOUT_MS + 30_000, 'the scripted browser');
  } else if (way === 'http') {
    show(`No browser can open on this machine (no display). Instead ${username} logs in on the development IdP's own login page with plain HTTP requests`);
    show('(scripts/dev-idp-browser as $BROWSER). That works only because it is our IdP, started by this demo; a real IdP needs a real browser, or --console.');
    await httpBrowserLogin({ args: certArgs, env: devEnv, cwd: devDir, shown: certShown }, join(demoDir, 'http-login.json'));
  } else {
    show(`Log in as ${username} / ${alice.password} in the browser that opens (if none opens, open the URL below; with no browser on this machine, stop and run npm run demo -- --headless).`);
    await runCa({ args: certArgs, env: devEnv, cwd: devDir, shown: certShown, timeoutMs: LOGIN_COMMAND_TIMEOUT_MS, inheritStdio: true });
  }

  // 8. What the certificate says.
  const inspectArgs = ['inspect', '--short', 'alice.crt'];
  step('Inspecting the certificate', commandLine(inspectArgs));
  await runCa({ args: inspectArgs, env: devEnv, cwd: devDir, shown: commandLine(inspectArgs) });

  // 9. The example server's certificate, the tutorial's way.
  await serverCertificate({ dir: devDir, env: devEnv, passwordFile, prefix: onDev });

  // 10. The mTLS example server, and a request with alice's certificate.
  const devRoot = join(devDir, 'certs', 'root_ca.crt');
  step(
    `Starting the mTLS example server with that certificate, then calling it with ${username}'s`,
    shorten(`node examples/mtls-server/server.mjs --root ${devRoot} --cert $DEV/srv.crt --key $DEV/srv.key --port 0`),
  );
  const [root, serverCert, serverKey] = await Promise.all([readFile(devRoot, 'utf8'), readFile(join(devDir, 'srv.crt'), 'utf8'), readFile(join(devDir, 'srv.key'), 'utf8')]);
  const mtls = await bounded(startMtlsServer({ root, cert: serverCert, key: serverKey, port: 0, host: '127.0.0.1' }), COMMAND_TIMEOUT_MS, 'starting the mTLS server');
  started.mtls = mtls;
  show(`mTLS service listening on ${mtls.url}`);
  let greeting: string;
  if (onPath('curl')) {
    const curlArgs = ['-sS', '--cert', 'alice.crt', '--key', 'alice.key', '--cacert', devRoot, mtls.url];
    out(`${INDENT}$ ${shorten(`curl ${curlArgs.map(quote).join(' ')}`)}`);
    greeting = await runCommand('curl', curlArgs, devDir);
  } else {
    out(`${INDENT}$ (Node https, curl is not installed) GET ${mtls.url} with alice.crt and alice.key, trusting ${shorten(devRoot)}`);
    greeting = await bounded(
      Promise.all([readFile(join(devDir, 'alice.crt')), readFile(join(devDir, 'alice.key')), readFile(devRoot)]).then(([cert, key, ca]) => mtlsGet(mtls.url, { cert: cert.toString(), key: key.toString(), root: ca.toString() })),
      COMMAND_TIMEOUT_MS,
      `GET ${mtls.url}`,
    );
  }
  out(greeting.trim());
  started.finished = true;
  // Then, last, what to do with what keeps running (the cleanup reports on stderr).
  if (opts.keep) printKept({ started, idp, caPath, devDir, demoDir, logDir, way });
}

/**
 * `ca certificate` with the $BROWSER that walks the development IdP's pages over HTTP; fails as
 * soon as that walk fails, rather than after the login's timeout.
 */
async function httpBrowserLogin(run: Omit<CaRun, 'timeoutMs'>, resultFile: string): Promise<{ stdout: string; stderr: string }> {
  // Without a terminal ca starts a login only when asked to open a browser: $BROWSER is that browser.
  const env: NodeJS.ProcessEnv = { ...run.env, BROWSER: HTTP_BROWSER, CA_OPEN_BROWSER: '1', DEV_IDP_RESULT: resultFile };
  const walked = (async (): Promise<never> => {
    for (;;) {
      const result = await readFile(resultFile, 'utf8').then((text) => JSON.parse(text) as { outcome: string; error?: string }, () => undefined);
      if (result && result.outcome !== 'landed') throw new DemoFailure(`the HTTP login at the development IdP failed: ${result.error ?? result.outcome}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  walked.catch(() => undefined);
  return Promise.race([runCa({ ...run, env, timeoutMs: LOGIN_COMMAND_TIMEOUT_MS }), walked]);
}

/** --keep: the commands to try the developer and CI flows by hand against what keeps running, and how to stop it. */
function printKept(k: { started: Started; idp: DevIdpState; caPath: string; devDir: string; demoDir: string; logDir: string; way: LoginWay }): void {
  const browser = k.way === 'browser' ? '' : `CA_OPEN_BROWSER=1 BROWSER=${quote(HTTP_BROWSER)} `;
  const pids = [k.started.serve?.pid, k.started.idp?.pid].filter((pid) => pid);
  out();
  out(`Still running (--keep): the CA at ${k.started.serve?.url ?? '?'} (pid ${k.started.serve?.pid ?? '?'}) and the development IdP at ${k.idp.issuer} (pid ${k.started.idp?.pid ?? '?'}).`);
  out(`Try them by hand, in a shell (test user ${k.idp.user.username} / ${k.idp.user.password}${k.way === 'browser' ? '' : '; BROWSER= logs in over HTTP, as no browser can open here'}):`);
  out();
  for (const line of [
    `export PATH=${quote(join(REPO, 'bin'))}:"$PATH" CA_PATH=${quote(k.devDir)}`,
    `cd ${quote(k.devDir)}`,
    '# the developer: a browser login for a certificate of their own',
    `${browser}ca certificate ${k.idp.user.email ?? k.idp.user.username} alice.crt alice.key --provisioner ${PROVISIONER} --force`,
    'ca inspect alice.crt --short',
    '# CI: an ID token got without a person (a CI job gets its platform\'s), then --token',
    `ID_TOKEN=$(CA_OPEN_BROWSER=1 BROWSER=${quote(HTTP_BROWSER)} ca oauth --oidc --bare --provider ${k.idp.issuer} --client-id ${CLIENT_ID} --client-secret ${CLIENT_SECRET})`,
    `ca certificate ${k.idp.user.email ?? k.idp.user.username} ci.crt ci.key --token "$ID_TOKEN" --provisioner ${PROVISIONER} --force`,
    '# the admin: the CA\'s own home',
    `CA_PATH=${quote(k.caPath)} ca provisioner list`,
  ]) {
    out(`${INDENT}${line}`);
  }
  out();
  out(`Logs: ${k.logDir}`);
  out(`Stop them and remove everything: kill ${pids.join(' ')} && rm -rf ${quote(k.demoDir)}`);
}

/**
 * Step 9: the mTLS example server's certificate as step's tutorial gets one, from the JWK
 * provisioner `ca init` made (admin, its key encrypted with the CA password). The names include
 * 127.0.0.1: that is the address step 10 calls.
 */
async function serverCertificate(dev: { dir: string; env: NodeJS.ProcessEnv; passwordFile: string; prefix: string }): Promise<void> {
  const args = ['certificate', 'localhost', 'srv.crt', 'srv.key', '--san', 'localhost', '--san', '127.0.0.1', '--provisioner', 'admin', '--provisioner-password-file', dev.passwordFile];
  const shown = commandLine(args, dev.prefix);
  step("Getting the mTLS example server's certificate with the JWK provisioner ca init made (admin) and its password", shown);
  await runCa({ args, env: dev.env, cwd: dev.dir, shown });
}

/** Run a tool other than ca (curl), bounded; resolves with its stdout. */
function runCommand(command: string, args: string[], cwd: string): Promise<string> {
  const child = spawn(command, args, { cwd, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<string>((resolve, reject) => {
    child.once('error', (err) => reject(new DemoFailure(`${command} could not start: ${err.message}`)));
    child.once('close', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new DemoFailure(`${command} exited ${code ?? signal}`, stderr));
    });
  });
  return bounded(closed, COMMAND_TIMEOUT_MS, command);
}

/** Stop whatever was started, each part bounded; never throws. */
async function cleanup(started: Started, opts: Options): Promise<void> {
  const quietly = async (what: string, work: () => Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        work(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${STOP_TIMEOUT_MS / 1000} s`)), STOP_TIMEOUT_MS * 2))),
      ]);
    } catch (err) {
      note(`demo: stopping ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  };
  const stopped: string[] = [];
  if (started.mtls) {
    const { mtls } = started;
    await quietly('the mTLS server', () => mtls.close());
    stopped.push('the mTLS server');
  }
  // --keep after a success: the CA and the IdP stay, on their own (printKept said how to stop them).
  const keepRunning = opts.keep && started.finished === true;
  if (started.serve && !keepRunning) {
    const { child } = started.serve;
    await quietly('ca serve', () => stopChild(child));
    stopped.push('ca serve');
  }
  if (started.idp && !keepRunning) {
    const { child } = started.idp;
    await quietly('the IdP', () => stopChild(child));
    stopped.push('the IdP');
  }
  if (keepRunning) {
    for (const kept of [started.serve?.child, started.idp?.child]) {
      if (!kept) continue;
      running.delete(kept);
      kept.unref();
    }
  }
  // Anything else still running (a command cut short by Ctrl-C or a failure).
  await Promise.all([...running].map((child) => quietly(`a child process (${child.pid})`, () => stopChild(child))));
  if (started.browserDone) await quietly('the scripted browser', () => started.browserDone as Promise<unknown>);
  if (stopped.length) note(`Stopped ${stopped.length > 1 ? `${stopped.slice(0, -1).join(', ')} and ${stopped.at(-1)}` : stopped[0]}.`);
  if (!started.demoDir) return;
  if (opts.keep) {
    note(keepRunning ? `Kept ${started.demoDir}, and the CA and the IdP running.` : `Kept the demo directory: ${started.demoDir}`);
    return;
  }
  const { demoDir } = started;
  await quietly('removing the demo directory', () => rm(demoDir, { recursive: true, force: true }));
  note(`Removed ${demoDir}.`);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: { headless: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (err) {
    note(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.stderr.write(USAGE);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts: Options = { headless: Boolean(parsed.values.headless), keep: Boolean(parsed.values.keep) };
  if (opts.headless && !existsSync(CHROMIUM)) {
    note("demo: --headless needs Debian's chromium: apt-get install chromium");
    return 1;
  }

  const begun = Date.now();
  const timer = setTimeout(() => abort.abort(new DemoFailure(`the demo did not finish within ${DEMO_TIMEOUT_MS / 60_000} minutes`)), DEMO_TIMEOUT_MS);
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    // A second Ctrl-C while cleaning up: give up on a clean stop.
    if (interrupts > 1) process.exit(130);
    abort.abort(new DemoFailure(signal === 'SIGINT' ? 'interrupted (Ctrl-C)' : `stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started: Started = {};
  let code = 0;
  try {
    await bounded(demo(opts, started), DEMO_TIMEOUT_MS, 'the demo');
  } catch (err) {
    code = 1;
    const failure = abort.signal.aborted ? aborted() : err;
    const where = stepNumber ? `step ${stepNumber}/${STEP_COUNT} (${stepTitle}): ` : '';
    note(`demo: ${where}${failure instanceof Error ? failure.message : String(failure)}`);
    if (failure instanceof DemoFailure && failure.detail.trim()) note(shorten(failure.detail.replace(/\n$/, '')));
  } finally {
    clearTimeout(timer);
    await cleanup(started, opts);
  }
  if (code === 0) note(`Done in ${Math.round((Date.now() - begun) / 1000)} s.`);
  return abort.signal.aborted && interrupts ? 130 : code;
}

// Exit explicitly: a poll for the browser's result may still be pending after a failure.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    note(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
