/**
 * Entry point of a cluster worker (node:cluster runs this file, not the CLI). It waits for the
 * primary's `start`, serves on the shared socket, reloads and shuts down when told. Like
 * cli/bin.ts it is a process entry point, so it may decide when the process ends.
 */
import { makeFetch } from '../client/http.js';
import { jsonLineLog } from './log.js';
import { serializeError, type FromWorker, type ToWorker, type WorkerStart } from './messages.js';
import { startInstance, type Instance } from './instance.js';

const log = jsonLineLog(process.stdout);
let starting: Promise<Instance | undefined> | undefined;
let stopping: Promise<void> | undefined;

function send(msg: FromWorker): void {
  if (process.connected) process.send?.(msg);
}

function start(s: WorkerStart): void {
  if (starting || stopping) return;
  starting = startInstance({
    ...s,
    ticketKeys: Buffer.from(s.ticketKeys, 'base64'),
    startedAt: new Date(s.startedAt),
    // The same network the CLI uses (HTTPS_PROXY / NO_PROXY honoured) for discovery and key sets.
    fetch: makeFetch({ env: process.env }),
    now: () => new Date(),
    log,
  }).then(
    (instance) => {
      send({ type: 'ready', port: instance.port, rootFingerprint: instance.rootFingerprint });
      return instance;
    },
    (err: unknown) => {
      send({ type: 'failed', error: serializeError(err) });
      stop();
      return undefined;
    },
  );
}

async function prepare({ id, config }: Extract<ToWorker, { type: 'prepare' }>): Promise<void> {
  const instance = await starting;
  try {
    if (!instance) throw new Error('this worker is not serving');
    await instance.prepare(config);
    send({ type: 'prepared', id });
  } catch (err) {
    send({ type: 'prepared', id, error: serializeError(err) });
  }
}

async function commit({ id }: Extract<ToWorker, { type: 'commit' }>): Promise<void> {
  const instance = await starting;
  try {
    if (!instance) throw new Error('this worker is not serving');
    instance.commit();
    send({ type: 'committed', id });
  } catch (err) {
    send({ type: 'committed', id, error: serializeError(err) });
  }
}

function stop(): void {
  stopping ??= (async () => {
    const instance = await starting;
    await instance?.shutdown();
    log.flush();
    if (process.connected) process.disconnect();
    // Nothing should hold the process now; if something does (a stray socket), do not linger.
    setTimeout(() => process.exit(0), 2_000).unref();
  })();
}

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') start(msg.start);
  else if (msg.type === 'prepare') void prepare(msg);
  else if (msg.type === 'commit') void commit(msg);
  else if (msg.type === 'abort') void starting?.then((instance) => instance?.abort());
  else if (msg.type === 'shutdown') stop();
});
// Ctrl-C reaches the whole process group: finish in flight rather than die. Reloads come from the primary only.
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', () => undefined);
// The primary is gone: nobody will tell us to stop.
process.on('disconnect', stop);
send({ type: 'listening' });
