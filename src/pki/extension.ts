/**
 * The step provisioner extension (step-ca `authority/provisioner/extension.go`): a non-critical
 * certificate extension that records which provisioner authorized the certificate. step-ca finds
 * the provisioner again by `name` when the certificate is renewed, and `step certificate inspect`
 * shows it.
 *
 *   SEQUENCE {
 *     type          INTEGER,
 *     name          OCTET STRING,
 *     credentialID  OCTET STRING,          -- OIDC: the client ID; JWK: the key ID
 *     keyValuePairs SEQUENCE OF string OPTIONAL  -- omitted when empty
 *   }
 */
import type { x509 } from './crypto.js';
import {
  DerError,
  TAG,
  children,
  decodeInteger,
  decodeString,
  encodeDefaultString,
  encodeInteger,
  encodeOctetString,
  encodeSequence,
  expect,
  readSingle,
  sequence,
} from './der.js';
import type { Tlv } from './der.js';

export const PROVISIONER_EXTENSION_OID = '1.3.6.1.4.1.37476.9000.64.1';

/** step's provisioner type numbers, index = number (step-ca `provisioner.Type`). */
export const PROVISIONER_TYPES = [
  'NOOP',
  'JWK',
  'OIDC',
  'GCP',
  'AWS',
  'Azure',
  'ACME',
  'X5C',
  'K8sSA',
  'SSHPOP',
  'SCEP',
  'Nebula',
] as const;

export type ProvisionerTypeName = (typeof PROVISIONER_TYPES)[number];

export interface ProvisionerExtension {
  /** The type number; see PROVISIONER_TYPES. Numbers outside the table survive a round trip. */
  type: number;
  name: string;
  credentialId: string;
  /** Flattened pairs, key then value, as step-ca stores them. */
  keyValuePairs?: string[];
}

/** The type's name ("OIDC"), or undefined for a number step does not define. */
export function provisionerTypeName(type: number): ProvisionerTypeName | undefined {
  return PROVISIONER_TYPES[type];
}

/** The type number for a name, case-insensitively ("oidc" → 2); undefined if unknown. */
export function provisionerTypeNumber(name: string): number | undefined {
  const wanted = name.toLowerCase();
  const index = PROVISIONER_TYPES.findIndex((t) => t.toLowerCase() === wanted);
  return index < 0 ? undefined : index;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The DER value of the extension (what goes inside the extension's OCTET STRING). */
export function encodeProvisionerExtension(ext: ProvisionerExtension): Uint8Array {
  if (!Number.isSafeInteger(ext.type) || ext.type < 0) {
    throw new TypeError(`provisioner type must be a non-negative integer, got ${ext.type}`);
  }
  const fields = [
    encodeInteger(ext.type),
    encodeOctetString(utf8.encode(ext.name)),
    encodeOctetString(utf8.encode(ext.credentialId)),
  ];
  // Go's `asn1:"optional,omitempty"`: an empty list is left out rather than written as SEQUENCE {}.
  if (ext.keyValuePairs && ext.keyValuePairs.length > 0) {
    fields.push(encodeSequence(ext.keyValuePairs.map(encodeDefaultString)));
  }
  return encodeSequence(fields);
}

/**
 * Read the extension's DER value. Undefined when it is not a well-formed provisioner extension,
 * which is how step treats it too: the certificate is still shown, only without the provisioner.
 */
export function decodeProvisionerExtension(der: Uint8Array): ProvisionerExtension | undefined {
  try {
    return parseProvisionerExtension(der);
  } catch (err) {
    if (err instanceof DerError) return undefined;
    throw err;
  }
}

function parseProvisionerExtension(der: Uint8Array): ProvisionerExtension {
  const [type, name, credentialId, pairs, ...rest] = sequence(readSingle(der), 'provisioner extension');
  if (rest.length > 0) throw new DerError('provisioner extension has extra fields');
  const typeNumber = decodeInteger(expect(type, TAG.INTEGER, 'type'));
  if (typeNumber < 0n || typeNumber > BigInt(Number.MAX_SAFE_INTEGER)) throw new DerError('type out of range');
  const ext: ProvisionerExtension = {
    type: Number(typeNumber),
    name: utf8Decoder.decode(expect(name, TAG.OCTET_STRING, 'name').content),
    credentialId: utf8Decoder.decode(expect(credentialId, TAG.OCTET_STRING, 'credentialID').content),
  };
  if (pairs) ext.keyValuePairs = children(expect(pairs, TAG.SEQUENCE, 'keyValuePairs')).map(readPairString);
  return ext;
}

function readPairString(tlv: Tlv): string {
  const text = decodeString(tlv);
  if (text === undefined) throw new DerError('keyValuePairs must hold strings');
  return text;
}

/**
 * The extension as an @peculiar/x509 Extension (non-critical), ready for a certificate builder.
 * Async because @peculiar/x509 is loaded on first use: it takes about 200 ms to load, and inspect,
 * which reads this extension, has no other use for it.
 */
export async function provisionerExtension(ext: ProvisionerExtension): Promise<x509.Extension> {
  const { x509 } = await import('./crypto.js');
  // A copy typed over a plain ArrayBuffer, which is what BufferSource accepts.
  return new x509.Extension(PROVISIONER_EXTENSION_OID, false, new Uint8Array(encodeProvisionerExtension(ext)));
}
