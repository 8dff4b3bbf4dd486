/**
 * ca.json's `address` and `tls` section as Node's listener and TLS options. step-ca writes Go
 * names (cipher suites, versions as numbers); OpenSSL wants its own. We serve TLS 1.2 or later
 * only, never renegotiate (Go servers never do), and always offer every TLS 1.3 suite, as Go does.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContextOptions, type SecureVersion } from 'node:tls';
import { CaError } from '../errors.js';
import type { CaConfigJson } from '../config/ca-config.js';

export interface TlsSettings {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  /** OpenSSL cipher string: the TLS 1.2 suites from ca.json plus all TLS 1.3 suites. */
  ciphers: string;
  secureOptions: number;
}

/** step-ca's defaults (`tls` absent from ca.json). */
const DEFAULT_SUITES = ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'];

/** Node disables TLS 1.3 when the cipher string names none of its suites; Go always enables them all. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Go's names (crypto/tls) for the TLS 1.2 suites OpenSSL still offers. */
const GO_TO_OPENSSL: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
};

const VERSIONS: Readonly<Record<string, SecureVersion>> = { '1': 'TLSv1', '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };
const ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function invalid(where: string, detail: string): CaError {
  return new CaError('ERR_CONFIG_INVALID', `${where}: ${detail}`, { hint: `fix the "tls" section of ${where}` });
}

function version(value: unknown, fallback: SecureVersion, field: string, where: string): SecureVersion {
  if (value === undefined || value === null || value === 0) return fallback;
  const v = VERSIONS[String(value)];
  if (!v) throw invalid(where, `"tls.${field}" ${JSON.stringify(value)} is not a TLS version (expected 1.2 or 1.3)`);
  if (ORDER.indexOf(v) < ORDER.indexOf('TLSv1.2')) {
    throw invalid(where, `"tls.${field}" ${JSON.stringify(value)} is not supported: ca serves TLS 1.2 or later`);
  }
  return v;
}

function cipherList(value: unknown, where: string): string {
  const names = Array.isArray(value) && value.length > 0 ? value : DEFAULT_SUITES;
  const suites = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string') throw invalid(where, `"tls.cipherSuites" must be a list of names`);
    // TLS 1.3 suites are not configurable in Go either: accepted and always on.
    if (TLS13_SUITES.includes(name)) continue;
    const openssl = GO_TO_OPENSSL[name];
    if (!openssl) throw invalid(where, `"tls.cipherSuites": unsupported cipher suite ${JSON.stringify(name)}`);
    suites.add(openssl);
  }
  return [...TLS13_SUITES, ...suites].join(':');
}

/** The TLS settings of a ca.json; throws ERR_CONFIG_INVALID naming the field. */
export function tlsSettingsFrom(config: CaConfigJson, where: string): TlsSettings {
  const tls = (config.tls ?? {}) as Record<string, unknown>;
  if (typeof tls !== 'object' || Array.isArray(tls)) throw invalid(where, '"tls" must be an object');
  const minVersion = version(tls.minVersion, 'TLSv1.2', 'minVersion', where);
  const maxVersion = version(tls.maxVersion, 'TLSv1.3', 'maxVersion', where);
  if (ORDER.indexOf(minVersion) > ORDER.indexOf(maxVersion)) {
    throw invalid(where, `"tls.minVersion" cannot exceed "tls.maxVersion"`);
  }
  return { minVersion, maxVersion, ciphers: cipherList(tls.cipherSuites, where), secureOptions: constants.SSL_OP_NO_RENEGOTIATION };
}

export interface ServerCredentials {
  certPem: string;
  chainPem: string;
  keyPem: string;
}

/** Leaf first, then the intermediates; tolerant of a chain that already starts with the leaf. */
function fullChain(cred: ServerCredentials): string {
  const leaf = cred.certPem.trim();
  const chain = cred.chainPem.trim();
  if (!chain || chain.startsWith(leaf)) return `${chain || leaf}\n`;
  return `${leaf}\n${chain}\n`;
}

/**
 * Everything the listener's secure context needs, checked by building it once: a bad cipher
 * list or key fails here, while the old context is still serving. `clientCas` (the roots and the
 * intermediate) are the names a client certificate request lists, as step-ca's ClientCAs, so a
 * browser offers only certificates of this CA; they decide nothing (the authority does).
 */
export function secureContextOptions(tls: TlsSettings, cred: ServerCredentials, clientCas: readonly string[] = []): SecureContextOptions {
  const options: SecureContextOptions = { ...tls, key: cred.keyPem, cert: fullChain(cred) };
  if (clientCas.length > 0) options.ca = [...clientCas];
  createSecureContext(options);
  return options;
}

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

/** ca.json `address`: host:port, :port or [v6]:port, as step-ca requires. */
export function parseListenAddress(address: unknown, where: string): ListenAddress {
  const m = typeof address === 'string' ? /^(\[[0-9a-fA-F:.%\w]+\]|[^:[\]]*):(\d{1,5})$/.exec(address) : null;
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new CaError('ERR_CONFIG_INVALID', `${where}: "address" ${JSON.stringify(address ?? '')} is not host:port`, {
      hint: 'set "address" in ca.json, e.g. ":443" or "127.0.0.1:8443"',
    });
  }
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { host: host === '' ? undefined : host, port };
}

/** `host:port` as people write it, IPv6 hosts bracketed, `:port` for every interface. */
export function formatAddress(host: string | undefined, port: number): string {
  if (!host) return `:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
