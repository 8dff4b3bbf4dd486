import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installed, requireTool, skipWithout } from './tools.js';

test('a missing tool skips a test on a developer machine, and fails it by name in CI', () => {
  assert.equal(skipWithout('no-such-tool', {}, false), 'no-such-tool is not installed');
  assert.equal(skipWithout('no-such-tool', { CI: 'true' }, false), false, 'no skip in CI: the test runs and fails');
  assert.equal(skipWithout('no-such-tool', { CI: '1' }, false), false);
  assert.equal(skipWithout('zsh', { CI: 'true' }, true), false);
  assert.throws(() => requireTool('no-such-tool', false), /^Error: no-such-tool is not installed: in CI \(CI=true\) a missing tool is a failure; \.ci\/run installs it with apt$/);
  assert.doesNotThrow(() => requireTool('bash', true));
  assert.equal(installed('no-such-tool-for-ca-tests'), false);
  assert.equal(installed('sh'), true);
  assert.equal(installed(process.execPath), true);
});
