/**
 * The shared store: PostgreSQL through node-postgres's pool, for several `ca serve` replicas (and
 * their workers) on one database. PostgreSQL decides everything that must hold across them:
 *
 * - A token is used once: issuing is one statement that inserts the used token and, only if that
 *   insert won, the certificate. A concurrent insert of the same token waits for the first one's
 *   commit and then finds it (ON CONFLICT), so exactly one replica wins, and a certificate and its
 *   token are committed together or not at all. PostgreSQL answers after the commit is durable,
 *   and the server answers 201 only after that: a replica killed at any moment loses nothing it
 *   answered for.
 * - Migrations run at start under an advisory lock (several replicas may start at once).
 * - Changes (`watch`/`notify`) travel by LISTEN/NOTIFY on one extra connection, with a poll of
 *   the `store_changes` counters as the safety net (a notification sent while that connection was
 *   down is caught on reconnect or by the next poll).
 *
 * A database that is down makes calls fail fast with a 503 CaError (connect and query timeouts of
 * a few seconds); the pool opens new connections by itself once it is back.
 */
import pg from 'pg';
import { CaError, describe } from '../errors.js';
import { adminExists, noSuperAdminLeft, provisionerNameTaken, superAdminRemains, unknownAdmin, unknownProvisionerForAdmin, unknownProvisionerId } from './admin-rules.js';
import { ADMINS_TOPIC, ChangeFeed, changeDetail, checkTopic, PROVISIONERS_TOPIC, REVOCATIONS_TOPIC } from './changes.js';
import { pendingMigrations } from './migrations.js';
import { postgresSettings, redactSecret, type PostgresSettings } from './postgres-config.js';
import { CHANGES_CHANNEL, POSTGRES_MIGRATIONS } from './postgres-schema.js';
import type { AdminType, AuditEntry, IssuedCertificate, Revocation, RevokeResult, Store, StoreChange, StoredAdmin, StoredProvisioner } from './types.js';
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';

export interface PostgresStoreOptions {
  /** Where PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD come from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stamp for `issued_at`; the server's clock. */
  now?: () => Date;
  /** Background events (the database lost and back); the server's JSON log. */
  log?: (event: Record<string, unknown>) => void;
  /** Connections per process (each replica worker has its own pool). Default 10. */
  poolSize?: number;
  /** Longest wait for a connection, new or from the pool (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** Longest wait for a query's answer (ms). Default 3000. */
  queryTimeoutMs?: number;
  /** How often watchers poll the change counters as a safety net (ms). Default 2000. */
  changePollMs?: number;
  /** `application_name` in pg_stat_activity. */
  applicationName?: string;
}

export const POSTGRES_DEFAULTS = { poolSize: 10, connectTimeoutMs: 2_000, queryTimeoutMs: 3_000, changePollMs: 2_000 } as const;

/** Any constant: every ca process takes the same lock while it migrates. */
const MIGRATION_LOCK = 7_305_813_401;
/** Admin changes take this lock: the "one super admin remains" checks see every change before theirs. */
const ADMIN_LOCK = 7_305_813_402;

interface ProvisionerRow {
  id: string;
  name: string;
  type: string;
  config: string;
  created_at: Date;
}

interface AdminRow {
  id: string;
  subject: string;
  provisioner_id: string;
  type: AdminType;
  created_at: Date;
}

const provisionerOf = (r: ProvisionerRow): StoredProvisioner => ({ id: r.id, name: r.name, type: r.type, config: JSON.parse(r.config) as StoredProvisioner['config'], createdAt: r.created_at });
const adminOf = (r: AdminRow): StoredAdmin => ({ id: r.id, subject: r.subject, provisionerId: r.provisioner_id, type: r.type, createdAt: r.created_at });
const isUniqueViolation = (err: unknown): boolean => (err as { code?: string }).code === '23505';

/** Another replica seeded the store first. */
class SeedRace extends CaError {
  constructor() {
    super('ERR_INTERNAL', 'the store already has provisioners');
  }
}
const LISTEN_RETRY_MIN_MS = 250;
const LISTEN_RETRY_MAX_MS = 5_000;

/** SQLSTATEs and socket errors that mean "the database is not there right now": a 503, retry later. */
const UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection timeout|Client has encountered a connection error|not queryable|Connection ended/i;

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_CODES.has(code))) return true;
  return err instanceof Error && UNAVAILABLE_MESSAGES.test(err.message);
}

const ISSUE_SQL = `
  WITH used AS (
    INSERT INTO used_tokens (id, expires_at) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE used_tokens.expires_at <= $3
    RETURNING 1
  )
  INSERT INTO certificates (serial, subject, sans, provisioner, not_before, not_after, pem, issued_at)
  SELECT $4::text, $5::text, $6::text[], $7::text, $8::timestamptz, $9::timestamptz, $10::text, $11::timestamptz
  WHERE EXISTS (SELECT 1 FROM used)`;

const USE_TOKEN_SQL = `
  INSERT INTO used_tokens (id, expires_at) VALUES ($1, $2)
  ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE used_tokens.expires_at <= $3`;

const INSERT_CERTIFICATE_SQL = `
  INSERT INTO certificates (serial, subject, sans, provisioner, not_before, not_after, pem, issued_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

/** Bump a topic's counter and NOTIFY; NOTIFY inside a transaction is sent at its commit. */
const RECORD_CHANGE_SQL = `
  WITH bumped AS (
    INSERT INTO store_changes (topic, version, detail, changed_at) VALUES ($1, 1, $2, now())
    ON CONFLICT (topic) DO UPDATE SET version = store_changes.version + 1, detail = excluded.detail, changed_at = excluded.changed_at
    RETURNING topic, version, detail
  )
  SELECT version, pg_notify('${CHANGES_CHANNEL}', json_build_object('topic', topic, 'version', version, 'detail', detail)::text) FROM bumped`;

/**
 * Record a change to `topic` on `db` (a client inside the transaction that makes the change, or
 * the pool): watchers everywhere hear of it once that commits. For store methods that change
 * shared state, e.g. a revocation.
 */
export async function recordChange(db: pg.ClientBase | pg.Pool, topic: string, detail?: string): Promise<StoreChange> {
  checkTopic(topic);
  const text = changeDetail(detail);
  const { rows } = await db.query<{ version: string }>(RECORD_CHANGE_SQL, [topic, text]);
  return { topic, version: Number(rows[0]?.version), detail: text };
}

interface RevocationRow {
  serial: string;
  reason_code: number;
  reason: string;
  revoked_at: Date;
  not_after: Date;
  provisioner: string;
  revoked_by: string;
}

const REVOCATION_COLUMNS = 'serial, reason_code, reason, revoked_at, not_after, provisioner, revoked_by';

function revocationOf(row: RevocationRow): Revocation {
  return {
    serial: row.serial,
    reasonCode: row.reason_code,
    reason: row.reason,
    revokedAt: row.revoked_at,
    notAfter: row.not_after,
    provisioner: row.provisioner,
    revokedBy: row.revoked_by,
  };
}

/** Thrown inside transaction() to roll back and still return `value`. */
class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back');
  }
}

interface CertificateRow {
  serial: string;
  subject: string;
  sans: string[];
  provisioner: string;
  not_before: Date;
  not_after: Date;
  pem: string;
}

/** Connect (creating the database if it is missing, as step-ca does) and migrate; a clear error when it cannot. */
export async function openPostgresStore(db: { dataSource?: unknown; database?: unknown }, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const settings = postgresSettings(db, options.env ?? process.env);
  const store = new PostgresStore(settings, options);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly feed: ChangeFeed;
  private readonly now: () => Date;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly changePollMs: number;
  private lastSweep = -Infinity;
  private closed = false;
  /** What the log last said: lines only when the database goes away or comes back. */
  private available = true;
  private pinging: Promise<void> | undefined;
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private listenRetryMs = LISTEN_RETRY_MIN_MS;
  private listenTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly options: PostgresStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
    this.changePollMs = options.changePollMs ?? POSTGRES_DEFAULTS.changePollMs;
    this.feed = new ChangeFeed((err) => this.log({ level: 'error', msg: 'a change watcher failed', error: describe(err) }));
    this.pool = new pg.Pool(this.clientConfig(options.poolSize ?? POSTGRES_DEFAULTS.poolSize));
    // An idle connection that breaks (the database restarted) is dropped by the pool; without a
    // listener the error would end the process.
    this.pool.on('error', (err) => this.unavailable(err));
  }

  private clientConfig(max?: number): pg.PoolConfig {
    return {
      ...this.settings.client,
      max,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
      query_timeout: this.options.queryTimeoutMs ?? POSTGRES_DEFAULTS.queryTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: this.options.applicationName ?? 'ca',
    };
  }

  /** First connection and the migrations; errors name the database, never the password. */
  async start(): Promise<void> {
    try {
      (await this.pool.connect()).release();
    } catch (err) {
      if ((err as { code?: string }).code !== '3D000') throw this.startError(err);
      await this.createDatabase();
      try {
        (await this.pool.connect()).release();
      } catch (again) {
        throw this.startError(again);
      }
    }
    try {
      await this.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0)::integer AS version FROM schema_migrations');
        for (const m of pendingMigrations(POSTGRES_MIGRATIONS, rows[0]?.version ?? 0)) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        }
      });
    } catch (err) {
      const cause = err instanceof CaError && err.cause !== undefined ? err.cause : err;
      throw new CaError('ERR_DATABASE', `cannot prepare the tables of the ${this.settings.target}: ${this.reason(cause)}`, {
        cause,
        hint: 'the user needs the right to create tables in that database (e.g. be its owner)',
      });
    }
  }

  /** step-ca creates a missing database through the maintenance database; so do we, when allowed. */
  private async createDatabase(): Promise<void> {
    const { database } = this.settings;
    const admin = new pg.Client({ ...this.clientConfig(), database: 'postgres' });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
      this.log({ level: 'info', msg: 'created the database', database: this.settings.target });
    } catch (err) {
      // Another replica created it at the same moment (duplicate_database, or its catalog row).
      const code = (err as { code?: string }).code;
      if (code === '42P04' || code === '23505') return;
      throw new CaError('ERR_DATABASE', `the ${this.settings.target} does not exist and could not be created: ${this.reason(err)}`, {
        cause: err,
        hint: `create it (CREATE DATABASE "${database}" OWNER <user>) or let the user create databases (ALTER ROLE <user> CREATEDB)`,
      });
    } finally {
      await admin.end().catch(() => undefined);
    }
  }

  private startError(err: unknown): CaError {
    const code = (err as { code?: string }).code ?? '';
    const auth = code === '28P01' || code === '28000' || /password|SASL|SCRAM/i.test(describe(err));
    return new CaError('ERR_DATABASE', `cannot connect to the ${this.settings.target}: ${this.reason(err)}`, {
      cause: err,
      hint: auth
        ? 'check the user and password (ca.json db.dataSource, or PGPASSWORD or ~/.pgpass)'
        : `check that PostgreSQL runs and accepts connections at ${this.settings.host}:${this.settings.port} (ca.json db.dataSource)`,
    });
  }

  /** An error's text, without the password should a library ever quote it. */
  private reason(err: unknown): string {
    let text = describe(err);
    if (err instanceof AggregateError && err.errors.length > 0) text = err.errors.map(describe).join('; ');
    return redactSecret(text || String((err as { code?: unknown }).code ?? 'unknown error'), this.settings.secret);
  }

  /** What messages call the database: `PostgreSQL database "ca" at host:5432 (user "ca")`. */
  get target(): string {
    return this.settings.target;
  }

  /**
   * Run `fn` in one transaction on one connection: committed when it resolves, rolled back when it
   * throws. `rollback(value)` undoes everything and makes the transaction return `value` (a
   * decision taken halfway, e.g. another replica got there first). For store methods that write
   * several statements together (and `recordChange` in them).
   */
  async transaction<T>(fn: (client: pg.ClientBase, rollback: (value: T) => never) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failure(err);
    }
    const rollback = (value: T): never => {
      throw new Rollback(value);
    };
    try {
      await client.query('BEGIN');
      const value = await fn(client, rollback);
      await client.query('COMMIT');
      client.release();
      this.availableAgain();
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A broken connection is not given back to the pool.
      client.release(isUnavailable(err) ? (err as Error) : undefined);
      if (err instanceof Rollback) return err.value as T;
      throw err instanceof CaError || err instanceof TypeError ? err : this.failure(err);
    }
  }

  /** Run a statement through the pool; failures become CaErrors (503 when the database is away). */
  private async run<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new CaError('ERR_DATABASE', `the ${this.settings.target} is closed`, { status: 503 });
    try {
      const result = await this.pool.query<R>(sql, values);
      this.availableAgain();
      return result;
    } catch (err) {
      throw this.failure(err);
    }
  }

  private failure(err: unknown): CaError {
    if (isUnavailable(err)) {
      this.unavailable(err);
      return new CaError('ERR_DATABASE', `the ${this.settings.target} is unavailable: ${this.reason(err)}`, { status: 503, cause: err });
    }
    return new CaError('ERR_DATABASE', `the ${this.settings.target} refused a statement: ${this.reason(err)}`, { status: 500, cause: err });
  }

  private unavailable(err: unknown): void {
    if (!this.available || this.closed) return;
    this.available = false;
    this.log({ level: 'error', msg: 'the database is unavailable; requests that need it fail with 503 until it is back', database: this.settings.target, error: this.reason(err) });
  }

  private availableAgain(): void {
    if (this.available) return;
    this.available = true;
    this.log({ level: 'info', msg: 'the database is available again', database: this.settings.target });
  }

  /** Expired used-token rows go at most once a minute (per process); the insert takes over a stale row anyway. */
  private async sweep(now: Date): Promise<void> {
    if (now.getTime() - this.lastSweep < TOKEN_SWEEP_INTERVAL_MS) return;
    this.lastSweep = now.getTime();
    await this.run('DELETE FROM used_tokens WHERE expires_at <= $1', [now]);
  }

  async recordCertificate(cert: IssuedCertificate): Promise<void> {
    await this.run(INSERT_CERTIFICATE_SQL, [cert.serial, cert.subject, cert.sans, cert.provisioner, cert.notBefore, cert.notAfter, cert.pem, this.now()]);
  }

  async useToken(tokenId: string, expiresAt: Date, now: Date): Promise<boolean> {
    await this.sweep(now);
    return (await this.run(USE_TOKEN_SQL, [tokenId, expiresAt, now])).rowCount === 1;
  }

  async issueCertificate(token: { id: string; expiresAt: Date }, cert: IssuedCertificate, now: Date): Promise<boolean> {
    await this.sweep(now);
    const values = [token.id, token.expiresAt, now, cert.serial, cert.subject, cert.sans, cert.provisioner, cert.notBefore, cert.notAfter, cert.pem, this.now()];
    return (await this.run(ISSUE_SQL, values)).rowCount === 1;
  }

  async getCertificate(serial: string): Promise<IssuedCertificate | undefined> {
    const { rows } = await this.run<CertificateRow>('SELECT serial, subject, sans, provisioner, not_before, not_after, pem FROM certificates WHERE serial = $1', [serial]);
    const row = rows[0];
    if (!row) return undefined;
    return { serial: row.serial, subject: row.subject, sans: row.sans, provisioner: row.provisioner, notBefore: row.not_before, notAfter: row.not_after, pem: row.pem };
  }

  // ---- revocations and the CRL ------------------------------------------------------------

  async revokeCertificate(revocation: Revocation, opts: { token?: { id: string; expiresAt: Date }; requireKnown: boolean; now: Date }): Promise<RevokeResult> {
    let change: StoreChange | undefined;
    const result = await this.transaction<RevokeResult>(async (client, rollback) => {
      // The checks in the order the other stores make them; nothing is written unless all pass.
      if (opts.requireKnown && (await client.query('SELECT 1 FROM certificates WHERE serial = $1', [revocation.serial])).rowCount === 0) return { result: 'unknown-serial' };
      const existing = await this.revocationIn(client, revocation.serial);
      if (existing) return { result: 'already-revoked', existing };
      if (opts.token && (await client.query(USE_TOKEN_SQL, [opts.token.id, opts.token.expiresAt, opts.now])).rowCount !== 1) return { result: 'token-used' };
      const inserted = await client.query(
        `INSERT INTO revocations (${REVOCATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (serial) DO NOTHING`,
        [revocation.serial, revocation.reasonCode, revocation.reason, revocation.revokedAt, revocation.notAfter, revocation.provisioner, revocation.revokedBy],
      );
      // Another replica revoked it since our check: its revocation stands, our token stays unused.
      if (inserted.rowCount !== 1) return rollback({ result: 'already-revoked', existing: (await this.revocationIn(client, revocation.serial)) as Revocation });
      // Every replica hears of it once this commits.
      change = await recordChange(client, REVOCATIONS_TOPIC, revocation.serial);
      return { result: 'revoked' };
    });
    if (change) this.feed.observe(change);
    return result;
  }

  private async revocationIn(db: pg.ClientBase | pg.Pool, serial: string): Promise<Revocation | undefined> {
    const { rows } = await db.query<RevocationRow>(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE serial = $1`, [serial]);
    return rows[0] && revocationOf(rows[0]);
  }

  async getRevocation(serial: string): Promise<Revocation | undefined> {
    const { rows } = await this.run<RevocationRow>(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE serial = $1`, [serial]);
    return rows[0] && revocationOf(rows[0]);
  }

  async listRevocations(now: Date): Promise<Revocation[]> {
    const { rows } = await this.run<RevocationRow>(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE not_after > $1 ORDER BY id`, [now]);
    return rows.map(revocationOf);
  }

  /**
   * The revocations topic's change count: bumped in each revocation's transaction under a row
   * lock, so it grows in commit order (a sequence's ids may commit out of order across replicas).
   */
  async revocationsVersion(): Promise<number> {
    const { rows } = await this.run<{ version: string }>('SELECT version FROM store_changes WHERE topic = $1', [REVOCATIONS_TOPIC]);
    return Number(rows[0]?.version ?? 0);
  }

  async renewCertificate(fromSerial: string, cert: IssuedCertificate): Promise<{ ok: true } | { ok: false; revoked: Revocation }> {
    // One statement: the new certificate is recorded only if the old one is not revoked.
    const { rowCount } = await this.run(
      `INSERT INTO certificates (serial, subject, sans, provisioner, not_before, not_after, pem, issued_at)
       SELECT $1::text, $2::text, $3::text[], $4::text, $5::timestamptz, $6::timestamptz, $7::text, $8::timestamptz
       WHERE NOT EXISTS (SELECT 1 FROM revocations WHERE serial = $9)`,
      [cert.serial, cert.subject, cert.sans, cert.provisioner, cert.notBefore, cert.notAfter, cert.pem, this.now(), fromSerial],
    );
    if (rowCount === 1) return { ok: true };
    const revoked = await this.getRevocation(fromSerial);
    if (!revoked) throw new CaError('ERR_DATABASE', `the ${this.settings.target} recorded no renewal of ${fromSerial} and no revocation of it`, { status: 500 });
    return { ok: false, revoked };
  }

  async nextCrlNumber(): Promise<bigint> {
    const { rows } = await this.run<{ number: string }>('UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number', []);
    return BigInt(rows[0]?.number ?? 0);
  }

  // ---- remote administration ----------------------------------------------------------------

  async listProvisioners(): Promise<StoredProvisioner[]> {
    return (await this.run<ProvisionerRow>('SELECT * FROM provisioners ORDER BY created_at, name', [])).rows.map(provisionerOf);
  }

  async listAdmins(): Promise<StoredAdmin[]> {
    return (await this.run<AdminRow>('SELECT * FROM admins ORDER BY created_at, subject', [])).rows.map(adminOf);
  }

  async listAudit(): Promise<AuditEntry[]> {
    return (await this.run<AuditEntry>('SELECT at, actor, action, target, detail FROM audit_log ORDER BY id', [])).rows;
  }

  /** One admin change under the admin lock, with its audit row and the topics' counters, in one transaction. */
  private async adminWrite<T>(audit: AuditEntry, topics: [string, string][], change: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const changes: StoreChange[] = [];
    const result = await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_LOCK]);
      const value = await change(client);
      await client.query('INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)', [audit.at, audit.actor, audit.action, audit.target, audit.detail]);
      for (const [topic, detail] of topics) changes.push(await recordChange(client, topic, detail));
      return value;
    });
    for (const c of changes) this.feed.observe(c);
    return result;
  }

  private async adminsIn(client: pg.ClientBase): Promise<StoredAdmin[]> {
    return (await client.query<AdminRow>('SELECT * FROM admins')).rows.map(adminOf);
  }

  private async insertProvisioner(client: pg.ClientBase, p: StoredProvisioner): Promise<void> {
    try {
      await client.query('INSERT INTO provisioners (id, name, type, config, created_at) VALUES ($1, $2, $3, $4, $5)', [p.id, p.name, p.type, JSON.stringify(p.config), p.createdAt]);
    } catch (err) {
      throw isUniqueViolation(err) ? provisionerNameTaken(p.name) : err;
    }
  }

  private async insertAdmin(client: pg.ClientBase, a: StoredAdmin): Promise<void> {
    try {
      await client.query('INSERT INTO admins (id, subject, provisioner_id, type, created_at) VALUES ($1, $2, $3, $4, $5)', [a.id, a.subject, a.provisionerId, a.type, a.createdAt]);
    } catch (err) {
      throw isUniqueViolation(err) ? adminExists(a.subject) : err;
    }
  }

  addProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, p.name]], (client) => this.insertProvisioner(client, p));
  }

  updateProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, p.name]], async (client) => {
      let changed: number | null;
      try {
        changed = (await client.query('UPDATE provisioners SET name = $1, type = $2, config = $3 WHERE id = $4', [p.name, p.type, JSON.stringify(p.config), p.id])).rowCount;
      } catch (err) {
        throw isUniqueViolation(err) ? provisionerNameTaken(p.name) : err;
      }
      if (changed !== 1) throw unknownProvisionerId(p.id);
    });
  }

  removeProvisioner(id: string, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, id], [ADMINS_TOPIC, id]], async (client) => {
      const row = (await client.query<ProvisionerRow>('SELECT * FROM provisioners WHERE id = $1', [id])).rows[0];
      if (!row) throw unknownProvisionerId(id);
      if (!superAdminRemains(await this.adminsIn(client), (a) => a.provisionerId === id)) throw noSuperAdminLeft(`removing provisioner "${row.name}"`);
      await client.query('DELETE FROM admins WHERE provisioner_id = $1', [id]);
      await client.query('DELETE FROM provisioners WHERE id = $1', [id]);
    });
  }

  addAdmin(a: StoredAdmin, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, a.id]], async (client) => {
      if ((await client.query('SELECT 1 FROM provisioners WHERE id = $1', [a.provisionerId])).rowCount === 0) throw unknownProvisionerForAdmin(a.provisionerId);
      await this.insertAdmin(client, a);
    });
  }

  updateAdmin(id: string, type: AdminType, audit: AuditEntry): Promise<StoredAdmin> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, id]], async (client) => {
      const admins = await this.adminsIn(client);
      const admin = admins.find((a) => a.id === id);
      if (!admin) throw unknownAdmin(id);
      if (type !== 'SUPER_ADMIN' && !superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`making ${admin.subject} an ADMIN`);
      await client.query('UPDATE admins SET type = $1 WHERE id = $2', [type, id]);
      return { ...admin, type };
    });
  }

  removeAdmin(id: string, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, id]], async (client) => {
      const admins = await this.adminsIn(client);
      const admin = admins.find((a) => a.id === id);
      if (!admin) throw unknownAdmin(id);
      if (!superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`removing ${admin.subject}`);
      await client.query('DELETE FROM admins WHERE id = $1', [id]);
    });
  }

  async seedProvisioners(provisioners: StoredProvisioner[], admins: StoredAdmin[], audit: AuditEntry): Promise<boolean> {
    try {
      // Under the admin lock: replicas starting at once check one after the other.
      return await this.adminWrite(audit, [[PROVISIONERS_TOPIC, 'seed'], [ADMINS_TOPIC, 'seed']], async (client) => {
        if ((await client.query('SELECT 1 FROM provisioners LIMIT 1')).rowCount !== 0) throw new SeedRace();
        for (const p of provisioners) await this.insertProvisioner(client, p);
        for (const a of admins) await this.insertAdmin(client, a);
        return true;
      });
    } catch (err) {
      if (err instanceof SeedRace) return false;
      throw err;
    }
  }

  // ---- change feed ------------------------------------------------------------------------

  async watch(topic: string, onChange: (change: StoreChange) => void): Promise<() => void> {
    checkTopic(topic);
    if (this.closed) throw new CaError('ERR_DATABASE', `the ${this.settings.target} is closed`, { status: 503 });
    const watch = this.feed.add(topic, onChange);
    // Listening first, then where the topic stands: a change committed in between is held by the
    // feed and delivered at arming, so none is missed.
    await this.listen();
    let version: number | undefined;
    try {
      const { rows } = await this.run<{ version: string }>('SELECT version FROM store_changes WHERE topic = $1', [topic]);
      version = Number(rows[0]?.version ?? 0);
    } catch {
      // Unknown for now: the first count seen (by a notification or a poll) is then news.
    }
    watch.arm(version);
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.poll(), this.changePollMs);
      this.pollTimer.unref();
    }
    return watch.stop;
  }

  async notify(topic: string, detail?: string): Promise<void> {
    let change: StoreChange;
    try {
      change = await recordChange(this.pool, topic, detail);
    } catch (err) {
      if (err instanceof TypeError) throw err;
      throw this.failure(err);
    }
    // Our own NOTIFY comes back too, but not if the listening connection is down right now.
    this.feed.observe(change);
  }

  /** The LISTEN connection: opened on the first watch, reopened (with backoff) whenever it drops. */
  private listen(): Promise<void> {
    this.listening ??= this.connectListener();
    return this.listening;
  }

  private async connectListener(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...this.clientConfig(), query_timeout: undefined });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      this.retryListen();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (msg) => {
      if (msg.channel === CHANGES_CHANNEL && msg.payload) this.onNotification(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch {
      onLost();
      return;
    }
    if (lost) return;
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.listenRetryMs = LISTEN_RETRY_MIN_MS;
    // Whatever changed while nobody listened.
    void this.poll();
  }

  private retryListen(): void {
    if (this.closed || this.listenTimer) return;
    const delay = this.listenRetryMs;
    this.listenRetryMs = Math.min(this.listenRetryMs * 2, LISTEN_RETRY_MAX_MS);
    this.listenTimer = setTimeout(() => {
      this.listenTimer = undefined;
      this.listening = this.connectListener();
    }, delay);
    this.listenTimer.unref();
  }

  private onNotification(payload: string): void {
    try {
      const { topic, version, detail } = JSON.parse(payload) as { topic?: unknown; version?: unknown; detail?: unknown };
      if (typeof topic !== 'string') return;
      this.feed.observe({ topic, version: Number(version), detail: typeof detail === 'string' ? detail : '' });
    } catch {
      // Not ours: someone else NOTIFYing on the channel.
    }
  }

  /** The safety net: read the counters of the watched topics. */
  private async poll(): Promise<void> {
    const topics = this.feed.topics();
    if (this.polling || this.closed || topics.length === 0) return;
    this.polling = true;
    try {
      const { rows } = await this.run<{ topic: string; version: string; detail: string }>('SELECT topic, version, detail FROM store_changes WHERE topic = ANY($1)', [topics]);
      for (const r of rows) this.feed.observe({ topic: r.topic, version: Number(r.version), detail: r.detail });
    } catch {
      // The database is away: the next poll, or the listener's return, looks again.
    } finally {
      this.polling = false;
    }
  }

  // ---- health and end ---------------------------------------------------------------------

  /** One `SELECT 1` at a time, shared by every health check that arrives meanwhile. */
  ping(): Promise<void> {
    this.pinging ??= this.run('SELECT 1', [])
      .then(
        () => undefined,
        (err: CaError) => {
          throw err.status === 503 ? err : new CaError('ERR_DATABASE', err.message, { status: 503, cause: err });
        },
      )
      .finally(() => (this.pinging = undefined));
    return this.pinging;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.listenTimer);
    const listener = this.listener;
    this.listener = undefined;
    await Promise.all([listener?.end().catch(() => undefined), this.pool.end().catch(() => undefined)]);
  }
}
