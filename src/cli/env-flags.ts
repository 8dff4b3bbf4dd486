import { UsageError } from '../errors.js';
import { tryParseDuration } from '../config/duration.js';

/**
 * How the commands read their environment switches and time limits. `envFlag` itself lives in
 * src/config (the login in src/oidc reads CA_OPEN_BROWSER with it, and src/oidc never imports
 * from src/cli); it is re-exported here so commands take both from one place.
 */
export { envFlag } from '../config/env-flags.js';

/** A positive duration given to `flag` (e.g. `--timeout 90s`); a usage error otherwise. */
export function parseTimeout(value: string, flag: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(`invalid value '${value}' for flag '${flag}': expected a duration such as 2m or 90s`);
  }
  return ms;
}
