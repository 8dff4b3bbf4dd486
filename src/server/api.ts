/**
 * step-ca's API, mounted at `/` and `/1.0/`: which path and method runs what, and each
 * handler's response in step-ca's shape. Handlers read the generation the request started with
 * and its prepared bodies; only /sign and /provisioners do work per request.
 */
import type { ListedProvisioner, SignRequest } from '../authority/types.js';
import { badRequest, methodNotAllowed, notFound } from './problem.js';
import { jsonBody, type Generation } from './generation.js';

export interface ApiRequest {
  method: string;
  /** The path without the `/1.0` prefix and the query. */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** The configuration this request started on; held (entered) until the response is done. */
  generation: Generation;
  /** The body as JSON (content type, size and syntax checked); only POST handlers call it. */
  readJson(): Promise<unknown>;
  /** What the request log line should say about a signing. */
  note: SignNote;
}

export interface SignNote {
  provisioner?: string;
  subject?: string;
  serial?: string;
}

export interface ApiResponse {
  status: number;
  body: string;
  contentType?: string;
}

type Handler = (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;
type Methods = Partial<Record<'GET' | 'POST', Handler>>;

const JSON_TYPE = 'application/json';
const PEM_TYPE = 'application/x-pem-file';

const ok = (body: string, status = 200, contentType = JSON_TYPE): ApiResponse => ({ status, body, contentType });

const ROUTES: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ['/health', { GET: health }],
  ['/version', { GET: (r) => ok(r.generation.published.version) }],
  ['/roots', { GET: (r) => ok(r.generation.published.roots, 201) }],
  ['/roots.pem', { GET: (r) => ok(r.generation.published.rootsPem, 200, PEM_TYPE) }],
  ['/intermediates', { GET: (r) => ok(r.generation.published.intermediates, 201) }],
  ['/intermediates.pem', { GET: (r) => ok(r.generation.published.intermediatesPem, 200, PEM_TYPE) }],
  ['/provisioners', { GET: provisioners }],
  ['/sign', { POST: sign }],
]);

const ROOT_PREFIX = '/root/';
const ENCRYPTED_KEY = /^\/provisioners\/([^/]+)\/encrypted-key$/;

/** The routes with a parameter in the path. */
function parameterRoute(path: string): Methods | undefined {
  if (path.startsWith(ROOT_PREFIX) && path.indexOf('/', ROOT_PREFIX.length) < 0) return { GET: root };
  if (ENCRYPTED_KEY.test(path)) return { GET: encryptedKey };
  return undefined;
}

/** The handler for a method and path (prefix already stripped), or the 404/405 problem. */
export function route(method: string, path: string): Handler {
  const methods = ROUTES.get(path) ?? parameterRoute(path);
  if (!methods) throw notFound(undefined, `no route for ${path}`);
  // HEAD is GET without the body (Node leaves it out).
  const handler = methods[(method === 'HEAD' ? 'GET' : method) as keyof Methods];
  if (!handler) {
    const allowed = Object.keys(methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    throw methodNotAllowed(method, allowed);
  }
  return handler;
}

/** `/1.0/x` is `/x`. */
export function stripVersionPrefix(path: string): string {
  return path.startsWith('/1.0/') ? path.slice(4) : path;
}

/** Up means able to sign: the database must answer too (a 503 saying so when it does not). */
async function health(req: ApiRequest): Promise<ApiResponse> {
  await req.generation.store.ping();
  return ok(req.generation.published.health);
}

function root(req: ApiRequest): ApiResponse {
  // step accepts the fingerprint with dashes and in either case.
  const sum = decodeURIComponentSafe(req.path.slice(ROOT_PREFIX.length)).replace(/-/g, '').toLowerCase();
  const body = req.generation.published.rootByFingerprint.get(sum);
  if (!body) throw notFound(`root certificate with fingerprint ${JSON.stringify(sum)} was not found`, `unknown root ${sum}`);
  return ok(body);
}

/** GET /provisioners/{kid}/encrypted-key: a JWK provisioner's encrypted private key, as step-ca serves it. */
function encryptedKey(req: ApiRequest): ApiResponse {
  const kid = decodeURIComponentSafe(ENCRYPTED_KEY.exec(req.path)?.[1] ?? '');
  const key = req.generation.authority.encryptedKey(kid);
  if (key === undefined) throw notFound(`The requested resource could not be found: no provisioner has an encrypted key with kid ${JSON.stringify(kid)}.`, `unknown encrypted key ${kid}`);
  return ok(jsonBody({ key }));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---- GET /provisioners -------------------------------------------------------------------

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

/** step's limit rules: absent or ≤ 0 → 20, above 100 → 100, not an integer → 400. */
export function pageLimit(raw: string | null): number {
  if (raw === null || raw === '') return DEFAULT_PAGE;
  if (!/^[+-]?\d+$/.test(raw)) throw badRequest(`limit '${raw}' is not an integer`);
  const n = Number(raw);
  if (n <= 0) return DEFAULT_PAGE;
  return Math.min(n, MAX_PAGE);
}

/**
 * Opaque cursors: each provisioner's position as 40 hex digits, the form step-ca's uids take,
 * and the cursor it hands out has the leading zeros trimmed. A cursor selects the first
 * provisioner at or after it, so a list that changed between pages still pages sensibly.
 */
function uid(index: number): string {
  return (index + 1).toString(16).padStart(40, '0');
}

export function page(list: readonly ListedProvisioner[], cursor: string, limit: number): { provisioners: ListedProvisioner[]; nextCursor: string } {
  const from = cursor === '' ? '' : cursor.padStart(40, '0');
  let start = 0;
  while (start < list.length && uid(start) < from) start += 1;
  const end = Math.min(start + limit, list.length);
  return { provisioners: list.slice(start, end), nextCursor: end < list.length ? uid(end).replace(/^0+/, '') : '' };
}

function provisioners(req: ApiRequest): ApiResponse {
  const params = new URLSearchParams(req.query);
  const limit = pageLimit(params.get('limit'));
  return ok(jsonBody(page(req.generation.authority.provisioners(), params.get('cursor') ?? '', limit)));
}

// ---- POST /sign --------------------------------------------------------------------------

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`error reading request body: "${field}" must be a string`);
  return v;
}

/** The body checks step-ca makes before asking the authority: an object, a csr, an ott. */
export function signRequestFrom(body: unknown): SignRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('error reading request body: expected a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const csr = optionalString(fields, 'csr');
  if (!csr) throw badRequest('missing csr');
  const ott = optionalString(fields, 'ott');
  if (!ott) throw badRequest('missing ott');
  const request: SignRequest = { csr, ott };
  const notBefore = optionalString(fields, 'notBefore');
  const notAfter = optionalString(fields, 'notAfter');
  if (notBefore) request.notBefore = notBefore;
  if (notAfter) request.notAfter = notAfter;
  return request;
}

async function sign(req: ApiRequest): Promise<ApiResponse> {
  const signRequest = signRequestFrom(await req.readJson());
  const outcome = await req.generation.authority.sign(signRequest);
  req.note.provisioner = outcome.provisioner;
  req.note.subject = outcome.subject;
  req.note.serial = outcome.serial;
  return ok(jsonBody(outcome.response), 201);
}
