/**
 * Where the CA keeps what it issued and which tokens were used. `openStore` picks the
 * implementation from ca.json's `db`; everything else sees only the Store interface.
 */
import type { CaConfigJson } from '../config/ca-config.js';
import { caLayout, resolveIn } from '../config/paths.js';
import { openMemoryStore } from './memory.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

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
  const dataSource = typeof db === 'object' ? (db as { dataSource?: unknown }).dataSource : undefined;
  const dir = typeof dataSource === 'string' && dataSource.trim() !== '' ? resolveIn(caPath, dataSource) : caLayout(caPath).dbDir;
  return openSqliteStore(dir);
}
