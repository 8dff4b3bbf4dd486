import { EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
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

/** A dispatcher that honours the proxy variables and trusts the given roots, for the target and through a proxy alike. */
function dispatcherFor(opts: HttpOptions): Dispatcher {
  const trust = opts.insecure ? { rejectUnauthorized: false } : opts.ca ? { ca: opts.ca } : {};
  const mine = opts.clientCertificate;
  const tls = mine ? { ...trust, cert: mine.certPem, key: mine.keyPem, maxCachedSessions: 0 } : trust;
  return new EnvHttpProxyAgent({
    httpProxy: proxyEnv(opts.env, 'HTTP_PROXY') ?? '',
    httpsProxy: proxyEnv(opts.env, 'HTTPS_PROXY') ?? proxyEnv(opts.env, 'HTTP_PROXY') ?? '',
    // As Go's proxy rules (and so step): this machine is never reached through the proxy.
    noProxy: [proxyEnv(opts.env, 'NO_PROXY'), ...LOOPBACK_HOSTS].filter(Boolean).join(','),
    connect: tls,
    requestTls: tls,
  });
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
  const dispatcher = dispatcherFor(opts);
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    try {
      // undici's own fetch takes the dispatcher; its Response is the same WHATWG shape as the global one.
      return (await undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as Response;
    } catch (err) {
      if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
      throw networkError(url, err, opts.env);
    }
  };
  return { fetch: wrapped as typeof fetch, close: () => dispatcher.close().catch(() => undefined) };
}
