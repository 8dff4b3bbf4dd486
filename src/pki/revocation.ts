/**
 * The words of revocation: RFC 5280's CRLReason codes with the names step prints and accepts, and
 * serial numbers as people type them (decimal, as step prints them, or hex with 0x).
 */
import { UsageError } from '../errors.js';
import { REASON_NAMES } from './crl.js';

/** RFC 5280 5.3.1 CRLReason (7 is not used), as step's CRL inspect prints them. */
export const REVOCATION_REASONS: Readonly<Record<number, string>> = {
  0: 'Unspecified',
  1: 'Key Compromise',
  2: 'CA Compromise',
  3: 'Affiliation Changed',
  4: 'Superseded',
  5: 'Cessation Of Operation',
  6: 'Certificate Hold',
  8: 'Remove From CRL',
  9: 'Privilege Withdrawn',
  10: 'AA Compromise',
};

/** The reason's name, or step's text for a code it does not know. */
export function reasonName(code: number): string {
  return REVOCATION_REASONS[code] ?? `ReasonCode(${code}): unknown`;
}

/** RFC 5280's names (pki/crl.ts), compared as step does: case and blanks ignored. */
const BY_NAME = new Map(Object.entries(REASON_NAMES).map(([code, name]) => [name.toLowerCase(), Number(code)]));

/**
 * `--reasonCode`: a number 0-10 (not 7), or a name in any case with or without blanks
 * (`keyCompromise`, `"key compromise"`), as step takes it. Absent means 0, unspecified.
 */
export function parseReasonCode(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 0;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const code = Number(text);
    if (REVOCATION_REASONS[code] === undefined) {
      throw new UsageError(`invalid value '${value}' for flag '--reasonCode': RFC 5280 reason codes are 0 to 10, except 7`, { hint: reasonHint() });
    }
    return code;
  }
  const code = BY_NAME.get(text.replace(/\s+/g, '').toLowerCase());
  if (code === undefined) throw new UsageError(`unrecognized revocation reason code '${value}'`, { hint: reasonHint() });
  return code;
}

function reasonHint(): string {
  return `use a number or one of: ${Object.values(REASON_NAMES).join(', ')}`;
}

/** A serial as step takes it (decimal, or hex with 0x), in decimal; a usage error otherwise. */
export function parseSerial(value: string): string {
  const text = value.trim();
  if (/^\d+$/.test(text)) return BigInt(text).toString(10);
  if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text).toString(10);
  throw new UsageError(`'${value}' is not a valid serial number`, {
    hint: "use decimal, as 'ca inspect' prints it, or hex with a 0x prefix",
  });
}
