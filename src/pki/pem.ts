/**
 * Certificate, CSR and CRL input as people have it on disk: one or more PEM blocks (a chain, a
 * CSR, a CRL), or a single raw DER structure. We only frame and decode here; whether the DER
 * inside is a sound certificate is for the code that reads it.
 */
import { CaError } from '../errors.js';
import { DerError, TAG, children, readSingle } from './der.js';

export type BlockLabel = 'CERTIFICATE' | 'CERTIFICATE REQUEST' | 'X509 CRL';

export interface PemBlock {
  /** What the block holds; the legacy "NEW CERTIFICATE REQUEST" label is reported as "CERTIFICATE REQUEST". */
  label: BlockLabel;
  der: Uint8Array;
}

const LABELS: Record<string, BlockLabel> = {
  CERTIFICATE: 'CERTIFICATE',
  'X509 CERTIFICATE': 'CERTIFICATE',
  'CERTIFICATE REQUEST': 'CERTIFICATE REQUEST',
  'NEW CERTIFICATE REQUEST': 'CERTIFICATE REQUEST',
  'X509 CRL': 'X509 CRL',
};

const BEGIN = /-----BEGIN ([^-\r\n]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The certificates and CSRs in `input`, in file order. Blocks with other labels (a private key
 * kept in the same file) are skipped. `source` names the input in error messages, e.g. the path.
 */
export function parsePem(input: string | Uint8Array, source: string): PemBlock[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (text.includes('-----BEGIN ')) return parsePemText(text, source);
  if (typeof input !== 'string' && input[0] === TAG.SEQUENCE) {
    const block = parseDer(input);
    if (block) return [block];
  }
  throw noBlocks(source, []);
}

function parsePemText(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const skipped: string[] = [];
  for (const match of text.matchAll(BEGIN)) {
    const label = match[1]!;
    const bodyStart = match.index + match[0].length;
    const endLine = `-----END ${label}-----`;
    const bodyEnd = text.indexOf(endLine, bodyStart);
    if (bodyEnd < 0) throw pemError(source, `the ${label} block has no "${endLine}" line`);
    const kind = LABELS[label];
    if (!kind) {
      skipped.push(label);
      continue;
    }
    const der = decodeBody(text.slice(bodyStart, bodyEnd), label, blocks.length + skipped.length + 1, source);
    blocks.push({ label: kind, der });
  }
  if (blocks.length === 0) throw noBlocks(source, skipped);
  return blocks;
}

function decodeBody(body: string, label: string, position: number, source: string): Uint8Array {
  const base64 = stripHeaders(body).replace(/\s+/g, '');
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) {
    throw pemError(source, `PEM block ${position} (${label}) is not valid base64`);
  }
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

// RFC 1421 headers ("Proc-Type: …") sit before a blank line; certificates never need them, but
// tolerating them costs nothing.
function stripHeaders(body: string): string {
  const lines = body.split(/\r?\n/);
  const firstContent = lines.findIndex((l) => l.trim() !== '');
  if (firstContent < 0 || !lines[firstContent]!.includes(':')) return body;
  const blank = lines.findIndex((l, i) => i > firstContent && l.trim() === '');
  return blank < 0 ? '' : lines.slice(blank + 1).join('\n');
}

/**
 * A DER file holds one structure and says nothing of its kind, so tell a certificate from a CSR by
 * shape: a v3 TBSCertificate opens with the [0] version tag, a v1 one has at least six fields,
 * while a CertificationRequestInfo has exactly four and ends with the [0] attributes. A
 * TBSCertList has a time where the others have a name or a key: after its optional version, an
 * algorithm, the issuer, then thisUpdate.
 */
function parseDer(der: Uint8Array): PemBlock | undefined {
  try {
    const outer = children(readSingle(der));
    const info = outer[0];
    if (outer.length !== 3 || info?.tag !== TAG.SEQUENCE) return undefined;
    const fields = children(info);
    const afterVersion = fields[0]?.tag === TAG.INTEGER ? 1 : 0;
    const timeTag = fields[afterVersion + 2]?.tag;
    if (timeTag === TAG.UTC_TIME || timeTag === TAG.GENERALIZED_TIME) return { label: 'X509 CRL', der };
    const isRequest = fields[0]?.tag === TAG.INTEGER && fields.length === 4 && fields[3]?.tag === 0xa0;
    return { label: isRequest ? 'CERTIFICATE REQUEST' : 'CERTIFICATE', der };
  } catch (err) {
    if (err instanceof DerError) return undefined;
    throw err;
  }
}

function noBlocks(source: string, skipped: string[]): CaError {
  const found = skipped.length > 0 ? ` (found only: ${[...new Set(skipped)].join(', ')})` : '';
  return new CaError('ERR_PEM_INVALID', `file "${source}" contains no PEM certificate, CSR or CRL${found}`, {
    status: 400,
    hint: 'pass a PEM or DER certificate, certificate signing request or certificate revocation list',
  });
}

function pemError(source: string, problem: string): CaError {
  return new CaError('ERR_PEM_INVALID', `file "${source}": ${problem}`, { status: 400 });
}

/** PEM armour for DER: base64 in 64-character lines, as Go's encoding/pem and OpenSSL write it. */
export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.map((l) => `${l}\n`).join('')}-----END ${label}-----\n`;
}
