/**
 * Versioned schema migrations, the same rule for every database: an ordered list, each applied
 * once and recorded, all pending ones in one transaction under the database's write lock, so
 * several processes (or replicas) starting at once apply each exactly once. A database written by
 * a newer `ca` is refused rather than used with a schema this one does not know.
 *
 * To add tables: append a migration to the list of each database (sqlite.ts, postgres-schema.ts),
 * never edit one that has shipped.
 */

export interface Migration {
  /** 1, 2, 3, ... in order, without gaps. */
  version: number;
  /** What it adds, for the record in the database. */
  name: string;
  sql: string;
}

/** The migrations still to apply on a database at `current`; throws for a database from a newer ca. */
export function pendingMigrations(list: readonly Migration[], current: number): readonly Migration[] {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
  const known = list.length;
  if (current > known) {
    throw new Error(`it was written by a newer version of ca (schema ${current}, this one knows ${known})`);
  }
  return list.slice(current);
}
