/**
 * step-ca's admin API (remote administration), at `/admin/...` when ca.json has
 * `authority.enableAdmin: true` (404 otherwise). Every request carries an admin token
 * (authority/admin.ts); the store holds provisioners and admins and enforces their rules; each
 * change is recorded in the audit log with who made it, and logged as one JSON line. This process
 * serves a change before answering; the others follow through the store's change feed.
 */
import { randomUUID } from 'node:crypto';
import type { AdminIdentity } from '../authority/admin.js';
import type { CaConfigJson, Claims, ProvisionerJson } from '../config/ca-config.js';
import { isJwk, validateJwkProvisioner } from '../config/jwk.js';
import { fromLinked, toLinked } from '../config/linkedca.js';
import { isOidc, normalizeOidc, validateOidcProvisioner } from '../config/provisioner.js';
import { CaError } from '../errors.js';
import { isAdminType } from '../store/admin-rules.js';
import type { AdminType, AuditEntry, StoredAdmin, StoredProvisioner } from '../store/types.js';
import { bodyObject, decodeURIComponentSafe, pageLimit, pageOf, type ApiRequest, type ApiResponse, type Handler } from './api.js';
import { jsonBody } from './generation.js';
import { methodNotAllowed, notFound } from './problem.js';

const ADMIN_PREFIX = '/admin/';

export function isAdminPath(path: string): boolean {
  return path === '/admin' || path.startsWith(ADMIN_PREFIX);
}

export function adminEnabled(config: CaConfigJson): boolean {
  return config.authority?.enableAdmin === true;
}

type AdminHandler = (req: ApiRequest, who: AdminIdentity, param: string) => Promise<ApiResponse>;
type AdminMethods = Partial<Record<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', AdminHandler>>;

/** `?id=` on the collection picks one provisioner by id, as the step CLI asks for it. */
const PROVISIONERS: AdminMethods = { GET: listOrGetProvisioner, POST: addProvisioner, PUT: updateProvisioner, DELETE: removeProvisioner };
const PROVISIONER: AdminMethods = { GET: getProvisioner, PUT: updateProvisioner, DELETE: removeProvisioner };
const ADMINS: AdminMethods = { GET: listAdmins, POST: addAdmin };
const ADMIN: AdminMethods = { GET: getAdmin, PATCH: updateAdmin, DELETE: removeAdmin };

function routeOf(path: string): { methods: AdminMethods; param: string; superOnly: boolean } | undefined {
  const parts = path.slice(ADMIN_PREFIX.length).split('/');
  const [collection, rawParam, extra] = parts;
  if (extra !== undefined) return undefined;
  // A trailing slash names the collection (`/admin/provisioners/?id=...`).
  const param = rawParam === '' ? undefined : rawParam;
  if (collection === 'provisioners') return { methods: param === undefined ? PROVISIONERS : PROVISIONER, param: decodeURIComponentSafe(param ?? ''), superOnly: false };
  if (collection === 'admins') return { methods: param === undefined ? ADMINS : ADMIN, param: decodeURIComponentSafe(param ?? ''), superOnly: true };
  return undefined;
}

const respond = (status: number, value: unknown): ApiResponse => ({ status, body: jsonBody(value), contentType: 'application/json' });

/** The handler for an admin path: 404 without enableAdmin, then the token, then the route's own checks. */
export function adminRoute(method: string, path: string): Handler {
  return async (req) => {
    if (!adminEnabled(req.generation.config)) throw notFound(undefined, `no route for ${path}: remote administration is off (authority.enableAdmin)`);
    const found = routeOf(path);
    if (!found) throw notFound(undefined, `no admin route for ${path}`);
    const handler = found.methods[(method === 'HEAD' ? 'GET' : method) as keyof AdminMethods];
    if (!handler) throw methodNotAllowed(method, Object.keys(found.methods));
    const who = await req.generation.authority.authorizeAdmin({ authorization: req.header('authorization'), path, host: req.header('host') });
    req.note.subject = who.admin.subject;
    req.note.provisioner = who.provisioner.name;
    if (found.superOnly && method !== 'GET' && who.admin.type !== 'SUPER_ADMIN') {
      throw new CaError('ERR_UNAUTHORIZED', `only a super admin can ${method === 'POST' ? 'add' : method === 'DELETE' ? 'remove' : 'change'} admins; ${who.admin.subject} is an ADMIN of provisioner "${who.provisioner.name}"`, { status: 401 });
    }
    return handler(req, who, found.param);
  };
}

function badRequest(message: string): CaError {
  return new CaError('ERR_BAD_REQUEST', message, { status: 400 });
}

function audit(req: ApiRequest, who: AdminIdentity, action: string, target: string, detail: Record<string, unknown> = {}): AuditEntry {
  const entry: AuditEntry = { at: new Date(), actor: who.actor, action, target, detail: Object.keys(detail).length > 0 ? JSON.stringify(detail) : '' };
  req.note.audit = { actor: entry.actor, action, target };
  return entry;
}

/** After a change: this process serves it before the answer goes out. */
async function served(req: ApiRequest): Promise<void> {
  await req.refreshed();
}

// ---- provisioners ------------------------------------------------------------------------

async function storedProvisioners(req: ApiRequest): Promise<StoredProvisioner[]> {
  return req.generation.store.listProvisioners();
}

async function findProvisioner(req: ApiRequest, name: string, id: string | null): Promise<StoredProvisioner> {
  const list = await storedProvisioners(req);
  const found = id ? list.find((p) => p.id === id) : list.find((p) => p.name === name);
  if (!found) throw new CaError('ERR_NOT_FOUND', id ? `provisioner with id ${id} not found` : `provisioner ${name} not found`, { status: 404 });
  return found;
}

const linked = (p: StoredProvisioner): unknown => toLinked(p.config, { id: p.id, createdAt: p.createdAt });

async function listOrGetProvisioner(req: ApiRequest, who: AdminIdentity): Promise<ApiResponse> {
  const params = new URLSearchParams(req.query);
  const id = params.get('id');
  if (id) return getProvisioner(req, who, '');
  const list = (await storedProvisioners(req)).map((p) => p.config);
  const { items, nextCursor } = pageOf(list, params.get('cursor') ?? '', pageLimit(params.get('limit')));
  return respond(200, { provisioners: items, nextCursor });
}

/** The provisioner a request names: by name in the path, or `?id=`; a 400 when neither. */
function named(req: ApiRequest, name: string): Promise<StoredProvisioner> {
  const id = new URLSearchParams(req.query).get('id');
  if (!name && !id) throw badRequest('name the provisioner in the path (/admin/provisioners/NAME) or with ?id=');
  return findProvisioner(req, name, name ? null : id);
}

async function getProvisioner(req: ApiRequest, _who: AdminIdentity, name: string): Promise<ApiResponse> {
  return respond(200, linked(await named(req, name)));
}

/** The same rules as `ca provisioner add|update` on a local ca.json, as 400s. */
function validate(p: ProvisionerJson, others: ProvisionerJson[], globalClaims: Claims | undefined): ProvisionerJson {
  try {
    if (isOidc(p)) {
      const oidc = normalizeOidc(p);
      validateOidcProvisioner(oidc, others, globalClaims);
      return oidc;
    }
    if (isJwk(p)) {
      validateJwkProvisioner(p, others, globalClaims);
      return p;
    }
  } catch (err) {
    if (err instanceof CaError) throw new CaError(err.code, err.message, { status: 400, hint: err.hint });
    throw err;
  }
  throw badRequest(`provisioners of type ${p.type} cannot be managed here yet: add OIDC or JWK provisioners`);
}

async function addProvisioner(req: ApiRequest, who: AdminIdentity): Promise<ApiResponse> {
  const body = bodyObject(await req.readJson());
  if (body.id !== undefined && body.id !== null && body.id !== '') throw badRequest('a new provisioner must not have an "id": the CA assigns it');
  const others = (await storedProvisioners(req)).map((p) => p.config);
  const config = validate(fromLinked(body), others, req.generation.config.authority?.claims);
  const stored: StoredProvisioner = { id: randomUUID(), name: config.name, type: config.type, config, createdAt: new Date() };
  await req.generation.store.addProvisioner(stored, audit(req, who, 'provisioner.add', config.name, { id: stored.id, type: config.type }));
  await served(req);
  return respond(201, linked(stored));
}

async function updateProvisioner(req: ApiRequest, who: AdminIdentity, name: string): Promise<ApiResponse> {
  const current = await named(req, name);
  const body = bodyObject(await req.readJson());
  const next = fromLinked(body);
  // What identifies a provisioner cannot change (step-ca refuses the same).
  if (body.id !== undefined && body.id !== current.id) throw badRequest(`cannot change a provisioner's id (${current.id})`);
  if (next.type !== current.type.toUpperCase()) throw badRequest(`cannot change a provisioner's type (${current.type})`);
  if (body.authorityId !== undefined && body.authorityId !== null && body.authorityId !== '') throw badRequest("cannot change a provisioner's authorityId");
  if (body.createdAt !== undefined && body.createdAt !== null && new Date(String(body.createdAt)).getTime() !== current.createdAt.getTime()) {
    throw badRequest(`cannot change a provisioner's createdAt (${current.createdAt.toISOString()})`);
  }
  if (body.deletedAt !== undefined && body.deletedAt !== null && body.deletedAt !== '') throw badRequest("cannot change a provisioner's deletedAt");
  const others = (await storedProvisioners(req)).filter((p) => p.id !== current.id).map((p) => p.config);
  // What ca.json keeps that the linkedca shape does not carry stays as it was.
  const kept = (current.config.claims as Claims | undefined)?.disableSmallstepExtensions;
  const merged: ProvisionerJson = kept === undefined ? next : { ...next, claims: { ...(next.claims as Claims | undefined), disableSmallstepExtensions: kept } };
  const config = validate(merged, others, req.generation.config.authority?.claims);
  const stored: StoredProvisioner = { ...current, name: config.name, config };
  await req.generation.store.updateProvisioner(stored, audit(req, who, 'provisioner.update', current.name, { id: current.id, name: config.name }));
  await served(req);
  return respond(200, linked(stored));
}

async function removeProvisioner(req: ApiRequest, who: AdminIdentity, name: string): Promise<ApiResponse> {
  const current = await named(req, name);
  await req.generation.store.removeProvisioner(current.id, audit(req, who, 'provisioner.remove', current.name, { id: current.id }));
  await served(req);
  return respond(200, { status: 'ok' });
}

// ---- admins ------------------------------------------------------------------------------

const TYPE_NUMBER: Record<AdminType, number> = { ADMIN: 1, SUPER_ADMIN: 2 };

/** What GET /admin/admins lists: Go's encoding/json of linkedca.Admin (snake case, numeric type). */
function adminListed(a: StoredAdmin): Record<string, unknown> {
  return { id: a.id, subject: a.subject, provisioner_id: a.provisionerId, type: TYPE_NUMBER[a.type], created_at: { seconds: Math.floor(a.createdAt.getTime() / 1000) } };
}

/** A single admin: protojson of linkedca.Admin (camel case, the type's name). */
function adminProto(a: StoredAdmin): Record<string, unknown> {
  return { id: a.id, subject: a.subject, provisionerId: a.provisionerId, type: a.type, createdAt: a.createdAt.toISOString() };
}

function adminTypeOf(value: unknown): AdminType {
  if (value === 1 || value === 'ADMIN') return 'ADMIN';
  if (value === 2 || value === 'SUPER_ADMIN') return 'SUPER_ADMIN';
  throw badRequest(`invalid admin type ${JSON.stringify(value ?? null)}: use 1 (ADMIN) or 2 (SUPER_ADMIN)`);
}

async function findAdmin(req: ApiRequest, id: string): Promise<StoredAdmin> {
  const found = (await req.generation.store.listAdmins()).find((a) => a.id === id);
  if (!found) throw new CaError('ERR_NOT_FOUND', `admin ${id} not found`, { status: 404 });
  return found;
}

async function listAdmins(req: ApiRequest): Promise<ApiResponse> {
  const params = new URLSearchParams(req.query);
  const { items, nextCursor } = pageOf(await req.generation.store.listAdmins(), params.get('cursor') ?? '', pageLimit(params.get('limit')));
  return respond(200, { admins: items.map(adminListed), nextCursor });
}

async function getAdmin(req: ApiRequest, _who: AdminIdentity, id: string): Promise<ApiResponse> {
  return respond(200, adminProto(await findAdmin(req, id)));
}

async function addAdmin(req: ApiRequest, who: AdminIdentity): Promise<ApiResponse> {
  const body = bodyObject(await req.readJson());
  const subject = typeof body.subject === 'string' ? body.subject.trim() : '';
  if (subject === '') throw badRequest('an admin needs a "subject" (a name in their admin certificate, e.g. an email address)');
  if (typeof body.provisioner !== 'string' || body.provisioner === '') throw badRequest('an admin needs a "provisioner" (the name of the provisioner they log in with)');
  const type = adminTypeOf(body.type);
  const provisioner = (await storedProvisioners(req)).find((p) => p.name === body.provisioner);
  if (!provisioner) throw badRequest(`provisioner ${String(body.provisioner)} not found`);
  const admin: StoredAdmin = { id: randomUUID(), subject, provisionerId: provisioner.id, type, createdAt: new Date() };
  await req.generation.store.addAdmin(admin, audit(req, who, 'admin.add', subject, { id: admin.id, provisioner: provisioner.name, type }));
  return respond(201, adminProto(admin));
}

async function updateAdmin(req: ApiRequest, who: AdminIdentity, id: string): Promise<ApiResponse> {
  const body = bodyObject(await req.readJson());
  const type = adminTypeOf(body.type);
  if (!isAdminType(type)) throw badRequest('invalid admin type');
  const current = await findAdmin(req, id);
  const updated = await req.generation.store.updateAdmin(id, type, audit(req, who, 'admin.update', current.subject, { id, from: current.type, to: type }));
  return respond(200, adminProto(updated));
}

async function removeAdmin(req: ApiRequest, who: AdminIdentity, id: string): Promise<ApiResponse> {
  const current = await findAdmin(req, id);
  await req.generation.store.removeAdmin(id, audit(req, who, 'admin.remove', current.subject, { id, type: current.type }));
  return respond(200, { status: 'ok' });
}
