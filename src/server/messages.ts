/**
 * What the cluster primary and its workers say to each other over the IPC channel. The password
 * travels only here (never in the environment or the command line of a worker).
 */
import type { CaConfigJson } from '../config/ca-config.js';
import { CaError, describe, type ErrorCode } from '../errors.js';
import type { PasswordOption } from './instance.js';

export interface WorkerStart {
  config: CaConfigJson;
  configPath: string;
  caPath: string;
  password: PasswordOption;
  version: string;
  /** Base64 of the 48-byte TLS ticket keys every worker shares. */
  ticketKeys: string;
  /** Listen on this port instead of the one in `config.address` (a replacement worker joins the bound port). */
  port?: number;
  /** When `ca serve` started (ms since the epoch). */
  startedAt: number;
}

export type ToWorker =
  | { type: 'start'; start: WorkerStart }
  /** Build the new generation and hold it; answered with `prepared`. */
  | { type: 'prepare'; id: number; config: CaConfigJson }
  /** Swap the held generation in (answered with `committed`), or drop it. */
  | { type: 'commit'; id: number }
  | { type: 'abort'; id: number }
  | { type: 'shutdown' };

export type FromWorker =
  /** Sent once the worker listens for messages: messages sent before that would be lost. */
  | { type: 'listening' }
  | { type: 'ready'; port: number; rootFingerprint: string }
  | { type: 'failed'; error: SerializedError }
  | { type: 'prepared'; id: number; error?: SerializedError }
  | { type: 'committed'; id: number; error?: SerializedError };

export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
  exitCode: number;
  status: number;
  /** Not a CaError: a bug, reported as one by the CLI. */
  internal?: boolean;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof CaError) {
    return { code: err.code, message: err.message, hint: err.hint, exitCode: err.exitCode, status: err.status };
  }
  return { code: 'ERR_INTERNAL', message: describe(err), exitCode: 70, status: 500, internal: true };
}

export function deserializeError(e: SerializedError): Error {
  if (e.internal) return new Error(e.message);
  return new CaError(e.code, e.message, { hint: e.hint, exitCode: e.exitCode, status: e.status });
}

export function isFromWorker(msg: unknown): msg is FromWorker {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string';
}
