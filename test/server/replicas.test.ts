/**
 * Several `ca serve` replicas on one PostgreSQL, as admins run them behind a load balancer: three
 * real server processes started from one CA home (same ca.json, same keys) on their own ports, a
 * real throwaway PostgreSQL (test/fixtures/postgres.ts), the real test IdP for tokens. They must
 * behave as one CA: a token gives one certificate whichever replicas it reaches and whenever,
 * nothing answered 201 is lost when a replica dies, and a database outage is a fast 503 that heals
 * by itself.
 *
 * Every load here is bounded by a count of requests and by time, and stops by itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { x509 } from '../../src/pki/crypto.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { CA_DB_PASSWORD, startPostgres, type TestPostgres } from '../fixtures/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { createCaHome, json, makeCsr, mintToken, setDatabase, signJson, startServe, type CaHome, type Response, type Serving } from './helpers.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-schema.js';

/** No request may hang longer than this, database down or not (a bound, not a speed check). */
const ANSWER_WITHIN_MS = 10_000;

let idp: TestIdp;
let pgt: TestPostgres;
let home: CaHome;
let database: string;
let replicas: Serving[] = [];
let csrs: string[] = [];
/** Every token a replica answered 201 for, and the serial it got. */
const issued = new Map<string, string>();

before(async () => {
  [idp, pgt] = await Promise.all([startIdp(), startPostgres()]);
  home = await createCaHome(idp);
  // Not created beforehand: the replicas create it (as step-ca does) and migrate it, all at once.
  database = `ca_replicas_${process.pid}`;
  await setDatabase(home, { type: 'postgresql', dataSource: pgt.url(), database });
  csrs = await Promise.all(Array.from({ length: 8 }, () => makeCsr()));
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
  await idp?.close();
  await pgt?.close();
  await home?.cleanup();
});

/** Replica 0 runs two workers (a replica is a whole `ca serve`); the others one each, to spare the CPU. */
function startReplica(index: number): Promise<Serving> {
  return startServe(home, { workers: index === 0 ? 2 : 1 });
}

function sign(replica: Serving, token: string, n = 0): Promise<Response> {
  return replica.request('POST', '/1.0/sign', { body: signJson(csrs[n % csrs.length] as string, token), headers: { 'content-type': 'application/json' }, timeoutMs: ANSWER_WITHIN_MS });
}

/** The decimal serial of the certificate in a 201 answer (the form the store keeps). */
function serialOf(res: Response): string {
  const crt = json(res).crt as string;
  return BigInt(`0x${new x509.X509Certificate(crt).serialNumber}`).toString();
}

async function countRows(): Promise<{ certificates: number; usedTokens: number }> {
  const [row] = await pgt.query<{ c: string; t: string }>('SELECT (SELECT count(*) FROM certificates) AS c, (SELECT count(*) FROM used_tokens) AS t', [], database);
  return { certificates: Number(row?.c), usedTokens: Number(row?.t) };
}

async function missingSerials(serials: string[]): Promise<string[]> {
  const rows = await pgt.query<{ serial: string }>('SELECT serial FROM certificates WHERE serial = ANY($1)', [serials], database);
  const found = new Set(rows.map((r) => r.serial));
  return serials.filter((s) => !found.has(s));
}

interface Outcome {
  token: string;
  replica: number;
  status?: number;
  body?: string;
  retryAfter?: string;
  /** No answer: the connection failed or the bound passed. */
  error?: string;
}

interface Load {
  outcomes: Outcome[];
  /** Ask the load to stop (it also stops after `max` requests); resolves when the last request is done. */
  stop(): Promise<void>;
  done: Promise<void>;
}

/**
 * Round-robin signing over the replicas `targets()` returns, `inFlight` at a time, each with a
 * fresh token, until stop() or `max` requests.
 */
function startLoad(opts: { targets: () => number[]; inFlight: number; max: number }): Load {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (!stopped && sent < opts.max) {
      const n = sent++;
      const live = opts.targets();
      const replica = live[n % live.length] as number;
      const token = await mintToken(idp);
      const outcome: Outcome = { token, replica };
      try {
        const res = await sign(replicas[replica] as Serving, token, n);
        outcome.status = res.status;
        outcome.body = res.body;
        outcome.retryAfter = res.headers['retry-after'] as string | undefined;
        if (res.status === 201) issued.set(token, serialOf(res));
      } catch (err) {
        outcome.error = String(err);
      }
      outcomes.push(outcome);
    }
  };
  const done = Promise.all(Array.from({ length: opts.inFlight }, worker)).then(() => undefined);
  return {
    outcomes,
    done,
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

/** Resolves once `cond()` holds; a bounded wait. */
async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const all = (): number[] => replicas.map((_, i) => i);

describe('three ca serve replicas on one PostgreSQL', () => {
  test('start at the same moment on a database that does not exist yet: it is created and migrated once', async () => {
    replicas = await Promise.all([0, 1, 2].map(startReplica));
    assert.equal(new Set(replicas.map((r) => r.port)).size, 3, 'three ports');
    const rows = await pgt.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], database);
    assert.deepEqual(
      rows.map((r) => r.version),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    for (const r of replicas) assert.equal((await r.request('GET', '/health')).status, 200);
  });

  test('the same token sent to all three at the same instant, many times: exactly one 201 each time', async () => {
    for (let round = 0; round < 25; round++) {
      const token = await mintToken(idp);
      const answers = await Promise.all(replicas.map((r, i) => sign(r, token, round + i)));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, 401, 401], `round ${round}: ${answers.map((a) => `${a.status} ${a.body.trim()}`).join(' | ')}`);
      const winner = answers.find((a) => a.status === 201) as Response;
      issued.set(token, serialOf(winner));
    }
  });

  test('round-robin load over the replicas: zero errors, every certificate recorded; SIGHUP still reloads each', async () => {
    const load = startLoad({ targets: all, inFlight: 6, max: 150 });
    await load.done;
    const failures = load.outcomes.filter((o) => o.status !== 201);
    assert.deepEqual(failures, [], 'every request got its certificate');
    assert.equal(load.outcomes.length, 150);
    for (const i of all()) assert.equal(load.outcomes.filter((o) => o.replica === i).length, 50, `replica ${i} took its share`);
    const serials = load.outcomes.map((o) => issued.get(o.token) as string);
    assert.deepEqual(await missingSerials(serials), []);

    for (const r of replicas) r.child.kill('SIGHUP');
    await Promise.all(replicas.map((r) => r.waitForStderr(/reloaded the configuration/)));
    assert.equal((await sign(replicas[1] as Serving, await mintToken(idp))).status, 201, 'signing after the reload');
  });

  test('PostgreSQL stopped and started under load: fast 503s, /health says so, service comes back without a restart', async () => {
    const pids = replicas.map((r) => r.child.pid);
    const load = startLoad({ targets: all, inFlight: 4, max: 2_000 });
    const count201 = (): number => load.outcomes.filter((o) => o.status === 201).length;
    let health: Response | undefined;
    try {
      await until(() => count201() >= 20, 'signing before the outage');
      await pgt.stop();
      const stoppedAt = load.outcomes.length;
      await until(() => load.outcomes.slice(stoppedAt).filter((o) => o.status === 503).length >= 12, '503s while the database is down');
      health = await (replicas[1] as Serving).request('GET', '/health', { timeoutMs: ANSWER_WITHIN_MS });
      await pgt.start();
      const startedAt = load.outcomes.length;
      await until(() => load.outcomes.slice(startedAt).filter((o) => o.status === 201).length >= 20, 'signing after the database is back');
    } finally {
      await load.stop();
    }

    assert.equal(health?.status, 503, `/health while the database is down: ${health?.body}`);
    assert.match(json(health as Response).message as string, /cannot reach its database/);
    for (const r of replicas) assert.equal((await r.request('GET', '/health')).status, 200, '/health is ok again');

    const noAnswer = load.outcomes.filter((o) => o.error !== undefined);
    assert.deepEqual(noAnswer, [], `every request was answered within ${ANSWER_WITHIN_MS} ms`);
    const odd = load.outcomes.filter((o) => o.status !== 201 && o.status !== 503);
    assert.deepEqual(odd, [], 'each answer is a certificate or a 503');
    for (const o of load.outcomes.filter((x) => x.status === 503)) {
      const body = JSON.parse(o.body as string) as { status: number; message: string };
      assert.deepEqual(Object.keys(body).sort(), ['message', 'status']);
      assert.equal(body.status, 503);
      assert.match(body.message, /cannot reach its database right now; please try again shortly/);
      assert.equal(o.retryAfter, '1');
    }
    const answered = load.outcomes.filter((o) => o.status === 201).map((o) => issued.get(o.token) as string);
    assert.deepEqual(await missingSerials(answered), [], 'every 201 is recorded');
    assert.deepEqual(
      replicas.map((r) => r.child.pid),
      pids,
      'no replica was restarted',
    );
    for (const r of replicas) assert.equal(r.child.exitCode, null);
    assert.match(replicas.map((r) => r.stdout()).join(''), /the database is unavailable/, 'the log says the database went away');
  });

  test('kill -9 of a replica mid-load: nothing it answered 201 for is lost, no token is accepted twice', async () => {
    const dead = new Set<number>();
    const load = startLoad({ targets: () => all().filter((i) => !dead.has(i)), inFlight: 6, max: 150 });
    await until(() => load.outcomes.length >= 40, 'the load to get going');
    dead.add(2);
    (replicas[2] as Serving).child.kill('SIGKILL');
    await load.done;
    await (replicas[2] as Serving).exited;

    const byReplica2 = load.outcomes.filter((o) => o.replica === 2 && o.status === 201);
    assert.ok(byReplica2.length > 0, 'the killed replica had answered some');
    const answered = load.outcomes.filter((o) => o.status === 201);
    assert.deepEqual(await missingSerials(answered.map((o) => issued.get(o.token) as string)), [], 'every 201 is recorded, from the killed replica too');
    assert.deepEqual(
      load.outcomes.filter((o) => o.replica !== 2 && o.status !== 201),
      [],
      'the surviving replicas answered every request',
    );

    // Each certificate was recorded with its token in one statement: as many rows of each.
    const rows = await countRows();
    assert.equal(rows.certificates, rows.usedTokens, 'one used token per certificate');

    // Every token the killed replica took (answered or not) and every 201 token, again, at the survivors.
    const retries = load.outcomes.filter((o) => o.replica === 2 || o.status === 201);
    const again = await Promise.all(retries.map((o, i) => sign(replicas[i % 2] as Serving, o.token, i)));
    again.forEach((res, i) => {
      const first = retries[i] as Outcome;
      if (first.status === 201) assert.equal(res.status, 401, 'a token answered 201 is never accepted again');
      else assert.ok(res.status === 201 || res.status === 401, `a token whose answer was lost: ${res.status}`);
      if (res.status === 201) issued.set(first.token, serialOf(res));
    });
    const after = await countRows();
    assert.equal(after.certificates, after.usedTokens);

    replicas[2] = await startReplica(2);
  });

  test('a restart of every replica: used tokens are still refused', async () => {
    const exits = await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0, 0],
    );
    replicas = await Promise.all([0, 1, 2].map(startReplica));
    const used = [...issued.keys()].slice(0, 30);
    const answers = await Promise.all(used.map((token, i) => sign(replicas[i % 3] as Serving, token, i)));
    assert.deepEqual(
      answers.map((a) => a.status),
      used.map(() => 401),
    );
    assert.equal((await sign(replicas[0] as Serving, await mintToken(idp))).status, 201, 'a new token still works');
  });

  test('start-up with a wrong password or no database at the address: one line naming it, never the password, non-zero exit', async () => {
    const wrong = 'wrong-password-51c3';
    const cases = [
      { url: pgt.url({ password: wrong }), reason: /password authentication failed for user "ca"/, port: pgt.port },
      { url: `postgresql://ca:${wrong}@127.0.0.1:1/`, reason: /ECONNREFUSED/, port: 1 },
    ];
    for (const [i, c] of cases.entries()) {
      const configPath = `${home.dir}/bad-db-${i}.json`;
      await setDatabase(home, { type: 'postgresql', dataSource: c.url, database }, configPath);
      const res = await runCli(['serve', '--ca-config', configPath, '--password-file', home.passwordFile], { env: { ...home.env, CA_WORKERS: String(i + 1) } });
      assert.notEqual(res.code, 0);
      const errors = res.stderr.split('\n').filter((l) => l.startsWith('ca: '));
      assert.equal(errors.length, 1, res.stderr);
      assert.match(errors[0] as string, new RegExp(`^ca: cannot connect to the PostgreSQL database "${database}" at 127\\.0\\.0\\.1:${c.port} \\(user "ca"\\): `));
      assert.match(errors[0] as string, c.reason);
      assert.doesNotMatch(res.stderr + res.stdout, new RegExp(wrong));
      assert.doesNotMatch(res.stderr + res.stdout, new RegExp(CA_DB_PASSWORD));
    }
    // The password may stay out of ca.json altogether.
    const configPath = `${home.dir}/env-password.json`;
    await setDatabase(home, { type: 'postgresql', dataSource: pgt.url({ password: null }), database }, configPath);
    const fromEnv = await startServe(home, { workers: 1, args: ['--ca-config', configPath, '--password-file', home.passwordFile], env: { PGPASSWORD: CA_DB_PASSWORD } });
    try {
      assert.equal((await sign(fromEnv, await mintToken(idp))).status, 201);
    } finally {
      await fromEnv.stop();
    }
  });
});
