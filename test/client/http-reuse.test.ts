/**
 * A kept-alive connection that the server closes just as the client reuses it (an IdP's idle
 * timeout running out while the user logs in in the browser): the request is sent again once on a
 * new connection, as Node documents, instead of failing the login with "socket hang up".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { makeClosableFetch } from '../../src/client/http.js';

test('a request on a reused socket that the server closed is sent again on a new connection', async (t) => {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket: Socket) => {
    sockets.add(socket);
    const connection = ++connections;
    let requests = 0;
    socket.on('data', (chunk: Buffer) => {
      if (!chunk.includes('\r\n\r\n')) return;
      requests++;
      // The first connection answers one request and drops the next one unanswered.
      if (connection === 1 && requests === 2) {
        socket.destroy();
        return;
      }
      const body = `connection ${connection} request ${requests}`;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as { port: number };
  const { fetch, close } = makeClosableFetch({ env: {} });
  t.after(close);

  assert.equal(await (await fetch(`http://127.0.0.1:${port}/discovery`)).text(), 'connection 1 request 1');
  const res = await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST', body: 'code=abc' });
  assert.equal(await res.text(), 'connection 2 request 1');
  assert.equal(connections, 2);
});
