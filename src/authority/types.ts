/**
 * The contract between the authority (which decides and signs) and the server (which speaks HTTP).
 * The server builds an Authority from a loaded configuration, calls it per request, and swaps the
 * whole object on SIGHUP; everything a request needs is prepared when the Authority is built.
 */
import type { CaConfigJson, ProvisionerJson } from '../config/ca-config.js';
import type { Store } from '../store/types.js';
import type { AdminIdentity, AdminRequest } from './admin.js';

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

/**
 * The client certificate of a mutual-TLS request, as the TLS layer received it. Possession of its
 * key is proven by the handshake; the authority checks the rest (issued by this CA, its time,
 * revocation, the provisioner's renewal rules).
 */
export interface PeerCertificate {
  der: Uint8Array;
}

/** POST /revoke body, in step-ca's shape, with the client certificate when there is one. */
export interface RevokeRequest {
  /** Decimal, as step sends it; `0x…` hex is accepted too. */
  serial: string;
  /** RFC 5280 CRLReason (0-10, not 7); 0 (unspecified) when absent. */
  reasonCode?: number;
  reason?: string;
  /** step sends true; false (active revocation) is not implemented, as in step-ca. */
  passive?: boolean;
  /** A revoke token: a JWK token for /revoke naming the serial, or an OIDC admin's ID token. */
  ott?: string;
  /** Or mutual TLS with the certificate itself. */
  peer?: PeerCertificate;
}

export interface RevokeOutcome {
  serial: string;
  /** The provisioner of the revoked certificate, for the log. */
  provisioner: string;
  /** How it was authorized: the token's provisioner and subject, or "mTLS". */
  by: string;
}

/** A CRL as GET /crl serves it. */
export interface CrlResponse {
  der: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  number: bigint;
}

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
  /** POST /renew: same subject, names, key and extensions, a new serial, the same lifetime from now. */
  renew(peer: PeerCertificate): Promise<SignOutcome>;
  /** POST /rekey: the same names and extensions for the CSR's new key. */
  rekey(peer: PeerCertificate, csrPem: string): Promise<SignOutcome>;
  /** POST /revoke. */
  revoke(req: RevokeRequest): Promise<RevokeOutcome>;
  /** GET /crl: the current CRL; a 404 CaError when ca.json `crl.enabled` is not true. */
  crl(): Promise<CrlResponse>;
  /** GET /provisioners/{kid}/encrypted-key: a JWK provisioner's encrypted private key, or undefined. */
  encryptedKey(kid: string): string | undefined;
  /** Issue the CA's own HTTPS leaf for its dnsNames (24 h), as step-ca does in memory. */
  issueServerCertificate(): Promise<{ certPem: string; chainPem: string; keyPem: string; notAfter: Date }>;
  /** An admin API request's token (remote administration): who it proves, or a 401/404 CaError naming the rule. */
  authorizeAdmin(req: AdminRequest): Promise<AdminIdentity>;
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
  /**
   * Do not wait for the IdPs' discovery documents and keys: serve at once, and let tokens for an
   * OIDC provisioner wait for its first discovery (the server; tests and tools wait instead).
   */
  discoverInBackground?: boolean;
}
