/**
 * The HTTP layer in front of the API: request ids, the body cap and content type, turning
 * errors into step-ca's error bodies (with server/problem.ts, the server's one place that does),
 * and one JSON log line per request. Everything here is per request, so it stays small.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { route, stripVersionPrefix, type ApiRequest, type ApiResponse, type SignNote } from './api.js';
import type { Generation } from './generation.js';
import type { JsonLog } from './log.js';
import { isAdminPath } from './admin-api.js';
import { adminProblemBody, badRequest, problemBody, problemFor, type HttpProblem } from './problem.js';

/** The body cap: a CSR and a token are a few KiB. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpDeps {
  /** The generation new requests start on (swapped on reload). */
  current: () => Generation;
  /** Bring the generation up to the store's provisioners (remote administration) and give the one serving then. */
  refresh?: () => Promise<Generation>;
  log: JsonLog;
  /** True once shutdown began: responses then close their connection. */
  draining: () => boolean;
  maxBodyBytes?: number;
}

/** An incoming id we can echo safely (no spaces, no control characters, bounded); otherwise a new one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+/=-]{1,128}$/;

export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined || header === '') return true;
  const type = header.split(';', 1)[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * The body as JSON, refusing early what we will not read: a wrong content type (415), a
 * declared or actual size over the cap (413), and text that is not JSON (400).
 */
function readJson(req: IncomingMessage, res: ServerResponse, limit: number): Promise<unknown> {
  if (!isJsonContentType(req.headers['content-type'])) {
    return Promise.reject(badRequest('the content type must be application/json', 415));
  }
  const tooLarge = (): HttpProblem => {
    // We stop reading: the rest of the body must not be taken for the next request.
    res.setHeader('Connection', 'close');
    return badRequest(`the request body is larger than ${limit} bytes`, 413);
  };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (size > limit) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch {
        reject(badRequest('error reading request body: the body is not valid JSON'));
      }
    });
  });
}

/**
 * The client certificate of the connection, as the handshake received it (or as the resumed TLS
 * session recorded it: shared ticket keys carry it to every worker). Unverified here on purpose.
 */
function peerCertificateOf(req: IncomingMessage): { der: Uint8Array } | undefined {
  const peer = (req.socket as Partial<TLSSocket>).getPeerX509Certificate?.();
  return peer ? { der: new Uint8Array(peer.raw) } : undefined;
}

interface RequestLine extends SignNote {
  requestId: string;
  method: string;
  path: string;
  status?: number;
  error?: string;
}

function levelFor(status: number): string {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

export function createRequestListener(deps: HttpDeps): RequestListener {
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;

  const send = (res: ServerResponse, status: number, body: string | Uint8Array, contentType: string, headers?: Readonly<Record<string, string>>): void => {
    if (res.headersSent || res.destroyed) return;
    if (deps.draining()) res.setHeader('Connection', 'close');
    res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  return (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const line: RequestLine = { requestId: requestIdFor(req.headers['x-request-id']), method: req.method ?? '', path: rawPath.slice(0, 256) };
    res.setHeader('X-Request-Id', line.requestId);

    const generation = deps.current();
    generation.enter();
    res.once('close', () => {
      generation.leave();
      const status = res.headersSent ? res.statusCode : 499; // 499: the client went away first
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const { requestId, method, path, provisioner, subject, serial, revokedBy, audit, error } = line;
      deps.log({ level: levelFor(status), requestId, method, path, status, ms, provisioner, subject, serial, revokedBy, audit, error });
    });

    const apiRequest: ApiRequest = {
      method: line.method,
      path: stripVersionPrefix(rawPath),
      query: q < 0 ? '' : url.slice(q + 1),
      generation,
      readJson: () => readJson(req, res, limit),
      peerCertificate: () => peerCertificateOf(req),
      header: (name) => {
        const value = req.headers[name.toLowerCase()];
        return Array.isArray(value) ? value[0] : value;
      },
      refreshed: () => (deps.refresh ? deps.refresh() : Promise.resolve(deps.current())),
      note: line,
    };

    const onResult = (result: ApiResponse): void => send(res, result.status, result.body, result.contentType ?? 'application/json', result.headers);
    const onError = (err: unknown): void => {
      const problem = problemFor(err);
      line.error = problem.reason;
      const body = isAdminPath(apiRequest.path) ? adminProblemBody(problem, err) : problemBody(problem);
      send(res, problem.status, body, 'application/json', problem.headers);
    };
    try {
      const result = route(line.method, apiRequest.path)(apiRequest);
      if (result instanceof Promise) result.then(onResult, onError);
      else onResult(result);
    } catch (err) {
      onError(err);
    }
  };
}

/** What Node's codes for requests it refused mean, as a status and a detail. */
const CLIENT_ERRORS: Readonly<Record<string, [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request took too long'],
};

/** How long an error answer may take to leave before its connection is cut anyway. */
const ANSWER_GRACE_MS = 5_000;

/**
 * Answer `text` and close the connection for good. `end()` alone only half-closes: a client that
 * never reads or never closes its side would keep the socket open forever. So the socket is
 * destroyed once the answer is flushed, or after a short grace if the client does not take it.
 */
function answerAndClose(socket: Duplex, text: string): void {
  const cut = setTimeout(() => socket.destroy(), ANSWER_GRACE_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
  socket.end(text, () => socket.destroy());
}

/**
 * Requests Node refuses before our listener sees them (malformed, headers too large, too slow):
 * answered in the same error shape, with a request id and a log line, and the connection closed.
 * A connection whose TLS handshake never completed (nothing sent, a partial or trickled
 * ClientHello: Node's handshake timeout) cannot be answered at all: it is destroyed at once.
 * `established` tells the sockets that completed their handshake.
 */
export function createClientErrorListener(log: JsonLog, established: (socket: Duplex) => boolean): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    if (!established(socket)) {
      socket.destroy();
      if (err.code !== 'ECONNRESET') log({ level: 'warn', msg: 'TLS handshake failed', error: `${err.code ?? 'error'}: ${err.message}` });
      return;
    }
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, detail] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'malformed HTTP request'];
    const body = problemBody(badRequest(detail, status));
    const requestId = randomUUID();
    answerAndClose(
      socket,
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
    log({ level: 'warn', requestId, status, error: `${err.code ?? 'error'}: ${err.message}` });
  };
}
