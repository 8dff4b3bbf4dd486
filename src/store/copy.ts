/**
 * Moving up from one machine: copy an embedded (SQLite) store into PostgreSQL, so a team that
 * started on one host keeps its history when it runs replicas. One transaction on the PostgreSQL
 * side (all or nothing) and idempotent: rows already there are left alone, so running it again
 * (say, right before the switch) copies only what is new. Expired used tokens stay behind.
 *
 * One entry per table in TABLE_COPIES: a table added by a migration gets its copy here.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { CaError, describe } from '../errors.js';
import { pendingMigrations } from './migrations.js';
import { ADMINS_TOPIC, PROVISIONERS_TOPIC, REVOCATIONS_TOPIC } from './changes.js';
import { recordChange, type PostgresStore } from './postgres.js';
import { SQLITE_FILE, SQLITE_MIGRATIONS, type SqliteCertificateRow, type SqliteRevocationRow } from './sqlite.js';

export interface CopyCount {
  /** What was copied, for people: "certificates", "used tokens". */
  what: string;
  copied: number;
  /** Rows left behind, and why. */
  skipped: number;
  skippedWhy: string;
  /** Says it all instead of the counts (for a single value). */
  summary?: string;
}

interface TableCopy {
  what: string;
  skippedWhy: string;
  copy(source: Database.Database, target: pg.ClientBase, now: Date): Promise<{ copied: number; skipped: number; summary?: string }>;
}

const BATCH = 500;

/** Rows of a query in batches, so a large store is never all in memory. */
function* batches<T>(rows: IterableIterator<T>): Generator<T[]> {
  let batch: T[] = [];
  for (const row of rows) {
    batch.push(row);
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Insert `rows` batch by batch with `insert`, which gets the batch column by column (for unnest)
 * and returns how many rows it wrote; rows it did not write were already there.
 */
async function copyRows<T>(rows: IterableIterator<T>, insert: (column: <K extends keyof T>(key: K) => T[K][]) => Promise<number>): Promise<{ copied: number; skipped: number }> {
  let copied = 0;
  let skipped = 0;
  for (const batch of batches(rows)) {
    const written = await insert((key) => batch.map((r) => r[key]));
    copied += written;
    skipped += batch.length - written;
  }
  return { copied, skipped };
}

const TABLE_COPIES: readonly TableCopy[] = [
  {
    what: 'certificates',
    skippedWhy: 'already there',
    copy(source, target) {
      const rows = source.prepare('SELECT * FROM certificates ORDER BY serial').iterate() as IterableIterator<SqliteCertificateRow>;
      return copyRows(rows, async (column) => {
        const { rowCount } = await target.query(
          `INSERT INTO certificates (serial, subject, sans, provisioner, not_before, not_after, pem, issued_at)
           SELECT t.serial, t.subject, ARRAY(SELECT json_array_elements_text(t.sans::json)), t.provisioner,
                  to_timestamp(t.nb / 1000.0), to_timestamp(t.na / 1000.0), t.pem, to_timestamp(t.ia / 1000.0)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::float8[])
             AS t(serial, subject, sans, provisioner, nb, na, pem, ia)
           ON CONFLICT (serial) DO NOTHING`,
          [column('serial'), column('subject'), column('sans'), column('provisioner'), column('not_before'), column('not_after'), column('pem'), column('issued_at')],
        );
        return rowCount ?? 0;
      });
    },
  },
  {
    what: 'used tokens',
    skippedWhy: 'expired',
    async copy(source, target, now) {
      const [{ expired }] = source.prepare('SELECT count(*) AS expired FROM used_tokens WHERE expires_at <= ?').all(now.getTime()) as [{ expired: number }];
      const rows = source.prepare('SELECT id, expires_at FROM used_tokens WHERE expires_at > ? ORDER BY id').iterate(now.getTime()) as IterableIterator<{ id: string; expires_at: number }>;
      const { copied } = await copyRows(rows, async (column) => {
        // A token used on both sides stays used until the later expiry.
        const { rowCount } = await target.query(
          `INSERT INTO used_tokens (id, expires_at)
           SELECT t.id, to_timestamp(t.e / 1000.0) FROM unnest($1::text[], $2::float8[]) AS t(id, e)
           ON CONFLICT (id) DO UPDATE SET expires_at = greatest(used_tokens.expires_at, excluded.expires_at)`,
          [column('id'), column('expires_at')],
        );
        return rowCount ?? 0;
      });
      return { copied, skipped: expired };
    },
  },
  {
    what: 'revocations',
    skippedWhy: 'already there',
    copy(source, target) {
      // In the order they were made, so PostgreSQL's ids keep it.
      const rows = source.prepare('SELECT * FROM revocations ORDER BY id').iterate() as IterableIterator<SqliteRevocationRow>;
      return copyRows(rows, async (column) => {
        const { rowCount } = await target.query(
          `INSERT INTO revocations (serial, reason_code, reason, revoked_at, not_after, provisioner, revoked_by)
           SELECT t.serial, t.code, t.reason, to_timestamp(t.ra / 1000.0), to_timestamp(t.na / 1000.0), t.provisioner, t.by
           FROM unnest($1::text[], $2::integer[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[]) WITH ORDINALITY
             AS t(serial, code, reason, ra, na, provisioner, by, n)
           ORDER BY t.n
           ON CONFLICT (serial) DO NOTHING`,
          [column('serial'), column('reason_code'), column('reason'), column('revoked_at'), column('not_after'), column('provisioner'), column('revoked_by')],
        );
        // Replicas hear of them, and a CRL made before now counts as stale.
        if (rowCount) await recordChange(target, REVOCATIONS_TOPIC, `${rowCount} copied`);
        return rowCount ?? 0;
      });
    },
  },
  {
    what: 'provisioners',
    skippedWhy: 'already there (that id or name)',
    copy(source, target) {
      if (!hasTable(source, 'provisioners')) return Promise.resolve({ copied: 0, skipped: 0 });
      const rows = source.prepare('SELECT * FROM provisioners ORDER BY created_at').iterate() as IterableIterator<{ id: string; name: string; type: string; config: string; created_at: number }>;
      return copyRows(rows, async (column) => {
        const { rowCount } = await target.query(
          `INSERT INTO provisioners (id, name, type, config, created_at)
           SELECT t.id, t.name, t.type, t.config, to_timestamp(t.ca / 1000.0)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS t(id, name, type, config, ca)
           ON CONFLICT DO NOTHING`,
          [column('id'), column('name'), column('type'), column('config'), column('created_at')],
        );
        if (rowCount) await recordChange(target, PROVISIONERS_TOPIC, `${rowCount} copied`);
        return rowCount ?? 0;
      });
    },
  },
  {
    what: 'admins',
    skippedWhy: 'already there, or their provisioner was not copied',
    copy(source, target) {
      if (!hasTable(source, 'admins')) return Promise.resolve({ copied: 0, skipped: 0 });
      const rows = source.prepare('SELECT * FROM admins ORDER BY created_at').iterate() as IterableIterator<{ id: string; subject: string; provisioner_id: string; type: string; created_at: number }>;
      return copyRows(rows, async (column) => {
        const { rowCount } = await target.query(
          `INSERT INTO admins (id, subject, provisioner_id, type, created_at)
           SELECT t.id, t.subject, t.pid, t.type, to_timestamp(t.ca / 1000.0)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS t(id, subject, pid, type, ca)
           WHERE EXISTS (SELECT 1 FROM provisioners p WHERE p.id = t.pid)
           ON CONFLICT DO NOTHING`,
          [column('id'), column('subject'), column('provisioner_id'), column('type'), column('created_at')],
        );
        if (rowCount) await recordChange(target, ADMINS_TOPIC, `${rowCount} copied`);
        return rowCount ?? 0;
      });
    },
  },
  {
    what: 'audit log entries',
    skippedWhy: 'already there',
    copy(source, target) {
      if (!hasTable(source, 'audit_log')) return Promise.resolve({ copied: 0, skipped: 0 });
      const rows = source.prepare('SELECT at, actor, action, target, detail FROM audit_log ORDER BY id').iterate() as IterableIterator<{ at: number; actor: string; action: string; target: string; detail: string }>;
      return copyRows(rows, async (column) => {
        // No key to conflict on: an entry with the same time, actor, action and target is the same one.
        const { rowCount } = await target.query(
          `INSERT INTO audit_log (at, actor, action, target, detail)
           SELECT to_timestamp(t.at / 1000.0), t.actor, t.action, t.target, t.detail
           FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(at, actor, action, target, detail, n)
           WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.at = to_timestamp(t.at / 1000.0) AND a.actor = t.actor AND a.action = t.action AND a.target = t.target)
           ORDER BY t.n`,
          [column('at'), column('actor'), column('action'), column('target'), column('detail')],
        );
        return rowCount ?? 0;
      });
    },
  },
  {
    what: 'CRL number',
    skippedWhy: 'already higher',
    async copy(source, target) {
      // CRL numbers only grow: the next one after the move is above every one issued before it.
      const number = BigInt((source.prepare('SELECT number FROM crl_state WHERE id = 1').safeIntegers(true).get() as { number: bigint } | undefined)?.number ?? 0n);
      const { rowCount } = await target.query('UPDATE crl_state SET number = $1 WHERE id = 1 AND number < $1', [number.toString()]);
      return { copied: rowCount ?? 0, skipped: 1 - (rowCount ?? 0), summary: rowCount ? `${number} (the next CRL is ${number + 1n})` : `kept (already ${number} or higher)` };
    },
  },
];

/** Whether an SQLite store has a table (a file from an older schema lacks the newer ones). */
function hasTable(source: Database.Database, name: string): boolean {
  return source.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The SQLite file a `--from` names: a ca.sqlite file, or the directory holding one. */
export function sqliteFileIn(path: string): string {
  try {
    return statSync(path).isDirectory() ? join(path, SQLITE_FILE) : path;
  } catch {
    return path;
  }
}

/** Copy every table of the SQLite store at `sqlitePath` into `target`, in one transaction there. */
export async function copySqliteToPostgres(sqlitePath: string, target: PostgresStore, now: Date): Promise<CopyCount[]> {
  let source: Database.Database;
  try {
    source = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new CaError('ERR_FILE_NOT_FOUND', `cannot open the SQLite store ${sqlitePath}: ${describe(err)}`, {
      cause: err,
      hint: 'pass --from with the directory of ca.json\'s sqlite "dataSource" (or its ca.sqlite file)',
    });
  }
  try {
    let version: number;
    try {
      version = source.pragma('user_version', { simple: true }) as number;
      pendingMigrations(SQLITE_MIGRATIONS, version);
    } catch (err) {
      throw new CaError('ERR_FILE_IO', `cannot read the SQLite store ${sqlitePath}: ${describe(err)}`, { cause: err });
    }
    if (version === 0) throw new CaError('ERR_FILE_IO', `${sqlitePath} is not a ca store (it has no tables of ours)`);
    // One read transaction: a server still writing to the file does not give us half a state.
    source.exec('BEGIN');
    return await target.transaction(async (client) => {
      const counts: CopyCount[] = [];
      for (const table of TABLE_COPIES) counts.push({ what: table.what, skippedWhy: table.skippedWhy, ...(await table.copy(source, client, now)) });
      return counts;
    });
  } finally {
    source.close();
  }
}
