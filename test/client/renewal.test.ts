// When `ca renew --daemon` renews, and how its loop answers signals, failures and refusals: the
// schedule is step's arithmetic, the loop runs with real timers and a real EventEmitter for signals.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { isRefusal, renewalDelay, retryDelay, runRenewalDaemon, type RenewalJob, type Validity } from '../../src/client/renewal.js';
import { CaError } from '../../src/errors.js';

const HOUR = 3_600_000;
const now = new Date('2026-11-23T12:00:00Z');
const cert = (fromHoursAgo: number, lifetimeHours: number): Validity => ({
  notBefore: new Date(now.getTime() - fromHoursAgo * HOUR),
  notAfter: new Date(now.getTime() + (lifetimeHours - fromHoursAgo) * HOUR),
});

test("step's schedule: two thirds of the lifetime minus a jitter of up to a twentieth", () => {
  const fresh = cert(0, 24);
  assert.equal(renewalDelay(fresh, now, {}, () => 0), 16 * HOUR);
  assert.equal(renewalDelay(fresh, now, {}, () => 0.999999), Math.floor(16 * HOUR - 0.999999 * 1.2 * HOUR));
  // Halfway through, a third still left: renew in the remaining sixth.
  assert.equal(renewalDelay(cert(12, 24), now, {}, () => 0), 4 * HOUR);
  // Past the point: at once; close to it (less than a twentieth): somewhere before it.
  assert.equal(renewalDelay(cert(20, 24), now, {}, () => 0.5), 0);
  assert.equal(renewalDelay(cert(15.5, 24), now, {}, () => 0.5), 0.25 * HOUR);
  // --expires-in moves the point; --renew-period replaces the schedule.
  assert.equal(renewalDelay(fresh, now, { expiresInMs: 2 * HOUR }, () => 0), 22 * HOUR);
  assert.equal(renewalDelay(fresh, now, { renewPeriodMs: 5_000 }), 5_000);
  assert.equal(renewalDelay(cert(23.9999, 24), now, { renewPeriodMs: 5 * HOUR }), 0, 'expires before the next period: now');
});

test('retries wait longer each time, within a cap that follows the lifetime', () => {
  const day = 24 * HOUR;
  const waits = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50].map((n) => retryDelay(n, day, () => 0.5));
  assert.equal(waits[0], 5_000);
  for (let i = 1; i < waits.length; i++) assert.ok((waits[i] as number) >= (waits[i - 1] as number), `grows: ${waits.join(', ')}`);
  assert.equal(waits.at(-1), 5 * 60_000, 'capped at five minutes for a day-long certificate');
  const short = [1, 2, 3, 10, 100].map((n) => retryDelay(n, 2 * 60_000, () => 0.5));
  assert.deepEqual([short[0], short.at(-1)], [2_400, 12_000], 'a two-minute certificate: from 2.4 s, at most 12 s');
  for (let i = 0; i < 100; i++) {
    const w = retryDelay(3, day);
    assert.ok(w >= 16_000 && w <= 24_000, `jitter within ±20%: ${w}`);
  }
});

test('a 4xx answer from the CA is a refusal; a network failure or a 5xx is worth retrying', () => {
  assert.equal(isRefusal(new CaError('ERR_CA_RESPONSE', 'revoked', { status: 401 })), true);
  assert.equal(isRefusal(new CaError('ERR_CA_RESPONSE', 'disabled', { status: 403 })), true);
  assert.equal(isRefusal(new CaError('ERR_CA_RESPONSE', 'oops', { status: 503 })), false);
  assert.equal(isRefusal(new CaError('ERR_NETWORK', 'cannot reach')), false);
  assert.equal(isRefusal(new Error('x')), false);
});

/** A job whose renewals succeed or fail as scripted; each success extends the certificate. */
function scriptedJob(outcomes: (Error | 'ok')[], lifetimeMs: number) {
  let validity: Validity = { notBefore: new Date(), notAfter: new Date(Date.now() + lifetimeMs) };
  const calls: string[] = [];
  const job: RenewalJob = {
    current: () => validity,
    async renew() {
      const next = outcomes.shift() ?? 'ok';
      calls.push(next === 'ok' ? 'renew' : 'fail');
      if (next !== 'ok') throw next;
      validity = { notBefore: new Date(), notAfter: new Date(Date.now() + lifetimeMs) };
      return `renewed #${calls.length}`;
    },
    async afterRenewal() {
      calls.push('hook');
    },
  };
  return { job, calls };
}

function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

test('the daemon renews on schedule, runs the hook after each renewal, retries failures and stops on SIGTERM', async () => {
  const signals = new EventEmitter();
  const lines: string[] = [];
  const { job, calls } = scriptedJob(['ok', new CaError('ERR_NETWORK', 'cannot reach 127.0.0.1:1'), 'ok'], 60_000);
  const done = runRenewalDaemon(job, { renewPeriodMs: 50 }, { now: () => new Date(), signals, log: (l) => lines.push(l) });
  assert.match(lines[0] ?? '', /^first renewal in 0s \(at \d{4}-\d\d-\d\dT[\d:]+Z\)$/);
  await until(() => calls.filter((c) => c === 'renew').length >= 3);
  signals.emit('SIGTERM');
  await done;
  assert.deepEqual(calls.slice(0, 5), ['renew', 'hook', 'fail', 'renew', 'hook']);
  assert.match(lines.join('\n'), /renewed #1; next renewal in 0s/);
  assert.match(lines.join('\n'), /cannot renew \(attempt 1\): cannot reach 127\.0\.0\.1:1; trying again in \d+s/);
  assert.equal(lines.at(-1), 'SIGTERM: stopping');
  assert.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGHUP') + signals.listenerCount('SIGINT'), 0, 'listeners removed');
});

test('SIGHUP renews at once; a refusal ends the daemon with the CA\'s answer', async () => {
  const signals = new EventEmitter();
  const lines: string[] = [];
  const revoked = new CaError('ERR_CA_RESPONSE', 'certificate 42 was revoked', { status: 401 });
  const { job, calls } = scriptedJob(['ok', revoked], 24 * HOUR);
  const done = runRenewalDaemon(job, {}, { now: () => new Date(), signals, log: (l) => lines.push(l) });
  assert.match(lines[0] ?? '', /^first renewal in 1\dh\d+m\d+s/);
  signals.emit('SIGHUP');
  await until(() => calls.includes('hook'));
  signals.emit('SIGHUP');
  await assert.rejects(done, (err) => err === revoked);
  assert.deepEqual(calls, ['renew', 'hook', 'fail']);
  assert.equal(lines.filter((l) => l === 'SIGHUP: renewing now').length, 2);
  assert.equal(signals.listenerCount('SIGHUP'), 0);
});
