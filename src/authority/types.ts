/**
 * The contract between the authority (which decides and signs) and the server (which speaks HTTP).
 * The server builds an Authority from a loaded configuration, calls it per request, and swaps the
 * whole object on SIGHUP; everything a request needs is prepared when the Authority is built.
 */
import type { CaConfigJson, ProvisionerJson } from '../config/ca-config.js';
import type { Store } from '../store/types.js';

/** POST /sign body, in step-ca's shape. */
export interface SignRequest {
  csr: string;
  ott: string;
  /** RFC 3339 time, Go duration relative to now, or "" / absent. */
  notBefore?: string;
  notAfter?: string;
}

/** 201 body of POST /sign, in step-ca's shape. */
export interface SignResponse {
  crt: string;
  ca: string;
  certChain: string[];
}

/** What the server logs about a signed request (never the token itself). */
export interface SignOutcome {
  response: SignResponse;
  provisioner: string;
  subject: string;
  serial: string;
}

/** One provisioner as GET /provisioners lists it: its stored JSON, plus state when it could not start. */
export type ListedProvisioner = ProvisionerJson & { state?: 'Uninitialized'; stateReason?: string };

export interface Authority {
  /** PEM of each root, for /roots and /roots.pem. */
  readonly rootsPem: readonly string[];
  /** Lowercase hex SHA-256 of each root's DER, for /root/{sha256}. */
  readonly rootFingerprints: readonly string[];
  /** PEM of the intermediate that signs. */
  readonly intermediatePem: string;
  provisioners(): ListedProvisioner[];
  /** Authorize the token, check the CSR, sign. Throws CaError with step-ca's HTTP status. */
  sign(req: SignRequest): Promise<SignOutcome>;
  /** Issue the CA's own HTTPS leaf for its dnsNames (24 h), as step-ca does in memory. */
  issueServerCertificate(): Promise<{ certPem: string; chainPem: string; keyPem: string; notAfter: Date }>;
  /** Stop background work (key set refreshes, timers). */
  close(): void;
}

export interface AuthorityOptions {
  config: CaConfigJson;
  /** The file the config came from: relative paths in it resolve against $CA_PATH as step does. */
  configPath: string;
  caPath: string;
  /** Password for the intermediate key (from --password-file or ca.json's "password"). */
  password: string | undefined;
  fetch: typeof fetch;
  now: () => Date;
  store: Store;
  /** Structured log lines (JSON objects) for events outside a request, e.g. a provisioner failing to start. */
  log: (event: Record<string, unknown>) => void;
  /** When the CA process started (default: now); tokens issued before it are refused. Reloads pass the same time. */
  startedAt?: Date;
}
