/**
 * The facts in our inspect output checked against OpenSSL's own reading of the same files
 * (`openssl x509|req -text`, recorded by __fixtures__/make.sh): serials, names, dates, keys,
 * extensions and signatures must agree even where the two layouts differ. This is what keeps the
 * goldens honest: a golden that merely recorded a decoding bug would fail here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { inspect } from '../../src/pki/inspect/index.js';
import { parsePem } from '../../src/pki/pem.js';
import { CERTIFICATES, fixtureText } from './fixtures.js';

/** The value after `label` on its line, trimmed. */
function field(text: string, label: string): string | undefined {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(label));
  return line?.slice(line.indexOf(label) + label.length).trim();
}

const HEX_ROW = /^\s+([0-9a-fA-F]{2}:)*[0-9a-fA-F]{2}:?$/;

/**
 * The colon-hex rows after the last line that ends with `label`, as one lowercase hex string.
 * Non-hex lines right after the label (OpenSSL's RSA-PSS parameters) are skipped.
 */
function hexAfter(text: string, label: string): string {
  const lines = text.split('\n');
  const start = lines.findLastIndex((l) => l.trimEnd().endsWith(label));
  if (start < 0) return '';
  const rest = lines.slice(start + 1);
  const first = rest.findIndex((l) => HEX_ROW.test(l));
  if (first < 0) return '';
  const rows = rest.slice(first);
  const end = rows.findIndex((l) => !HEX_ROW.test(l));
  return (end < 0 ? rows : rows.slice(0, end)).join('').replace(/[:\s]/g, '').toLowerCase();
}

/** Hex as a number, so OpenSSL's sign-padding 00 byte does not matter. */
function asNumber(hex: string): bigint | undefined {
  return hex === '' ? undefined : BigInt(`0x${hex}`);
}

/** The line after the one that starts with `label` (extension bodies). */
function lineAfter(text: string, label: string): string | undefined {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith(label));
  return i < 0 ? undefined : lines[i + 1]?.trim();
}

// 'DC = com, O = "Kitchen <&> Corp"' (OpenSSL quotes special characters) and
// 'DC=com,O=Kitchen <&> Corp' (certinfo).
function normalizeName(name: string | undefined): string | undefined {
  return name
    ?.replace(/ = /g, '=')
    .replace(/="([^"]*)"/g, '=$1')
    .replace(/, (?=[A-Za-z.0-9]+=)/g, ',');
}

// "Jul  7 07:07:07 2025 GMT" (OpenSSL) and "Jul 7 07:07:07 2025 UTC" (Go).
function normalizeTime(time: string | undefined): string | undefined {
  return time?.replace(/\s+/g, ' ').replace(/ GMT$/, ' UTC');
}

function serialOf(openssl: string): bigint {
  const inline = /Serial Number: (\d+) \(/.exec(openssl);
  if (inline) return BigInt(inline[1]!);
  return BigInt(`0x${hexAfter(openssl, 'Serial Number:')}`);
}

function expandIp(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = (ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h).map((g) => parseInt(g, 16));
  // Go prints IPv4-mapped addresses (::ffff:a.b.c.d) as plain IPv4; OpenSSL does not.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return groups.map((g) => g.toString(16)).join(':');
}

/** SAN entries as "kind:value", with IPv6 addresses spelled out so both layouts compare. */
function sanEntries(line: string | undefined): string[] {
  if (!line) return [];
  return line
    .split(', ')
    .map((entry) => {
      const [kind, ...rest] = entry.split(':');
      const value = rest.join(':');
      return kind === 'IP Address' ? `IP:${expandIp(value)}` : `${kind}:${value}`;
    })
    .filter((e) => /^(DNS|email|IP|URI):/.test(e))
    .sort();
}

function ourSans(ours: string): string[] {
  const lines = ours.split('\n');
  const start = lines.findIndex((l) => l.includes('X509v3 Subject Alternative Name:'));
  if (start < 0) return [];
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' '.repeat(16))) break;
    body.push(line.trim());
  }
  return sanEntries(body.join(', '));
}

function checkCommon(name: string, openssl: string, ours: string): void {
  assert.equal(normalizeName(field(ours, 'Subject:')), normalizeName(field(openssl, 'Subject:')), `${name} subject`);
  // OpenSSL prints no size for Ed25519 keys, which are always 256 bits.
  assert.equal(field(ours, 'Public-Key:'), field(openssl, 'Public-Key:') || '(256 bit)', `${name} key size`);
  assert.equal(asNumber(hexAfter(ours, 'Modulus:')), asNumber(hexAfter(openssl, 'Modulus:')), `${name} modulus`);
  assert.equal(field(ours, 'Exponent:'), field(openssl, 'Exponent:'), `${name} exponent`);
  checkEcPoint(name, openssl, ours);
  assert.deepEqual(ourSans(ours), sanEntries(lineAfter(openssl, 'X509v3 Subject Alternative Name:')), `${name} SANs`);
  assert.equal(lineAfter(ours, 'X509v3 Key Usage:'), lineAfter(openssl, 'X509v3 Key Usage:'), `${name} key usage`);
  assert.equal(field(ours, 'X509v3 Key Usage:'), field(openssl, 'X509v3 Key Usage:'), `${name} key usage criticality`);
  // The signature rows follow our last "Signature Algorithm: …" line and OpenSSL's "Signature Value:".
  const ourAlgorithm = ours.trimEnd().split('\n').findLast((l) => l.startsWith('    Signature Algorithm:'))!;
  const signature = hexAfter(ours, ourAlgorithm.trim());
  assert.ok(signature.length > 0, `${name} has a signature`);
  assert.equal(signature, hexAfter(openssl, 'Signature Value:'), `${name} signature`);
}

// OpenSSL prints the point as 04 || X || Y, padded to the field size; Go (and we) print X and Y as numbers.
function checkEcPoint(name: string, openssl: string, ours: string): void {
  const pub = hexAfter(openssl, 'pub:');
  if (!pub.startsWith('04')) return;
  const size = (pub.length - 2) / 4;
  const x = BigInt(`0x${pub.slice(2, 2 + 2 * size)}`);
  const y = BigInt(`0x${pub.slice(2 + 2 * size)}`);
  assert.equal(BigInt(`0x${hexAfter(ours, 'X:')}`), x, `${name} X`);
  assert.equal(BigInt(`0x${hexAfter(ours, 'Y:')}`), y, `${name} Y`);
  assert.equal(field(ours, 'Curve:'), field(openssl, 'NIST CURVE:'), `${name} curve`);
}

for (const name of CERTIFICATES) {
  test(`${name}: our long text agrees with openssl x509 -text`, () => {
    const openssl = fixtureText(`${name}.openssl.txt`);
    const ours = inspect(parsePem(fixtureText(`${name}.crt`), name), { format: 'text', short: false, bundle: false });
    assert.equal(BigInt(/Serial Number: (-?\d+)/.exec(ours)![1]!), serialOf(openssl), `${name} serial`);
    assert.equal(normalizeName(field(ours, 'Issuer:')), normalizeName(field(openssl, 'Issuer:')), `${name} issuer`);
    assert.equal(normalizeTime(field(ours, 'Not Before:')), normalizeTime(field(openssl, 'Not Before:')), `${name} not before`);
    assert.equal(normalizeTime(field(ours, 'Not After :')), normalizeTime(field(openssl, 'Not After :')), `${name} not after`);
    for (const ext of ['X509v3 Subject Key Identifier:', 'X509v3 Authority Key Identifier:', 'X509v3 Basic Constraints:']) {
      assert.equal(lineAfter(ours, ext), lineAfter(openssl, ext), `${name} ${ext}`);
    }
    checkCommon(name, openssl, ours);
    if (openssl.includes('Public Key Algorithm: ED25519')) {
      assert.equal(hexAfter(ours, 'Public-Key: (256 bit)'), hexAfter(openssl, 'pub:'), `${name} Ed25519 key`);
    }
  });
}

test('p256.csr: our long text agrees with openssl req -text', () => {
  const openssl = fixtureText('p256.openssl.txt');
  const ours = inspect(parsePem(fixtureText('p256.csr'), 'p256.csr'), { format: 'text', short: false, bundle: false });
  checkCommon('p256.csr', openssl, ours);
});

test('the short form names what openssl sees', () => {
  for (const name of CERTIFICATES) {
    const openssl = fixtureText(`${name}.openssl.txt`);
    const ours = inspect(parsePem(fixtureText(`${name}.crt`), name), { format: 'text', short: true, bundle: false });
    const serial = serialOf(openssl).toString();
    const abbreviated = serial.length > 8 ? `${serial.slice(0, 4)}...${serial.slice(-4)}` : serial;
    assert.ok(ours.includes(`[Serial: ${abbreviated}]`), `${name} serial`);
    const bits = /Public-Key: \((\d+) bit\)/.exec(openssl)?.[1];
    const curve = field(openssl, 'NIST CURVE:');
    const key = curve ? `ECDSA ${curve}` : bits ? `RSA ${bits}` : 'Ed25519 256';
    assert.ok(ours.startsWith(`X.509v3 `) && ours.includes(`(${key})`), `${name} key: ${ours.split('\n')[0]}`);
    const isCa = lineAfter(openssl, 'X509v3 Basic Constraints:')?.startsWith('CA:TRUE');
    const selfIssued = normalizeName(field(openssl, 'Issuer:')) === normalizeName(field(openssl, 'Subject:'));
    const kind = isCa ? (selfIssued ? 'Root CA' : 'Intermediate CA') : 'TLS';
    assert.ok(ours.startsWith(`X.509v3 ${kind} Certificate`), `${name} kind`);
  }
});
