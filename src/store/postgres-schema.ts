/**
 * The PostgreSQL schema, as migrations (see migrations.ts): append one to add tables, never edit
 * one that has shipped. `schema_migrations` records what was applied. Our own layout with real
 * columns and indexes (step-ca keeps key-value blobs per bucket).
 */
import type { Migration } from './migrations.js';

/** The channel NOTIFY uses for the change feed. */
export const CHANGES_CHANNEL = 'ca_store_changes';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'certificates and used tokens',
    sql: `
      CREATE TABLE certificates (
        serial      text PRIMARY KEY,         -- decimal
        subject     text NOT NULL,
        sans        text[] NOT NULL,
        provisioner text NOT NULL,
        not_before  timestamptz NOT NULL,
        not_after   timestamptz NOT NULL,
        pem         text NOT NULL,
        issued_at   timestamptz NOT NULL
      );
      CREATE INDEX certificates_not_after ON certificates (not_after);
      CREATE TABLE used_tokens (
        id         text PRIMARY KEY,
        expires_at timestamptz NOT NULL       -- the row may go after this
      );
      CREATE INDEX used_tokens_expires_at ON used_tokens (expires_at);
    `,
  },
  {
    version: 2,
    name: 'change feed',
    sql: `
      CREATE TABLE store_changes (
        topic      text PRIMARY KEY,
        version    bigint NOT NULL,           -- how many changes the topic has had
        detail     text NOT NULL,             -- a hint about the latest one
        changed_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'revocations and the CRL number',
    sql: `
      CREATE TABLE revocations (
        id          bigserial PRIMARY KEY,    -- the order they were recorded in
        serial      text NOT NULL UNIQUE,
        reason_code integer NOT NULL,
        reason      text NOT NULL,
        revoked_at  timestamptz NOT NULL,
        not_after   timestamptz NOT NULL,     -- the certificate's; the CRL lists it until then
        provisioner text NOT NULL,
        revoked_by  text NOT NULL
      );
      CREATE INDEX revocations_not_after ON revocations (not_after);
      CREATE TABLE crl_state (
        id     integer PRIMARY KEY CHECK (id = 1),
        number bigint NOT NULL
      );
      INSERT INTO crl_state (id, number) VALUES (1, 0);
    `,
  },
  {
    version: 4,
    name: 'provisioners, admins and the audit log (remote administration)',
    sql: `
      CREATE TABLE provisioners (
        id         text PRIMARY KEY,          -- uuid
        name       text NOT NULL UNIQUE,
        type       text NOT NULL,
        config     text NOT NULL,             -- the provisioner in ca.json's shape (JSON text: its key order kept)
        created_at timestamptz NOT NULL
      );
      CREATE TABLE admins (
        id             text PRIMARY KEY,      -- uuid
        subject        text NOT NULL,
        provisioner_id text NOT NULL REFERENCES provisioners (id),
        type           text NOT NULL CHECK (type IN ('ADMIN', 'SUPER_ADMIN')),
        created_at     timestamptz NOT NULL,
        UNIQUE (subject, provisioner_id)
      );
      CREATE TABLE audit_log (
        id     bigserial PRIMARY KEY,
        at     timestamptz NOT NULL,
        actor  text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail text NOT NULL
      );
    `,
  },
];
