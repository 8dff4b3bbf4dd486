import { Command, Option } from 'commander';
import { readCaConfig, type CaConfigJson } from '../../../config/ca-config.js';
import { CaError, UsageError } from '../../../errors.js';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath } from '../../flags.js';
import { status, success } from '../../output.js';
import { SQLITE_FILE } from '../../../store/sqlite.js';
import { embeddedStoreDir, isPostgresDb } from '../../../store/index.js';

export interface MigrateOptions {
  /** `sqlite` (the CA's embedded store), or a directory or ca.sqlite file. */
  from: string;
  /** A postgresql:// URL; default: ca.json's db when it is PostgreSQL. */
  to?: string;
  database?: string;
  configPath: string;
}

type MigrateCtx = Pick<Ctx, 'io' | 'env' | 'caPath' | 'now'>;

async function readConfigIfAny(path: string): Promise<CaConfigJson | undefined> {
  try {
    return await readCaConfig(path);
  } catch (err) {
    if (err instanceof CaError && err.code === 'ERR_FILE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** The PostgreSQL side: --to (and --database), else ca.json's own PostgreSQL db. */
function targetOf(opts: MigrateOptions, config: CaConfigJson | undefined): { dataSource?: unknown; database?: unknown } {
  if (opts.to !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(opts.to)) {
      throw new UsageError(`invalid value for flag '--to': expected a postgresql:// URL`, { hint: "pass --to 'postgresql://USER@HOST:5432/' --database NAME (the password from PGPASSWORD or ~/.pgpass)" });
    }
    return { dataSource: opts.to, database: opts.database };
  }
  if (config && isPostgresDb(config.db)) {
    const db = config.db as { dataSource?: unknown; database?: unknown };
    return { dataSource: db.dataSource, database: opts.database ?? db.database };
  }
  throw new UsageError("missing the '--to' flag: where to copy to (ca.json's db is not PostgreSQL)", {
    hint: "pass --to 'postgresql://USER@HOST:5432/' --database NAME, or set ca.json's db to PostgreSQL first",
  });
}

export async function migrateRun(opts: MigrateOptions, ctx: MigrateCtx): Promise<void> {
  const config = await readConfigIfAny(opts.configPath);
  const { copySqliteToPostgres, sqliteFileIn } = await import('../../../store/copy.js');
  const source = opts.from.toLowerCase() === 'sqlite' ? `${embeddedStoreDir(config ?? {}, ctx.caPath)}/${SQLITE_FILE}` : sqliteFileIn(opts.from);
  const target = targetOf(opts, config);
  const { openPostgresStore } = await import('../../../store/postgres.js');
  const store = await openPostgresStore(target, { env: ctx.env, applicationName: 'ca db migrate', poolSize: 1, connectTimeoutMs: 10_000, queryTimeoutMs: 0 });
  try {
    status(ctx.io, `Copying ${source} to the ${store.target} ...`);
    const counts = await copySqliteToPostgres(source, store, ctx.now());
    for (const c of counts) {
      const name = c.what.charAt(0).toUpperCase() + c.what.slice(1);
      success(ctx.io, name, c.summary ?? `${c.copied} copied${c.skipped > 0 ? `, ${c.skipped} ${c.skippedWhy}` : ''}`);
    }
  } finally {
    await store.close();
  }
  if (!(config && isPostgresDb(config.db))) {
    status(ctx.io, `Next: stop ca serve, run this again to copy what changed meanwhile, then set ca.json "db" to {"type": "postgresql", "dataSource": "postgresql://USER@HOST:PORT/", "database": "NAME"} and start the replicas.`);
  }
}

export function create(ctx: Ctx, run = migrateRun): Command {
  return new Command('migrate')
    .summary('copy the embedded SQLite store into PostgreSQL')
    .description(
      `Copy what an embedded CA kept (issued certificates, used tokens that have not expired, revocations, the CRL number and, with remote management, provisioners, admins and the audit log) from its SQLite store into a PostgreSQL database, creating the tables there, so a CA that started on one machine keeps its history when it moves to replicas. It copies in one transaction and leaves rows that are already there alone, so it can run again to pick up what changed since.

The password comes from the URL, PGPASSWORD or ~/.pgpass (PGPASSFILE); it is never printed.`,
    )
    .addOption(new Option('--from <source>', "'sqlite' (this CA's store: ca.json's sqlite dataSource, else $CA_PATH/db), or a directory or ca.sqlite file").default('sqlite'))
    .addOption(new Option('--to <url>', "the PostgreSQL database's URL (default: ca.json's db when it is PostgreSQL)"))
    .addOption(new Option('--database <name>', 'the database name, as ca.json\'s "database" (default: the one in the URL)'))
    .addOption(caConfigOption())
    .addHelpText(
      'after',
      `
Examples:
  # Copy this CA's SQLite store into the database the replicas will use:
  $ PGPASSWORD=... ca db migrate --from sqlite --to 'postgresql://ca@db.internal:5432/?sslmode=verify-full&sslrootcert=db-ca.crt' --database ca

  # ca.json already points at PostgreSQL: copy the old store from its directory:
  $ ca db migrate --from ~/.ca/db`,
    )
    .action(async (o: { from: string; to?: string; database?: string; caConfig?: string }) => {
      await run({ from: o.from, to: o.to, database: o.database, configPath: caConfigPath(ctx, o.caConfig) }, ctx);
    });
}
