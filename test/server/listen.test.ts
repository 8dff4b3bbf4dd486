// `ca serve` where it cannot listen: a usage problem with the address to change, never "a bug".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { listenError } from '../../src/server/listen.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { runCli } from '../helpers/run-cli.js';
import { createCaHome, editConfig, type CaHome } from './helpers.js';

const setAddress = (home: CaHome, address: string): Promise<void> => editConfig(home, (config) => void (config.address = address));

describe('ca serve: an address it cannot listen on', () => {
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

  test('a port another process holds: exit 1, the address, the process and the ca.json field to change', async (t) => {
    const holder = spawn(process.execPath, ['-e', "require('net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port) })"], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill());
    const [chunk] = (await once(holder.stdout, 'data')) as [Buffer];
    const port = Number(chunk.toString().trim());
    await setAddress(home, `127.0.0.1:${port}`);
    for (const workers of ['1', '2']) {
      const res = await runCli(['serve', '--password-file', home.passwordFile], { env: { ...home.env, CA_WORKERS: workers } });
      assert.equal(res.code, 1, res.stderr);
      assert.doesNotMatch(res.stderr, /internal error|this is a bug/);
      const line = new RegExp(`ca: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use by \\S*node -e .* \\(pid ${holder.pid}\\)\\n {2}try: stop that process, or set another port in "address" in \\S+ca\\.json, e\\.g\\. "127\\.0\\.0\\.1:8443"`);
      assert.match(res.stderr, line, `workers ${workers}`);
    }
  });

  test('an address that is not this machine: exit 1, what to set instead', async () => {
    await setAddress(home, '192.0.2.1:8443');
    const res = await runCli(['serve', '--password-file', home.passwordFile], { env: { ...home.env, CA_WORKERS: '1' } });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /ca: cannot listen on 192\.0\.2\.1:8443: 192\.0\.2\.1 is not an address of this machine\n {2}try: set one of this machine's addresses in "address" in \S+ca\.json, or ":8443" to listen on all of them/);
  });

  test('a privileged port (as a user), a name that does not resolve: the words for each', async () => {
    const error = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    const denied = await listenError(error('EACCES'), undefined, 443, 'ca.json');
    assert.match(String(denied?.message), /cannot listen on :443: permission denied \(ports below 1024 need root or the CAP_NET_BIND_SERVICE capability\)/);
    assert.match(String(denied?.hint), /set a port above 1023 in "address" in ca\.json, e\.g\. ":8443", or let node bind low ports: sudo setcap/);
    const unknown = await listenError(error('ENOTFOUND'), 'ca.nowhere.invalid', 443, 'ca.json');
    assert.match(String(unknown?.message), /the host name ca\.nowhere\.invalid does not resolve/);
    assert.equal(denied?.exitCode, 1);
    assert.equal(await listenError(error('EMFILE'), undefined, 443, 'ca.json'), undefined, 'not about the address');
  });
});
