/**
 * ca.json's `db` for PostgreSQL, in step-ca's shape: `{"type": "postgresql", "dataSource":
 * "postgresql://USER:PASS@HOST:PORT/?sslmode=...", "database": "NAME"}`. `database` wins over a
 * name in the URL; what the URL leaves out comes from libpq's variables (PGHOST, PGPORT, PGUSER,
 * PGDATABASE, PGPASSWORD), and a password found nowhere is looked up in PGPASSFILE or ~/.pgpass.
 * `sslmode` means what it means to libpq (and to step-ca's pgx): `require` encrypts without
 * checking the server, `verify-full` checks it against `sslrootcert`.
 *
 * The password never leaves this module in text meant for people: `target` names host, port,
 * database and user only, and `redactSecret` takes the password out of any message.
 */
import { parse as parseConnectionString, toClientConfig } from 'pg-connection-string';
import type { ClientConfig } from 'pg';
import { CaError, describe } from '../errors.js';

export const POSTGRES_TYPES = new Set(['postgresql', 'postgres']);
const DEFAULT_PORT = 5432;

export interface PostgresSettings {
  /** What pg connects with (password included). */
  client: ClientConfig;
  /** `PostgreSQL database "ca" at db.internal:5432 (user "ca")`: for messages, never a secret. */
  target: string;
  database: string;
  host: string;
  port: number;
  /** The password to keep out of messages, when one was given. */
  secret?: string;
}

/** Is this ca.json `db` a PostgreSQL one (step-ca's `type` is case-insensitive)? */
export function isPostgresDb(db: unknown): boolean {
  const type = typeof db === 'object' && db !== null ? (db as { type?: unknown }).type : undefined;
  return typeof type === 'string' && POSTGRES_TYPES.has(type.toLowerCase());
}

function invalid(message: string, hint: string): CaError {
  return new CaError('ERR_CONFIG_INVALID', message, { hint, exitCode: 1 });
}

/** Read a PostgreSQL `db` section (or a bare URL and database, as `ca db migrate --to` takes them). */
export function postgresSettings(db: { dataSource?: unknown; database?: unknown }, env: NodeJS.ProcessEnv, where = 'ca.json db'): PostgresSettings {
  const { dataSource } = db;
  if (typeof dataSource !== 'string' || dataSource.trim() === '') {
    throw invalid(`${where}.dataSource is missing: PostgreSQL needs a URL`, `set "dataSource": "postgresql://USER:PASSWORD@HOST:5432/" and "database": "NAME"`);
  }
  if (db.database !== undefined && db.database !== null && typeof db.database !== 'string') {
    throw invalid(`${where}.database must be a string`, 'set "database": "NAME"');
  }
  if (!/^postgres(ql)?:\/\//i.test(dataSource.trim())) {
    // A key=value string or anything else: say so without echoing it (it may hold a password).
    throw invalid(`${where}.dataSource is not a postgresql:// URL`, 'write it as postgresql://USER:PASSWORD@HOST:PORT/?sslmode=... (a password may instead come from PGPASSWORD or ~/.pgpass)');
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  let client: ClientConfig;
  try {
    // libpq's meaning of sslmode, as step-ca (pgx) has it.
    parsed = parseConnectionString(dataSource.trim(), { useLibpqCompat: true });
    client = toClientConfig(parsed) as ClientConfig;
  } catch (err) {
    const secret = passwordIn(dataSource);
    throw invalid(`${where}.dataSource is not a valid PostgreSQL URL: ${redactSecret(describe(err), secret)}`, 'write it as postgresql://USER:PASSWORD@HOST:PORT/ (percent-encode special characters in the password)');
  }
  const host = client.host || env.PGHOST || 'localhost';
  const port = client.port || (env.PGPORT && /^\d+$/.test(env.PGPORT) ? Number(env.PGPORT) : DEFAULT_PORT);
  const user = client.user || env.PGUSER || undefined;
  const database = (typeof db.database === 'string' && db.database !== '' ? db.database : undefined) ?? (client.database || undefined) ?? env.PGDATABASE;
  if (!database) {
    throw invalid(`${where} names no database`, `add "database": "ca" to the db section (or put the name in the URL: postgresql://HOST:5432/ca)`);
  }
  const password = typeof client.password === 'string' && client.password !== '' ? client.password : env.PGPASSWORD || undefined;
  const target = `PostgreSQL database "${database}" at ${host.startsWith('/') ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`}${user ? ` (user "${user}")` : ''}`;
  return {
    client: { ...client, host, port, user, database, password },
    target,
    database,
    host,
    port,
    secret: password,
  };
}

/** The password in a URL, decoded, when it has one (to keep it out of error messages). */
function passwordIn(dataSource: string): string | undefined {
  const m = /^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i.exec(dataSource.trim());
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** `text` with every appearance of `secret` (plain or percent-encoded) replaced. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join('*****');
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join('*****');
  return out;
}
