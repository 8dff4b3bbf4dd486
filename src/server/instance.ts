/**
 * One serving process: its store connection, the live generation (authority + prepared
 * responses), and the HTTPS listener with the CA's own certificate, renewed in the background.
 * The single-process server runs one in-process; in cluster mode every worker runs one, all
 * listening on the socket the primary shares.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { buildAuthority } from '../authority/index.js';
import type { Authority } from '../authority/types.js';
import type { CaConfigJson } from '../config/ca-config.js';
import { CaError, describe } from '../errors.js';
import { PROVISIONERS_TOPIC } from '../store/changes.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { adminEnabled } from './admin-api.js';
import { checkAdminDatabase, provisionersKey, seedAdminStore, withProvisioners } from './admin-setup.js';
import { Generation, publish } from './generation.js';
import { createClientErrorListener, createRequestListener } from './http.js';
import { listenError } from './listen.js';
import type { JsonLog } from './log.js';
import { checkSameDatabase } from './reload.js';
import { parseListenAddress, secureContextOptions, tlsSettingsFrom } from './tls.js';

/** Where the intermediate key's password came from: a --password-file wins over ca.json. */
export interface PasswordOption {
  value: string | undefined;
  fromFile: boolean;
}

export interface InstanceOptions {
  config: CaConfigJson;
  configPath: string;
  caPath: string;
  password: PasswordOption;
  version: string;
  fetch: typeof fetch;
  now: () => Date;
  log: JsonLog;
  /** TLS session ticket keys (48 bytes) shared by all workers, so a resumed session works on any. */
  ticketKeys?: Buffer;
  /** Listen on this port instead of the one in `config.address` (a replacement worker joins the bound port). */
  port?: number;
  /** Longest wait for in-flight requests on shutdown before connections are cut (ms). */
  shutdownGraceMs?: number;
  /** When `ca serve` started, the same for every worker and every reload (the issued-at check). */
  startedAt: Date;
}

export interface Instance {
  /** The port actually bound (ca.json may say 0). */
  readonly port: number;
  readonly rootFingerprint: string;
  /** Build a whole new generation from `config` and swap it in; throws (keeping the old one) if it cannot. */
  reload(config: CaConfigJson): Promise<void>;
  /**
   * The two halves of reload, so that several workers switch only when every one of them could
   * build: prepare builds and holds the generation (throwing if it cannot), commit swaps it in.
   */
  prepare(config: CaConfigJson): Promise<void>;
  commit(): void;
  abort(): void;
  /** Stop accepting, let requests in flight finish, then release everything. */
  shutdown(): Promise<void>;
}

/**
 * Slow clients are cut off: a TLS handshake within 10 s, headers within 10 s, a whole request
 * within 30 s, an idle keep-alive connection after 15 s, any socket silent both ways after 30 s.
 */
export const TIMEOUTS = { handshakeMs: 10_000, headersMs: 10_000, requestMs: 30_000, keepAliveMs: 15_000, idleMs: 30_000 } as const;
const DEFAULT_GRACE_MS = 30_000;
/** setTimeout's ceiling (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The key's password for this config: the file's, else ca.json's `password`, else what was typed. */
function passwordFor(config: CaConfigJson, given: PasswordOption): string | undefined {
  if (given.fromFile) return given.value;
  return typeof config.password === 'string' && config.password !== '' ? config.password : given.value;
}

interface Built {
  generation: Generation;
  secure: SecureContextOptions;
  notAfter: Date;
}

/**
 * A generation from a configuration. At start (`atStart`) the IdPs' discovery runs behind it, so
 * the CA serves at once; a reload waits for it instead, while the old generation keeps serving.
 */
async function build(config: CaConfigJson, store: Store, opts: InstanceOptions, atStart = false): Promise<Built> {
  const tls = tlsSettingsFrom(config, opts.configPath);
  parseListenAddress(config.address, opts.configPath);
  checkAdminDatabase(config, opts.configPath);
  // With remote administration the provisioners are the store's, read now.
  const stored = adminEnabled(config) ? await store.listProvisioners() : undefined;
  const authority = await buildAuthority({
    config: stored ? withProvisioners(config, stored) : config,
    configPath: opts.configPath,
    caPath: opts.caPath,
    password: passwordFor(config, opts.password),
    fetch: opts.fetch,
    now: opts.now,
    store,
    log: opts.log,
    startedAt: opts.startedAt,
    discoverInBackground: atStart,
  });
  try {
    const credentials = await authority.issueServerCertificate();
    const secure = secureContextOptions(tls, credentials, clientCasOf(authority));
    const key = stored ? provisionersKey(stored) : '';
    return { generation: new Generation(authority, config, tls, publish(authority, opts.version), store, key), secure, notAfter: credentials.notAfter };
  } catch (err) {
    authority.close();
    throw err;
  }
}

/** The CAs a client certificate request names: this CA's roots and intermediate. */
function clientCasOf(authority: Authority): string[] {
  return [...authority.rootsPem, authority.intermediatePem];
}

/** Renew when about a third of the life is left, a little earlier at random so workers spread out. */
export function renewalDelay(notAfter: Date, now: Date): number {
  const remaining = notAfter.getTime() - now.getTime();
  const delay = (remaining * 2) / 3 - Math.random() * (remaining / 20);
  return Math.min(Math.max(delay, 1_000), MAX_TIMER_MS);
}

function listen(server: Server, host: string | undefined, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const { log } = opts;
  const address = parseListenAddress(opts.config.address, opts.configPath);
  checkAdminDatabase(opts.config, opts.configPath);
  const store = await openStore(opts.config, opts.caPath, { log });
  let first: Built;
  let current!: Generation;
  /** False until serving: changes seen before that are caught up with once it is. */
  let started = false;
  let refreshing: Promise<unknown> = Promise.resolve();
  /** A refresh asked for that has not begun yet. */
  let queued: Promise<Generation> | undefined;
  /** Stops watching the store's provisioners (remote administration). */
  let unwatch: () => void = () => undefined;
  try {
    if (adminEnabled(opts.config)) {
      // Watch first, then load: a change committed in between is not missed.
      unwatch = await store.watch(PROVISIONERS_TOPIC, () => void refresh().catch(() => undefined));
      await seedAdminStore(opts.config, opts.configPath, store, log, opts.now());
    }
    first = await build(opts.config, store, opts, true);
  } catch (err) {
    unwatch();
    await store.close();
    throw err;
  }

  current = first.generation;

  /**
   * Remote administration: serve the store's provisioners as they are now. A swap like SIGHUP's
   * (requests finish on the generation they started with), one at a time; nothing happens when
   * the store's provisioners are the ones served. A failure keeps the running generation.
   */
  function refresh(): Promise<Generation> {
    // Callers arriving while one waits to start share it: it reads the store after all of them
    // asked (a burst of refused tokens costs one read, not one each).
    if (queued) return queued;
    const start = (): Promise<Generation> => {
      queued = undefined;
      return refreshOnce();
    };
    const run = refreshing.then(start, start);
    queued = run;
    refreshing = run.catch(() => undefined);
    return run;
  }

  async function refreshOnce(): Promise<Generation> {
    if (!started || draining || !adminEnabled(current.config)) return current;
    const generation = current;
    try {
      if (provisionersKey(await store.listProvisioners()) === generation.provisionersKey) return current;
      const next = await build(generation.config, store, opts, true);
      if (draining || generation !== current) {
        next.generation.retire();
        return current;
      }
      useCertificate(next.secure, next.notAfter);
      current = next.generation;
      generation.retire();
      log({ level: 'info', msg: 'serving the provisioners changed in the database', provisioners: current.authority.provisioners().map((p) => p.name) });
    } catch (err) {
      log({ level: 'error', msg: 'cannot serve the provisioners changed in the database; still serving the previous ones', error: describe(err) });
    }
    return current;
  }
  let draining = false;
  let renewTimer: NodeJS.Timeout | undefined;

  const server = createServer(
    {
      ...first.secure,
      ticketKeys: opts.ticketKeys,
      handshakeTimeout: TIMEOUTS.handshakeMs,
      headersTimeout: TIMEOUTS.headersMs,
      requestTimeout: TIMEOUTS.requestMs,
      keepAliveTimeout: TIMEOUTS.keepAliveMs,
      // How often Node checks the two timeouts above (default 30 s would let them slip).
      connectionsCheckingInterval: 1_000,
      noDelay: true,
      // Ask for a client certificate (renew, rekey, revoke over mutual TLS) but never refuse a
      // handshake: the authority judges the certificate (expired, revoked, foreign) and answers
      // with a reason, and clients without one (curl, browsers, `ca certificate`) are unaffected.
      requestCert: true,
      rejectUnauthorized: false,
    },
    createRequestListener({ current: () => current, refresh, log, draining: () => draining }),
  );
  // Node's handshakeTimeout counts from the first byte to the end of the handshake (bytes trickled
  // in do not extend it); a socket that never got there cannot be answered, only destroyed.
  const established = new WeakSet<object>();
  server.on('secureConnection', (socket: object) => established.add(socket));
  server.on('clientError', createClientErrorListener(log, (socket) => established.has(socket)));
  // Any socket silent in both directions for this long goes (e.g. answers a client never reads).
  server.setTimeout(TIMEOUTS.idleMs);

  /** Swap the certificate (and TLS settings) new connections get; connections already open keep theirs. */
  function useCertificate(secure: SecureContextOptions, notAfter: Date): void {
    server.setSecureContext(secure);
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => void renew(), renewalDelay(notAfter, opts.now()));
    renewTimer.unref();
  }

  async function renew(): Promise<void> {
    const generation = current;
    try {
      const credentials = await generation.authority.issueServerCertificate();
      // A reload during the await already installed a newer certificate.
      if (draining || generation !== current) return;
      useCertificate(secureContextOptions(generation.tls, credentials, clientCasOf(generation.authority)), credentials.notAfter);
      log({ level: 'info', msg: 'renewed the server certificate', notAfter: credentials.notAfter.toISOString() });
    } catch (err) {
      log({ level: 'error', msg: 'cannot renew the server certificate; retrying in a minute', error: describe(err) });
      if (draining || generation !== current) return;
      renewTimer = setTimeout(() => void renew(), 60_000);
      renewTimer.unref();
    }
  }

  try {
    await listen(server, address.host, opts.port ?? address.port);
  } catch (err) {
    current.retire();
    await store.close();
    throw (await listenError(err, address.host, opts.port ?? address.port, opts.configPath)) ?? err;
  }
  useCertificate(first.secure, first.notAfter);
  const port = (server.address() as AddressInfo).port;
  started = true;
  // A change between the first build and now.
  void refresh();

  let shuttingDown: Promise<void> | undefined;
  /** A reload still building; shutdown waits for it before closing the store under it. */
  let reloading: Promise<unknown> = Promise.resolve();
  /** Built by prepare(), waiting for commit() or abort(). */
  let prepared: Built | undefined;

  const abort = (): void => {
    prepared?.generation.retire();
    prepared = undefined;
  };

  const prepare = async (config: CaConfigJson): Promise<void> => {
    if (draining) throw new Error('the server is shutting down');
    checkSameDatabase(current.config, config);
    if (adminEnabled(config) !== adminEnabled(current.config)) {
      // The store's provisioners would replace ca.json's (or the reverse) without the first-start move.
      throw new CaError('ERR_CONFIG_INVALID', `"authority.enableAdmin" changed to ${String(adminEnabled(config))}`, { hint: 'restart ca serve to turn remote administration on or off' });
    }
    abort();
    const building = build(config, store, opts);
    reloading = building.catch(() => undefined);
    const next = await building;
    if (draining) {
      next.generation.retire();
      throw new Error('the server is shutting down');
    }
    prepared = next;
  };

  const commit = (): void => {
    const next = prepared;
    if (!next) throw new Error('no prepared configuration to switch to');
    if (draining) {
      abort();
      throw new Error('the server is shutting down');
    }
    prepared = undefined;
    // Both swaps happen in the same tick: no request sees the new certificate with the old authority.
    const previous = current;
    useCertificate(next.secure, next.notAfter);
    current = next.generation;
    previous.retire();
    // The store may have changed while the reload was built.
    void refresh();
  };

  return {
    port,
    rootFingerprint: current.authority.rootFingerprints[0] ?? '',
    async reload(config) {
      await prepare(config);
      commit();
    },
    prepare,
    commit,
    abort,

    shutdown() {
      shuttingDown ??= (async () => {
        draining = true;
        unwatch();
        clearTimeout(renewTimer);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive connections go now; busy ones close after their response (draining).
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs ?? DEFAULT_GRACE_MS);
        await closed;
        clearTimeout(cut);
        await reloading;
        await refreshing;
        prepared?.generation.retire();
        current.retire();
        await store.close();
        log.flush();
      })();
      return shuttingDown;
    },
  };
}
