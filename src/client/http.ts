import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CaError, describe } from '../errors.js';

export interface HttpOptions {
  /** The environment to read HTTPS_PROXY / HTTP_PROXY / NO_PROXY from (either case). */
  env: NodeJS.ProcessEnv;
  /** PEM roots to trust instead of the system's: the CA's own root, once bootstrapped. */
  ca?: string;
  /** Skip certificate checks: only for fetching a root that is then pinned by fingerprint. */
  insecure?: boolean;
  /**
   * Mutual TLS: the certificate (PEM chain) and key to present. TLS sessions are then never
   * resumed, so every connection proves this certificate, not one a resumed session remembers.
   */
  clientCertificate?: { certPem: string; keyPem: string };
}

/** Hosts that are this machine, whatever NO_PROXY says. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

function proxyEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] ?? env[name.toLowerCase()] ?? undefined;
}

/** The TLS settings of `opts`, for a direct connection or through a proxy alike. */
function tlsOptions(opts: HttpOptions): { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string; maxCachedSessions?: number } {
  const trust = opts.insecure ? { rejectUnauthorized: false } : opts.ca ? { ca: opts.ca } : {};
  const mine = opts.clientCertificate;
  return mine ? { ...trust, cert: mine.certPem, key: mine.keyPem, maxCachedSessions: 0 } : trust;
}

interface ProxySettings {
  http: string;
  https: string;
  /** NO_PROXY entries, lowercased, loopback always among them (Go's rule, so step's). */
  noProxy: string[];
}

function proxySettings(env: NodeJS.ProcessEnv): ProxySettings {
  return {
    http: proxyEnv(env, 'HTTP_PROXY') ?? '',
    https: proxyEnv(env, 'HTTPS_PROXY') ?? proxyEnv(env, 'HTTP_PROXY') ?? '',
    noProxy: [proxyEnv(env, 'NO_PROXY') ?? '', ...LOOPBACK_HOSTS]
      .join(',')
      .split(/[\s,]+/)
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean),
  };
}

/** Whether a request to `url` goes through a proxy: one is set for its scheme and NO_PROXY does not name its host. */
export function proxyFor(url: URL, settings: ProxySettings): string | undefined {
  const proxy = url.protocol === 'https:' ? settings.https : url.protocol === 'http:' ? settings.http : '';
  if (!proxy) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const entry of settings.noProxy) {
    if (entry === '*') return undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[(.*)\](:\d+)?$/, '$1$2'));
    const name = (m?.[1] ?? entry).replace(/^\*?\./, '');
    if (m?.[2] !== undefined && m[2] !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}

/** A dispatcher that honours the proxy variables and trusts the given roots, for the target and through a proxy alike. */
async function proxyFetch(opts: HttpOptions, settings: ProxySettings): Promise<{ fetch: typeof fetch; close: () => Promise<void> }> {
  const { EnvHttpProxyAgent, fetch: undiciFetch } = await import('undici');
  const tls = tlsOptions(opts);
  const dispatcher = new EnvHttpProxyAgent({ httpProxy: settings.http, httpsProxy: settings.https, noProxy: settings.noProxy.join(','), connect: tls, requestTls: tls });
  // undici's own fetch takes the dispatcher; its Response is the same WHATWG shape as the global one.
  const viaProxy = (input: string | URL | Request, init?: RequestInit) => undiciFetch(input as never, { ...(init as object), dispatcher } as never) as unknown as Promise<Response>;
  return { fetch: viaProxy as typeof fetch, close: () => dispatcher.close().catch(() => undefined) };
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

/** A request body as bytes, with the content type fetch would give it. */
function bodyOf(body: RequestInit['body']): { bytes?: Buffer; type?: string } {
  if (body === undefined || body === null) return {};
  if (typeof body === 'string') return { bytes: Buffer.from(body), type: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) return { bytes: Buffer.from(body.toString()), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (body instanceof ArrayBuffer) return { bytes: Buffer.from(body) };
  if (ArrayBuffer.isView(body)) return { bytes: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  throw new TypeError('unsupported request body');
}

/**
 * fetch over node:http(s) for requests that need no proxy: the common case (the CA, a loopback
 * IdP, an IdP reached directly) without loading undici, which alone costs a CLI run ~200 ms.
 */
function directFetch(opts: HttpOptions): { fetch: (url: URL, init: RequestInit | undefined) => Promise<Response>; close: () => void } {
  const httpsAgent = new HttpsAgent({ keepAlive: true, ...tlsOptions(opts) });
  const httpAgent = new HttpAgent({ keepAlive: true });
  const once = (url: URL, init: RequestInit | undefined, body: { bytes?: Buffer; type?: string }, retried = false): Promise<Response> =>
    new Promise((resolve, reject) => {
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const headers = new Headers(init?.headers);
      if (body.type && !headers.has('content-type')) headers.set('content-type', body.type);
      if (body.bytes) headers.set('content-length', String(body.bytes.length));
      const secure = url.protocol === 'https:';
      const outgoing: Record<string, string> = {};
      headers.forEach((value, name) => (outgoing[name] = value));
      const req = (secure ? httpsRequest : httpRequest)(url, { method: init?.method ?? 'GET', headers: outgoing, agent: secure ? httpsAgent : httpAgent });
      const abort = (): void => {
        req.destroy();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          signal?.removeEventListener('abort', abort);
          const status = res.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
          resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      });
      req.on('error', (err) => {
        signal?.removeEventListener('abort', abort);
        // A kept-alive socket the server closed just as it was reused (e.g. the IdP's idle timeout
        // while the user logged in): the server never saw the request. Node's documented remedy:
        // send it again once, on a new connection.
        if (req.reusedSocket && !retried && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && !signal?.aborted) {
          resolve(once(url, init, body, true));
          return;
        }
        reject(signal?.aborted ? signal.reason : err);
      });
      req.end(body.bytes);
    });
  const fetchDirect = async (url: URL, init: RequestInit | undefined): Promise<Response> => {
    let target = url;
    let current = init;
    for (let hop = 0; ; hop++) {
      const res = await once(target, current, bodyOf(current?.body));
      if (!REDIRECTS.has(res.status) || current?.redirect === 'manual' || hop >= MAX_REDIRECTS) return res;
      const location = res.headers.get('location');
      if (!location) return res;
      if (current?.redirect === 'error') throw new TypeError(`redirect to ${location} refused`);
      target = new URL(location, target);
      // As fetch: 303 (and 301/302 after a POST) turn into a GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && (current?.method ?? 'GET') === 'POST')) current = { ...current, method: 'GET', body: undefined };
    }
  };
  return {
    fetch: fetchDirect,
    close: () => {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}

/** Why a request never got an answer, in words a user can act on. */
export function networkError(url: string, err: unknown, env: NodeJS.ProcessEnv): CaError {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  const cause = (err as { cause?: unknown }).cause;
  const reason = cause instanceof Error ? `${(cause as NodeJS.ErrnoException).code ?? ''} ${cause.message}`.trim() : describe(err);
  const proxy = proxyEnv(env, 'HTTPS_PROXY') ?? proxyEnv(env, 'HTTP_PROXY');
  const certProblem = /certificate|self.signed|UNABLE_TO_VERIFY|CERT_/i.test(reason);
  return new CaError('ERR_NETWORK', `cannot reach ${host}: ${reason}`, {
    cause: err,
    hint: certProblem
      ? "the server's certificate is not trusted: check --root (run 'ca bootstrap' for a CA) and the URL"
      : proxy
        ? `check the URL and the proxy (HTTPS_PROXY=${proxy}, NO_PROXY=${proxyEnv(env, 'NO_PROXY') ?? ''})`
        : 'check the URL, that the server is running, and HTTPS_PROXY if you are behind a proxy',
  });
}

/**
 * A fetch that goes through the user's proxy and trusts the given roots, and turns a failure to
 * connect into a CaError that names the host.
 */
export function makeFetch(opts: HttpOptions): typeof fetch {
  return makeClosableFetch(opts).fetch;
}

/** makeFetch, and a close() that ends its connections (a long-running command changing its client certificate). */
export function makeClosableFetch(opts: HttpOptions): { fetch: typeof fetch; close: () => Promise<void> } {
  const settings = proxySettings(opts.env);
  const direct = directFetch(opts);
  let proxied: ReturnType<typeof proxyFetch> | undefined;
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    try {
      if (proxyFor(url, settings) === undefined) return await direct.fetch(url, input instanceof Request ? { method: input.method, headers: input.headers, ...init } : init);
      proxied ??= proxyFetch(opts, settings);
      return await (await proxied).fetch(input, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
      throw networkError(url.href, err, opts.env);
    }
  };
  return {
    fetch: wrapped as typeof fetch,
    close: async () => {
      direct.close();
      if (proxied) await (await proxied).close();
    },
  };
}
