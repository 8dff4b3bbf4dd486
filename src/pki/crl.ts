/**
 * Certificate revocation lists (RFC 5280 5), encoded by hand like our leaves and signed by the
 * same CA: version 2, the CA's name, this and next update, every revoked serial with its date and
 * reason, and the CRL extensions clients look for (authority key identifier, CRL number).
 *
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version INTEGER (v2 = 1), signature, issuer, thisUpdate, nextUpdate,
 *                              revokedCertificates SEQUENCE OF SEQUENCE {...} OPTIONAL,
 *                              crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 */
import { encodeExtension, encodeTime, signedByCa, type SigningCa } from './certificate.js';
import { encodeInteger, encodeSequence, encodeTlv } from './der.js';

export interface CrlEntry {
  serial: bigint;
  revokedAt: Date;
  /** RFC 5280 CRLReason; 0 (unspecified) is left out of the entry, as RFC 5280 asks. */
  reasonCode: number;
}

export interface CrlSpec {
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly CrlEntry[];
}

const CRL_NUMBER = '2.5.29.20';
const REASON_CODE = '2.5.29.21';
const ENUMERATED = 0x0a;
const VERSION_2 = encodeInteger(1);

/** RFC 5280 5.3.1's reason names, by code (7 is unused). */
export const REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

function entry(e: CrlEntry): Uint8Array {
  const fields = [encodeInteger(e.serial), encodeTime(e.revokedAt)];
  if (e.reasonCode !== 0) {
    // The reason is an ENUMERATED, encoded like an INTEGER under its own tag.
    const value = encodeInteger(e.reasonCode).slice(2);
    fields.push(encodeSequence([encodeExtension(REASON_CODE, false, encodeTlv(ENUMERATED, value))]));
  }
  return encodeSequence(fields);
}

/** A DER CRL signed by `ca`. */
export function issueCrl(ca: SigningCa, spec: CrlSpec): Uint8Array {
  const fields = [
    VERSION_2,
    ca.signatureAlgorithm,
    ca.certificate.subject.der,
    encodeTime(spec.thisUpdate),
    encodeTime(spec.nextUpdate),
  ];
  if (spec.entries.length > 0) fields.push(encodeSequence(spec.entries.map(entry)));
  const extensions = [ca.authorityKeyIdExtension, encodeExtension(CRL_NUMBER, false, encodeInteger(spec.number))];
  fields.push(encodeTlv(0xa0, encodeSequence(extensions)));
  return signedByCa(ca, encodeSequence(fields));
}
