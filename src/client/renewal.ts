/**
 * When to renew a certificate, and the loop of `ca renew --daemon`: step's schedule (two thirds of
 * the lifetime, a little earlier at random so a fleet spreads out), retries with a growing, capped
 * wait while the CA cannot be reached, SIGHUP to renew at once, SIGTERM/SIGINT to stop. The
 * renewal itself (the request, the files, the hooks) is the caller's; this module only decides when.
 */
import type { EventEmitter } from 'node:events';
import { formatDuration } from '../config/duration.js';
import { CaError, describe } from '../errors.js';

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface ScheduleOptions {
  /** Renew when this much time is left (step's --expires-in); default a third of the lifetime. */
  expiresInMs?: number;
  /** Renew every this often instead (step's --renew-period). */
  renewPeriodMs?: number;
}

/**
 * How long to wait before the next renewal, as step's nextRenewDuration: at `notAfter -
 * expiresIn` (a third of the validity by default) minus a jitter of up to validity/20; with a
 * renew period, every period (at once if the certificate would expire before the next one).
 */
export function renewalDelay(cert: Validity, now: Date, opts: ScheduleOptions = {}, random: () => number = Math.random): number {
  const left = cert.notAfter.getTime() - now.getTime();
  if (opts.renewPeriodMs && opts.renewPeriodMs > 0) return left - opts.renewPeriodMs <= 0 ? 0 : opts.renewPeriodMs;
  const validity = cert.notAfter.getTime() - cert.notBefore.getTime();
  const due = left - (opts.expiresInMs && opts.expiresInMs > 0 ? opts.expiresInMs : validity / 3);
  if (due <= 0) return 0;
  if (due < validity / 20) return Math.floor(random() * due);
  return Math.floor(due - random() * (validity / 20));
}

/**
 * The wait before retry number `failures` (1, 2, ...): doubling from a short base, capped, with a
 * little jitter. Both scale with the certificate's lifetime, so a two-minute certificate retries
 * every few seconds and a day-long one backs off to five minutes.
 */
export function retryDelay(failures: number, validityMs: number, random: () => number = Math.random): number {
  const base = Math.min(5_000, Math.max(500, validityMs / 50));
  const cap = Math.min(5 * 60_000, Math.max(base, validityMs / 10));
  const wait = Math.min(cap, base * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  return Math.round(wait * (0.8 + 0.4 * random()));
}

/** A CA that answered with a refusal (4xx): trying again will not change its mind. */
export function isRefusal(err: unknown): boolean {
  return err instanceof CaError && err.code === 'ERR_CA_RESPONSE' && err.status >= 400 && err.status < 500;
}

export interface RenewalJob {
  /** The certificate in force (what the next renewal is scheduled from). */
  current(): Validity;
  /** Renew and save; resolves with what to say about the new certificate. `signal` aborts on shutdown. */
  renew(signal: AbortSignal): Promise<string>;
  /** Run after every successful renewal (--pid/--signal, --exec); a failure is logged, not fatal. */
  afterRenewal(): Promise<void>;
}

export interface DaemonDeps {
  now: () => Date;
  /** Where SIGHUP, SIGINT and SIGTERM arrive (the process). */
  signals: EventEmitter;
  /** One line of the daemon's log (stderr). */
  log: (line: string) => void;
  random?: () => number;
}

/** setTimeout's ceiling (~24.8 days); longer waits are taken in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function when(now: Date, delayMs: number): string {
  return `${formatDuration(Math.round(delayMs / 1000) * 1000)} (at ${new Date(now.getTime() + delayMs).toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
}

/**
 * Renew on schedule until SIGTERM or SIGINT (resolves) or until the CA refuses (rejects with its
 * answer: a revoked certificate, renewal disabled, an expired one; retrying would not help).
 */
export function runRenewalDaemon(job: RenewalJob, opts: ScheduleOptions, deps: DaemonDeps): Promise<void> {
  const random = deps.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let dueAt = 0;
  let failures = 0;
  let inFlight: Promise<void> | undefined;
  let stopping = false;
  const abort = new AbortController();

  return new Promise<void>((resolve, reject) => {
    const finish = (err?: unknown): void => {
      stopping = true;
      clearTimeout(timer);
      for (const [sig, fn] of handlers) deps.signals.off(sig, fn);
      abort.abort();
      void (inFlight ?? Promise.resolve()).then(() => (err === undefined ? resolve() : reject(err)));
    };

    const schedule = (delayMs: number): void => {
      clearTimeout(timer);
      dueAt = deps.now().getTime() + delayMs;
      const wake = (): void => {
        const left = dueAt - deps.now().getTime();
        if (left > 0) timer = setTimeout(wake, Math.min(left, MAX_TIMER_MS));
        else attempt();
      };
      timer = setTimeout(wake, Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    };

    const attempt = (): void => {
      if (stopping || inFlight) return;
      clearTimeout(timer);
      inFlight = (async () => {
        try {
          const summary = await job.renew(abort.signal);
          failures = 0;
          const next = renewalDelay(job.current(), deps.now(), opts, random);
          deps.log(`${summary}; next renewal in ${when(deps.now(), next)}`);
          try {
            await job.afterRenewal();
          } catch (err) {
            deps.log(`after the renewal: ${describe(err)}`);
          }
          if (!stopping) schedule(next);
        } catch (err) {
          if (stopping) return;
          if (isRefusal(err)) {
            inFlight = undefined;
            finish(err);
            return;
          }
          failures += 1;
          const cert = job.current();
          const wait = retryDelay(failures, cert.notAfter.getTime() - cert.notBefore.getTime(), random);
          deps.log(`cannot renew (attempt ${failures}): ${describe(err)}; trying again in ${when(deps.now(), wait)}`);
          schedule(wait);
        } finally {
          inFlight = undefined;
        }
      })();
    };

    const handlers: [NodeJS.Signals, () => void][] = [
      [
        'SIGHUP',
        () => {
          if (inFlight) {
            deps.log('SIGHUP: a renewal is already under way');
            return;
          }
          deps.log('SIGHUP: renewing now');
          attempt();
        },
      ],
      [
        'SIGTERM',
        () => {
          deps.log('SIGTERM: stopping');
          finish();
        },
      ],
      [
        'SIGINT',
        () => {
          deps.log('SIGINT: stopping');
          finish();
        },
      ],
    ];
    for (const [sig, fn] of handlers) deps.signals.on(sig, fn);

    const first = renewalDelay(job.current(), deps.now(), opts, random);
    deps.log(`first renewal in ${when(deps.now(), first)}`);
    schedule(first);
  });
}
