/**
 * The few DER rules X.509 needs, read and written by hand: a tag-length-value walker that keeps the
 * exact bytes of every element (fingerprints and signatures are computed over them, so re-encoding
 * is not an option), decoders for the universal types certificates use, and encoders for the small
 * structures we build ourselves. Only the low-tag-number form exists in X.509, so it is all we accept.
 */

/** A malformed encoding; callers turn it into a CaError that names the file and block. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One element: its tag byte, the whole encoding (`der`) and the value bytes (`content`). */
export interface Tlv {
  readonly tag: number;
  readonly der: Uint8Array;
  readonly content: Uint8Array;
}

/** Read the element starting at `offset`; `end` is where the next one starts. */
export function readTlv(buf: Uint8Array, offset = 0): Tlv & { end: number } {
  const tag = buf[offset];
  if (tag === undefined) throw new DerError('unexpected end of data');
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported high tag number at byte ${offset}`);
  const first = buf[offset + 1];
  if (first === undefined) throw new DerError('unexpected end of data');
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids; four bytes of length is already 4 GiB.
    if (count === 0 || count > 4) throw new DerError(`unsupported length encoding at byte ${offset + 1}`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new DerError('unexpected end of data');
      length = length * 256 + b;
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError(`element at byte ${offset} runs past the end of the data`);
  return { tag, der: buf.subarray(offset, end), content: buf.subarray(offset + header, end), end };
}

/** Exactly one element and nothing after it. */
export function readSingle(buf: Uint8Array): Tlv {
  const tlv = readTlv(buf, 0);
  if (tlv.end !== buf.length) throw new DerError(`${buf.length - tlv.end} bytes of trailing data`);
  return tlv;
}

/** The elements inside a constructed value (SEQUENCE, SET, explicit tags). */
export function children(tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < tlv.content.length; ) {
    const child = readTlv(tlv.content, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Check the tag and return the element, so parsers read as a list of expectations. */
export function expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv) throw new DerError(`missing ${what}`);
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex2(tag)}, got 0x${hex2(tlv.tag)}`);
  return tlv;
}

export function sequence(tlv: Tlv | undefined, what: string): Tlv[] {
  return children(expect(tlv, TAG.SEQUENCE, what));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function decodeOid(tlv: Tlv): string {
  const bytes = expect(tlv, TAG.OID, 'object identifier').content;
  if (bytes.length === 0) throw new DerError('empty object identifier');
  const arcs: bigint[] = [];
  let value = 0n;
  for (const b of bytes) {
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  if (bytes[bytes.length - 1]! & 0x80) throw new DerError('truncated object identifier');
  // The first subidentifier packs the first two arcs: 40 * X + Y, with X at most 2.
  const first = arcs.shift()!;
  const top = first < 80n ? first / 40n : 2n;
  return [top, first - top * 40n, ...arcs].join('.');
}

/** A two's-complement INTEGER as a bigint. */
export function decodeInteger(tlv: Tlv): bigint {
  const bytes = expect(tlv, TAG.INTEGER, 'integer').content;
  if (bytes.length === 0) throw new DerError('empty integer');
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return bytes[0]! & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

/** The magnitude of a non-negative INTEGER without DER's sign-padding zero (RSA moduli, serials). */
export function unsignedBytes(tlv: Tlv): Uint8Array {
  const bytes = expect(tlv, TAG.INTEGER, 'integer').content;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

export function decodeBoolean(tlv: Tlv): boolean {
  const bytes = expect(tlv, TAG.BOOLEAN, 'boolean').content;
  if (bytes.length !== 1) throw new DerError('boolean must be one byte');
  return bytes[0] !== 0;
}

export interface BitString {
  readonly unusedBits: number;
  readonly bytes: Uint8Array;
}

export function decodeBitString(tlv: Tlv): BitString {
  const content = expect(tlv, TAG.BIT_STRING, 'bit string').content;
  const unusedBits = content[0];
  if (unusedBits === undefined || unusedBits > 7) throw new DerError('invalid bit string');
  return { unusedBits, bytes: content.subarray(1) };
}

/** Bit `i` counted from the most significant bit of the first byte, as ASN.1 numbers named bits. */
export function bitAt(bits: BitString, i: number): boolean {
  const byte = bits.bytes[i >> 3];
  return byte !== undefined && ((byte >> (7 - (i & 7))) & 1) === 1;
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** Whether the tag is one of the character string types a string field may use. */
function isStringTag(tag: number): boolean {
  return (
    tag === TAG.UTF8_STRING ||
    tag === TAG.NUMERIC_STRING ||
    tag === TAG.PRINTABLE_STRING ||
    tag === TAG.T61_STRING ||
    tag === TAG.IA5_STRING ||
    tag === TAG.VISIBLE_STRING ||
    tag === TAG.UNIVERSAL_STRING ||
    tag === TAG.BMP_STRING
  );
}

/** Any character string type as a JS string; undefined for anything else. */
export function decodeString(tlv: Tlv): string | undefined {
  const bytes = tlv.content;
  switch (tlv.tag) {
    case TAG.BMP_STRING:
      return decodeUtf16be(bytes);
    case TAG.UNIVERSAL_STRING:
      return decodeUtf32be(bytes);
    case TAG.T61_STRING:
      // Nobody writes real T.61; in practice these hold Latin-1.
      return latin1.decode(bytes);
    default:
      return isStringTag(tlv.tag) ? utf8.decode(bytes) : undefined;
  }
}

function decodeUtf16be(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return s;
}

function decodeUtf32be(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  }
  return s;
}

/** An IA5String as text (rfc822Name, dNSName and URI in general names are IA5 with implicit tags). */
export function ascii(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/;

/** UTCTime or GeneralizedTime (RFC 5280 4.1.2.5: always UTC, always with seconds). */
export function decodeTime(tlv: Tlv): Date {
  const text = ascii(tlv.content);
  if (tlv.tag === TAG.UTC_TIME) {
    const m = UTC_TIME.exec(text);
    if (!m) throw new DerError(`invalid UTCTime "${text}"`);
    // RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
    const yy = Number(m[1]);
    return utcDate(yy < 50 ? 2000 + yy : 1900 + yy, m.slice(2, 7).map(Number), 0);
  }
  if (tlv.tag === TAG.GENERALIZED_TIME) {
    const m = GENERALIZED_TIME.exec(text);
    if (!m) throw new DerError(`invalid GeneralizedTime "${text}"`);
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    return utcDate(Number(m[1]), m.slice(2, 7).map(Number), ms);
  }
  throw new DerError(`expected a time, got tag 0x${hex2(tlv.tag)}`);
}

function utcDate(year: number, [month, day, hour, minute, second]: number[], ms: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month! - 1, day!);
  date.setUTCHours(hour!, minute!, second!, ms);
  return date;
}

// --- encoding -----------------------------------------------------------------------------------

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const length = encodeLength(content.length);
  const out = new Uint8Array(1 + length.length + content.length);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function encodeSequence(parts: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(TAG.SEQUENCE, concat(parts));
}

/** Minimal two's-complement encoding, as DER requires. */
export function encodeInteger(value: bigint | number): Uint8Array {
  let n = BigInt(value);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (!(n === 0n && (bytes[0]! & 0x80) === 0) && !(n === -1n && (bytes[0]! & 0x80) !== 0));
  return encodeTlv(TAG.INTEGER, Uint8Array.from(bytes));
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG.OCTET_STRING, bytes);
}

// X.680's PrintableString alphabet.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A string as Go's encoding/asn1 writes it by default: PrintableString when it fits, else UTF8String. */
export function encodeDefaultString(text: string): Uint8Array {
  const tag = PRINTABLE.test(text) ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING;
  return encodeTlv(tag, new TextEncoder().encode(text));
}
