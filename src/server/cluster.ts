/**
 * Cluster mode: one worker process per core, all serving the socket the primary listens on
 * (node:cluster hands each new connection to the next worker). A Node process signs on one
 * core, so this is how the CA uses the machine. The primary builds no authority; it starts the
 * workers with the configuration and password, forwards reloads and shutdown, and replaces a
 * worker that dies.
 */
import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaConfigJson } from '../config/ca-config.js';
import { CaError, describe } from '../errors.js';
import { deserializeError, isFromWorker, type FromWorker, type ToWorker, type WorkerStart } from './messages.js';
import type { ReloadTarget } from './reload.js';

export interface ClusterOptions {
  workers: number;
  start: WorkerStart;
  say: (line: string) => void;
  /** How long a worker may take to finish its requests on shutdown before it is killed (ms). */
  shutdownGraceMs: number;
}

export interface RunningServer extends ReloadTarget {
  readonly port: number;
  readonly rootFingerprint: string;
  shutdown(): Promise<void>;
  /** Settles only if the server cannot go on (workers keep dying); resolves with why. */
  readonly fatal: Promise<Error>;
}

/** More unexpected worker exits than this within CRASH_WINDOW_MS stops the server. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;

/** The worker entry beside this file: worker-main.js when built, worker-main.ts under tsx. */
function workerEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./worker-main${extname(self)}`, import.meta.url));
}

function nextMessage<T extends FromWorker>(worker: Worker, pick: (msg: FromWorker) => T | undefined, onExit: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: unknown): void => {
      const picked = isFromWorker(msg) ? pick(msg) : undefined;
      if (!picked) return;
      cleanup();
      resolve(picked);
    };
    const exited = (): void => {
      cleanup();
      reject(onExit());
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('exit', exited);
    };
    worker.on('message', onMessage);
    worker.once('exit', exited);
  });
}

async function whenReady(worker: Worker): Promise<{ port: number; rootFingerprint: string }> {
  const msg = await nextMessage(
    worker,
    (m) => (m.type === 'ready' || m.type === 'failed' ? m : undefined),
    () => new CaError('ERR_INTERNAL', `a server worker (pid ${worker.process.pid}) exited while starting`),
  );
  if (msg.type === 'failed') throw deserializeError(msg.error);
  return msg;
}

function exited(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => worker.once('exit', () => resolve()));
}

export async function startCluster(opts: ClusterOptions): Promise<RunningServer> {
  cluster.setupPrimary({ exec: workerEntry(), args: [] });
  const live = new Set<Worker>();
  let start = opts.start;
  let stopping = false;
  let reloadSeq = 0;
  const crashes: number[] = [];
  let reportFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (reportFatal = resolve));

  const fork = (): Worker => {
    const worker = cluster.fork();
    live.add(worker);
    const begin = (msg: unknown): void => {
      if (!isFromWorker(msg) || msg.type !== 'listening') return;
      worker.off('message', begin);
      worker.send({ type: 'start', start });
    };
    worker.on('message', begin);
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (!stopping) replace(worker, signal ?? `exit code ${code}`);
    });
    return worker;
  };

  const replace = (dead: Worker, how: string): void => {
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length > MAX_CRASHES) {
      reportFatal(new CaError('ERR_INTERNAL', `server workers keep exiting (the last: ${how}); stopping`));
      return;
    }
    opts.say(`a server worker (pid ${dead.process.pid}) exited unexpectedly (${how}); starting another`);
    whenReady(fork()).catch((err: unknown) => opts.say(`the replacement worker did not start: ${describe(err)}`));
  };

  const workers = Array.from({ length: opts.workers }, fork);
  let first: { port: number; rootFingerprint: string };
  try {
    [first] = (await Promise.all(workers.map(whenReady))) as [{ port: number; rootFingerprint: string }];
  } catch (err) {
    stopping = true;
    for (const w of live) w.process.kill('SIGKILL');
    await Promise.all(workers.map(exited));
    throw err;
  }
  // Replacements join the port actually bound, even if ca.json says 0.
  start = { ...start, port: first.port };

  /** Send one message and wait for the worker's answer to it; undefined when it went well. */
  const ask = async (worker: Worker, msg: Extract<ToWorker, { type: 'prepare' | 'commit' }>): Promise<Error | undefined> => {
    const answer = msg.type === 'prepare' ? 'prepared' : 'committed';
    const reply = nextMessage(
      worker,
      (m) => ((m.type === 'prepared' || m.type === 'committed') && m.type === answer && m.id === msg.id ? m : undefined),
      () => new Error(`worker ${worker.process.pid} exited`),
    );
    worker.send(msg);
    try {
      const m = await reply;
      return m.error ? deserializeError(m.error) : undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };

  /**
   * Every worker builds the new configuration first; only when all of them could does any switch,
   * so the workers never serve a mix of old and new.
   */
  const reloadAll = async (config: CaConfigJson): Promise<void> => {
    const id = ++reloadSeq;
    const targets = [...live];
    const failed = (await Promise.all(targets.map((w) => ask(w, { type: 'prepare', id, config })))).find((e) => e !== undefined);
    if (failed) {
      for (const w of targets) if (w.isConnected()) w.send({ type: 'abort', id });
      throw failed;
    }
    start = { ...start, config };
    const notSwitched = (await Promise.all(targets.map((w) => ask(w, { type: 'commit', id })))).filter((e) => e !== undefined);
    // A replacement forked during the reload started from the old configuration: bring it along.
    const latecomers = [...live].filter((w) => !targets.includes(w));
    if (latecomers.length > 0) await Promise.all(latecomers.map((w) => ask(w, { type: 'prepare', id, config }).then(() => ask(w, { type: 'commit', id }))));
    const first = notSwitched[0];
    if (first) throw new CaError('ERR_INTERNAL', `${notSwitched.length} of ${targets.length} workers could not switch (${describe(first)})`);
  };

  return {
    port: first.port,
    rootFingerprint: first.rootFingerprint,
    fatal,

    reload: reloadAll,

    async shutdown() {
      stopping = true;
      const workersLeft = [...live];
      for (const w of workersLeft) if (w.isConnected()) w.send({ type: 'shutdown' });
      const kill = setTimeout(() => workersLeft.forEach((w) => w.process.kill('SIGKILL')), opts.shutdownGraceMs + 5_000);
      await Promise.all(workersLeft.map(exited));
      clearTimeout(kill);
    },
  };
}
