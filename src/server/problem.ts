/**
 * Failed requests in step-ca's shape: `{"status":N,"message":"..."}`, with step's wording per
 * status. The message is what the client sees; the reason is what the log gets. 4xx messages say
 * what was wrong (for a 401: which rule refused the token); 5xx messages are generic, the cause
 * goes to the log only.
 */
import { CaError, describe } from '../errors.js';

const SEE_LOGS = 'Please see the certificate authority logs for more info.';

export const GENERIC_MESSAGES: Readonly<Record<number, string>> = {
  400: `The request could not be completed; malformed or missing data. ${SEE_LOGS}`,
  401: `The request lacked necessary authorization to be completed. ${SEE_LOGS}`,
  403: `The request was forbidden by the certificate authority. ${SEE_LOGS}`,
  404: `The requested resource could not be found. ${SEE_LOGS}`,
  405: `The request method is not allowed for this resource. ${SEE_LOGS}`,
  500: `The certificate authority encountered an Internal Server Error. ${SEE_LOGS}`,
  503: `The certificate authority cannot reach its database right now; please try again shortly. ${SEE_LOGS}`,
};

/** How long a client should wait before retrying a 503 (s): the pool reconnects by itself. */
const RETRY_AFTER_S = '1';

/** An HTTP failure ready to send: the status, the client's message, and the log's reason. */
export class HttpProblem extends Error {
  readonly status: number;
  /** Extra response headers, e.g. `Allow` on a 405. */
  readonly headers: Readonly<Record<string, string>>;
  /** Why, for the log line; may say more than the client's message. */
  readonly reason: string;

  constructor(status: number, message: string, reason = message, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpProblem';
    this.status = status;
    this.reason = reason;
    this.headers = headers;
  }
}

/** step's detail sentences end in exactly one period. */
function sentence(detail: string): string {
  return detail.replace(/[.\s]+$/, '');
}

/** A 400 with step's prefix: `The request could not be completed: <detail>.` */
export function badRequest(detail: string, status = 400, reason = detail): HttpProblem {
  return new HttpProblem(status, `The request could not be completed: ${sentence(detail)}.`, reason);
}

export function notFound(message: string = GENERIC_MESSAGES[404] as string, reason = 'not found'): HttpProblem {
  return new HttpProblem(404, message, reason);
}

export function methodNotAllowed(method: string, allowed: readonly string[]): HttpProblem {
  return new HttpProblem(405, GENERIC_MESSAGES[405] as string, `method ${method} not allowed`, { Allow: allowed.join(', ') });
}

/** Turn anything a handler threw into the problem to send, keyed off CaError.status. */
export function problemFor(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (!(err instanceof CaError)) return new HttpProblem(500, GENERIC_MESSAGES[500] as string, `internal error: ${describe(err)}`);
  const reason = describe(err);
  const { status } = err;
  // Unlike step-ca, a refused token or certificate says which rule failed (messages never quote a token).
  if (status === 401) return new HttpProblem(401, `The request lacked necessary authorization to be completed: ${sentence(err.message)}.`, reason);
  if (status === 403) return new HttpProblem(403, `The request was forbidden by the certificate authority: ${sentence(err.message)}.`, reason);
  if (status === 404) return new HttpProblem(404, `The requested resource could not be found: ${sentence(err.message)}.`, reason);
  if (status === 501) return new HttpProblem(501, `The requested method is not implemented by the certificate authority: ${sentence(err.message)}.`, reason);
  if (status >= 400 && status < 500) return badRequest(err.message, status, reason);
  // The store's "database unavailable": a clear message and when to retry; the log gets the cause.
  if (status === 503) return new HttpProblem(503, GENERIC_MESSAGES[503] as string, reason, { 'Retry-After': RETRY_AFTER_S });
  // 5xx and anything odd: the client gets the generic text, the log the cause.
  return new HttpProblem(status >= 500 && status < 600 ? status : 500, GENERIC_MESSAGES[500] as string, reason);
}

/** The error body, with the trailing newline Go's JSON encoder writes. */
export function problemBody(problem: HttpProblem): string {
  return `${JSON.stringify({ status: problem.status, message: problem.message })}\n`;
}

/** step-ca's admin error types by status (api/admin errors: `{type, detail, message}`). */
const ADMIN_ERROR_TYPES: Readonly<Record<number, [string, string]>> = {
  400: ['badRequest', 'bad request'],
  401: ['unauthorized', 'unauthorized'],
  403: ['forbidden', 'forbidden'],
  404: ['notFound', 'resource not found'],
  405: ['badRequest', 'method not allowed'],
  500: ['serverInternalError', 'the server experienced an internal error'],
  503: ['serverInternalError', 'the database is unavailable'],
};

/**
 * The admin API's error body, as step-ca's admin handlers write it, plus `status`: `message` is
 * the reason itself for 4xx (the step CLI prints it), the generic text for 5xx.
 */
export function adminProblemBody(problem: HttpProblem, err: unknown): string {
  const [type, detail] = ADMIN_ERROR_TYPES[problem.status] ?? ADMIN_ERROR_TYPES[problem.status >= 500 ? 500 : 400]!;
  const message = problem.status < 500 && err instanceof CaError ? sentence(err.message) : problem.message;
  return `${JSON.stringify({ type, detail, message, status: problem.status })}\n`;
}
