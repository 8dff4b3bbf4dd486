/**
 * One OIDC provisioner, prepared when the authority is built: its discovery document, its key
 * set, its rules and its certificate extension. It verifies an ID token and applies step-ca's
 * rules (plus two stricter ones) to decide who the caller is and whether they are an admin.
 *
 * An IdP that cannot be reached at build time leaves the provisioner "Uninitialized": it is
 * listed with the reason, its tokens are refused, and it keeps trying in the background until it
 * starts, so the CA never needs a restart because an IdP had a bad minute.
 */
import type { Claims, TlsDurations } from '../config/ca-config.js';
import type { OidcProvisionerJson } from '../config/provisioner.js';
import { describe } from '../errors.js';
import { provisionerExtensionDer } from '../pki/certificate.js';
import { fetchDiscovery } from './discovery.js';
import { audiencesOf, checkNumericDates, checkTokenTimes, signatureVerifies, tokenIdOf, type DecodedJws } from './jws.js';
import { ALLOWED_TOKEN_ALGORITHMS, KeySet, type KeyHint } from './key-set.js';
import {
  extensionsDisabled,
  provisionerDurations,
  renewalRules,
  unauthorized,
  type Provisioner,
  type RenewalRules,
  type RevokeGrant,
  type SignGrant,
} from './provisioner.js';

export { unauthorized } from './provisioner.js';

/** go-jose's leeway, which step-ca uses for exp, nbf and iat. */
export const CLOCK_LEEWAY_S = 60;
const DISCOVERY_TIMEOUT_MS = 5_000;
/** Background retries of a failed start: 1 s, 2 s, 4 s … at most 5 min apart. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

/** step's provisioner type number for OIDC in the certificate extension. */
const OIDC_EXTENSION_TYPE = 2;

export interface OidcContext {
  fetch: typeof fetch;
  now: () => Date;
  log: (event: Record<string, unknown>) => void;
  /** ca.json `authority.claims`, under the provisioner's own. */
  globalClaims: Claims | undefined;
}

/** Who a verified token says the caller is, and what they may ask for. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  groups: string[];
  isAdmin: boolean;
  /** Until when the token's single use must be remembered: its exp plus the leeway. */
  expiresAt: Date;
  /** The token's nonce, or the hash of its signed part: the single-use key (step-ca's). */
  tokenId: string;
}

type State =
  | { kind: 'ready'; issuer: string; keys: KeySet }
  /** The first discovery is under way (in the background): tokens wait for it. */
  | { kind: 'starting'; done: Promise<void> }
  | { kind: 'uninitialized'; reason: string };

export class OidcProvisioner implements Provisioner {
  readonly type = 'OIDC';
  readonly name: string;
  readonly clientId: string;
  readonly durations: TlsDurations;
  readonly renewal: RenewalRules;
  readonly extension: Uint8Array | undefined;
  private state: State;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private closed = false;

  private constructor(
    readonly json: OidcProvisionerJson,
    private readonly ctx: OidcContext,
  ) {
    this.name = json.name;
    this.clientId = json.clientID;
    this.durations = provisionerDurations(json, ctx.globalClaims);
    this.renewal = renewalRules(json, ctx.globalClaims);
    this.extension = extensionsDisabled(json, ctx.globalClaims)
      ? undefined
      : provisionerExtensionDer({ type: OIDC_EXTENSION_TYPE, name: json.name, credentialId: json.clientID });
    this.state = { kind: 'uninitialized', reason: 'not started' };
  }

  /**
   * Prepare a provisioner: discovery and keys. Never throws for the IdP's sake (the provisioner
   * is then Uninitialized and retries by itself); throws a CaError for bad claims, which are
   * the configuration's fault. With `background`, it returns at once and the discovery goes on
   * behind it (a server need not wait for every IdP before it serves anything); tokens for it
   * wait for that first attempt.
   */
  static async prepare(json: OidcProvisionerJson, ctx: OidcContext, opts: { background?: boolean } = {}): Promise<OidcProvisioner> {
    const provisioner = new OidcProvisioner(json, ctx);
    const missing = (['name', 'clientID', 'configurationEndpoint'] as const).find((field) => !json[field]);
    if (missing) {
      provisioner.fail(`${missing} cannot be empty`, false);
      return provisioner;
    }
    const done = provisioner.start();
    if (opts.background) provisioner.state = { kind: 'starting', done };
    else await done;
    return provisioner;
  }

  /** Resolves once the first discovery attempt is over, whatever came of it. */
  async started(): Promise<void> {
    if (this.state.kind === 'starting') await this.state.done;
  }

  get ready(): boolean {
    return this.state.kind === 'ready';
  }

  /** Why the provisioner is not usable, or undefined when it is (or is still starting). */
  get stateReason(): string | undefined {
    return this.state.kind === 'uninitialized' ? this.state.reason : undefined;
  }

  /** The issuer tokens must name (after `{tenantid}` substitution); undefined until started. */
  get issuer(): string | undefined {
    return this.state.kind === 'ready' ? this.state.issuer : undefined;
  }

  /** Stop retrying; the authority that owns this provisioner is going away. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  async authorizeSign(token: string, jws: DecodedJws): Promise<SignGrant> {
    const id = await this.identify(token, jws);
    const use = { provisioner: this, tokenId: id.tokenId, expiresAt: id.expiresAt };
    return id.isAdmin
      ? { ...use, kind: 'oidc-admin', subject: id.subject, email: id.email }
      : { ...use, kind: 'oidc-user', issuer: id.issuer, subject: id.subject, email: id.email };
  }

  /** step-ca's rule: with an OIDC token only an admin may revoke, and any serial. */
  async authorizeRevoke(token: string, jws: DecodedJws): Promise<RevokeGrant> {
    const id = await this.identify(token, jws);
    const who = id.email ?? id.subject;
    if (!id.isAdmin) throw unauthorized(`provisioner "${this.name}": ${who} is not an admin, and only admins may revoke with an OIDC token`);
    return { provisioner: this, tokenId: id.tokenId, expiresAt: id.expiresAt, serial: undefined, who };
  }

  /**
   * Verify an ID token meant for this provisioner and apply its rules. Every failure is a 401
   * CaError whose message says exactly what failed.
   */
  async identify(token: string, jws: DecodedJws): Promise<OidcIdentity> {
    await this.started();
    const state = this.state;
    if (state.kind !== 'ready') {
      throw unauthorized(`provisioner "${this.name}" is disabled due to an initialization error: ${this.stateReason ?? 'not started'}`);
    }
    checkNumericDates(jws.claims);
    const header = { alg: typeof jws.header.alg === 'string' ? jws.header.alg : '', kid: typeof jws.header.kid === 'string' ? jws.header.kid : undefined };
    const claims = await this.verify(jws, header, state);
    const email = typeof claims.email === 'string' && claims.email !== '' ? claims.email : undefined;
    const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [];
    const isAdmin = checkRules({ email, emailVerified: claims.email_verified, groups }, this.json);
    return {
      issuer: state.issuer,
      subject: claims.sub as string,
      email,
      groups,
      isAdmin,
      expiresAt: new Date(((claims.exp as number) + CLOCK_LEEWAY_S) * 1000),
      tokenId: tokenIdOf(jws, 'nonce'),
    };
  }

  private async verify(jws: DecodedJws, header: KeyHint, state: { issuer: string; keys: KeySet }): Promise<Record<string, unknown>> {
    if (!ALLOWED_TOKEN_ALGORITHMS.includes(header.alg)) {
      throw unauthorized(`token algorithm "${header.alg}" is not allowed; accepted: ${ALLOWED_TOKEN_ALGORITHMS.join(', ')}`);
    }
    const keys = await state.keys.keysFor(header);
    if (keys.length === 0) {
      const kid = header.kid === undefined ? 'no kid' : `kid "${header.kid}"`;
      throw unauthorized(`no ${header.alg} key with ${kid} in the key set of ${state.keys.jwksUri} (kids: ${state.keys.kids().join(', ')})`);
    }
    // Every key with the token's kid is tried, as step-ca does: kids need not be unique. One
    // synchronous node:crypto verify with a key loaded once: no thread-pool hop per token.
    if (!keys.some((key) => signatureVerifies(jws, header.alg, key))) throw unauthorized('cannot validate the oidc token: the signature does not verify');
    checkClaims(jws.claims, state.issuer, this.clientId, this.ctx.now());
    return jws.claims;
  }

  private async start(): Promise<void> {
    try {
      const doc = await fetchDiscovery(this.json.configurationEndpoint, { fetch: this.ctx.fetch, timeoutMs: DISCOVERY_TIMEOUT_MS });
      const issuer = this.json.tenantID ? doc.issuer.replaceAll('{tenantid}', this.json.tenantID) : doc.issuer;
      const keys = await KeySet.load(doc.jwks_uri, { fetch: this.ctx.fetch, now: this.ctx.now, log: this.ctx.log });
      if (this.closed) return;
      const recovered = this.retries > 0;
      this.state = { kind: 'ready', issuer, keys };
      if (recovered) this.ctx.log({ level: 'info', msg: `OIDC provisioner "${this.name}" initialized after ${this.retries} retries`, provisioner: this.name });
    } catch (err) {
      this.fail(describe(err), true);
    }
  }

  private fail(reason: string, retry: boolean): void {
    if (this.closed) return;
    const first = this.state.kind !== 'ready' && this.retries === 0;
    this.state = { kind: 'uninitialized', reason };
    if (first) {
      this.ctx.log({ level: 'error', msg: `failed to initialize OIDC provisioner "${this.name}": ${reason}`, provisioner: this.name });
    }
    if (retry) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const base = Math.min(RETRY_FIRST_MS * 2 ** this.retries, RETRY_MAX_MS);
    const delay = base * (0.8 + Math.random() * 0.4);
    this.retries += 1;
    this.retryTimer = setTimeout(() => void this.start(), delay);
    // A provisioner waiting for its IdP must not keep the process alive.
    this.retryTimer.unref();
  }
}

/**
 * go-jose's checks as step-ca makes them (iss exact, aud holding the client ID, exp/nbf/iat with a
 * minute of leeway), plus `azp` and the claims we read being well-formed. Each failure names its rule.
 */
function checkClaims(claims: Record<string, unknown>, issuer: string, clientId: string, now: Date): void {
  const fail = (reason: string) => unauthorized(`cannot validate the oidc token: ${reason}`);
  for (const name of ['exp', 'iat', 'sub'] as const) if (claims[name] === undefined) throw fail(`missing required "${name}" claim`);
  checkTokenTimes(claims, now, CLOCK_LEEWAY_S, ['exp', 'iat']);
  if (claims.iss !== issuer) throw fail(`invalid issuer ${JSON.stringify(claims.iss ?? null)}, expected "${issuer}"`);
  if (!audiencesOf(claims).includes(clientId)) throw fail(`invalid audience ${JSON.stringify(claims.aud ?? null)}, expected "${clientId}"`);
  if (claims.azp !== undefined && claims.azp !== clientId) throw fail(`invalid azp "${String(claims.azp)}", expected "${clientId}"`);
  if (typeof claims.sub !== 'string' || claims.sub === '') throw fail('"sub" is empty');
  if (claims.email !== undefined && typeof claims.email !== 'string') throw fail('"email" is not a string');
}

/** What the rules look at in a verified token. */
export interface RuleInput {
  email: string | undefined;
  emailVerified: unknown;
  groups: string[];
}

/** The rule settings of a provisioner. */
export type RuleSettings = Pick<OidcProvisionerJson, 'name' | 'admins' | 'domains' | 'groups'>;

/** An email with its domain part lowercased; the local part is kept, as step-ca compares it. */
export function normalizeEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
}

/**
 * step-ca's rules, plus ours: refuse `email_verified: false`, and refuse a token without email
 * when `domains` is set (step-ca lets it through). Returns whether the caller is an admin.
 */
export function checkRules(token: RuleInput, settings: RuleSettings): boolean {
  const name = settings.name;
  if (token.emailVerified === false || token.emailVerified === 'false') {
    throw unauthorized(`provisioner "${name}": the email ${JSON.stringify(token.email ?? '')} is not verified (email_verified is false)`);
  }
  const admins = settings.admins ?? [];
  const email = token.email === undefined ? undefined : normalizeEmail(token.email);
  const isAdmin = admins.some((admin) => (email !== undefined && normalizeEmail(admin) === email) || token.groups.includes(admin));

  const domains = settings.domains ?? [];
  if (domains.length > 0) {
    if (email === undefined) throw unauthorized(`provisioner "${name}": the token has no email, and only domains ${domains.join(', ')} are allowed`);
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!isAdmin && !domains.some((d) => d.toLowerCase() === domain)) {
      throw unauthorized(`provisioner "${name}": email "${token.email}" is not allowed (domains: ${domains.join(', ')})`);
    }
  }

  const groups = settings.groups ?? [];
  if (groups.length > 0 && !token.groups.some((g) => groups.includes(g))) {
    throw unauthorized(`provisioner "${name}": invalid group: the token's groups [${token.groups.join(', ')}] include none of ${groups.join(', ')}`);
  }
  return isAdmin;
}
