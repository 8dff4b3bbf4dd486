/**
 * Names for the object identifiers inspect shows. The spellings are Go's (crypto/x509's
 * SignatureAlgorithm and PublicKeyAlgorithm strings) and smallstep/certinfo's, because that is
 * what `step certificate inspect` prints and what users compare against.
 */

export const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  cpsQualifier: '1.3.6.1.5.5.7.2.1',
  netscapeComment: '2.16.840.1.113730.1.13',
  ctPoison: '1.3.6.1.4.1.11129.2.4.3',
  ctSctList: '1.3.6.1.4.1.11129.2.4.2',
} as const;

/** Go's x509.SignatureAlgorithm.String() for each algorithm OID (RSA-PSS is resolved by its hash). */
const SIGNATURE_ALGORITHMS: Record<string, { name: string; hash: HashName | null }> = {
  '1.2.840.113549.1.1.2': { name: 'MD2-RSA', hash: null },
  '1.2.840.113549.1.1.4': { name: 'MD5-RSA', hash: 'md5' },
  '1.2.840.113549.1.1.5': { name: 'SHA1-RSA', hash: 'sha1' },
  '1.2.840.113549.1.1.11': { name: 'SHA256-RSA', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'SHA384-RSA', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'SHA512-RSA', hash: 'sha512' },
  '1.2.840.10040.4.3': { name: 'DSA-SHA1', hash: 'sha1' },
  '2.16.840.1.101.3.4.3.2': { name: 'DSA-SHA256', hash: 'sha256' },
  '1.2.840.10045.4.1': { name: 'ECDSA-SHA1', hash: 'sha1' },
  '1.2.840.10045.4.3.2': { name: 'ECDSA-SHA256', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA-SHA384', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ECDSA-SHA512', hash: 'sha512' },
  '1.3.101.112': { name: 'Ed25519', hash: null },
};

export type HashName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const HASH_OIDS: Record<string, HashName> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface SignatureAlgorithmInfo {
  /** Go's name ("ECDSA-SHA256"); the dotted OID when Go does not know the algorithm. */
  name: string;
  /** The digest to verify with; null for Ed25519 (no pre-hash) or when unknown. */
  hash: HashName | null;
  pss: boolean;
}

/** Name a signature algorithm; `pssHash` is the hash named in RSASSA-PSS parameters. */
export function signatureAlgorithm(oid: string, pssHash?: HashName): SignatureAlgorithmInfo {
  if (oid === OID.rsassaPss) {
    const known = pssHash === 'sha256' || pssHash === 'sha384' || pssHash === 'sha512';
    return known
      ? { name: `${pssHash.toUpperCase()}-RSAPSS`, hash: pssHash, pss: true }
      : { name: oid, hash: null, pss: true };
  }
  const known = SIGNATURE_ALGORITHMS[oid];
  return known ? { ...known, pss: false } : { name: oid, hash: null, pss: false };
}

/** Go's x509.PublicKeyAlgorithm.String(); the dotted OID otherwise, as certinfo prints it. */
export function publicKeyAlgorithmName(oid: string): string {
  switch (oid) {
    case OID.rsaEncryption:
      return 'RSA';
    case OID.ecPublicKey:
      return 'ECDSA';
    case OID.ed25519:
      return 'Ed25519';
    default:
      return oid;
  }
}

export const CURVES: Record<string, { name: string; bits: number }> = {
  [OID.p256]: { name: 'P-256', bits: 256 },
  [OID.p384]: { name: 'P-384', bits: 384 },
  [OID.p521]: { name: 'P-521', bits: 521 },
};

/** RFC 5280 key usage bit names, in bit order (bit 0 = digitalSignature), as certinfo words them. */
export const KEY_USAGE_NAMES = [
  'Digital Signature',
  'Content Commitment',
  'Key Encipherment',
  'Data Encipherment',
  'Key Agreement',
  'Certificate Sign',
  'CRL Sign',
  'Encipher Only',
  'Decipher Only',
] as const;

/**
 * Extended key usage purposes: certinfo's words for the text, zcrypto's keys for the JSON (purposes
 * zcrypto does not know land in its `unknown` list).
 */
export const EXT_KEY_USAGES: Record<string, { text: string; json?: string }> = {
  '2.5.29.37.0': { text: 'Any Usage', json: 'any' },
  '1.3.6.1.5.5.7.3.1': { text: 'Server Authentication', json: 'server_auth' },
  '1.3.6.1.5.5.7.3.2': { text: 'Client Authentication', json: 'client_auth' },
  '1.3.6.1.5.5.7.3.3': { text: 'Code Signing', json: 'code_signing' },
  '1.3.6.1.5.5.7.3.4': { text: 'E-mail Protection', json: 'email_protection' },
  '1.3.6.1.5.5.7.3.5': { text: 'IPSec End System', json: 'ipsec_end_system' },
  '1.3.6.1.5.5.7.3.6': { text: 'IPSec Tunnel', json: 'ipsec_tunnel' },
  '1.3.6.1.5.5.7.3.7': { text: 'IPSec User', json: 'ipsec_user' },
  '1.3.6.1.5.5.7.3.8': { text: 'Time Stamping', json: 'time_stamping' },
  '1.3.6.1.5.5.7.3.9': { text: 'OCSP Signing', json: 'ocsp_signing' },
  '1.3.6.1.4.1.311.10.3.3': { text: 'Microsoft Server Gated Crypto', json: 'microsoft_server_gated_crypto' },
  '2.16.840.1.113730.4.1': { text: 'Netscape Server Gated Crypto', json: 'netscape_server_gated_crypto' },
  '1.3.6.1.4.1.311.2.1.22': { text: 'Microsoft Commercial Code Signing' },
  '1.3.6.1.4.1.311.61.1.1': { text: 'Microsoft Kernel Code Signing', json: 'microsoft_kernel_mode_code_signing' },
  '2.23.133.8.1': { text: 'EK Certificate' },
};

/** zcrypto's order of the extended key usage JSON keys (its struct field order). */
export const EXT_KEY_USAGE_JSON_ORDER = [
  'microsoft_server_gated_crypto',
  'microsoft_kernel_mode_code_signing',
  'server_auth',
  'client_auth',
  'code_signing',
  'email_protection',
  'ipsec_end_system',
  'ipsec_tunnel',
  'ipsec_user',
  'time_stamping',
  'ocsp_signing',
  'netscape_server_gated_crypto',
  'any',
];

/**
 * Distinguished name attributes: the short name certinfo prints (`CN=…`) and the zcrypto JSON key.
 * Without a short name an attribute prints as `<oid>=<value>`; without a JSON key it is left out of
 * the JSON name object, as zcrypto does.
 */
export const NAME_ATTRIBUTES: Record<string, { short?: string; json?: string }> = {
  '2.5.4.3': { short: 'CN', json: 'common_name' },
  '2.5.4.5': { short: 'SERIALNUMBER', json: 'serial_number' },
  '2.5.4.6': { short: 'C', json: 'country' },
  '2.5.4.7': { short: 'L', json: 'locality' },
  '2.5.4.8': { short: 'ST', json: 'province' },
  '2.5.4.9': { short: 'STREET', json: 'street_address' },
  '2.5.4.10': { short: 'O', json: 'organization' },
  '2.5.4.11': { short: 'OU', json: 'organizational_unit' },
  '2.5.4.17': { short: 'POSTALCODE', json: 'postal_code' },
  '0.9.2342.19200300.100.1.25': { short: 'DC', json: 'domain_component' },
  '1.2.840.113549.1.9.1': { short: 'emailAddress', json: 'email_address' },
  '0.9.2342.19200300.100.1.1': { short: 'UID' },
  '1.3.6.1.4.1.311.60.2.1.3': { json: 'jurisdiction_country' },
  '1.3.6.1.4.1.311.60.2.1.1': { json: 'jurisdiction_locality' },
  '1.3.6.1.4.1.311.60.2.1.2': { json: 'jurisdiction_province' },
};

/** zcrypto's order of the JSON name keys (its struct field order). */
export const NAME_JSON_ORDER = [
  'common_name',
  'serial_number',
  'country',
  'locality',
  'province',
  'street_address',
  'organization',
  'organizational_unit',
  'postal_code',
  'domain_component',
  'email_address',
  'jurisdiction_country',
  'jurisdiction_locality',
  'jurisdiction_province',
] as const;
