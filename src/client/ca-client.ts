import { CaError } from '../errors.js';

/** A provisioner as GET /provisioners returns it (step-ca's JSON). */
export interface RemoteProvisioner {
  type: string;
  name: string;
  clientID?: string;
  clientSecret?: string;
  configurationEndpoint?: string;
  listenAddress?: string;
  scopes?: string[];
  authParams?: string[];
  tenantID?: string;
  /** JWK: the public key; `kid` names it. */
  key?: { kid?: string; kty?: string; [member: string]: unknown };
  /** JWK: the private key, encrypted with the provisioner's password (a compact JWE). */
  encryptedKey?: string;
  state?: string;
  [key: string]: unknown;
}

export interface SignResult {
  crt: string;
  ca: string;
  certChain?: string[];
}

/** What to save as the certificate file: the chain the CA sent (leaf first), else leaf + intermediate. */
export function chainPem(signed: SignResult): string {
  const chain = signed.certChain?.length ? signed.certChain : [signed.crt, signed.ca];
  return chain.filter((c) => c.trim() !== '').map((c) => `${c.trim()}\n`).join('');
}

function parseJson<T>(text: string): T | undefined {
  try {
    return text ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What to do about a refusal, by the rule the CA says failed (ca serve names it; step-ca's 401s
 * say only "lacked necessary authorization", and then the CA's log has the reason).
 */
export function refusalHint(status: number, message: string, requestId: string | null): string | undefined {
  const m = message.toLowerCase();
  const logLine = requestId ? `the CA's log has the reason under request id ${requestId}` : "the CA's log has the reason";
  if (status === 401) {
    if (m.includes('already used')) return 'a token works once: make a new one (ca token ...) or log in again';
    if (/expired|"exp"|\bexp\b|not valid yet|"nbf"|issued before/.test(m)) return "get a new token (ca token, or log in again) and check this machine's clock";
    // step's wording for a token whose provisioner the CA does not have (removed, or another CA's).
    if (m.includes('provisioner not found')) return "no provisioner of this CA takes this token (removed, or the token is another CA's): see 'ca provisioner list --ca-url URL'";
    if (/audience|\baud\b/.test(m)) return 'the token was made for another CA address: make it with --ca-url set to this CA';
    if (/fingerprint|"sha"|\bsha\b/.test(m)) return 'the token names another root: make it with --root set to this CA\'s root certificate';
    if (m.includes('provisioner')) return "check --provisioner against 'ca provisioner list --ca-url URL'";
    if (/signature|verify/.test(m)) return 'the token was not signed by a key the CA knows for that provisioner: make a new one';
    if (m.includes('necessary authorization')) return `log in again, or make a new token; ${logLine}`;
    return `log in again, or make a new token; ${logLine} if this persists`;
  }
  if (status === 403) {
    if (/duration/.test(m)) return "ask for a lifetime within the provisioner's limits (--not-after), or ask an admin to change them";
    if (/renew/.test(m)) return 'renewal is disabled for this provisioner: get a new certificate instead';
    return 'ask only for the names the provisioner allows (--san), or ask an admin of the CA';
  }
  if (status === 404) return 'check --ca-url: the CA does not know this path';
  if (status >= 500) return `the CA failed; ${logLine}`;
  return undefined;
}

/**
 * step-ca's HTTP API as a client uses it, and nothing more: every call here works against a real
 * step-ca too. `fetch` already trusts the CA's root and honours the proxy.
 */
export class CaClient {
  readonly url: string;

  constructor(
    caUrl: string,
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs = 30_000,
    /** Aborts every request of this client (a daemon shutting down). */
    private readonly signal?: AbortSignal,
  ) {
    this.url = caUrl.replace(/\/+$/, '');
  }

  /** One request; a non-2xx answer becomes a CaError with the CA's message. */
  private async exchange(method: 'GET' | 'POST', path: string, body?: unknown, accept = 'application/json'): Promise<{ res: Response; bytes: Uint8Array }> {
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await this.fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? { accept } : { accept, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: this.signal ? AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.signal]) : AbortSignal.timeout(this.timeoutMs),
      });
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      throw new CaError('ERR_NETWORK', `the CA at ${this.url} did not answer ${method} ${path.split('?')[0]} within ${this.timeoutMs / 1000} s`, {
        cause: err,
        hint: 'check that the CA is running and not overloaded, and HTTPS_PROXY if you are behind a proxy',
      });
    }
    if (!res.ok) {
      const text = Buffer.from(bytes).toString('utf8');
      const raw = parseJson<{ message?: unknown }>(text)?.message;
      // One line: a CA's message may span lines; the user reads it as one sentence.
      const message = (typeof raw === 'string' ? raw : text.trim().slice(0, 200) || res.statusText).replace(/\s+/g, ' ').trim();
      throw new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} answered ${res.status}: ${message}`, {
        status: res.status,
        hint: refusalHint(res.status, message, res.headers.get('x-request-id')),
      });
    }
    return { res, bytes };
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const { res, bytes } = await this.exchange(method, path, body);
    const parsed = parseJson<T>(Buffer.from(bytes).toString('utf8'));
    if (parsed === undefined) {
      throw new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} sent a response that is not JSON for ${path}`, {
        hint: 'check that --ca-url points at the CA and not at another service',
      });
    }
    return { status: res.status, body: parsed };
  }

  async health(): Promise<string> {
    return (await this.call<{ status: string }>('GET', '/health')).body.status;
  }

  async roots(): Promise<string[]> {
    return (await this.call<{ crts: string[] }>('GET', '/roots')).body.crts ?? [];
  }

  /** GET /root/{sha256}: the root with that fingerprint. */
  async root(fingerprint: string): Promise<string> {
    const { body } = await this.call<{ ca?: unknown }>('GET', `/root/${encodeURIComponent(fingerprint)}`);
    if (typeof body.ca !== 'string') throw this.unexpected('/root', 'no "ca" certificate');
    return body.ca;
  }

  /** Every provisioner, following step-ca's cursor pages. */
  async provisioners(): Promise<RemoteProvisioner[]> {
    const all: RemoteProvisioner[] = [];
    let cursor = '';
    for (let page = 0; page < 1000; page++) {
      const { body } = await this.call<{ provisioners: RemoteProvisioner[]; nextCursor: string }>(
        'GET',
        `/provisioners?cursor=${encodeURIComponent(cursor)}&limit=100`,
      );
      all.push(...(body.provisioners ?? []));
      cursor = body.nextCursor ?? '';
      if (!cursor) break;
    }
    return all;
  }

  /** GET /provisioners/{kid}/encrypted-key: a JWK provisioner's encrypted private key. */
  async provisionerKey(kid: string): Promise<string> {
    const { body } = await this.call<{ key?: unknown }>('GET', `/provisioners/${encodeURIComponent(kid)}/encrypted-key`);
    if (typeof body.key !== 'string') throw this.unexpected('/provisioners/{kid}/encrypted-key', 'no "key"');
    return body.key;
  }

  async sign(req: { csr: string; ott: string; notBefore?: string; notAfter?: string }): Promise<SignResult> {
    // step's client always sends both times, empty when unset.
    return this.issued('/sign', { csr: req.csr, ott: req.ott, notBefore: req.notBefore ?? '', notAfter: req.notAfter ?? '' });
  }

  /** POST /renew: the client certificate of this client's connection (mutual TLS) is renewed. */
  async renew(): Promise<SignResult> {
    return this.issued('/renew');
  }

  /** POST /rekey {csr}: over mutual TLS, the same certificate for the CSR's key. */
  async rekey(csr: string): Promise<SignResult> {
    return this.issued('/rekey', { csr });
  }

  /** POST /revoke, as step's client sends it: every field, passive revocation. */
  async revoke(req: { serial: string; reasonCode?: number; reason?: string; ott?: string }): Promise<void> {
    await this.call('POST', '/revoke', { serial: req.serial, ott: req.ott ?? '', reasonCode: req.reasonCode ?? 0, reason: req.reason ?? '', passive: true });
  }

  /** GET /crl: the CA's certificate revocation list, DER, or PEM text with `pem`. */
  async crl(opts: { pem?: boolean } = {}): Promise<Uint8Array> {
    const { bytes } = await this.exchange('GET', opts.pem ? '/crl?pem=true' : '/crl', undefined, opts.pem ? 'application/x-pem-file' : 'application/pkix-crl');
    return bytes;
  }

  private async issued(path: string, request?: unknown): Promise<SignResult> {
    const { body } = await this.call<Partial<SignResult>>('POST', path, request);
    if (typeof body.crt !== 'string' || (body.ca !== undefined && typeof body.ca !== 'string')) throw this.unexpected(path, 'no "crt" certificate');
    return { crt: body.crt, ca: body.ca ?? '', certChain: Array.isArray(body.certChain) ? body.certChain.filter((c) => typeof c === 'string') : undefined };
  }

  private unexpected(path: string, what: string): CaError {
    return new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} answered ${path} with ${what}`, {
      hint: 'check that --ca-url points at a step-ca compatible CA',
    });
  }
}
