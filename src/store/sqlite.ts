/**
 * The embedded store: one SQLite file, `<dataSource>/ca.sqlite`, opened by every server process
 * (one per core) through its own connection. WAL lets readers and one writer work at once, and
 * the busy timeout makes writers queue instead of failing; every write is a single statement, so
 * SQLite's own locking is all the coordination the processes need.
 *
 * Writes arriving in the same turn of the event loop share one transaction (group commit): a
 * commit costs several times a row, and under load many requests reach the store together. Each
 * caller still learns its own statement's result only after the commit.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CaError, describe } from '../errors.js';
import type { IssuedCertificate, Revocation, RevokeResult, Store } from './types.js';
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';

export const SQLITE_FILE = 'ca.sqlite';

/** How long a writer waits for another process's write before giving up (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * The schema, one step per version: a database at version N gets steps N+1 onward, in one
 * transaction, and `user_version` says where it is. Steps only ever add.
 */
const MIGRATIONS: readonly string[] = [
  // 1: issued certificates and used tokens.
  `
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
  // 2: revocations (the id only grows: its maximum tells a CRL it is stale) and the CRL number.
  `
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
];
const SCHEMA_VERSION = MIGRATIONS.length;

interface CertificateRow {
  serial: string;
  subject: string;
  sans: string;
  provisioner: string;
  not_before: number;
  not_after: number;
  pem: string;
}

export interface SqliteStoreOptions {
  /** Stamp for `issued_at`; the server's clock. Default `() => new Date()`. */
  now?: () => Date;
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
  return new SqliteStore(db, path, options.now ?? (() => new Date()));
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so processes starting together create the schema once.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer version of ca (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    for (const step of MIGRATIONS.slice(version)) db.exec(step);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

interface RevocationRow {
  serial: string;
  reason_code: number;
  reason: string;
  revoked_at: number;
  not_after: number;
  provisioner: string;
  revoked_by: string;
}

function revocationOf(row: RevocationRow): Revocation {
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
  private readonly selectCertificate: Database.Statement<[string], CertificateRow>;
  private readonly insertToken: Database.Statement;
  private readonly sweepTokens: Database.Statement;
  private readonly certificateExists: Database.Statement<[string], { one: number }>;
  private readonly selectRevocation: Database.Statement<[string], RevocationRow>;
  private readonly selectRevocations: Database.Statement<[number], RevocationRow>;
  private readonly insertRevocation: Database.Statement;
  private readonly selectRevocationsVersion: Database.Statement<[], { version: number | null }>;
  private readonly bumpCrlNumber: Database.Statement<[], { number: number | bigint }>;
  private lastSweep = -Infinity;
  private pending: PendingWrite[] = [];
  private readonly commitPending: () => void;
  /** Token and certificate together; nested in the group commit, so a failure undoes both (a savepoint). */
  private readonly useTokenAndRecord: (tokenId: string, expiresMs: number, nowMs: number, cert: IssuedCertificate) => boolean;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly now: () => Date,
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
    return this.write<RevokeResult>(() => {
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
      return { result: 'revoked' };
    });
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

  async close(): Promise<void> {
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

  private failure(err: unknown): CaError {
    const code = (err as { code?: string }).code ?? '';
    const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
    return new CaError('ERR_INTERNAL', `${busy ? 'the database is busy' : 'cannot write to the database'} ${this.path}: ${describe(err)}`, {
      status: busy ? 503 : 500,
      cause: err,
    });
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
