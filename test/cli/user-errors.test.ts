// Failures a user can cause with files, directories and broken configuration: each is a clear
// one-line CaError with a next step, exit 1 or 2, never "internal error ... this is a bug".
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileProblem } from '../../src/errors.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

const GOOGLE = 'https://accounts.google.com/.well-known/openid-configuration';
const ADD = ['provisioner', 'add', 'G', '--client-id', 'cid', '--configuration-endpoint', GOOGLE, '--no-check'];

function noBug(res: CliResult, what: string): void {
  assert.doesNotMatch(res.stderr, /internal error|this is a bug|\n\s+at /, what);
  assert.notEqual(res.code, 70, what);
  assert.notEqual(res.code, 0, `${what} should fail`);
}

test('ca init where the directory cannot be made: names the directory and why, writes nothing', async (t) => {
  const d = await testdir({ 'pw.txt': 'pw\n', 'afile': 'x', 'home/certs': 'a file where a directory goes' });
  t.after(d.cleanup);
  const init = (caPath: string) => runCli(['init', '--name', 'X', '--dns', 'localhost', '--address', ':8443', '--password-file', d.path('pw.txt')], { env: { CA_PATH: caPath } });
  const cases: [string, RegExp][] = [
    [d.path('afile'), /ca: cannot create the directory \S+afile: a file is in the way\n {2}try: set \$CA_PATH to a directory you can write \(now \S+afile\)/],
    [d.path('afile/sub'), /ca: cannot create the directory \S+afile\/sub: a part of the path is a file, not a directory/],
    [d.path('home'), /ca: cannot create the directory \S+home\/certs: a file is in the way/],
  ];
  for (const [caPath, message] of cases) {
    const res = await init(caPath);
    noBug(res, caPath);
    assert.equal(res.code, 1);
    assert.match(res.stderr, message);
  }
  assert.deepEqual(await readdir(d.path('home')), ['certs'], 'no key or config written');
});

test('commands on a CA_PATH that is a file, a ca.json that is a directory, a missing or unreadable password file', async (t) => {
  const d = await testdir({ 'afile': 'x', 'pw.txt': 'pw\n' });
  t.after(d.cleanup);
  await mkdir(d.path('dirca/config/ca.json'), { recursive: true });
  const cases: [NodeJS.ProcessEnv, string[], RegExp][] = [
    [{ CA_PATH: d.path('afile') }, ['provisioner', 'list'], /ca: cannot read the CA configuration \S+afile\/config\/ca\.json: a part of the path is a file, not a directory\n {2}try: point --ca-config \(or \$CA_PATH\) at a readable ca\.json/],
    [{ CA_PATH: d.path('afile') }, ADD, /cannot read the CA configuration .*: a part of the path is a file, not a directory/],
    [{ CA_PATH: d.path('dirca'), CA_WORKERS: '1' }, ['serve', '--password-file', d.path('pw.txt')], /ca: cannot read the CA configuration \S+dirca\/config\/ca\.json: it is a directory, not a file/],
    [{ CA_PATH: d.path('dirca') }, ['provisioner', 'remove', 'G'], /it is a directory, not a file/],
    [{ CA_PATH: d.path('x') }, ['init', '--name', 'X', '--dns', 'localhost', '--address', ':8443', '--password-file', d.path('nope.txt')], /ca: the password file \S+nope\.txt does not exist\n {2}try: check the path given to --password-file \(or \$CA_PASSWORD_FILE\)/],
    [{ CA_PATH: d.path('x') }, ['init', '--name', 'X', '--dns', 'localhost', '--address', ':8443', '--password-file', d.dir], /ca: cannot read the password file \S+: it is a directory, not a file/],
    [{ CA_PATH: d.path('afile') }, ['health'], /ca: cannot read \S+afile\/config\/defaults\.json: a part of the path is a file, not a directory/],
  ];
  for (const [env, args, message] of cases) {
    const res = await runCli(args, { env });
    noBug(res, args.join(' '));
    assert.match(res.stderr, message, args.join(' '));
    assert.doesNotMatch(res.stderr, /ENOENT|ENOTDIR|EISDIR|EACCES/, 'no raw Node error codes');
  }
  assert.equal(fileProblem(Object.assign(new Error('x'), { code: 'EACCES' })), 'permission denied');
  assert.equal(fileProblem(Object.assign(new Error('x'), { code: 'EROFS' })), 'the file system is read-only');
});

test('a ca.json whose parts have the wrong shape: the part named, for every command that reads it', async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  const base = { root: 'certs/root_ca.crt', crt: 'certs/intermediate_ca.crt', key: 'secrets/intermediate_ca_key' };
  const shapes: [object, RegExp][] = [
    [{ ...base, authority: 5 }, /ca\.json: "authority" must be an object\n {2}try: fix \S+ca\.json by hand/],
    [{ ...base, authority: { provisioners: 5 } }, /ca\.json: "authority\.provisioners" must be an array/],
    [{ ...base, authority: { provisioners: [5] } }, /ca\.json: "authority\.provisioners\[0\]" must be an object with a "type" and a "name"/],
    [{ ...base, authority: { provisioners: [{ name: 'x' }] } }, /"authority\.provisioners\[0\]" must be an object with a "type" and a "name"/],
  ];
  const everyCommand = [['provisioner', 'list'], ADD, ['provisioner', 'update', 'G', '--domain', 'a.com'], ['provisioner', 'remove', 'G'], ['serve']];
  for (const [i, [config, message]] of shapes.entries()) {
    await mkdir(d.path('ca/config'), { recursive: true });
    await writeFile(d.path('ca/config/ca.json'), JSON.stringify(config));
    // Every command for the first shape; the one that reads the most (add) and list for the others.
    for (const args of i === 0 ? everyCommand : everyCommand.slice(0, 2)) {
      const res = await runCli(args, { env: { CA_PATH: d.path('ca'), CA_WORKERS: '1' } });
      noBug(res, `${JSON.stringify(config)}: ${args.join(' ')}`);
      assert.match(res.stderr, message, `${JSON.stringify(config)}: ${args.join(' ')}`);
      assert.doesNotMatch(res.stderr, /--force/);
    }
  }
});

test('a broken ca.json: the line and column of the mistake, never a destructive suggestion', async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  await mkdir(d.path('ca/config'), { recursive: true });
  const broken = '{\n\t"root": "certs/root_ca.crt",\n\t"crt": "certs/intermediate_ca.crt",\n}\n';
  await writeFile(d.path('ca/config/ca.json'), broken);
  for (const args of [['provisioner', 'list'], ADD, ['provisioner', 'remove', 'G'], ['serve']]) {
    const res = await runCli(args, { env: { CA_PATH: d.path('ca'), CA_WORKERS: '1' } });
    noBug(res, args.join(' '));
    assert.equal(res.code, 1);
    assert.match(res.stderr, /ca: \S+ca\.json:4:1: not valid JSON: a comma before '}' \(JSON allows no trailing comma\)\n {2}try: fix \S+ca\.json at line 4, column 1\n$/, args.join(' '));
    assert.doesNotMatch(res.stderr, /init|--force/, 'never suggests recreating the CA');
  }
  assert.equal(await readFile(d.path('ca/config/ca.json'), 'utf8'), broken, 'untouched');
});

test("ca provisioner add refuses a ca.json that is not a CA's ({}, [], another program's)", async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  await mkdir(d.path('ca/config'), { recursive: true });
  const cases: [string, RegExp][] = [
    ['{}', /ca: \S+ca\.json is not a CA configuration: it has no "root", "crt", "key"\n {2}try: point --ca-config \(or \$CA_PATH\) at the ca\.json that 'ca init' wrote, or run 'ca init' to create a CA/],
    ['{"authority": {"provisioners": []}}', /is not a CA configuration: it has no "root", "crt", "key"/],
    ['{"name": "my-app", "version": "1.0.0"}', /is not a CA configuration/],
    ['{"root": "r.crt", "crt": "i.crt"}', /is not a CA configuration: it has no "key"/],
    ['[]', /ca: \S+ca\.json: expected a JSON object \(\{\.\.\.\}\), found an array/],
  ];
  for (const [text, message] of cases) {
    await writeFile(d.path('ca/config/ca.json'), text);
    const res = await runCli(ADD, { env: { CA_PATH: d.path('ca') } });
    noBug(res, text);
    assert.equal(res.code, 1, text);
    assert.match(res.stderr, message, text);
    assert.equal(await readFile(d.path('ca/config/ca.json'), 'utf8'), text, 'untouched');
  }
});

test('a broken defaults.json: the line and column', async (t) => {
  const d = await testdir({ 'ca/config/defaults.json': '{\n  "ca-url": "https://ca.example.com"\n  "root": "x"\n}\n' });
  t.after(d.cleanup);
  const res = await runCli(['health'], { env: { CA_PATH: d.path('ca') } });
  noBug(res, 'health');
  assert.match(res.stderr, /ca: \S+defaults\.json:3:3: not valid JSON: expected ',' or '}', found '"'\n {2}try: fix \S+defaults\.json at line 3, column 3/);
});
