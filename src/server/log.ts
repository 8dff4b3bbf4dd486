/**
 * The server's structured log: one JSON object per line, `time` first. Lines are batched per
 * event-loop turn (one write for many requests) and written in pieces of at most PIPE_BUF bytes,
 * so lines from several cluster workers sharing one stdout pipe never interleave mid-line.
 */
import type { Writable } from 'node:stream';

export type LogEvent = Record<string, unknown>;

export interface JsonLog {
  (event: LogEvent): void;
  /** Write out what is batched now (before exit). */
  flush(): void;
}

/** Writes to a pipe up to this size are atomic on POSIX. */
const ATOMIC_WRITE = 4096;

const TOKEN_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

/**
 * Last line of defence: nothing we log should hold a token or a key, but an error message from
 * a library might quote one. Cheap when there is nothing to hide.
 */
export function redact(line: string): string {
  let out = line;
  if (out.includes('eyJ')) out = out.replace(TOKEN_LIKE, '[redacted token]');
  if (out.includes('PRIVATE KEY')) out = out.replace(PRIVATE_KEY, '[redacted key]');
  return out;
}

export function jsonLineLog(stream: Writable, now: () => Date = () => new Date()): JsonLog {
  let lines: string[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const pending = lines;
    lines = [];
    let chunk = '';
    let bytes = 0;
    for (const line of pending) {
      const size = Buffer.byteLength(line);
      if (chunk && bytes + size > ATOMIC_WRITE) {
        stream.write(chunk);
        chunk = '';
        bytes = 0;
      }
      chunk += line;
      bytes += size;
    }
    if (chunk) stream.write(chunk);
  };

  const log = ((event: LogEvent): void => {
    lines.push(`${redact(JSON.stringify({ time: now().toISOString(), ...event }))}\n`);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }) as JsonLog;
  log.flush = flush;
  return log;
}
