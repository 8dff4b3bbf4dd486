/**
 * Boolean-ish environment variables (CA_CONSOLE, CA_OPEN_BROWSER), read one way everywhere. Here
 * rather than in src/cli because the login (src/oidc) reads them too, and nothing below the CLI
 * imports from it.
 */

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/**
 * true for 1/true/yes/on, false for 0/false/no/off (any case, surrounding blanks ignored),
 * undefined for anything else, unset or empty: the caller's default then applies.
 */
export function envFlag(value: string | undefined): boolean | undefined {
  const word = value?.trim().toLowerCase();
  if (word === undefined) return undefined;
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  return undefined;
}
