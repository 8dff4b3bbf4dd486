/**
 * `npm run demo [-- --headless] [-- --keep]`: the whole journey on one machine, each step printed as
 * it happens with the `ca` command a person would type. A throwaway CA (temporary $CA_PATH), the
 * development IdP of the tests (oidc-provider on 127.0.0.1), `ca serve`, a browser login with
 * `ca certificate`, and an mTLS request to the example server with the certificate it gave.
 * Everything it starts is stopped at the end, on failure and on Ctrl-C.
 *
 * The commands run the real CLI (bin/ca, built into dist/ by the npm script) in child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startMtlsServer } from '../examples/mtls-server/server.mjs';
import { browserEnv, readBrowserResult, type BrowserScriptResult } from '../test/fixtures/browser/env.js';
import { DEFAULT_USERS, startIdp, type TestIdp } from '../test/fixtures/idp.js';

const USAGE = `usage: npm run demo [-- --headless] [-- --keep]
       node --import tsx scripts/demo.ts [--headless] [--keep] [--help]

Runs a throwaway certificate authority end to end and prints each step:
a temporary $CA_PATH, a development IdP on 127.0.0.1 with a test user, ca init,
ca provisioner add, ca serve, ca bootstrap, ca certificate through the browser
login, ca inspect --short, and an mTLS request to the example server.

  --headless  let a scripted headless Chromium (Debian's chromium) do the login
              instead of opening your default browser
  --keep      keep the temporary directory (its path is printed at the end)
  -h, --help  show this help
`;

const CA_BIN = fileURLToPath(new URL('../bin/ca', import.meta.url));
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
    show(line);
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

interface Serving {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** `ca serve` in the background; resolves once it prints `Serving HTTPS on <address> ...`. */
function startServe(args: string[], env: NodeJS.ProcessEnv, cwd: string, shown: string): Promise<Serving> {
  // Its stdout is the JSON request log: not shown, but read so the pipe never fills.
  const child = spawn(process.execPath, [CA_BIN, 'serve', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdout?.resume();
  let stderr = '';
  let started = false;
  const ready = new Promise<Serving>((resolve, reject) => {
    eachLine(child.stderr, (line) => {
      stderr += `${line}\n`;
      if (started) return;
      show(line);
      const port = /^Serving HTTPS on \S*:(\d+) \.\.\.$/.exec(line)?.[1];
      if (!port) return;
      started = true;
      resolve({ child, url: `https://127.0.0.1:${port}`, stderr: () => stderr });
    });
    child.once('error', (err) => reject(new DemoFailure(`${shown} could not start: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (!started) reject(new DemoFailure(`${shown} exited ${code ?? signal} before serving`, stderr));
    });
  });
  return bounded(ready, SERVE_START_TIMEOUT_MS, `${shown} (waiting for its start line)`);
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
  idp?: TestIdp;
  serve?: Serving;
  mtls?: { close: () => Promise<void> };
  /** The scripted browser's result, awaited before removing the directory it writes to. */
  browserDone?: Promise<unknown>;
}

async function demo(opts: Options, started: Started): Promise<void> {
  const alice = DEFAULT_USERS.find((u) => u.username === 'alice');
  if (!alice?.username || !alice.email) throw new DemoFailure('the development IdP has no user alice with an email');
  const username = alice.username;
  const email = alice.email;

  // 1. Directories and the password.
  const demoDir = await realpath(await mkdtemp(join(tmpdir(), 'ca-demo-')));
  started.demoDir = demoDir;
  const caPath = join(demoDir, 'ca');
  const devDir = join(demoDir, 'dev');
  const passwordFile = join(caPath, 'password.txt');
  step(`Making a throwaway CA home in a temporary directory: ${demoDir}${opts.keep ? ' (kept: --keep)' : ' (removed at the end)'}`);
  await mkdir(caPath, { recursive: true, mode: 0o700 });
  await mkdir(devDir, { recursive: true, mode: 0o700 });
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
  step('Starting the development IdP (oidc-provider on 127.0.0.1)');
  const idp = await bounded(startIdp(), COMMAND_TIMEOUT_MS, 'starting the IdP');
  started.idp = idp;
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
  const serve = await startServe(serveArgs, caEnv, caPath, serveShown);
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
  const certArgs = ['certificate', email, 'alice.crt', 'alice.key', '--provisioner', PROVISIONER, '--timeout', LOGIN_TIMEOUT];
  const certShown = commandLine(certArgs, onDev);
  step(`Getting a certificate for ${email} through the browser login`, certShown);
  if (opts.headless) {
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
  // The greeting is the demo's last line on stdout (the cleanup reports on stderr).
  out(greeting.trim());
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
  if (started.serve) {
    const { child } = started.serve;
    await quietly('ca serve', () => stopChild(child));
    stopped.push('ca serve');
  }
  // Anything else still running (a command cut short by Ctrl-C or a failure).
  await Promise.all([...running].map((child) => quietly(`a child process (${child.pid})`, () => stopChild(child))));
  if (started.idp) {
    const { idp } = started;
    await quietly('the IdP', () => idp.close());
    stopped.push('the IdP');
  }
  if (started.browserDone) await quietly('the scripted browser', () => started.browserDone as Promise<unknown>);
  if (stopped.length) note(`Stopped ${stopped.length > 1 ? `${stopped.slice(0, -1).join(', ')} and ${stopped.at(-1)}` : stopped[0]}.`);
  if (!started.demoDir) return;
  if (opts.keep) {
    note(`Kept the demo directory: ${started.demoDir}`);
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
