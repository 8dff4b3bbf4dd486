/**
 * A real CA for server tests (and the bench): a temporary $CA_PATH made by the real `ca init` and
 * `ca provisioner add` against the real test IdP, a real `ca serve` child process (bin/ca, so
 * `npm run build` first), and HTTPS requests that trust only the CA's root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { x509 } from '../../src/pki/crypto.js';
import type { TestIdp } from '../fixtures/idp.js';
import { CA_BIN, runCli, type CliResult } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

export const PASSWORD = 'server-test-password';
export const PROVISIONER = 'TestIdP';
export const CLIENT_ID = 'ca-cli';
/** The JWK provisioner `ca init` makes; its key opens with PASSWORD. */
export const JWK_PROVISIONER = 'admin';

export interface CaHome {
  dir: string;
  caPath: string;
  configPath: string;
  passwordFile: string;
  rootFile: string;
  intermediateFile: string;
  rootPem: string;
  env: NodeJS.ProcessEnv;
  /** Run bin/ca with this CA_PATH; fails the test on a non-zero exit unless allowFail. */
  cli(args: string[], opts?: { allowFail?: boolean }): Promise<CliResult>;
  cleanup(): Promise<void>;
}

/**
 * `ca init` on 127.0.0.1:0 and an OIDC provisioner for the IdP's `ca-cli` client. The JWK
 * provisioner `ca init` makes (JWK_PROVISIONER, password PASSWORD) is kept with `jwk: true`, and
 * removed otherwise, so a test that is about OIDC sees that provisioner alone.
 */
export async function createCaHome(idp: TestIdp, opts: { address?: string; dnsNames?: string[]; jwk?: boolean } = {}): Promise<CaHome> {
  const d = await testdir({ 'pw.txt': `${PASSWORD}\n` });
  const caPath = d.path('ca');
  const cli = homeCli({ CA_PATH: caPath });
  const dns = (opts.dnsNames ?? ['localhost', '127.0.0.1']).flatMap((name) => ['--dns', name]);
  await cli(['init', '--name', 'Server Test', ...dns, '--address', opts.address ?? '127.0.0.1:0', '--password-file', d.path('pw.txt')]);
  if (!opts.jwk) await cli(['provisioner', 'remove', JWK_PROVISIONER]);
  await cli(['provisioner', 'add', PROVISIONER, '--client-id', CLIENT_ID, '--client-secret', 'ca-cli-secret', '--configuration-endpoint', idp.discoveryUrl]);
  return caHomeAt(caPath, d.path('pw.txt'), { dir: d.dir, cleanup: d.cleanup });
}

/**
 * A CA home that already exists at `caPath` (made by `ca init`, or by step's own init), opened
 * with `passwordFile`; `cleanup` removes `dir` when the home is the test's to remove.
 */
export async function caHomeAt(caPath: string, passwordFile: string, opts: { dir?: string; cleanup?: () => Promise<void> } = {}): Promise<CaHome> {
  const env = { CA_PATH: caPath };
  const rootFile = `${caPath}/certs/root_ca.crt`;
  return {
    dir: opts.dir ?? caPath,
    caPath,
    configPath: `${caPath}/config/ca.json`,
    passwordFile,
    rootFile,
    intermediateFile: `${caPath}/certs/intermediate_ca.crt`,
    rootPem: await readFile(rootFile, 'utf8'),
    env,
    cli: homeCli(env),
    cleanup: opts.cleanup ?? (async () => {}),
  };
}

/** bin/ca with a home's environment; a non-zero exit fails the test unless allowFail. */
function homeCli(env: NodeJS.ProcessEnv): CaHome['cli'] {
  return async (args, o = {}) => {
    const res = await runCli(args, { env });
    if (res.code !== 0 && !o.allowFail) throw new Error(`ca ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res;
  };
}

/** Point the home's ca.json at another database (e.g. PostgreSQL for replicas); returns the ca.json path. */
export async function setDatabase(home: CaHome, db: Record<string, unknown>, configPath = home.configPath): Promise<string> {
  const config = JSON.parse(await readFile(home.configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(configPath, `${JSON.stringify({ ...config, db }, null, '\t')}\n`);
  return configPath;
}

/** Change a CA home's ca.json by hand, as an admin with an editor would. */
export async function editConfig(home: CaHome, edit: (config: Record<string, unknown>) => void): Promise<void> {
  const config = JSON.parse(await readFile(home.configPath, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(home.configPath, JSON.stringify(config, null, '\t'));
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Serving {
  child: ChildProcess;
  port: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Every JSON line the server wrote to stdout so far. */
  logLines(): Record<string, unknown>[];
  stdout(): string;
  /** The log line of a request, once written (lines are written after the response). */
  logLine(requestId: unknown, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once stderr matches (e.g. a reload finished). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  agent: Agent;
  /** One request; `timeoutMs` fails it when no answer comes in that long. */
  request(method: string, path: string, opts?: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number }): Promise<Response>;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServeOptions {
  workers?: number;
  args?: string[];
  /** Keep stdout (the request log) in memory; the bench turns this off. */
  captureStdout?: boolean;
  /** How many sockets the keep-alive agent may open. */
  maxSockets?: number;
  startTimeoutMs?: number;
  /** More environment for the server (e.g. PGPASSWORD). */
  env?: NodeJS.ProcessEnv;
  /** Options for node itself (e.g. --cpu-prof, which workers inherit). */
  nodeArgs?: string[];
}

/** Spawn `ca serve` and wait for `Serving HTTPS on <addr> ...`. */
export async function startServe(home: CaHome, opts: ServeOptions = {}): Promise<Serving> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/nonexistent-home', ...home.env, ...opts.env, CA_WORKERS: String(opts.workers ?? 2) };
  const args = opts.args ?? ['--password-file', home.passwordFile];
  const capture = opts.captureStdout ?? true;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CA_BIN, 'serve', ...args], { env, stdio: ['ignore', capture ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const watchers = new Set<() => void>();
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    watchers.forEach((w) => w());
  });
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const waitForStderr = (pattern: RegExp, timeoutMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(stderr)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${pattern} in ca serve's stderr:\n${stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      void exited.then(() => {
        if (!watchers.has(check)) return;
        done();
        reject(new Error(`ca serve exited while waiting for ${pattern}:\n${stderr}`));
      });
      check();
    });

  try {
    await waitForStderr(/Serving HTTPS on \S+ \.\.\./, opts.startTimeoutMs ?? 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const port = Number(/Serving HTTPS on \S*:(\d+) \.\.\./.exec(stderr)?.[1]);
  const agent = new Agent({ keepAlive: true, ca: home.rootPem, maxSockets: opts.maxSockets ?? 16 });

  return {
    child,
    port,
    stderr: () => stderr,
    stdout: () => stdout,
    logLines: () => parseLines(stdout),
    waitForStderr,
    async logLine(requestId, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = parseLines(stdout).find((l) => l.requestId === requestId);
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no log line for request ${String(requestId)}:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    exited,
    agent,
    request: (method, path, o = {}) => send({ host: '127.0.0.1', port, method, path, agent, headers: o.headers, timeout: o.timeoutMs }, o.body),
    async stop(signal = 'SIGTERM') {
      agent.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One HTTPS request; the body is collected as text. */
export function send(options: RequestOptions, body?: string | Buffer): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // options.timeout: no answer (nor any byte) for that long is a failure, not a wait.
    req.on('timeout', () => req.destroy(new Error(`no answer within ${String(options.timeout)} ms`)));
    req.end(body);
  });
}

export function json(res: Response): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

/** A fresh ID token from the IdP's own key, as a login would give (unique nonce, so single use). */
export function mintToken(idp: TestIdp, claims: Record<string, unknown> = {}): Promise<string> {
  return idp.signToken({ nonce: randomUUID(), email: 'alice@example.com', email_verified: true, ...claims });
}

/** A CSR for a fresh P-256 key, made in process (cheaper than openssl when tests need hundreds). */
export async function makeCsr(commonName = 'alice@example.com'): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${commonName}`, keys, signingAlgorithm: alg });
  return csr.toString('pem');
}

export function signJson(csr: string, ott: string): string {
  return JSON.stringify({ csr, ott, notBefore: '', notAfter: '' });
}

const RELOADED = /reloaded the configuration from /g;

/** How many reloads the server has reported so far. */
export function countReloads(server: Serving): number {
  return server.stderr().match(RELOADED)?.length ?? 0;
}

/** SIGHUP, then wait for the primary to say every worker has the new configuration. */
export async function hangUp(server: Serving): Promise<void> {
  const before = countReloads(server);
  server.child.kill('SIGHUP');
  const deadline = Date.now() + 20_000;
  while (countReloads(server) <= before) {
    if (Date.now() > deadline) throw new Error(`no reload after SIGHUP:\n${server.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
