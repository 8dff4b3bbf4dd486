/**
 * step-ca's admin API (`/admin/...`, remote provisioner management) as a client: provisioners and
 * admins listed, read, added, changed and removed on a running CA. Every request carries a fresh
 * admin token (`client/admin-token.ts`: an x5c JWS signed with the admin's certificate key, its
 * audience the request's own URL, used once), in `Authorization` without a `Bearer ` prefix, as
 * the step CLI sends it. Works against `ca serve` and a real step-ca alike.
 */
import { CaError } from '../errors.js';
import type { LinkedProvisioner } from '../config/linkedca.js';
import { makeAdminToken } from './admin-token.js';
import type { RemoteProvisioner } from './ca-client.js';

/** The certificate (chain PEM, leaf first) and key an admin signs its tokens with. */
export interface AdminIdentity {
  chainPem: string;
  keyPem: string;
  /** The token's `sub`: the admin's subject. */
  subject: string;
}

export type AdminType = 'ADMIN' | 'SUPER_ADMIN';

/** An admin, whichever of step-ca's two shapes it came in (the list's snake case, or protojson). */
export interface AdminRecord {
  id: string;
  subject: string;
  provisionerId: string;
  type: AdminType;
}

/** step-ca's numbers for the types, in the list and in requests: 1 ADMIN, 2 SUPER_ADMIN. */
export const ADMIN_TYPE_NUMBER: Record<AdminType, number> = { ADMIN: 1, SUPER_ADMIN: 2 };

function adminType(value: unknown): AdminType {
  if (value === 2 || value === 'SUPER_ADMIN') return 'SUPER_ADMIN';
  if (value === 1 || value === 'ADMIN') return 'ADMIN';
  throw new TypeError(`unknown admin type ${JSON.stringify(value)}`);
}

/** An admin from `GET /admin/admins` (`provisioner_id`, numeric type) or from a single-admin answer (`provisionerId`, "SUPER_ADMIN"). */
export function readAdmin(value: unknown): AdminRecord {
  const a = (value ?? {}) as Record<string, unknown>;
  const id = a.id;
  const subject = a.subject;
  const provisionerId = a.provisionerId ?? a.provisioner_id;
  if (typeof id !== 'string' || typeof subject !== 'string' || typeof provisionerId !== 'string') {
    throw new TypeError('an admin without "id", "subject" or "provisionerId"');
  }
  return { id, subject, provisionerId, type: adminType(a.type) };
}

/** What to do about a refusal of the admin API, by the rule the CA names. */
export function adminRefusalHint(status: number, message: string): string | undefined {
  const m = message.toLowerCase();
  if (status === 401 || status === 403) {
    if (m.includes('super admin')) return "ask a super admin to do it, or to make you one ('ca admin update SUBJECT --super')";
    if (m.includes('not an admin')) return "log in as an admin of the CA ('ca admin list' shows them), or ask a super admin to add you";
    if (/expired|not valid yet|"exp"|"nbf"/.test(m)) return "check this machine's clock; delete the admin certificate under $CA_PATH/admin to log in again";
    if (m.includes('revoked')) return 'delete the admin certificate under $CA_PATH/admin and log in again';
    return 'delete the admin certificate under $CA_PATH/admin to log in again, or pass --admin-cert/--admin-key';
  }
  if (status === 404 && /admin|not found|page/.test(m)) return undefined;
  if (status >= 500) return "the CA failed; its log has the reason";
  return undefined;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * The admin API of the CA at `caUrl`. `fetch` already trusts the CA's root; `now` is the clock
 * the tokens are dated by.
 */
export class AdminClient {
  readonly url: string;

  constructor(
    caUrl: string,
    private readonly identity: AdminIdentity,
    private readonly fetch: typeof globalThis.fetch,
    private readonly now: () => Date,
    private readonly timeoutMs = 30_000,
  ) {
    this.url = caUrl.replace(/\/+$/, '');
  }

  /** One request with its own token; a non-2xx answer becomes a CaError with the CA's message. */
  private async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const route = path.split('?')[0] as string;
    const token = makeAdminToken({
      chainPem: this.identity.chainPem,
      keyPem: this.identity.keyPem,
      subject: this.identity.subject,
      audience: `${this.url}${route}`,
      now: this.now(),
    });
    const headers: Record<string, string> = { accept: 'application/json', authorization: token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      throw new CaError('ERR_NETWORK', `the CA at ${this.url} did not answer ${method} ${route} within ${this.timeoutMs / 1000} s`, {
        cause: err,
        hint: 'check that the CA is running and not overloaded',
      });
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const raw = (parsed as { message?: unknown; detail?: unknown } | undefined)?.message;
      const message = (typeof raw === 'string' && raw ? raw : text.trim().slice(0, 200) || res.statusText).replace(/\s+/g, ' ').trim();
      const noAdmin = res.status === 404 && route.startsWith('/admin') && !/provisioner|admin/i.test(message);
      throw new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} answered ${res.status} to ${method} ${route}: ${message}`, {
        status: res.status,
        hint: noAdmin
          ? "this CA has no admin API: turn on remote management (authority.enableAdmin, see 'Running the CA with remote management' in the README), or edit its ca.json with --ca-config"
          : adminRefusalHint(res.status, message),
      });
    }
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
      throw new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} sent a response that is not JSON for ${method} ${route}`, {
        hint: 'check that --ca-url points at the CA and not at another service',
      });
    }
    return parsed as T;
  }

  /** Every page of a cursor-paged list, bounded. */
  private async pages<T>(path: string, field: string): Promise<T[]> {
    const all: T[] = [];
    let cursor = '';
    for (let page = 0; page < 1000; page++) {
      const body = await this.call<Record<string, unknown>>('GET', `${path}?cursor=${encodeURIComponent(cursor)}&limit=100`);
      const items = body[field];
      if (Array.isArray(items)) all.push(...(items as T[]));
      cursor = typeof body.nextCursor === 'string' ? body.nextCursor : '';
      if (!cursor) break;
    }
    return all;
  }

  private provisionerPath(name: string): string {
    return `/admin/provisioners/${encodeURIComponent(name)}`;
  }

  /** `GET /admin/provisioners`: the shapes of the public list. */
  provisioners(): Promise<RemoteProvisioner[]> {
    return this.pages<RemoteProvisioner>('/admin/provisioners', 'provisioners');
  }

  /** `GET /admin/provisioners/{name}`: linkedca protojson, with its `id`. */
  provisioner(name: string): Promise<LinkedProvisioner> {
    return this.call<LinkedProvisioner>('GET', this.provisionerPath(name));
  }

  addProvisioner(p: LinkedProvisioner): Promise<LinkedProvisioner> {
    return this.call<LinkedProvisioner>('POST', '/admin/provisioners', p);
  }

  /** `PUT /admin/provisioners/{name}` with the GET answer, changed. */
  updateProvisioner(name: string, p: LinkedProvisioner): Promise<LinkedProvisioner> {
    return this.call<LinkedProvisioner>('PUT', this.provisionerPath(name), p);
  }

  async removeProvisioner(name: string): Promise<void> {
    await this.call('DELETE', this.provisionerPath(name));
  }

  async admins(): Promise<AdminRecord[]> {
    return (await this.pages<unknown>('/admin/admins', 'admins')).map((a) => this.decoded(a, 'GET /admin/admins'));
  }

  async addAdmin(req: { subject: string; provisioner: string; type: AdminType }): Promise<AdminRecord> {
    const body = await this.call<unknown>('POST', '/admin/admins', { subject: req.subject, provisioner: req.provisioner, type: ADMIN_TYPE_NUMBER[req.type] });
    return this.decoded(body, 'POST /admin/admins');
  }

  async updateAdmin(id: string, type: AdminType): Promise<AdminRecord> {
    const body = await this.call<unknown>('PATCH', `/admin/admins/${encodeURIComponent(id)}`, { type: ADMIN_TYPE_NUMBER[type] });
    return this.decoded(body, 'PATCH /admin/admins/{id}');
  }

  async removeAdmin(id: string): Promise<void> {
    await this.call('DELETE', `/admin/admins/${encodeURIComponent(id)}`);
  }

  private decoded(value: unknown, what: string): AdminRecord {
    try {
      return readAdmin(value);
    } catch (err) {
      throw new CaError('ERR_CA_RESPONSE', `the CA at ${this.url} answered ${what} with ${(err as Error).message}`, {
        hint: 'check that --ca-url points at a step-ca compatible CA',
      });
    }
  }
}
