/**
 * Rules every Store shares for used tokens: a token id is refused while its row is live (until
 * the token's expiry, which the caller passes with its leeway), and rows past expiry are swept
 * now and then rather than on every use.
 */

/** Expired used-token rows are swept at most this often (ms), per connection. */
export const TOKEN_SWEEP_INTERVAL_MS = 60_000;
