/**
 * The embedded store: one SQLite file, `<dataSource>/ca.sqlite`, opened by every server process
 * (one per core) through its own connection. WAL lets readers and one writer work at once, and
 * the busy timeout makes writers queue instead of failing; every write is a single statement, so
 * SQLite's own locking is all the coordination the processes need.
 *
 * Writes arriving in the same turn of the event loop share one transaction (group commit): a
 * commit costs several times a row, and under load many requests reach the store together. Each
 * caller still learns its own statement's result only after the commit.
 *
 * Watchers in other processes learn of changes by a poll that costs almost nothing while nothing
 * changed (`PRAGMA data_version` moves only when another connection commits).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CaError, describe } from '../errors.js';
import { adminExists, noSuperAdminLeft, provisionerNameTaken, superAdminRemains, unknownAdmin, unknownProvisionerForAdmin, unknownProvisionerId } from './admin-rules.js';
import { ADMINS_TOPIC, ChangeFeed, changeDetail, checkTopic, PROVISIONERS_TOPIC, REVOCATIONS_TOPIC } from './changes.js';
import { pendingMigrations, type Migration } from './migrations.js';
import type { AdminType, AuditEntry, IssuedCertificate, Revocation, RevokeResult, Store, StoreChange, StoredAdmin, StoredProvisioner } from './types.js';
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';

export const SQLITE_FILE = 'ca.sqlite';

/** How long a writer waits for another process's write before giving up (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/** How often watchers look for other processes' changes (ms). */
export const SQLITE_CHANGE_POLL_MS = 250;

/** The schema, in order; append to add tables (see migrations.ts). `PRAGMA user_version` records where a file stands. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'certificates and used tokens',
    sql: `
  CREATE TABLE IF NOT EXISTS certificates (
    serial      TEXT PRIMARY KEY,   -- decimal
    subject     TEXT NOT NULL,
    sans        TEXT NOT NULL,      -- JSON array of strings
    provisioner TEXT NOT NULL,
    not_before  INTEGER NOT NULL,   -- ms since the epoch
    not_after   INTEGER NOT NULL,
    pem         TEXT NOT NULL,
    issued_at   INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS certificates_not_after ON certificates (not_after);
  CREATE TABLE IF NOT EXISTS used_tokens (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL     -- ms since the epoch; the row may go after this
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS used_tokens_expires_at ON used_tokens (expires_at);
`,
  },
  {
    version: 2,
    // The id only grows: its maximum tells a CRL it is stale.
    name: 'revocations and the CRL number',
    sql: `
  CREATE TABLE revocations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    serial      TEXT NOT NULL UNIQUE,
    reason_code INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    revoked_at  INTEGER NOT NULL,   -- ms since the epoch
    not_after   INTEGER NOT NULL,   -- the certificate's; the CRL lists it until then
    provisioner TEXT NOT NULL,
    revoked_by  TEXT NOT NULL
  );
  CREATE INDEX revocations_not_after ON revocations (not_after);
  CREATE TABLE crl_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    number INTEGER NOT NULL
  );
  INSERT INTO crl_state (id, number) VALUES (1, 0);
`,
  },
  {
    version: 3,
    name: 'change feed',
    sql: `
  CREATE TABLE store_changes (
    topic      TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,    -- how many changes the topic has had
    detail     TEXT NOT NULL,       -- a hint about the latest one
    changed_at INTEGER NOT NULL     -- ms since the epoch
  ) WITHOUT ROWID;
`,
  },
  {
    version: 4,
    name: 'provisioners, admins and the audit log (remote administration)',
    sql: `
  CREATE TABLE provisioners (
    id         TEXT PRIMARY KEY,    -- uuid
    name       TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    config     TEXT NOT NULL,       -- the provisioner in ca.json's shape (JSON)
    created_at INTEGER NOT NULL     -- ms since the epoch
  );
  CREATE TABLE admins (
    id             TEXT PRIMARY KEY,  -- uuid
    subject        TEXT NOT NULL,
    provisioner_id TEXT NOT NULL REFERENCES provisioners (id),
    type           TEXT NOT NULL CHECK (type IN ('ADMIN', 'SUPER_ADMIN')),
    created_at     INTEGER NOT NULL,
    UNIQUE (subject, provisioner_id)
  );
  CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,          -- ms since the epoch
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
  );
`,
  },
];

interface ProvisionerRow {
  id: string;
  name: string;
  type: string;
  config: string;
  created_at: number;
}

interface AdminRow {
  id: string;
  subject: string;
  provisioner_id: string;
  type: AdminType;
  created_at: number;
}

const provisionerOf = (r: ProvisionerRow): StoredProvisioner => ({ id: r.id, name: r.name, type: r.type, config: JSON.parse(r.config) as StoredProvisioner['config'], createdAt: new Date(r.created_at) });
const adminOf = (r: AdminRow): StoredAdmin => ({ id: r.id, subject: r.subject, provisionerId: r.provisioner_id, type: r.type, createdAt: new Date(r.created_at) });

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A row of `certificates` as SQLite keeps it (times in ms since the epoch, sans as JSON). */
export interface SqliteCertificateRow {
  serial: string;
  subject: string;
  sans: string;
  provisioner: string;
  not_before: number;
  not_after: number;
  pem: string;
  issued_at: number;
}

export interface SqliteStoreOptions {
  /** Stamp for `issued_at`; the server's clock. Default `() => new Date()`. */
  now?: () => Date;
  /** How often watchers poll for other processes' changes (ms); default SQLITE_CHANGE_POLL_MS. */
  changePollMs?: number;
}

/** Open (creating if needed) the store in `dir`, the `db.dataSource` directory of ca.json. */
export function openSqliteStore(dir: string, options: SqliteStoreOptions = {}): Store {
  const path = join(dir, SQLITE_FILE);
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    // FULL: a used token must not come back after a power loss; group commits spread the fsync.
    db.pragma('synchronous = FULL');
    migrate(db);
  } catch (err) {
    throw new CaError('ERR_FILE_IO', `cannot open the database ${path}: ${describe(err)}`, {
      cause: err,
      hint: `check that ${dir} is a writable directory (ca.json "db.dataSource")`,
    });
  }
  return new SqliteStore(db, path, options.now ?? (() => new Date()), options.changePollMs ?? SQLITE_CHANGE_POLL_MS);
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so processes starting together migrate once.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    const pending = pendingMigrations(SQLITE_MIGRATIONS, current);
    for (const m of pending) db.exec(m.sql);
    if (pending.length > 0) db.pragma(`user_version = ${SQLITE_MIGRATIONS.length}`);
  }).immediate();
}

/** A row of `revocations` as SQLite keeps it (times in ms since the epoch). */
export interface SqliteRevocationRow {
  serial: string;
  reason_code: number;
  reason: string;
  revoked_at: number;
  not_after: number;
  provisioner: string;
  revoked_by: string;
}

function revocationOf(row: SqliteRevocationRow): Revocation {
  return {
    serial: row.serial,
    reasonCode: row.reason_code,
    reason: row.reason,
    revokedAt: new Date(row.revoked_at),
    notAfter: new Date(row.not_after),
    provisioner: row.provisioner,
    revokedBy: row.revoked_by,
  };
}

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

class SqliteStore implements Store {
  private readonly insertCertificate: Database.Statement;
  private readonly selectCertificate: Database.Statement<[string], SqliteCertificateRow>;
  private readonly insertToken: Database.Statement;
  private readonly sweepTokens: Database.Statement;
  private readonly certificateExists: Database.Statement<[string], { one: number }>;
  private readonly selectRevocation: Database.Statement<[string], SqliteRevocationRow>;
  private readonly selectRevocations: Database.Statement<[number], SqliteRevocationRow>;
  private readonly insertRevocation: Database.Statement;
  private readonly selectRevocationsVersion: Database.Statement<[], { version: number | null }>;
  private readonly bumpCrlNumber: Database.Statement<[], { number: number | bigint }>;
  private lastSweep = -Infinity;
  private pending: PendingWrite[] = [];
  private readonly commitPending: () => void;
  /** Token and certificate together; nested in the group commit, so a failure undoes both (a savepoint). */
  private readonly useTokenAndRecord: (tokenId: string, expiresMs: number, nowMs: number, cert: IssuedCertificate) => boolean;
  private readonly bumpChange: Database.Statement<[string, string, number], { version: number }>;
  private readonly selectChanges: Database.Statement<[string], StoreChange>;
  private readonly feed = new ChangeFeed();
  private pollTimer: NodeJS.Timeout | undefined;
  private dataVersion = -1;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly now: () => Date,
    private readonly changePollMs: number,
  ) {
    this.insertCertificate = db.prepare(
      `INSERT INTO certificates (serial, subject, sans, provisioner, not_before, not_after, pem, issued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectCertificate = db.prepare('SELECT * FROM certificates WHERE serial = ?');
    // One statement decides: a new id is inserted; an id whose row has expired (but was not swept
    // yet) is taken over; a live id changes nothing, and that is the replay.
    this.insertToken = db.prepare(
      `INSERT INTO used_tokens (id, expires_at) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE used_tokens.expires_at <= ?`,
    );
    this.sweepTokens = db.prepare('DELETE FROM used_tokens WHERE expires_at <= ?');
    this.certificateExists = db.prepare('SELECT 1 AS one FROM certificates WHERE serial = ?');
    this.selectRevocation = db.prepare('SELECT * FROM revocations WHERE serial = ?');
    this.selectRevocations = db.prepare('SELECT * FROM revocations WHERE not_after > ? ORDER BY id');
    this.insertRevocation = db.prepare(
      `INSERT INTO revocations (serial, reason_code, reason, revoked_at, not_after, provisioner, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectRevocationsVersion = db.prepare('SELECT max(id) AS version FROM revocations');
    this.bumpCrlNumber = db.prepare<[], { number: number | bigint }>('UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number').safeIntegers(true);
    this.bumpChange = db.prepare(
      `INSERT INTO store_changes (topic, version, detail, changed_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (topic) DO UPDATE SET version = version + 1, detail = excluded.detail, changed_at = excluded.changed_at
       RETURNING version`,
    );
    this.selectChanges = db.prepare('SELECT topic, version, detail FROM store_changes WHERE topic IN (SELECT value FROM json_each(?))');
    this.useTokenAndRecord = db.transaction((tokenId: string, expiresMs: number, nowMs: number, cert: IssuedCertificate) => {
      if (!this.useTokenRow(tokenId, expiresMs, nowMs)) return false;
      this.insertCertificateRow(cert);
      return true;
    });
    const commit = db.transaction((writes: PendingWrite[]) => writes.map(attempt));
    // IMMEDIATE takes the write lock before the first statement: no lock upgrade to fail midway.
    this.commitPending = () => {
      const writes = this.pending;
      this.pending = [];
      if (writes.length === 0) return;
      let outcomes: Outcome[];
      try {
        outcomes = commit.immediate(writes);
      } catch (err) {
        for (const w of writes) w.reject(this.failure(err));
        return;
      }
      writes.forEach((w, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) w.resolve(outcome.value);
        else w.reject(this.failure(outcome.error));
      });
    };
  }

  async recordCertificate(cert: IssuedCertificate): Promise<void> {
    await this.write(() => this.insertCertificateRow(cert));
  }

  async useToken(tokenId: string, expiresAt: Date, now: Date): Promise<boolean> {
    return this.write<boolean>(() => this.useTokenRow(tokenId, expiresAt.getTime(), now.getTime()));
  }

  async issueCertificate(token: { id: string; expiresAt: Date }, cert: IssuedCertificate, now: Date): Promise<boolean> {
    return this.write<boolean>(() => this.useTokenAndRecord(token.id, token.expiresAt.getTime(), now.getTime(), cert));
  }

  private insertCertificateRow(cert: IssuedCertificate): void {
    this.insertCertificate.run(
      cert.serial,
      cert.subject,
      JSON.stringify(cert.sans),
      cert.provisioner,
      cert.notBefore.getTime(),
      cert.notAfter.getTime(),
      cert.pem,
      this.now().getTime(),
    );
  }

  /** True when the token was not in use (it is now); a live row means a replay. */
  private useTokenRow(tokenId: string, expiresMs: number, nowMs: number): boolean {
    if (nowMs - this.lastSweep >= TOKEN_SWEEP_INTERVAL_MS) {
      this.lastSweep = nowMs;
      this.sweepTokens.run(nowMs);
    }
    return this.insertToken.run(tokenId, expiresMs, nowMs).changes === 1;
  }

  async revokeCertificate(
    revocation: Revocation,
    opts: { token?: { id: string; expiresAt: Date }; requireKnown: boolean; now: Date },
  ): Promise<RevokeResult> {
    let change: StoreChange | undefined;
    const result = await this.write<RevokeResult>(() => {
      // Every check first, then the writes: a refused revocation leaves its token usable.
      if (opts.requireKnown && !this.certificateExists.get(revocation.serial)) return { result: 'unknown-serial' };
      const existing = this.selectRevocation.get(revocation.serial);
      if (existing) return { result: 'already-revoked', existing: revocationOf(existing) };
      if (opts.token && !this.useTokenRow(opts.token.id, opts.token.expiresAt.getTime(), opts.now.getTime())) return { result: 'token-used' };
      this.insertRevocation.run(
        revocation.serial,
        revocation.reasonCode,
        revocation.reason,
        revocation.revokedAt.getTime(),
        revocation.notAfter.getTime(),
        revocation.provisioner,
        revocation.revokedBy,
      );
      // Watchers in every process hear of it (the other workers by their poll).
      change = this.recordChange(REVOCATIONS_TOPIC, revocation.serial);
      return { result: 'revoked' };
    });
    if (change) this.feed.observe(change);
    return result;
  }

  async getRevocation(serial: string): Promise<Revocation | undefined> {
    const row = this.selectRevocation.get(serial);
    return row && revocationOf(row);
  }

  async listRevocations(now: Date): Promise<Revocation[]> {
    return this.selectRevocations.all(now.getTime()).map(revocationOf);
  }

  async revocationsVersion(): Promise<number> {
    return this.selectRevocationsVersion.get()?.version ?? 0;
  }

  async renewCertificate(fromSerial: string, cert: IssuedCertificate): Promise<{ ok: true } | { ok: false; revoked: Revocation }> {
    return this.write(() => {
      const revoked = this.selectRevocation.get(fromSerial);
      if (revoked) return { ok: false as const, revoked: revocationOf(revoked) };
      this.insertCertificateRow(cert);
      return { ok: true as const };
    });
  }

  async nextCrlNumber(): Promise<bigint> {
    return this.write(() => BigInt(this.bumpCrlNumber.get()?.number ?? 0));
  }

  async getCertificate(serial: string): Promise<IssuedCertificate | undefined> {
    const row = this.selectCertificate.get(serial);
    if (!row) return undefined;
    return {
      serial: row.serial,
      subject: row.subject,
      sans: JSON.parse(row.sans) as string[],
      provisioner: row.provisioner,
      notBefore: new Date(row.not_before),
      notAfter: new Date(row.not_after),
      pem: row.pem,
    };
  }

  // ---- remote administration ----------------------------------------------------------------

  listProvisioners(): Promise<StoredProvisioner[]> {
    return Promise.resolve(this.db.prepare<[], ProvisionerRow>('SELECT * FROM provisioners ORDER BY created_at, name').all().map(provisionerOf));
  }

  listAdmins(): Promise<StoredAdmin[]> {
    return Promise.resolve(this.db.prepare<[], AdminRow>('SELECT * FROM admins ORDER BY created_at, subject').all().map(adminOf));
  }

  listAudit(): Promise<AuditEntry[]> {
    const rows = this.db.prepare<[], { at: number; actor: string; action: string; target: string; detail: string }>('SELECT at, actor, action, target, detail FROM audit_log ORDER BY id').all();
    return Promise.resolve(rows.map((r) => ({ ...r, at: new Date(r.at) })));
  }

  /**
   * One admin change: `change` runs in a savepoint of the group commit (undone alone if it
   * throws), then its audit row and the topics' counters; watchers here hear of it after commit.
   */
  private async adminWrite<T>(audit: AuditEntry, topics: [string, string][], change: () => T): Promise<T> {
    const changes: StoreChange[] = [];
    const result = await this.write(
      this.db.transaction(() => {
        const value = change();
        this.db
          .prepare('INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
          .run(audit.at.getTime(), audit.actor, audit.action, audit.target, audit.detail);
        for (const [topic, detail] of topics) changes.push(this.recordChange(topic, detail));
        return value;
      }),
    );
    for (const c of changes) this.feed.observe(c);
    return result;
  }

  private adminsNow(): StoredAdmin[] {
    return this.db.prepare<[], AdminRow>('SELECT * FROM admins').all().map(adminOf);
  }

  private insertProvisionerRow(p: StoredProvisioner): void {
    try {
      this.db.prepare('INSERT INTO provisioners (id, name, type, config, created_at) VALUES (?, ?, ?, ?, ?)').run(p.id, p.name, p.type, JSON.stringify(p.config), p.createdAt.getTime());
    } catch (err) {
      throw isUniqueViolation(err) ? provisionerNameTaken(p.name) : err;
    }
  }

  private insertAdminRow(a: StoredAdmin): void {
    try {
      this.db.prepare('INSERT INTO admins (id, subject, provisioner_id, type, created_at) VALUES (?, ?, ?, ?, ?)').run(a.id, a.subject, a.provisionerId, a.type, a.createdAt.getTime());
    } catch (err) {
      throw isUniqueViolation(err) ? adminExists(a.subject) : err;
    }
  }

  addProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, p.name]], () => this.insertProvisionerRow(p));
  }

  updateProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, p.name]], () => {
      let changed: number;
      try {
        changed = this.db.prepare('UPDATE provisioners SET name = ?, type = ?, config = ? WHERE id = ?').run(p.name, p.type, JSON.stringify(p.config), p.id).changes;
      } catch (err) {
        throw isUniqueViolation(err) ? provisionerNameTaken(p.name) : err;
      }
      if (changed !== 1) throw unknownProvisionerId(p.id);
    });
  }

  removeProvisioner(id: string, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, id], [ADMINS_TOPIC, id]], () => {
      const row = this.db.prepare<[string], ProvisionerRow>('SELECT * FROM provisioners WHERE id = ?').get(id);
      if (!row) throw unknownProvisionerId(id);
      if (!superAdminRemains(this.adminsNow(), (a) => a.provisionerId === id)) throw noSuperAdminLeft(`removing provisioner "${row.name}"`);
      this.db.prepare('DELETE FROM admins WHERE provisioner_id = ?').run(id);
      this.db.prepare('DELETE FROM provisioners WHERE id = ?').run(id);
    });
  }

  addAdmin(a: StoredAdmin, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, a.id]], () => {
      if (!this.db.prepare('SELECT 1 FROM provisioners WHERE id = ?').get(a.provisionerId)) throw unknownProvisionerForAdmin(a.provisionerId);
      this.insertAdminRow(a);
    });
  }

  updateAdmin(id: string, type: AdminType, audit: AuditEntry): Promise<StoredAdmin> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, id]], () => {
      const admins = this.adminsNow();
      const admin = admins.find((a) => a.id === id);
      if (!admin) throw unknownAdmin(id);
      if (type !== 'SUPER_ADMIN' && !superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`making ${admin.subject} an ADMIN`);
      this.db.prepare('UPDATE admins SET type = ? WHERE id = ?').run(type, id);
      return { ...admin, type };
    });
  }

  removeAdmin(id: string, audit: AuditEntry): Promise<void> {
    return this.adminWrite(audit, [[ADMINS_TOPIC, id]], () => {
      const admins = this.adminsNow();
      const admin = admins.find((a) => a.id === id);
      if (!admin) throw unknownAdmin(id);
      if (!superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`removing ${admin.subject}`);
      this.db.prepare('DELETE FROM admins WHERE id = ?').run(id);
    });
  }

  async seedProvisioners(provisioners: StoredProvisioner[], admins: StoredAdmin[], audit: AuditEntry): Promise<boolean> {
    // The check and the inserts in one IMMEDIATE transaction: processes starting at once seed once.
    return this.adminWrite(audit, [[PROVISIONERS_TOPIC, 'seed'], [ADMINS_TOPIC, 'seed']], () => {
      if (this.db.prepare('SELECT 1 FROM provisioners LIMIT 1').get() !== undefined) throw new SeedRace();
      provisioners.forEach((p) => this.insertProvisionerRow(p));
      admins.forEach((a) => this.insertAdminRow(a));
      return true;
    }).catch((err: unknown) => {
      if (err instanceof SeedRace) return false;
      throw err;
    });
  }

  async watch(topic: string, onChange: (change: StoreChange) => void): Promise<() => void> {
    checkTopic(topic);
    if (!this.db.open) throw this.failure(new Error('the store is closed'));
    const watch = this.feed.add(topic, onChange);
    if (!this.pollTimer) {
      this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
      this.pollTimer = setInterval(() => this.pollChanges(), this.changePollMs);
      this.pollTimer.unref();
    }
    watch.arm(this.readChanges([topic])[0]?.version ?? 0);
    return watch.stop;
  }

  async notify(topic: string, detail?: string): Promise<void> {
    checkTopic(topic);
    const change = await this.write(() => this.recordChange(topic, detail));
    // Our own commits do not move data_version: tell this process's watchers now.
    this.feed.observe(change);
  }

  /**
   * Bump a topic's change count; call it inside the transaction that makes the change (a store
   * method that changes shared state), then hand the result to `this.feed.observe` after commit.
   */
  private recordChange(topic: string, detail: string | undefined): StoreChange {
    const text = changeDetail(detail);
    const row = this.bumpChange.get(topic, text, this.now().getTime());
    return { topic, version: Number(row?.version), detail: text };
  }

  private readChanges(topics: string[]): StoreChange[] {
    return this.selectChanges.all(JSON.stringify(topics)).map((r) => ({ topic: r.topic, version: Number(r.version), detail: r.detail }));
  }

  /** Read the watched topics' counts when another connection committed since the last look. */
  private pollChanges(): void {
    const topics = this.feed.topics();
    if (topics.length === 0 || !this.db.open) return;
    try {
      const version = this.db.pragma('data_version', { simple: true }) as number;
      if (version === this.dataVersion) return;
      this.dataVersion = version;
      for (const change of this.readChanges(topics)) this.feed.observe(change);
    } catch {
      // Busy or closing: the next poll looks again.
    }
  }

  async ping(): Promise<void> {
    try {
      if (!this.db.open) throw new Error('the store is closed');
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      throw this.failure(err, 503);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pollTimer);
    if (this.pending.length > 0) this.commitPending();
    if (this.db.open) this.db.close();
  }

  /** Queue a write for the next group commit; resolves with its result once committed. */
  private write<T>(run: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(this.failure(new Error('the store is closed')));
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(this.commitPending);
      this.pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private failure(err: unknown, status?: number): CaError {
    // A rule a store method enforces (a duplicate name, the last super admin) is the caller's answer.
    if (err instanceof CaError) return err;
    const code = (err as { code?: string }).code ?? '';
    const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
    return new CaError('ERR_INTERNAL', `${busy ? 'the database is busy' : 'cannot write to the database'} ${this.path}: ${describe(err)}`, {
      status: status ?? (busy ? 503 : 500),
      cause: err,
    });
  }
}

/** Another process seeded the store first. */
class SeedRace extends CaError {
  constructor() {
    super('ERR_INTERNAL', 'the store already has provisioners');
  }
}

/** Run one write inside the shared transaction; a failing statement is undone alone and reported to its caller. */
function attempt(write: PendingWrite): Outcome {
  try {
    return { ok: true, value: write.run() };
  } catch (error) {
    return { ok: false, error };
  }
}
