// The JSON log: one object per line, written in atomic pieces, never a token or a key.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { jsonLineLog, redact } from '../../src/server/log.js';

test('lines are batched per turn and written in pieces of at most 4096 bytes, whole lines only', async () => {
  const out = new PassThrough();
  const writes: string[] = [];
  out.on('data', (c: Buffer) => writes.push(c.toString()));
  const log = jsonLineLog(out, () => new Date('2026-01-02T03:04:05Z'));
  for (let i = 0; i < 100; i++) log({ level: 'info', n: i, pad: 'x'.repeat(100) });
  assert.equal(writes.length, 0, 'nothing written in the same turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(writes.length > 1);
  for (const w of writes) {
    assert.ok(Buffer.byteLength(w) <= 4096);
    assert.ok(w.endsWith('\n'));
  }
  const lines = writes.join('').trim().split('\n').map((l) => JSON.parse(l) as { time: string; n: number });
  assert.deepEqual(lines.map((l) => l.n), Array.from({ length: 100 }, (_, i) => i));
  assert.equal(lines[0]?.time, '2026-01-02T03:04:05.000Z');
});

test('anything shaped like a JWT or a private key is redacted', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  assert.equal(redact(`cannot parse ${jwt} here`), 'cannot parse [redacted token] here');
  assert.equal(redact('a -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY----- b'), 'a [redacted key] b');
  assert.equal(redact('{"status":200}'), '{"status":200}');
});
