// Group commit keeps SQLite's durability: kill -9 of `ca serve` (primary and workers) in the middle
// of a load loses no certificate it answered 201 for, and every token it took stays used.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { processTree } from '../fixtures/postgres.js';
import { SQLITE_FILE } from '../../src/store/index.js';
import { createCaHome, editConfig, json, makeCsr, mintToken, signJson, startServe, type CaHome, type Serving } from './helpers.js';

const TOTAL = 240;
const IN_FLIGHT = 16;
const KILL_AFTER = 60;

let idp: TestIdp;
let home: CaHome;

before(async () => {
  idp = await startIdp();
  home = await createCaHome(idp);
});
after(async () => {
  await idp.close();
  await home.cleanup();
});

interface Outcome {
  token: string;
  status: number;
  serial?: string;
}

async function sign(server: Serving, csr: string, token: string): Promise<Outcome> {
  try {
    const res = await server.request('POST', '/1.0/sign', { body: signJson(csr, token), headers: { 'content-type': 'application/json' } });
    if (res.status !== 201) return { token, status: res.status };
    const crt = String(json(res).crt);
    const { X509Certificate } = await import('node:crypto');
    return { token, status: 201, serial: BigInt(`0x${new X509Certificate(crt).serialNumber}`).toString(10) };
  } catch {
    return { token, status: 0 }; // the connection died with the server
  }
}

test('kill -9 mid-load: every certificate answered 201 is on disk, every token it took is refused after a restart', { timeout: 180_000 }, async () => {
  const csrs = await Promise.all(Array.from({ length: 8 }, () => makeCsr()));
  const server = await startServe(home, { workers: 2, captureStdout: false, maxSockets: IN_FLIGHT });
  // Minted after the start: the CA refuses tokens issued before it started.
  const tokens: string[] = [];
  for (let i = 0; i < TOTAL; i++) tokens.push(await mintToken(idp));
  const outcomes: Outcome[] = [];
  let next = 0;
  let killed = false;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    // The whole tree at once, as a power cut would: no worker gets to finish anything.
    for (const pid of processTree(server.child.pid as number).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < TOTAL && !killed) {
        const i = next++;
        const outcome = await sign(server, csrs[i % csrs.length] as string, tokens[i] as string);
        outcomes.push(outcome);
        if (outcomes.filter((o) => o.status === 201).length >= KILL_AFTER) kill();
      }
    }),
  );
  kill();
  await server.exited;
  const answered = outcomes.filter((o) => o.status === 201);
  assert.ok(answered.length >= KILL_AFTER, `${answered.length} certificates were answered before the kill`);

  // What is on disk, read directly.
  const db = new Database(join(home.caPath, 'db', SQLITE_FILE), { readonly: true });
  try {
    const recorded = new Set((db.prepare('SELECT serial FROM certificates').all() as { serial: string }[]).map((r) => r.serial));
    const missing = answered.filter((o) => !recorded.has(o.serial as string));
    assert.deepEqual(missing, [], 'every 201 survived the kill');
    const rows = db.prepare('SELECT (SELECT count(*) FROM certificates) AS certs, (SELECT count(*) FROM used_tokens) AS tokens').get() as { certs: number; tokens: number };
    assert.equal(rows.certs, rows.tokens, 'a certificate and its token are one write: as many of each');
  } finally {
    db.close();
  }

  // After a restart, every token that was answered 201 is refused; a token whose answer was lost
  // in the kill is either refused (its batch was committed) or accepted (it was not): never both.
  // The check of tokens issued before a start is off, so that only the store can refuse them.
  await editConfig(home, (config) => void ((config.authority as Record<string, unknown>).disableIssuedAtCheck = true));
  const restarted = await startServe(home, { workers: 2, captureStdout: false });
  try {
    for (const o of answered) {
      const again = await restarted.request('POST', '/1.0/sign', { body: signJson(csrs[0] as string, o.token), headers: { 'content-type': 'application/json' } });
      assert.equal(again.status, 401, 'a token answered 201 before the kill is still used');
      assert.match(String(json(again).message), /token already used/);
    }
  } finally {
    await restarted.stop();
  }
});
