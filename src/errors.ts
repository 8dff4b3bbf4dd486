/**
 * The one error family of the project. Every failure a user can cause or meet carries a stable
 * `code`, a message written for that user, and how it leaves the program: an exit code for the
 * CLI and an HTTP status for the server. `cli/main.ts` and `server/http.ts` are the only places
 * that turn these into output; everything else throws.
 */

export type ErrorCode =
  // command line
  | 'ERR_USAGE'
  | 'ERR_CANCELLED'
  | 'ERR_SILENT'
  | 'ERR_MISSING_FLAG'
  | 'ERR_NOT_INTERACTIVE'
  // files and configuration
  | 'ERR_FILE_NOT_FOUND'
  | 'ERR_FILE_EXISTS'
  | 'ERR_FILE_IO'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_LOCKED'
  | 'ERR_CA_EXISTS'
  | 'ERR_PROVISIONER_EXISTS'
  | 'ERR_PROVISIONER_NOT_FOUND'
  | 'ERR_PROVISIONER_INVALID'
  | 'ERR_DURATION_INVALID'
  // keys, certificates, requests
  | 'ERR_PASSWORD'
  | 'ERR_KEY_INVALID'
  | 'ERR_CERT_INVALID'
  | 'ERR_CSR_INVALID'
  | 'ERR_PEM_INVALID'
  // network and identity providers
  | 'ERR_DISCOVERY'
  | 'ERR_NETWORK'
  // the store's database (PostgreSQL)
  | 'ERR_DATABASE'
  // logging in at an identity provider (the CLI side of OIDC)
  | 'ERR_LOGIN_FAILED'
  | 'ERR_LOGIN_DENIED'
  | 'ERR_LOGIN_TIMEOUT'
  | 'ERR_LOGIN_STATE_MISMATCH'
  | 'ERR_LISTEN_FAILED'
  | 'ERR_ID_TOKEN_INVALID'
  | 'ERR_CA_RESPONSE'
  // server-side authorization and signing
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_INTERNAL';

export interface CaErrorOptions {
  /** Process exit code when this error ends a command (default 1). */
  exitCode?: number;
  /** HTTP status when this error ends a request (default 500). */
  status?: number;
  /** A next step for the user, printed after the message as "try: …". */
  hint?: string;
  cause?: unknown;
}

export class CaError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly status: number;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: CaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.status = options.status ?? 500;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments: exit 2, and the CLI prints a pointer to `--help`. */
export class UsageError extends CaError {
  constructor(message: string, options: Omit<CaErrorOptions, 'exitCode'> = {}) {
    super('ERR_USAGE', message, { ...options, exitCode: 2, status: options.status ?? 400 });
  }
}

/** The user said no, or pressed Ctrl-C at a prompt. */
export class CancelError extends CaError {
  constructor(message = 'cancelled') {
    super('ERR_CANCELLED', message, { exitCode: 130 });
  }
}

/** The command already printed why it failed; only the exit code is left to report. */
export class SilentError extends CaError {
  constructor(exitCode = 1) {
    super('ERR_SILENT', '', { exitCode });
  }
}

/** A flag the command needs and could not prompt for. */
export function missingFlag(flag: string, why = ''): CaError {
  return new CaError('ERR_MISSING_FLAG', `missing the '${flag}' flag${why ? `: ${why}` : ''}`, {
    exitCode: 2,
    hint: `pass ${flag}, or run the command in a terminal to be asked for it`,
  });
}

/** `'--a'`, `'--a' and '--b'`, `'--a', '--b' and '--c'`. */
export function listFlags(flags: string[]): string {
  const quoted = flags.map((f) => `'${f}'`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1] as string}`;
}

/** Every flag a command needs and could not prompt for, in one error (one run tells all). */
export function missingFlags(flags: string[]): CaError {
  if (flags.length === 1) return missingFlag(flags[0] as string);
  return new CaError('ERR_MISSING_FLAG', `missing the ${listFlags(flags)} flags`, {
    exitCode: 2,
    hint: 'pass them, or run the command in a terminal to be asked for them',
  });
}

/** Describe any thrown value in one line, for wrapping causes into our own messages. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? err.cause.message : '';
    const base = err.message || String(code ?? err.name);
    return cause && !base.includes(cause) ? `${base}: ${cause}` : base;
  }
  return String(err);
}

/** What a file system error means, in words: no errno code, no path (the message names it once). */
export function fileProblem(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EEXIST':
      return 'a file is in the way';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    default:
      return describe(err);
  }
}
