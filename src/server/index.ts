/**
 * `ca serve` without the command line: start the HTTPS server (in this process, or as a cluster
 * of one worker per core), print step-ca's start lines, reload on SIGHUP, and on SIGINT/SIGTERM
 * stop accepting, finish the requests in flight and return.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { dnsNamesOf, type CaConfigJson } from '../config/ca-config.js';
import { startCluster, type RunningServer } from './cluster.js';
import type { PasswordOption } from './instance.js';
import { jsonLineLog } from './log.js';
import { Reloader } from './reload.js';
import { formatAddress, parseListenAddress, tlsSettingsFrom } from './tls.js';

export type { PasswordOption } from './instance.js';
export { MAX_BODY_BYTES } from './http.js';
export { TIMEOUTS } from './instance.js';

export interface ServeOptions {
  config: CaConfigJson;
  configPath: string;
  caPath: string;
  password: PasswordOption;
  /** 1 serves from this process; more forks that many workers. */
  workers: number;
  version: string;
  /** For the authority's discovery and key-set requests in this process (workers make their own, proxy-aware alike). */
  fetch: typeof fetch;
  now: () => Date;
  /** JSON log lines: one per request and per background event. */
  stdout: Writable;
  /** The start lines and lifecycle messages, for people. */
  stderr: Writable;
  /** Where SIGHUP, SIGINT and SIGTERM arrive (the process). */
  signals: EventEmitter;
  shutdownGraceMs?: number;
}

const DEFAULT_GRACE_MS = 30_000;

function primaryUrl(config: CaConfigJson, port: number): string {
  const name = dnsNamesOf(config)[0] as string;
  const host = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
  return `https://${host}:${port}`;
}

async function startSingle(opts: ServeOptions, grace: number, startedAt: Date): Promise<RunningServer> {
  const { startInstance } = await import('./instance.js');
  const instance = await startInstance({
    config: opts.config,
    configPath: opts.configPath,
    caPath: opts.caPath,
    password: opts.password,
    version: opts.version,
    fetch: opts.fetch,
    now: opts.now,
    log: jsonLineLog(opts.stdout, opts.now),
    shutdownGraceMs: grace,
    startedAt,
  });
  return {
    port: instance.port,
    rootFingerprint: instance.rootFingerprint,
    reload: (config) => instance.reload(config),
    shutdown: () => instance.shutdown(),
    fatal: new Promise<Error>(() => undefined),
  };
}

function startWorkers(opts: ServeOptions, grace: number, workers: number, startedAt: Date): Promise<RunningServer> {
  return startCluster({
    workers,
    say: (line) => void opts.stderr.write(`${line}\n`),
    shutdownGraceMs: grace,
    start: {
      config: opts.config,
      configPath: opts.configPath,
      caPath: opts.caPath,
      password: opts.password,
      version: opts.version,
      ticketKeys: randomBytes(48).toString('base64'),
      startedAt: startedAt.getTime(),
    },
  });
}

/** Serve until SIGINT or SIGTERM; resolves once every request in flight has been answered. */
export async function serve(opts: ServeOptions): Promise<void> {
  const say = (line: string): void => void opts.stderr.write(`${line}\n`);
  const grace = opts.shutdownGraceMs ?? DEFAULT_GRACE_MS;
  // What can be checked without the key: fail before forking anything.
  const address = parseListenAddress(opts.config.address, opts.configPath);
  tlsSettingsFrom(opts.config, opts.configPath);

  // A SIGHUP while starting (discovery can take seconds) must not kill us: remember it for later.
  let hangupWhileStarting = false;
  const onEarlyHangup = (): void => void (hangupWhileStarting = true);
  opts.signals.on('SIGHUP', onEarlyHangup);

  say(`Starting ca/${opts.version} (${process.platform}/${process.arch})`);
  say(`Config file: ${opts.configPath}`);
  const startedAt = opts.now();
  let workers = opts.workers;
  if (workers > 1 && (opts.config.db === undefined || opts.config.db === null)) {
    // Without a db the used-token record lives in memory, one per process: several workers
    // would each accept the same token once.
    say('ca.json has no "db": serving from one process so that every token is used only once (add a db section to use every core)');
    workers = 1;
  }
  let running: RunningServer;
  try {
    running = workers > 1 ? await startWorkers(opts, grace, workers, startedAt) : await startSingle(opts, grace, startedAt);
  } finally {
    opts.signals.off('SIGHUP', onEarlyHangup);
  }

  const url = primaryUrl(opts.config, running.port);
  say(`The primary server URL is ${url}`);
  say(`Root certificates are available at ${url}/roots.pem`);
  say(`X.509 Root Fingerprint: ${running.rootFingerprint}`);
  say(`Serving HTTPS on ${formatAddress(address.host, running.port)} ...`);

  await untilStopped(running, opts, say, hangupWhileStarting);
}

function untilStopped(running: RunningServer, opts: ServeOptions, say: (line: string) => void, reloadNow: boolean): Promise<void> {
  const reloader = new Reloader({ configPath: opts.configPath, config: opts.config, target: running, say });
  const { signals } = opts;
  return new Promise((resolve, reject) => {
    let stopping = false;
    // Kept while stopping (a SIGHUP must not kill us then), but ignored.
    const onHangup = (): void => {
      if (!stopping) void reloader.request();
    };
    const finish = (err?: Error): void => {
      running.shutdown().then(
        () => {
          signals.off('SIGHUP', onHangup);
          if (err) reject(err);
          else resolve();
        },
        (shutdownErr: unknown) => reject(shutdownErr),
      );
    };
    const stop = (): void => {
      stopping = true;
      // A second SIGINT/SIGTERM now gets the default action: an impatient operator can still kill us.
      signals.off('SIGINT', stop);
      signals.off('SIGTERM', stop);
      say('shutting down ...');
      finish();
    };
    signals.on('SIGHUP', onHangup);
    signals.on('SIGINT', stop);
    signals.on('SIGTERM', stop);
    if (reloadNow) onHangup();
    void running.fatal.then((err) => {
      if (stopping) return;
      stopping = true;
      signals.off('SIGINT', stop);
      signals.off('SIGTERM', stop);
      finish(err);
    });
  });
}
