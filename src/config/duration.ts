import { CaError } from '../errors.js';

/**
 * Go's time.Duration text form, which ca.json uses for every duration ("5m", "24h0m0s"). Values
 * are kept as milliseconds; sub-millisecond parts are rounded, which no certificate lifetime needs.
 */

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const GO_DURATION = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Parse a Go duration ("1h30m", "300s", "-5m"); undefined for anything else. "0" is zero, as in Go. */
export function tryParseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = GO_DURATION.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const [, num, unit] of s.matchAll(PART)) total += Number(num) * (unitMs[unit as string] ?? NaN);
  if (!Number.isFinite(total)) return undefined;
  return Math.round(m[1] === '-' ? -total : total);
}

/** Parse a Go duration or throw a CaError that names the flag or field it came from. */
export function parseDuration(text: string, what: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new CaError('ERR_DURATION_INVALID', `invalid value '${text}' for ${what}: not a duration`, {
      exitCode: 2,
      hint: 'use a Go duration such as 5m, 1h30m or 24h',
    });
  }
  return ms;
}

/** Format as Go's Duration.String() does: "24h0m0s", "5m0s", "1.5s", "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const secs = (rest / 1000).toFixed(3).replace(/\.?0+$/, '');
  if (h > 0) return `${sign}${h}h${m}m${secs}s`;
  if (m > 0) return `${sign}${m}m${secs}s`;
  return `${sign}${secs}s`;
}

/** A duration as people write it: Go's form without its zero parts (1h, 1h30m, 5m, 90ms). */
export function shortDuration(ms: number): string {
  return formatDuration(ms).replace(/([hm])0s$/, '$1').replace(/h0m$/, 'h');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** An RFC 3339 time that names a real instant (no 2026-02-30, 24:00 or +99:99); undefined otherwise. */
export function tryParseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[8] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return undefined;
  const date = new Date(text.replace(/[t ]/, 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A certificate time as step takes it: an RFC 3339 time, or a Go duration from `base`; undefined if neither. */
export function tryParseTimeOrDuration(text: string, base: Date): Date | undefined {
  const time = tryParseRfc3339(text);
  if (time) return time;
  const ms = tryParseDuration(text);
  if (ms === undefined) return undefined;
  const date = new Date(base.getTime() + ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
