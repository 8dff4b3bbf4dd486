import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CaError, describe } from '../errors.js';
import { checkLoopbackListenAddress } from '../config/provisioner.js';
import { failurePage, successPage } from './pages.js';

/**
 * The loopback redirect listener of a native-app login (RFC 8252 §7.3). It binds a loopback
 * address only, the redirect URI is `http://127.0.0.1:PORT` with no path (what step sends, and
 * what IdP registrations made for step expect), and it takes exactly one callback: the first one
 * that carries `state` and a code or an error decides the login. A wrong state is refused and
 * ends the login, as step does, so a forged callback can never complete it. Anything else (no
 * state, another path or host, a request line that is not a URL) is a stray request: it gets a
 * 400 and the login keeps waiting, so a local process or a web page cannot end it without
 * knowing at least that a state is needed.
 */

export interface ListenTarget {
  /** The address to bind: always a loopback one. */
  bindHost: string;
  port: number;
  /** The host as it appears in the redirect URI (`localhost` stays `localhost`). */
  redirectHost: string;
}

/**
 * Where to listen, from `--listen host:port` (or a provisioner's listenAddress). No value means
 * 127.0.0.1 on a random port; an empty host means 127.0.0.1; `localhost` binds 127.0.0.1 but stays
 * `localhost` in the redirect URI, for IdPs that only allow that name.
 */
export function listenTarget(listen: string | undefined, flag = '--listen'): ListenTarget {
  if (listen === undefined || listen === '') return { bindHost: '127.0.0.1', port: 0, redirectHost: '127.0.0.1' };
  checkLoopbackListenAddress(listen, flag);
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  const port = Number(listen.slice(colon + 1));
  const lower = host.toLowerCase();
  if (lower === '') return { bindHost: '127.0.0.1', port, redirectHost: '127.0.0.1' };
  if (lower === 'localhost') return { bindHost: '127.0.0.1', port, redirectHost: 'localhost' };
  if (lower === '[::1]') return { bindHost: '::1', port, redirectHost: '[::1]' };
  return { bindHost: lower, port, redirectHost: lower }; // 127.x.x.x
}

export interface CallbackOptions<T> {
  target: ListenTarget;
  /** Prints a status line on stderr (the hint about stray requests). */
  log: (line: string) => void;
  /**
   * Whether a callback carries this login's state. Any other is a stray request, whoever sent it:
   * 400, and the login goes on waiting for its own (anyone who can reach the port must not be
   * able to end it).
   */
  belongs: (params: URLSearchParams) => boolean;
  /**
   * Handle the first callback that carries state, and code or error: check its state and exchange
   * the code. Throwing fails the login; the message goes on the page. Nothing else settles it.
   */
  complete: (params: URLSearchParams) => Promise<T>;
  /** Who logged in, for the success page. */
  who: (result: T) => string | undefined;
}

export interface CallbackListener<T> {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly redirectUri: string;
  /** Settles with the first real callback: the login's result, or why it failed. */
  readonly result: Promise<T>;
  /** Stop listening and drop every connection (idempotent). */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8'): Promise<void> {
  return new Promise((resolve) => {
    // A browser that hung up (now, or while the code was being exchanged) never sees the end of
    // the page, and must not stall the login: its response is closed, or closes, instead.
    if (res.destroyed) {
      resolve();
      return;
    }
    res.once('close', () => resolve());
    // Connection: close, so a browser's keep-alive socket does not outlive the login.
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', connection: 'close', 'x-content-type-options': 'nosniff' });
    res.end(body, () => resolve());
  });
}

function listenError(err: unknown, target: ListenTarget): CaError {
  const address = `${target.bindHost.includes(':') ? `[${target.bindHost}]` : target.bindHost}:${target.port}`;
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : describe(err);
  return new CaError('ERR_LISTEN_FAILED', `cannot listen on ${address} for the login callback: ${why}`, {
    cause: err,
    hint:
      code === 'EADDRINUSE'
        ? `stop the program using port ${target.port}, or pass another address with --listen (e.g. --listen 127.0.0.1:0 for any free port, if your identity provider allows it)`
        : 'pass another address with --listen (e.g. --listen 127.0.0.1:0)',
  });
}

/** Start the listener; resolves once it is bound (so the redirect URI has its port). */
export async function listenForCallback<T>(opts: CallbackOptions<T>): Promise<CallbackListener<T>> {
  const sockets = new Set<Socket>();
  let settled = false;
  let handling = false;
  let resolveResult!: (value: T) => void;
  let rejectResult!: (err: unknown) => void;
  const result = new Promise<T>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // The caller may stop waiting (timeout) before anyone looks at the result.
  result.catch(() => undefined);

  const server: Server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000, keepAliveTimeout: 1_000 }, (req, res) => {
    // Only the real callback settles the login (in handle); a failure answering any other
    // request is that request's alone, whoever sent it.
    handle(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else void send(res, 500, 'internal error\n', 'text/plain; charset=utf-8');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, opts.target)));
    server.listen({ host: opts.target.bindHost, port: opts.target.port, exclusive: true }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const redirectUri = `http://${opts.target.redirectHost}:${port}`;
  const origin = new URL(redirectUri).origin;
  const allowedHosts = new Set([`${opts.target.redirectHost}:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);

  /** The page that tells the browser how the login ended, while it is being sent. */
  let answering: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The login may end elsewhere (a pasted address with the same code) just as this page
      // goes out: let it finish (send() ends on 'finish' or 'close', so this cannot hang).
      await answering;
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    })();
    return closing;
  }

  function finish(settle: () => void): void {
    if (settled) return;
    settled = true;
    settle();
    void close();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url, redirectUri);
    // Only the redirect itself counts: GET on the path-less redirect URI, addressed to our own
    // host name (a page that rebinds some other name to 127.0.0.1 cannot reach the handler).
    if (req.method !== 'GET' || url?.origin !== origin || url.pathname !== '/' || !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      await send(res, 400, 'Bad request\n', 'text/plain; charset=utf-8');
      return;
    }
    const params = url.searchParams;
    // Our state, with a code or an error, is what a callback carries; without any state it
    // cannot be our login's, so even an `error` in it does not end the login.
    if (!params.get('state') || (!params.get('error') && !params.get('code'))) {
      // Printed as step does; control characters dropped, the request is anyone's.
      opts.log(`Invalid request received: http://${req.headers.host ?? ''}${req.url ?? ''}`.replace(/\p{Cc}/gu, '?'));
      opts.log('You may have an app or browser plugin that needs to be turned off');
      await send(res, 400, 'Bad request: the login callback needs code and state\n', 'text/plain; charset=utf-8');
      return;
    }
    if (!opts.belongs(params)) {
      opts.log(`Invalid request received (not this login's state): http://${req.headers.host ?? ''}${url.pathname}`.replace(/\p{Cc}/gu, '?'));
      await send(res, 400, 'Bad request: this is not the callback of the login in progress\n', 'text/plain; charset=utf-8');
      return;
    }
    if (settled || handling) {
      await send(res, 400, failurePage('This login has already been handled. Return to the terminal.'));
      return;
    }
    handling = true;
    let outcome: { ok: true; value: T } | { ok: false; err: unknown };
    try {
      outcome = { ok: true, value: await opts.complete(params) };
    } catch (err) {
      outcome = { ok: false, err };
    }
    // The login ends with this callback's outcome, whatever happens to the page it shows.
    try {
      answering = outcome.ok
        ? send(res, 200, successPage(opts.who(outcome.value)))
        : send(res, 400, failurePage(outcome.err instanceof CaError ? outcome.err.message : describe(outcome.err)));
      await answering;
    } finally {
      finish(() => (outcome.ok ? resolveResult(outcome.value) : rejectResult(outcome.err)));
    }
  }

  return { redirectUri, result, close };
}

/**
 * The request target as a URL against our redirect URI; undefined unless it is a path (origin
 * form, what a browser sends) that parses: anyone can write any request line to the port.
 */
function requestUrl(target: string | undefined, base: string): URL | undefined {
  if (!target?.startsWith('/')) return undefined;
  try {
    return new URL(target, base);
  } catch {
    return undefined;
  }
}
