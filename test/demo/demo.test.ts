/**
 * `npm run demo -- --headless`, run exactly as a person would (npm, the build, the script), must
 * walk every step, end with the mTLS greeting, and leave nothing behind: no directory, no
 * process, no listening port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const GREETING = 'Hello alice@example.com! Welcome to mTLS';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo', '--', '--headless'], {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // SIGINT: the demo's own clean stop, rather than leaving its children behind.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

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

test('npm run demo -- --headless walks every step, ends with the mTLS greeting and leaves nothing running', { timeout: 180_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip("Debian's chromium is not installed");
    return;
  }
  const run = await runDemo(170_000);
  const all = `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  assert.equal(run.code, 0, all);

  const lines = run.stdout.split('\n').filter((line) => line.trim());
  assert.equal(lines.at(-1), GREETING, all);

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
    /^\[7\/10\] .*: CA_PATH=\$DEV ca certificate alice@example\.com alice\.crt alice\.key --provisioner Demo --timeout 5m$/,
    /^\[8\/10\] .*: ca inspect --short alice\.crt$/,
    /^\[9\/10\] .*: CA_PATH=\$DEV ca certificate localhost srv\.crt srv\.key --san localhost --san 127\.0\.0\.1 --provisioner admin --provisioner-password-file \$CA_PATH\/password\.txt$/,
    /^\[10\/10\] .*mTLS/,
  ];
  expected.forEach((pattern, i) => assert.match(steps[i] ?? '', pattern));
  assert.match(run.stdout, /\$ CA_PATH=\$DEV ca bootstrap --ca-url https:\/\/127\.0\.0\.1:\d+ --fingerprint [0-9a-f]{64}\n/);
  assert.match(run.stdout, /Test user: alice +password: alice-password/);
  assert.match(run.stdout, /Subject: +user-alice\n +alice@example\.com/, 'ca inspect --short shows the certificate');
  assert.match(run.stdout, /Provisioner: Demo/);

  // Nothing left: the directory, the processes that used it, the ports it served on.
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
});
