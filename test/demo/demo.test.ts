/**
 * `npm run demo`, run exactly as a person would (npm, the build, the script):
 *
 * - on a machine with no display and no browser it logs the test user in through the development
 *   IdP's pages over plain HTTP, walks every step and ends with the mTLS greeting;
 * - with --keep it leaves the CA and the IdP running and prints commands that work as printed
 *   (run here with bash), and a stop command that stops them;
 * - with --headless, Debian's chromium does the login;
 *
 * and each leaves nothing behind: no directory, no process, no listening port.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requireTool, skipWithout } from '../helpers/tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const GREETING = 'Hello alice@example.com! Welcome to mTLS';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to its end (SIGINT after timeoutMs: the demo's own clean stop). No DISPLAY, no BROWSER. */
function runBounded(command: string, args: string[], timeoutMs: number, cwd = REPO): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const runDemo = (args: string[], timeoutMs: number): Promise<Run> => runBounded('npm', ['run', 'demo', '--', ...args], timeoutMs);

/** Resolves true when something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose command line, working directory or environment mention `text` (Linux /proc). */
function processesMentioning(text: string): string[] {
  if (!existsSync('/proc')) return [];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const read = (what: () => string): string => {
      try {
        return what();
      } catch {
        return ''; // gone, or not ours to read
      }
    };
    const cmdline = read(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    const cwd = read(() => readlinkSync(`/proc/${pid}/cwd`));
    const environ = read(() => readFileSync(`/proc/${pid}/environ`, 'utf8'));
    if (cmdline.includes(text) || cwd.startsWith(text) || environ.includes(text)) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

/** Every step in order, the commands as a person would type them, the greeting last. */
function assertSteps(run: Run): void {
  const all = `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  assert.equal(run.code, 0, all);
  const lines = run.stdout.split('\n').filter((line) => line.trim());
  assert.ok(lines.includes(GREETING), all);
  const steps = lines.filter((line) => /^\[\d+\/\d+\] /.test(line));
  assert.deepEqual(
    steps.map((line) => /^\[(\d+)\/(\d+)\]/.exec(line)?.slice(1, 3).join('/')),
    Array.from({ length: 10 }, (_, i) => `${i + 1}/10`),
    all,
  );
  const expected = [
    /^\[1\/10\] .*temporary directory: \S+/,
    /^\[2\/10\] Starting the development IdP/,
    /^\[3\/10\] .*: ca init --name "Demo CA" .*--address 127\.0\.0\.1:0 --password-file \$CA_PATH\/password\.txt$/,
    /^\[4\/10\] .*: ca provisioner add Demo --type OIDC --client-id ca-cli --client-secret ca-cli-secret --configuration-endpoint http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration --admin admins$/,
    /^\[5\/10\] .*: ca serve --password-file \$CA_PATH\/password\.txt/,
    /^\[6\/10\] .*: ca fingerprint \$CA_PATH\/certs\/root_ca\.crt$/,
    /^\[7\/10\] .*: (?:CA_OPEN_BROWSER=1 BROWSER=\S+ )?CA_PATH=\$DEV ca certificate alice@example\.com alice\.crt alice\.key --provisioner Demo --timeout 5m$/,
    /^\[8\/10\] .*: ca inspect --short alice\.crt$/,
    /^\[9\/10\] .*: CA_PATH=\$DEV ca certificate localhost srv\.crt srv\.key --san localhost --san 127\.0\.0\.1 --provisioner admin --provisioner-password-file \$CA_PATH\/password\.txt$/,
    /^\[10\/10\] .*mTLS/,
  ];
  expected.forEach((pattern, i) => assert.match(steps[i] ?? '', pattern));
  assert.match(run.stdout, /\$ CA_PATH=\$DEV ca bootstrap --ca-url https:\/\/127\.0\.0\.1:\d+ --fingerprint [0-9a-f]{64}\n/);
  assert.match(run.stdout, /Test user: alice +password: alice-password/);
  assert.match(run.stdout, /Subject: +user-alice\n +alice@example\.com/, 'ca inspect --short shows the certificate');
  assert.match(run.stdout, /Provisioner: Demo/);
}

/** The demo's directory, processes and ports are gone. */
async function assertNothingLeft(run: Run): Promise<void> {
  const demoDir = /temporary directory: (\S+)/.exec(run.stdout)?.[1] ?? '';
  assert.ok(demoDir, 'the demo prints its directory');
  assert.equal(existsSync(demoDir), false, `${demoDir} was removed`);
  assert.deepEqual(processesMentioning(demoDir), [], 'no process of the demo is left');
  const ports = [
    /Issuer: http:\/\/127\.0\.0\.1:(\d+)/,
    /Serving HTTPS on 127\.0\.0\.1:(\d+) /,
    /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)/,
    /mTLS service listening on https:\/\/127\.0\.0\.1:(\d+)/,
  ].map((pattern) => Number(pattern.exec(run.stdout)?.[1]));
  assert.ok(ports.every((port) => port > 0), `ports in the output: ${ports.join(', ')}`);
  for (const port of ports) assert.equal(await listening(port), false, `nothing listens on 127.0.0.1:${port} any more`);
}

test('npm run demo with no display and no browser: the login goes through the development IdP over HTTP, every step, nothing left', { timeout: 180_000 }, async () => {
  const run = await runDemo([], 170_000);
  assertSteps(run);
  assert.match(run.stdout, /No browser can open on this machine \(no display\)\. Instead alice logs in on the development IdP's own login page with plain HTTP requests\n.*it is our IdP, started by this demo/);
  assert.equal(run.stdout.split('\n').filter((line) => line.trim()).at(-1), GREETING);
  await assertNothingLeft(run);
});

test('npm run demo -- --keep: the CA and the IdP keep running, the printed commands work as printed, the printed stop command stops them', { timeout: 240_000 }, async (t: TestContext) => {
  const run = await runDemo(['--keep'], 170_000);
  const demoDir = /temporary directory: (\S+)/.exec(run.stdout)?.[1] ?? '';
  const stop = /^Stop them and remove everything: (kill ([\d ]+) && rm -rf \S+)$/m.exec(run.stdout);
  const pids = (stop?.[2] ?? '').trim().split(' ').filter(Boolean).map(Number);
  t.after(() => {
    // Whatever happened above: nothing of this test stays.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (demoDir) rmSync(demoDir, { recursive: true, force: true });
  });
  assertSteps(run);
  assert.ok(stop, run.stdout);
  assert.equal(pids.length, 2, 'the CA and the IdP');
  for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `pid ${pid} is still running`);

  // The block of commands, exactly as printed, in bash.
  const block = /^Try them by hand.*\n\n((?: {4}.*\n)+)/m.exec(run.stdout)?.[1] ?? '';
  assert.match(block, /ca certificate alice@example\.com alice\.crt alice\.key --provisioner Demo --force\n/);
  assert.match(block, /ca certificate alice@example\.com ci\.crt ci\.key --token "\$ID_TOKEN" --provisioner Demo --force\n/);
  const script = block.replace(/^ {4}/gm, '');
  const tried = await runBounded('bash', ['-euo', 'pipefail', '-c', script], 120_000, '/');
  assert.equal(tried.code, 0, `${script}\n--- stdout\n${tried.stdout}\n--- stderr\n${tried.stderr}`);
  assert.match(tried.stdout, /Subject: +user-alice/);
  assert.match(tried.stdout, /^Demo\tOIDC/m, 'the admin sees the provisioner');
  for (const file of ['alice.crt', 'ci.crt']) assert.ok(existsSync(`${demoDir}/dev/${file}`), file);

  const stopped = await runBounded('bash', ['-c', stop?.[1] ?? 'false'], 30_000, '/');
  assert.equal(stopped.code, 0, stopped.stderr);
  const deadline = Date.now() + 30_000;
  while (processesMentioning(demoDir).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  await assertNothingLeft(run);
});

test('npm run demo -- --headless: Debian\'s chromium logs in; every step, nothing left', { timeout: 180_000, skip: skipWithout(CHROMIUM) }, async () => {
  requireTool(CHROMIUM);
  const run = await runDemo(['--headless'], 170_000);
  assertSteps(run);
  assert.match(run.stdout, /--headless: a scripted headless Chromium logs in as alice/);
  await assertNothingLeft(run);
});
