// README's Troubleshooting section lists the common errors, in the words the code prints them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function sourceText(dir: string): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? sourceText(join(dir, e.name)) : e.name.endsWith('.ts') ? readFileSync(join(dir, e.name), 'utf8') : ''))
    .join('\n');
}

test('README has a Troubleshooting section whose errors are worded as the code words them', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = /\n## Troubleshooting\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  assert.ok(section, 'a "## Troubleshooting" section');
  const source = sourceText(join(REPO, 'src'));
  const messages = [
    'the address is already in use',
    'ports below 1024',
    'is not an address of this machine',
    'not valid JSON',
    'is not a CA configuration',
    'is encrypted and no password was given',
    'a file is in the way',
    'is locked by another ca process',
    'loopback address only',
    "with --no-check it must be the discovery document's URL",
    'is shorter than',
    "the identity provider's discovery document",
    'names no tenant',
    'fingerprint mismatch',
    'login timed out after',
    'Invalid request received',
    'is not trusted',
    'this is a bug',
  ];
  for (const message of messages) {
    assert.ok(section.includes(message), `README's Troubleshooting mentions: ${message}`);
    assert.ok(source.includes(message), `the code still prints: ${message}`);
  }
  assert.doesNotMatch(section, /try: .*ca init --force/, 'never suggested as a fix');
});
