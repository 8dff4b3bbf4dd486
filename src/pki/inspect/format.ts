/** Small text helpers shared by the renderers: hex dumps, Go's time layouts, printable runes. */

/** certinfo's abbreviation for long serials and credential IDs: the first and last four characters. */
export function abbreviate(text: string): string {
  return text.length <= 8 ? text : `${text.slice(0, 4)}...${text.slice(-4)}`;
}

/** `n` spaces: certinfo indents by 4, 8, 12, 16 and 20. */
export function pad(n: number): string {
  return ' '.repeat(n);
}

/**
 * Colon-separated lowercase hex, `perRow` bytes a row, each row on its own line after `indent`
 * spaces, every row but the last ending in ':' (certinfo's modulus, key and signature dumps).
 */
export function hexRows(bytes: Uint8Array, perRow: number, indent: number): string[] {
  const rows: string[] = [];
  for (let i = 0; i < bytes.length; i += perRow) {
    const row = Array.from(bytes.subarray(i, i + perRow), hexByte).join(':');
    rows.push(`${pad(indent)}${row}${i + perRow < bytes.length ? ':' : ''}`);
  }
  return rows;
}

function hexByte(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** "93:F6:7F": key identifiers, as OpenSSL and certinfo print them. */
export function upperColonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => hexByte(b).toUpperCase()).join(':');
}

/** "93:f6:7f". */
export function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, hexByte).join(':');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number) => String(n).padStart(2, '0');

/**
 * Go's layout "Jan 2 15:04:05 2006 MST" in UTC, which certinfo uses for validity. Unlike
 * OpenSSL ("Jan  2") the day is not padded.
 */
export function validityTime(date: Date): string {
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ${time} ${date.getUTCFullYear()} UTC`;
}

/** Go's time.RFC3339 for a UTC time: "2006-01-02T15:04:05Z", no fractional seconds. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * certinfo's view of bytes it cannot interpret: decoded as UTF-8 the way Go's bytes.Runes does
 * (each invalid byte is one U+FFFD), every rune Go's strconv.IsPrint rejects replaced by '.'.
 * `clean` says whether nothing had to be replaced.
 */
export function printableRunes(bytes: Uint8Array): { text: string; clean: boolean } {
  let text = '';
  let clean = true;
  for (const cp of goRunes(bytes)) {
    if (cp !== 0xfffd && isGoPrint(cp)) {
      text += String.fromCodePoint(cp);
    } else {
      text += '.';
      clean = false;
    }
  }
  return { text, clean };
}

const PRINT = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isGoPrint(cp: number): boolean {
  return cp === 0x20 || PRINT.test(String.fromCodePoint(cp));
}

// Go's utf8.DecodeRune: the same validity rules as the UTF-8 standard (no overlong forms, no
// surrogates, nothing past U+10FFFF), but a bad sequence costs exactly one byte.
function* goRunes(bytes: Uint8Array): Generator<number> {
  for (let i = 0; i < bytes.length; ) {
    const [cp, size] = decodeRune(bytes, i);
    yield cp;
    i += size;
  }
}

function decodeRune(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return [b0, 1];
  const [size, lo, hi] =
    b0 >= 0xc2 && b0 <= 0xdf ? [2, 0x80, 0xbf]
    : b0 === 0xe0 ? [3, 0xa0, 0xbf]
    : b0 === 0xed ? [3, 0x80, 0x9f]
    : b0 >= 0xe1 && b0 <= 0xef ? [3, 0x80, 0xbf]
    : b0 === 0xf0 ? [4, 0x90, 0xbf]
    : b0 === 0xf4 ? [4, 0x80, 0x8f]
    : b0 >= 0xf1 && b0 <= 0xf3 ? [4, 0x80, 0xbf]
    : [0, 0, 0];
  if (size === 0) return [0xfffd, 1];
  const b1 = bytes[i + 1];
  if (b1 === undefined || b1 < lo || b1 > hi) return [0xfffd, 1];
  let cp = (b0 & (0xff >> (size + 1))) * 64 + (b1 & 0x3f);
  for (let k = 2; k < size; k++) {
    const b = bytes[i + k];
    if (b === undefined || b < 0x80 || b > 0xbf) return [0xfffd, 1];
    cp = cp * 64 + (b & 0x3f);
  }
  return [cp, size];
}
