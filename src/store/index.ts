/**
 * Where the CA keeps what it issued and which tokens were used. `openStore` picks the
 * implementation from ca.json's `db`; everything else sees only the Store interface.
 */
import type { CaConfigJson } from '../config/ca-config.js';
import { caLayout, resolveIn } from '../config/paths.js';
import { CaError } from '../errors.js';
import { openMemoryStore } from './memory.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Embedded kinds: step-ca's own (badger, bbolt) get an SQLite file beside their files. */
const EMBEDDED_TYPES = new Set(['sqlite', 'badger', 'badgerv2', 'bbolt', '']);

export type { IssuedCertificate, Store } from './types.js';
export { openMemoryStore } from './memory.js';
export { openSqliteStore, SQLITE_FILE } from './sqlite.js';

/**
 * The store for a configuration: SQLite in `db.dataSource` (relative to `caPath`, default
 * `$CA_PATH/db`) for any `db` object, whatever its `type` says (a step-ca `badgerv2` directory
 * gets a ca.sqlite beside the badger files); in memory when ca.json has no `db`, as step-ca does.
 */
export async function openStore(config: CaConfigJson, caPath: string): Promise<Store> {
  const db = config.db;
  if (db === undefined || db === null) return openMemoryStore();
  const type = typeof db === 'object' ? (db as { type?: unknown }).type : undefined;
  if (type !== undefined && !(typeof type === 'string' && EMBEDDED_TYPES.has(type.toLowerCase()))) {
    // A shared database (postgresql, mysql) must not quietly become a local file: each CA host would
    // then keep its own record of used tokens.
    throw new CaError('ERR_CONFIG_INVALID', `ca.json db.type ${JSON.stringify(type)} is not supported; ca serve keeps its records in an embedded SQLite database`, {
      hint: 'set "db": {"type": "sqlite", "dataSource": "db"} (a step-ca badger or bbolt db directory works too)',
    });
  }
  const dataSource = typeof db === 'object' ? (db as { dataSource?: unknown }).dataSource : undefined;
  const dir = typeof dataSource === 'string' && dataSource.trim() !== '' ? resolveIn(caPath, dataSource) : caLayout(caPath).dbDir;
  return openSqliteStore(dir);
}
