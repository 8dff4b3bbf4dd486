// Errors as step-ca words them, keyed off CaError.status; 4xx say why, 5xx say nothing of the cause.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaError } from '../../src/errors.js';
import { problemBody, problemFor } from '../../src/server/problem.js';

const body = (err: unknown) => JSON.parse(problemBody(problemFor(err))) as { status: number; message: string };

test('400, 401, 403 and 404 carry the detail with step-ca prefixes; 5xx are generic', () => {
  assert.deepEqual(body(new CaError('ERR_CSR_INVALID', 'invalid csr: bad signature.', { status: 400 })), {
    status: 400,
    message: 'The request could not be completed: invalid csr: bad signature.',
  });
  assert.deepEqual(body(new CaError('ERR_FORBIDDEN', 'name not allowed', { status: 403 })), {
    status: 403,
    message: 'The request was forbidden by the certificate authority: name not allowed.',
  });
  const unauthorized = problemFor(new CaError('ERR_UNAUTHORIZED', 'token already used (sub "alice")', { status: 401 }));
  assert.equal(unauthorized.message, 'The request lacked necessary authorization to be completed: token already used (sub "alice").');
  assert.equal(unauthorized.reason, 'token already used (sub "alice")', 'the reason is for the log');
  assert.equal(body(new CaError('ERR_NOT_FOUND', 'no such certificate', { status: 404 })).message, 'The requested resource could not be found: no such certificate.');
  assert.deepEqual(body(new CaError('ERR_INTERNAL', 'database busy', { status: 503 })).status, 503);
  const unavailable = problemFor(new CaError('ERR_DATABASE', 'the PostgreSQL database "ca" at db:5432 is unavailable: connect ECONNREFUSED', { status: 503 }));
  assert.match(unavailable.message, /^The certificate authority cannot reach its database right now; please try again shortly\./, 'a 503 says what is wrong, not where the database is');
  assert.doesNotMatch(unavailable.message, /db:5432/);
  assert.equal(unavailable.headers['Retry-After'], '1');
  assert.match(unavailable.reason, /db:5432 is unavailable/, 'the log gets the cause');
  const bug = problemFor(new TypeError('x is undefined'));
  assert.equal(bug.status, 500);
  assert.match(bug.reason, /internal error: x is undefined/);
});
