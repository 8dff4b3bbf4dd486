import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, tryParseDuration } from '../../src/config/duration.js';

test('parses Go durations', () => {
  assert.equal(tryParseDuration('5m'), 300_000);
  assert.equal(tryParseDuration('24h'), 86_400_000);
  assert.equal(tryParseDuration('1h30m'), 5_400_000);
  assert.equal(tryParseDuration('1.5h'), 5_400_000);
  assert.equal(tryParseDuration('300ms'), 300);
  assert.equal(tryParseDuration('-5m'), -300_000);
  assert.equal(tryParseDuration('0'), 0);
  assert.equal(tryParseDuration('2h0m0s'), 7_200_000);
});

test('rejects what Go rejects', () => {
  for (const bad of ['', '5', 'h', '5 m', '5d', '1h-5m', 'abc', '1.2.3s']) assert.equal(tryParseDuration(bad), undefined, bad);
  assert.throws(() => parseDuration('5d', "flag '--x509-max-dur'"), /invalid value '5d' for flag '--x509-max-dur'/);
});

test('formats as Go Duration.String()', () => {
  assert.equal(formatDuration(86_400_000), '24h0m0s');
  assert.equal(formatDuration(7_200_000), '2h0m0s');
  assert.equal(formatDuration(300_000), '5m0s');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(1_500), '1.5s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(-60_000), '-1m0s');
  assert.equal(formatDuration(86_460_000), '24h1m0s');
});
