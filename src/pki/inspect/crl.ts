/**
 * Certificate revocation lists (RFC 5280 5): read into plain values and printed as `step crl
 * inspect` does (smallstep/cli's crlutil: OpenSSL's layout, Go's names and times), in text and
 * JSON. The text shows each entry's reason by name, which is what a reader of a CRL looks for.
 */
import { DerError, TAG, children, decodeBitString, decodeInteger, decodeTime, expect, readSingle, readTlv, sequence } from '../der.js';
import type { Tlv } from '../der.js';
import type { DistinguishedName } from './names.js';
import { reasonName } from '../revocation.js';
import { parseExtensions } from './extensions.js';
import type { CertificateExtension } from './extensions.js';
import { hexRows, pad, upperColonHex } from './format.js';
import { parseAlgorithm, type AlgorithmIdentifier } from './model.js';
import { nameJson, type Json } from './json.js';
import { commonName, nameDnString, nameText, parseName } from './names.js';

export const CRL_OID = {
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  issuingDistributionPoint: '2.5.29.28',
  authorityKeyId: '2.5.29.35',
} as const;

export interface RevokedEntry {
  serial: bigint;
  revokedAt: Date;
  /** The CRLReason code, when the entry carries one (absent means unspecified). */
  reasonCode: number | undefined;
  extensions: CertificateExtension[];
}

export interface CrlModel {
  kind: 'crl';
  der: Uint8Array;
  /** The TBSCertList encoding, which the signature covers. */
  tbs: Uint8Array;
  /** 1 or 2 (the encoded value plus one). */
  version: number;
  issuer: DistinguishedName;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** The CRL Number extension, when present. */
  number: bigint | undefined;
  authorityKeyId: Uint8Array | undefined;
  revoked: RevokedEntry[];
  extensions: CertificateExtension[];
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
}

const isTime = (tlv: Tlv | undefined): boolean => tlv?.tag === TAG.UTC_TIME || tlv?.tag === TAG.GENERALIZED_TIME;

/** Throws DerError when `der` is not a CRL. */
export function parseCrl(der: Uint8Array): CrlModel {
  const [tbsTlv, algorithm, signature, ...extra] = sequence(readSingle(der), 'certificate list');
  if (extra.length > 0) throw new DerError('certificate list has extra fields');
  const fields = sequence(tbsTlv, 'tbsCertList');
  const version = fields[0]?.tag === TAG.INTEGER ? Number(decodeInteger(fields.shift()!)) + 1 : 1;
  const [, issuer, thisUpdate, ...rest] = fields;
  const nextUpdate = isTime(rest[0]) ? rest.shift() : undefined;
  const revokedList = rest[0]?.tag === TAG.SEQUENCE ? rest.shift() : undefined;
  const extensionsField = rest.find((f) => f.tag === 0xa0);
  const extensions = extensionsField ? parseExtensions(readSingle(extensionsField.content)) : [];
  const numberExt = extensions.find((e) => e.oid === CRL_OID.crlNumber);
  const akid = extensions.find((e) => e.oid === CRL_OID.authorityKeyId)?.decoded;
  return {
    kind: 'crl',
    der,
    tbs: tbsTlv!.der,
    version,
    issuer: parseName(issuer, 'issuer'),
    thisUpdate: decodeTime(thisUpdate ?? missing('thisUpdate')),
    nextUpdate: nextUpdate ? decodeTime(nextUpdate) : undefined,
    number: numberExt ? decodeInteger(expect(readSingle(numberExt.value), TAG.INTEGER, 'CRL number')) : undefined,
    authorityKeyId: akid?.kind === 'authorityKeyId' ? akid.keyId : undefined,
    revoked: revokedList ? children(revokedList).map(parseEntry) : [],
    extensions,
    signatureAlgorithm: parseAlgorithm(algorithm),
    signature: decodeBitString(expect(signature, TAG.BIT_STRING, 'signature')).bytes,
  };
}

function parseEntry(tlv: Tlv): RevokedEntry {
  const [serial, date, extensionsTlv] = sequence(tlv, 'revoked certificate');
  const extensions = extensionsTlv ? parseExtensions(extensionsTlv) : [];
  const reason = extensions.find((e) => e.oid === CRL_OID.reasonCode);
  return {
    serial: decodeInteger(expect(serial, TAG.INTEGER, 'revoked serial number')),
    revokedAt: decodeTime(date ?? missing('revocationDate')),
    reasonCode: reason ? enumerated(reason.value) : undefined,
    extensions,
  };
}

function enumerated(value: Uint8Array): number {
  const tlv = readTlv(value);
  if (tlv.tag !== 0x0a) throw new DerError('CRL reason is not an ENUMERATED');
  return Number(decodeInteger({ tag: TAG.INTEGER, der: tlv.der, content: tlv.content }));
}

function missing(what: string): never {
  throw new DerError(`missing ${what}`);
}

// ---- text ------------------------------------------------------------------------------------

/** Go's time.Time.String() of a UTC time: "2026-01-02 15:04:05 +0000 UTC". */
export function goTime(date: Date): string {
  return `${date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')} +0000 UTC`;
}

/** `0x04D2`: the serial's bytes in upper-case hex, as step prints it beside the decimal. */
function serialHex(serial: bigint): string {
  const hex = serial.toString(16).toUpperCase();
  return `0x${hex.length % 2 ? `0${hex}` : hex}`;
}

function crlExtensionLines(ext: CertificateExtension, indent: number): string[] {
  const body = (lines: string[]): string[] => lines.map((l) => `${pad(indent + 4)}${l}`);
  switch (ext.oid) {
    case CRL_OID.crlNumber:
      return [`${pad(indent)}X509v3 CRL Number:`, ...body([decodeInteger(readSingle(ext.value)).toString()])];
    case CRL_OID.authorityKeyId:
      return [
        `${pad(indent)}X509v3 Authority Key Identifier:`,
        ...body(ext.decoded.kind === 'authorityKeyId' && ext.decoded.keyId ? [`keyid:${upperColonHex(ext.decoded.keyId)}`] : []),
      ];
    case CRL_OID.reasonCode:
      return [`${pad(indent)}X509v3 CRL Reason Code:`, ...body([reasonName(enumerated(ext.value))])];
    case CRL_OID.invalidityDate:
      return [`${pad(indent)}Invalidity Date:`, ...body([goTime(decodeTime(readSingle(ext.value)))])];
    default:
      return [`${pad(indent)}${ext.oid}${ext.critical ? ' (critical)' : ''}:`, ...body([upperColonHex(ext.value)])];
  }
}

export function crlText(crl: CrlModel): string {
  const lines = [
    'Certificate Revocation List (CRL):',
    `${pad(4)}Data:`,
    `${pad(8)}Version: ${crl.version} (0x${Math.max(crl.version - 1, 0).toString(16)})`,
    `${pad(4)}Signature algorithm: ${crl.signatureAlgorithm.name}`,
    `${pad(8)}Issuer: ${nameText(crl.issuer)}`,
    `${pad(8)}Last Update: ${goTime(crl.thisUpdate)}`,
    `${pad(8)}Next Update: ${crl.nextUpdate ? goTime(crl.nextUpdate) : 'NONE'}`,
  ];
  if (crl.extensions.length > 0) lines.push(`${pad(8)}CRL Extensions:`, ...crl.extensions.flatMap((e) => crlExtensionLines(e, 12)));
  if (crl.revoked.length === 0) {
    lines.push(`${pad(8)}No Revoked Certificates.`);
  } else {
    lines.push(`${pad(8)}Revoked Certificates:`);
    for (const entry of crl.revoked) {
      lines.push(`${pad(12)}Serial Number: ${entry.serial} (${serialHex(entry.serial)})`, `${pad(16)}Revocation Date: ${goTime(entry.revokedAt)}`);
      if (entry.extensions.length > 0) lines.push(`${pad(16)}CRL Entry Extensions:`, ...entry.extensions.flatMap((e) => crlExtensionLines(e, 20)));
    }
  }
  lines.push(`${pad(4)}Signature Algorithm: ${crl.signatureAlgorithm.name}`, ...hexRows(crl.signature, 16, 8));
  return `${lines.join('\n')}\n`;
}

/** The short form, in the layout of a certificate's: the list, its issuer, its times, then each revoked serial. */
export function crlShortText(crl: CrlModel): string {
  const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const number = crl.number === undefined ? '' : ` [Number: ${crl.number}]`;
  const entries = crl.revoked.map(
    (e, i) => `${i === 0 ? '  Revoked:     ' : '               '}${e.serial} at ${rfc3339(e.revokedAt)}${e.reasonCode === undefined ? '' : ` (${reasonName(e.reasonCode)})`}`,
  );
  return [
    `X.509v${crl.version} Certificate Revocation List${number}`,
    `  Issuer:      ${commonName(crl.issuer)}`,
    `  Updated:     ${rfc3339(crl.thisUpdate)}`,
    `     next by:  ${crl.nextUpdate ? rfc3339(crl.nextUpdate) : 'none given'}`,
    ...(entries.length > 0 ? entries : ['  Revoked:     none']),
    '',
  ].join('\n');
}

// ---- JSON ------------------------------------------------------------------------------------

/** step's CRL JSON keys (crlutil), with the CRL number and each entry's reason spelled out. */
export function crlJson(crl: CrlModel): Json {
  const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    version: crl.version,
    signature_algorithm: { name: crl.signatureAlgorithm.name, oid: crl.signatureAlgorithm.oid },
    issuer: nameJson(crl.issuer),
    issuer_dn: nameDnString(crl.issuer) || undefined,
    this_update: rfc3339(crl.thisUpdate),
    next_update: crl.nextUpdate ? rfc3339(crl.nextUpdate) : undefined,
    crl_number: crl.number?.toString(),
    authority_key_id: crl.authorityKeyId ? Buffer.from(crl.authorityKeyId).toString('hex') : undefined,
    revoked_certificates: crl.revoked.map((entry) => ({
      serial_number: entry.serial.toString(),
      revocation_time: rfc3339(entry.revokedAt),
      reason_code: entry.reasonCode,
      reason: entry.reasonCode === undefined ? undefined : reasonName(entry.reasonCode),
    })),
    signature: {
      signature_algorithm: { name: crl.signatureAlgorithm.name, oid: crl.signatureAlgorithm.oid },
      value: Buffer.from(crl.signature).toString('base64'),
    },
  };
}
