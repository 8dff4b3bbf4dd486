// Connections that never finish: hundreds at once against the real `ca serve`, in every state a
// connection can stall in (TCP only, part of a TLS handshake, a handshake trickled a byte at a
// time, TLS with no request, part of the headers, headers trickled, part of a body, idle
// keep-alive, pipelined requests whose answers are never read). The clients never close and
// never read (except where a state needs it), so only the server can end them; after the bound
// each client writes again, which a released server socket answers with a reset: the count of
// closed sockets is taken on the client side.
import assert from 'node:assert/strict';
import { connect as netConnect, createServer as netServer, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { createCaHome, startServe, type CaHome, type Serving } from './helpers.js';

/** Connections of each kind; ten kinds make four hundred at once. */
const EACH = 40;
/**
 * The server cuts a handshake after 10 s, headers after 10 s, a request after 30 s, idle
 * keep-alive after 15 s and a silent socket after 30 s; this bound only has to be generous.
 */
const BOUND_MS = 50_000;

/** A real ClientHello, captured from Node's TLS client talking to a plain TCP listener. */
async function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = netServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      const client = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
      client.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

interface Tracked {
  kind: string;
  socket: Socket;
  closed: boolean;
}

/** Write `bytes` one at a time, one every `everyMs`, until the socket closes or the bytes run out. */
function trickle(socket: Socket, bytes: Buffer, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= bytes.length || socket.destroyed) return clearInterval(timer);
    socket.write(bytes.subarray(i, i + 1));
    i += 1;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

describe('ca serve: connections that never finish are closed', () => {
  let idp: TestIdp;
  let home: CaHome;
  let server: Serving;

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp);
    server = await startServe(home, { workers: 2 });
  });

  after(async () => {
    await server?.stop();
    await idp?.close();
    await home?.cleanup();
  });

  test(`${EACH * 10} stalled connections at once: the server closes every one within the bound`, { timeout: BOUND_MS + 90_000 }, async () => {
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16, 'a TLS handshake record');
    const { port } = server;
    // allowHalfOpen: a client that gets the server's FIN does not answer with its own.
    const tcp = (): Socket => netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    /** A TLS connection that completed its handshake (verified against the CA's root). */
    const tls = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        // tls.connect passes allowHalfOpen on to the socket; @types/node does not list it.
        const options = { host: '127.0.0.1', port, servername: 'localhost', ca: home.rootPem, allowHalfOpen: true } as ConnectionOptions;
        const s = tlsConnect(options, () => resolve(s));
        assert.equal(s.allowHalfOpen, true);
        s.once('error', reject);
      });

    const kinds: Record<string, () => Promise<Socket>> = {
      'TCP, nothing sent': async () => tcp(),
      'TCP, one byte': async () => {
        const s = tcp();
        s.write(Buffer.from([0x16]));
        return s;
      },
      'half a ClientHello': async () => {
        const s = tcp();
        s.write(hello.subarray(0, Math.floor(hello.length / 2)));
        return s;
      },
      'a ClientHello trickled, a byte every 2 s': async () => {
        const s = tcp();
        trickle(s, hello, 2_000);
        return s;
      },
      'TLS, no request': () => tls(),
      'TLS, half the headers': async () => {
        const s = await tls();
        s.write('GET /health HTTP/1.1\r\nHost: localhost\r\n');
        return s;
      },
      'TLS, headers trickled, a byte every 2 s': async () => {
        const s = await tls();
        trickle(s, Buffer.from(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`), 2_000);
        return s;
      },
      'TLS, part of a body': async () => {
        const s = await tls();
        s.write('POST /1.0/sign HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"csr":');
        return s;
      },
      'TLS, idle keep-alive after a response': async () => {
        const s = await tls();
        const answered = new Promise<void>((resolve) => s.once('data', () => resolve()));
        s.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');
        await answered;
        s.pause();
        return s;
      },
      'TLS, pipelined requests, answers never read': async () => {
        const s = await tls();
        s.write('GET /roots.pem HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(200));
        return s;
      },
    };

    const all: Tracked[] = [];
    for (const [kind, open] of Object.entries(kinds)) {
      const sockets = await Promise.all(Array.from({ length: EACH }, () => open()));
      for (const socket of sockets) {
        const tracked: Tracked = { kind, socket, closed: false };
        socket.on('error', () => undefined);
        socket.once('close', () => (tracked.closed = true));
        all.push(tracked);
      }
    }
    assert.equal(all.length, EACH * 10);

    // The server still answers while they stall.
    assert.equal((await server.request('GET', '/health')).status, 200);

    await sleep(BOUND_MS);
    // A socket the server let go of answers new bytes with a reset; one it still holds takes
    // them in. Read what is waiting and write twice (the second write meets the reset).
    for (let round = 0; round < 2; round += 1) {
      for (const c of all) {
        if (c.closed) continue;
        c.socket.resume();
        c.socket.write('\r\n');
      }
      await sleep(1_000);
    }
    const open = new Map<string, number>();
    for (const c of all.filter((t) => !t.closed)) {
      open.set(c.kind, (open.get(c.kind) ?? 0) + 1);
      c.socket.destroy();
    }
    assert.deepEqual(Object.fromEntries(open), {}, `connections the server still held after ${BOUND_MS / 1000} s, by kind`);

    // And it still serves afterwards.
    assert.equal((await server.request('GET', '/health')).status, 200);
  });
});
