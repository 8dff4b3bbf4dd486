/**
 * Where the CA keeps what it issued and which tokens were used. `openStore` picks the
 * implementation from ca.json's `db`; everything else sees only the Store interface.
 */
import type { CaConfigJson } from '../config/ca-config.js';
import { caLayout, resolveIn } from '../config/paths.js';
import { CaError } from '../errors.js';
import { openMemoryStore } from './memory.js';
import { isPostgresDb } from './postgres-config.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Embedded kinds: step-ca's own (badger, bbolt) get an SQLite file beside their files. */
const EMBEDDED_TYPES = new Set(['sqlite', 'badger', 'badgerv2', 'bbolt', '']);

export type { IssuedCertificate, Store, StoreChange } from './types.js';
export { openMemoryStore } from './memory.js';
export { openSqliteStore, SQLITE_FILE } from './sqlite.js';
export { isPostgresDb } from './postgres-config.js';

export interface OpenStoreOptions {
  /** libpq's variables (PGPASSWORD, PGHOST, ...) for a PostgreSQL `db`. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Background events of a shared database (lost, back); the server's JSON log. */
  log?: (event: Record<string, unknown>) => void;
}

/**
 * The store for a configuration: PostgreSQL for `"type": "postgresql"` (shared by replicas);
 * SQLite in `db.dataSource` (relative to `caPath`, default `$CA_PATH/db`) for the embedded types
 * (a step-ca `badgerv2` directory gets a ca.sqlite beside the badger files); in memory when
 * ca.json has no `db`, as step-ca does.
 */
export async function openStore(config: CaConfigJson, caPath: string, options: OpenStoreOptions = {}): Promise<Store> {
  const db = config.db;
  if (db === undefined || db === null) return openMemoryStore();
  if (isPostgresDb(db)) {
    // Loaded only when used: the embedded default does not pay for pg.
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(db as { dataSource?: unknown; database?: unknown }, options);
  }
  const type = typeof db === 'object' ? (db as { type?: unknown }).type : undefined;
  if (type !== undefined && !(typeof type === 'string' && EMBEDDED_TYPES.has(type.toLowerCase()))) {
    // Another shared database (mysql) must not quietly become a local file: each CA host would
    // then keep its own record of used tokens.
    throw new CaError('ERR_CONFIG_INVALID', `ca.json db.type ${JSON.stringify(type)} is not supported; ca serve keeps its records in SQLite (embedded) or PostgreSQL (shared)`, {
      hint: 'set "db": {"type": "sqlite", "dataSource": "db"}, or {"type": "postgresql", "dataSource": "postgresql://USER:PASS@HOST:5432/", "database": "ca"}',
    });
  }
  return openSqliteStore(embeddedStoreDir(config, caPath));
}

/** Where the embedded store of a configuration lives: `db.dataSource` relative to `caPath`, else `$CA_PATH/db`. */
export function embeddedStoreDir(config: CaConfigJson, caPath: string): string {
  const db = config.db;
  const dataSource = typeof db === 'object' && db !== null && !isPostgresDb(db) ? (db as { dataSource?: unknown }).dataSource : undefined;
  return typeof dataSource === 'string' && dataSource.trim() !== '' ? resolveIn(caPath, dataSource) : caLayout(caPath).dbDir;
}
