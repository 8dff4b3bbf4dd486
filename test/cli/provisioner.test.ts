import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, chmod } from 'node:fs/promises';
import { runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';
import { assertRefusals, type Refusal } from './refusals.js';

const GOOGLE = 'https://accounts.google.com/.well-known/openid-configuration';

/** A ca.json as `step ca init` writes it, with fields ca does not model. */
const stepCaJson = {
  root: '/home/step/.step/certs/root_ca.crt',
  federatedRoots: null,
  crt: '/home/step/.step/certs/intermediate_ca.crt',
  key: '/home/step/.step/secrets/intermediate_ca_key',
  address: ':443',
  insecureAddress: '',
  dnsNames: ['ca.example.com'],
  logger: { format: 'text' },
  db: { type: 'badgerv2', dataSource: '/home/step/.step/db', badgerFileLoadingMode: '' },
  authority: {
    provisioners: [
      {
        type: 'JWK',
        name: 'admin@example.com',
        key: { use: 'sig', kty: 'EC', kid: 'aBcD', crv: 'P-256', alg: 'ES256', x: 'x', y: 'y' },
        encryptedKey: 'eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1ciLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d',
      },
    ],
    template: { organization: 'Example' },
    backdate: '1m0s',
  },
  tls: { cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'], minVersion: 1.2, maxVersion: 1.3, renegotiation: false },
  templates: { ssh: { user: [{ name: 'config.tpl', type: 'snippet', template: 'templates/ssh/config.tpl', path: '~/.ssh/config', comment: '#' }] } },
};

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const d = await testdir({ 'ca/config/ca.json': stepCaJson });
  t.after(d.cleanup);
  const configPath = d.path('ca/config/ca.json');
  const env = { CA_PATH: d.path('ca') };
  const ca = (...args: string[]) => runCli(args, { env });
  return { d, configPath, env, ca, read: () => readFile(configPath, 'utf8') };
}

test('add, list, update, remove: a round trip through bin/ca that keeps step-ca fields', async (t) => {
  const { ca, read, configPath } = await setup(t);
  await chmod(configPath, 0o640);
  const added = await ca(
    'provisioner', 'add', 'Google', '--type', 'oidc', '--client-id', '1087.apps.googleusercontent.com', '--client-secret', 'GOCSPX-s3cr3t',
    '--configuration-endpoint', GOOGLE, '--admin', 'alice@example.com', '--domain', 'example.com', '--domain', 'example.org',
    '--scope', 'openid', '--scope', 'email', '--auth-param', 'prompt=select_account', '--x509-default-dur', '8h', '--no-check',
  );
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, /✔ CA Configuration: .*ca\.json\n\nSuccess! Your `ca` config has been updated\. To pick up the new configuration SIGHUP \(kill -1 <pid>\)/);

  const afterAdd = JSON.parse(await read());
  const { provisioners, ...restAuthority } = afterAdd.authority;
  assert.deepEqual(restAuthority, { template: { organization: 'Example' }, backdate: '1m0s' });
  for (const key of ['db', 'tls', 'templates', 'logger', 'federatedRoots', 'insecureAddress']) assert.deepEqual(afterAdd[key], (stepCaJson as Record<string, unknown>)[key], key);
  assert.deepEqual(provisioners[0], stepCaJson.authority.provisioners[0], 'the JWK provisioner is untouched');
  assert.equal((await stat(configPath)).mode & 0o777, 0o640, 'file mode kept');
  assert.match(await read(), /^{\n\t"root"/, 'tab-indented as step saves it');
  assert.deepEqual(provisioners[1], {
    type: 'OIDC',
    name: 'Google',
    clientID: '1087.apps.googleusercontent.com',
    clientSecret: 'GOCSPX-s3cr3t',
    configurationEndpoint: GOOGLE,
    admins: ['alice@example.com'],
    domains: ['example.com', 'example.org'],
    claims: { defaultTLSCertDuration: '8h0m0s', enableSSHCA: true, disableRenewal: false, allowRenewalAfterExpiry: false, disableSmallstepExtensions: false },
    options: { x509: {}, ssh: {} },
    scopes: ['openid', 'email'],
    authParams: ['prompt=select_account'],
  });

  const listed = await ca('provisioner', 'list', '--json');
  assert.equal(listed.code, 0);
  assert.deepEqual(JSON.parse(listed.stdout), provisioners);
  assert.match(listed.stdout, /^\[\n {3}\{/, 'three-space indent as step');
  const table = await ca('provisioner', 'list');
  assert.equal(table.stdout, 'admin@example.com\tJWK\tkid: aBcD\t\nGoogle\tOIDC\tclient: 1087.apps.googleusercontent.com\tdomains=example.com,example.org admins=alice@example.com\n');

  const updated = await ca(
    'provisioner', 'update', 'Google', '--name', 'Workspace', '--remove-domain', 'example.org', '--group', 'eng', '--group', 'ops',
    '--remove-admin', 'alice@example.com', '--admin', 'bob@example.com', '--listen-address', ':10000', '--no-check',
  );
  assert.equal(updated.code, 0, updated.stderr);
  const removedGroup = await ca('provisioner', 'update', 'Workspace', '--remove-group', 'ops', '--remove-scope', 'openid');
  assert.equal(removedGroup.code, 0, removedGroup.stderr);
  const p = JSON.parse(await read()).authority.provisioners[1];
  assert.equal(p.name, 'Workspace');
  assert.deepEqual(p.domains, ['example.com']);
  assert.deepEqual(p.groups, ['eng']);
  assert.deepEqual(p.admins, ['bob@example.com']);
  assert.deepEqual(p.scopes, ['email']);
  assert.equal(p.listenAddress, ':10000');

  const removed = await ca('provisioner', 'remove', 'Workspace');
  assert.equal(removed.code, 0, removed.stderr);
  const final = JSON.parse(await read());
  assert.deepEqual(final, { ...stepCaJson, authority: { ...stepCaJson.authority } }, 'back to the original content');
});

test('every validation failure exits non-zero, says why, and leaves ca.json byte-identical', async (t) => {
  const { ca, read, d } = await setup(t);
  const base = ['--client-id', 'cid', '--configuration-endpoint', GOOGLE, '--no-check'];
  assert.equal((await ca('provisioner', 'add', 'Existing', ...base)).code, 0);
  const cases: Refusal[] = [
    [['provisioner', 'add', 'X', '--type', 'bogus', ...base], /invalid value 'bogus' for flag '--type'; options are JWK, ACME, OIDC/, 2],
    [['provisioner', 'add', 'X', '--type', 'ACME'], /provisioner type ACME is not supported by ca: it adds JWK and OIDC provisioners/, 2],
    [['provisioner', 'add', 'X', '--type', 'JWK', ...base], /flag '--client-id' is not for --type JWK/, 2],
    [['provisioner', 'add', 'X', '--configuration-endpoint', GOOGLE], /'--type OIDC' requires the '--client-id' flag/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x'], /'--type OIDC' requires the '--configuration-endpoint' flag/, 2],
    [['provisioner', 'add', 'X'], /ca: '--type OIDC' requires the '--client-id' and '--configuration-endpoint' flags\n {2}try: e\.g\. --client-id ID --configuration-endpoint https:/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', 'http://idp.example.com'], /must use https/, 2],
    [['provisioner', 'add', 'Existing', '--client-id', 'other', '--configuration-endpoint', GOOGLE], /provisioner with name Existing already exists/, 1],
    [['provisioner', 'add', 'X', ...base], /provisioner with token ID cid already exists/, 1],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--x509-max-dur', '5 days'], /invalid value '5 days' for flag '--x509-max-dur'/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--x509-min-dur', '2h', '--x509-max-dur', '1h'], /ca: --x509-max-dur 1h is shorter than --x509-min-dur 2h\n/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--x509-default-dur', '48h'], /ca: --x509-default-dur 48h is longer than the default maximum 24h\n/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--listen-address', '10000'], /expected host:port/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--auth-param', 'novalue'], /expected key=value/, 2],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', 'http://127.0.0.1:9/none'], /error validating configuration for provisioner "X": failed to connect to http:\/\/127\.0\.0\.1:9\/none\/\.well-known\/openid-configuration/, 1],
    [['provisioner', 'update', 'Missing', '--domain', 'x.com'], /provisioner Missing not found in/, 1],
    [['provisioner', 'update', 'admin@example.com', '--domain', 'x.com'], /flag '--domain' is not for JWK provisioners: admin@example.com is one/, 2],
    [['provisioner', 'update', 'Existing', '--name', 'admin@example.com'], /provisioner with name admin@example.com already exists/, 1],
    [['provisioner', 'remove', 'Missing'], /provisioner Missing not found in/, 1],
    [['provisioner', 'add'], /missing required argument 'name'/, 2],
    [['provisioner', 'add', 'X', '--bogus-flag'], /unknown option '--bogus-flag'/, 2],
  ];
  await assertRefusals(cases, ca, read);
  assert.deepEqual((await readdir(d.path('ca/config'))).sort(), ['ca.json'], 'no lock or temporary file left behind');
  const missing = await runCli(['provisioner', 'list'], { env: { CA_PATH: d.path('nowhere') } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /the CA configuration .*nowhere\/config\/ca.json does not exist\n {2}try: run 'ca init' first/);
});

test('20 concurrent ca provisioner add processes lose no update', async (t) => {
  const { ca, read } = await setup(t);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      ca('provisioner', 'add', `p${i}`, '--client-id', `client-${i}`, '--configuration-endpoint', GOOGLE, '--no-check'),
    ),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const names = JSON.parse(await read()).authority.provisioners.map((p: { name: string }) => p.name);
  assert.equal(names.length, 21);
  assert.deepEqual(names.slice(1).sort(), Array.from({ length: 20 }, (_, i) => `p${i}`).sort());
});

test('--ca-config points at another file', async (t) => {
  const d = await testdir({ 'elsewhere.json': { root: 'r.crt', crt: 'i.crt', key: 'i_key', authority: { provisioners: [] } } });
  t.after(d.cleanup);
  const res = await runCli(['provisioner', 'add', 'G', '--client-id', 'c', '--configuration-endpoint', GOOGLE, '--no-check', '--ca-config', d.path('elsewhere.json')], {
    env: { CA_PATH: d.path('unused') },
  });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(await readFile(d.path('elsewhere.json'), 'utf8')).authority.provisioners[0].name, 'G');
});

test('add checks the discovery document and keys of a real OpenID Provider', async (t) => {
  const { startIdp } = await import('../fixtures/idp.js');
  const idp = await startIdp();
  t.after(() => idp.close());
  const { ca, read } = await setup(t);

  const ok = await ca('provisioner', 'add', 'Local', '--client-id', 'ca-cli', '--client-secret', 'ca-cli-secret', '--configuration-endpoint', idp.issuer);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(idp.requests.some((r) => r.path === '/.well-known/openid-configuration'), 'the discovery document was fetched');
  assert.ok(idp.requests.some((r) => r.path.startsWith('/jwks')), 'the key set was fetched');
  assert.equal(JSON.parse(await read()).authority.provisioners[1].configurationEndpoint, idp.issuer);

  const before = await read();
  idp.setDown(true, 'unavailable');
  const down = await ca('provisioner', 'add', 'Other', '--client-id', 'ca-public', '--configuration-endpoint', idp.discoveryUrl);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^ca: error validating configuration for provisioner "Other": failed to connect to http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration: HTTP 503/);
  assert.match(down.stderr, /--no-check/);
  assert.equal(await read(), before);

  const offline = await ca('provisioner', 'add', 'Other', '--client-id', 'ca-public', '--configuration-endpoint', idp.discoveryUrl, '--no-check');
  assert.equal(offline.code, 0, offline.stderr);

  // update checks a changed endpoint too
  const moved = await ca('provisioner', 'update', 'Other', '--configuration-endpoint', `${idp.issuer}/moved`);
  assert.equal(moved.code, 1);
  assert.match(moved.stderr, /error validating configuration for provisioner "Other"/);
  idp.setDown(false);
  const notOidc = await ca('provisioner', 'update', 'Other', '--configuration-endpoint', `${idp.issuer}/nothing-here`);
  assert.equal(notOidc.code, 1);
  assert.match(notOidc.stderr, /HTTP 404/);
});

test('add and update refuse what would break every login: a non-loopback --listen-address, an unchecked endpoint that is not a discovery URL', async (t) => {
  const { ca, read } = await setup(t);
  const original = await read();
  const cases: [string[], RegExp][] = [
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--no-check', '--listen-address', '10.0.0.1:80'],
      /ca: invalid value '10\.0\.0\.1:80' for flag '--listen-address': the login callback listens on a loopback address only \(on each user's machine\)\n {2}try: use 127\.0\.0\.1:80, localhost:80 or :80 \(the browser returns to this address on the machine it runs on, not to the CA\)/],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--no-check', '--listen-address', '0.0.0.0:10000'], /'0\.0\.0\.0:10000' .* loopback address only/],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', GOOGLE, '--no-check', '--listen-address', 'ca.example.com:443'], /loopback address only/],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', 'https://accounts.google.com', '--no-check'],
      /ca: invalid value 'https:\/\/accounts\.google\.com' for flag '--configuration-endpoint': with --no-check it must be the discovery document's URL, ending in \/\.well-known\/openid-configuration\n {2}try: pass https:\/\/accounts\.google\.com\/\.well-known\/openid-configuration if that is the provider's, or drop --no-check/],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', 'https://idp.example.com/oauth2/authorize', '--no-check'], /with --no-check it must be the discovery document's URL/],
    [['provisioner', 'add', 'X', '--client-id', 'x', '--configuration-endpoint', 'https://idp.example.com/.well-known/openid-configuration?x=1', '--no-check'], /with --no-check it must be the discovery document's URL/],
  ];
  for (const [args, message] of cases) {
    const res = await ca(...args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message, args.join(' '));
    assert.equal(await read(), original, `ca.json changed by: ${args.join(' ')}`);
  }
  for (const [i, listen] of [':10000', 'localhost:10000', '127.0.0.1:10000', '[::1]:10000', '127.0.0.2:0'].entries()) {
    const ok = await ca('provisioner', 'add', `L${i}`, '--client-id', `l${i}`, '--configuration-endpoint', GOOGLE, '--no-check', '--listen-address', listen);
    assert.equal(ok.code, 0, `${listen}: ${ok.stderr}`);
  }
  const moved = await ca('provisioner', 'update', 'L0', '--listen-address', '10.0.0.1:80');
  assert.equal(moved.code, 2);
  assert.match(moved.stderr, /loopback address only/);
});

test('update that changes nothing: says so, exit 0, ca.json untouched', async (t) => {
  const { ca, read, configPath } = await setup(t);
  assert.equal((await ca('provisioner', 'add', 'G', '--client-id', 'g', '--configuration-endpoint', GOOGLE, '--no-check', '--domain', 'example.com')).code, 0);
  const before = await read();
  const mtime = (await stat(configPath)).mtimeMs;
  for (const args of [['--domain', 'example.com'], ['--client-id', 'g'], []]) {
    const res = await ca('provisioner', 'update', 'G', ...args);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, `Nothing to change: provisioner G already has these settings; ${configPath} is untouched.\n`);
    assert.doesNotMatch(res.stderr, /Success/);
  }
  assert.equal(await read(), before);
  assert.equal((await stat(configPath)).mtimeMs, mtime, 'not even rewritten');
  const changed = await ca('provisioner', 'update', 'G', '--domain', 'example.org');
  assert.match(changed.stderr, /Success!/);

  // Durations are named by the flag given now, or by where the other value lives.
  assert.equal((await ca('provisioner', 'update', 'G', '--x509-min-dur', '2h')).code, 0);
  const shorter = await ca('provisioner', 'update', 'G', '--x509-max-dur', '1h');
  assert.equal(shorter.code, 2);
  assert.match(shorter.stderr, /^ca: --x509-max-dur 1h is shorter than the provisioner's claims\.minTLSCertDuration 2h\n/);
});
