/** Distinguished names and general names (RFC 5280 4.1.2.4 and 4.2.1.6). */
import { DerError, TAG, ascii, children, decodeOid, decodeString, expect, readSingle } from '../der.js';
import type { Tlv } from '../der.js';
import { NAME_ATTRIBUTES } from './oids.js';

export interface NameAttribute {
  oid: string;
  /** The value when it is a character string; undefined for other ASN.1 types. */
  value: string | undefined;
}

export interface DistinguishedName {
  /** The exact encoding, as hashed into fingerprints and compared to tell self-issued certificates. */
  der: Uint8Array;
  /** Every attribute of every RDN, flattened in encoding order (as Go's pkix.Name.Names). */
  attributes: NameAttribute[];
}

export function parseName(tlv: Tlv | undefined, what: string): DistinguishedName {
  const name = expect(tlv, TAG.SEQUENCE, what);
  const attributes = children(name).flatMap((rdn) =>
    children(expect(rdn, TAG.SET, `${what} RDN`)).map((atv) => {
      const [type, value] = children(expect(atv, TAG.SEQUENCE, `${what} attribute`));
      if (!value) throw new DerError(`${what} attribute without a value`);
      return { oid: decodeOid(expect(type, TAG.OID, `${what} attribute type`)), value: decodeString(value) };
    }),
  );
  return { der: name.der, attributes };
}

/** The common name Go reports: the last CN attribute, or '' when there is none. */
export function commonName(name: DistinguishedName): string {
  return name.attributes.findLast((a) => a.oid === '2.5.4.3')?.value ?? '';
}

function attributeText({ oid, value }: NameAttribute): string {
  const short = NAME_ATTRIBUTES[oid]?.short;
  if (value === undefined) return `UnknownOID=${oid}`;
  return `${short ?? oid}=${value}`;
}

/** certinfo's layout: attributes in encoding order, joined by commas without spaces. */
export function nameText(name: DistinguishedName): string {
  return name.attributes.map(attributeText).join(',');
}

/** zcrypto's `*_dn` strings: the same attributes joined by ", ". */
export function nameDnString(name: DistinguishedName): string {
  return name.attributes.map(attributeText).join(', ');
}

export type GeneralName =
  | { type: 'email' | 'dns' | 'uri'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'dirName'; name: DistinguishedName }
  | { type: 'otherName'; oid: string; value: Uint8Array }
  | { type: 'registeredId'; oid: string }
  | { type: 'unsupported'; tag: number };

/** The general name kinds that are plain strings. */
export type StringNameType = 'dns' | 'email' | 'ip' | 'uri';

/** The values of one string kind, in encoding order. */
export function namesOfType(names: GeneralName[], type: StringNameType): string[] {
  return names.filter((n): n is Extract<GeneralName, { type: StringNameType }> => n.type === type).map((n) => n.value);
}

/** One GeneralName; IP addresses with a mask (name constraints) come back in CIDR form. */
export function parseGeneralName(tlv: Tlv): GeneralName {
  switch (tlv.tag) {
    case 0xa0: {
      const [typeId, value] = children(tlv);
      const oid = decodeOid(expect(typeId, TAG.OID, 'otherName type'));
      return { type: 'otherName', oid, value: value ? children(value)[0]?.der ?? value.content : new Uint8Array() };
    }
    case 0x81:
      return { type: 'email', value: ascii(tlv.content) };
    case 0x82:
      return { type: 'dns', value: ascii(tlv.content) };
    case 0xa4:
      return { type: 'dirName', name: parseName(readSingle(tlv.content), 'directory name') };
    case 0x86:
      return { type: 'uri', value: ascii(tlv.content) };
    case 0x87:
      // Name constraints carry address and mask (8 or 32 bytes); SANs carry a bare address.
      return { type: 'ip', value: isMaskedAddress(tlv.content) ? ipNetString(tlv.content) : ipString(tlv.content) };
    case 0x88:
      return { type: 'registeredId', oid: decodeOid({ tag: TAG.OID, der: tlv.der, content: tlv.content }) };
    default:
      return { type: 'unsupported', tag: tlv.tag };
  }
}

export function parseGeneralNames(tlv: Tlv): GeneralName[] {
  return children(tlv).map(parseGeneralName);
}

/** Go's net.IP.String(): dotted IPv4 (also for IPv4-mapped IPv6), RFC 5952 IPv6, else "?" + hex. */
export function ipString(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return `?${Buffer.from(bytes).toString('hex')}`;
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.subarray(12).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  const [start, end] = longestZeroRun(groups);
  if (end - start < 2) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, start).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(end).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}

// The first longest run of zero groups, as [start, end); Go collapses only runs of two or more.
function longestZeroRun(groups: number[]): [number, number] {
  let best: [number, number] = [-1, -1];
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best[1] - best[0]) best = [i, j];
    i = j;
  }
  return best;
}

function isMaskedAddress(bytes: Uint8Array): boolean {
  return bytes.length === 8 || bytes.length === 32;
}

/** Go's net.IPNet.String() for an address followed by its mask: "10.0.0.0/8". */
function ipNetString(bytes: Uint8Array): string {
  const half = bytes.length / 2;
  const ip = bytes.subarray(0, half);
  const mask = bytes.subarray(half);
  const prefix = prefixLength(mask);
  return prefix === undefined ? `${ipString(ip)}/${Buffer.from(mask).toString('hex')}` : `${ipString(ip)}/${prefix}`;
}

function prefixLength(mask: Uint8Array): number | undefined {
  const bits = Array.from(mask, (b) => b.toString(2).padStart(8, '0')).join('');
  if (!/^1*0*$/.test(bits)) return undefined;
  const firstZero = bits.indexOf('0');
  return firstZero < 0 ? bits.length : firstZero;
}
