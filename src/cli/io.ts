import { PassThrough, type Readable, type Writable } from 'node:stream';

/**
 * The terminal streams a command may touch, and what they are connected to. Status lines go to
 * stderr; results that scripts read go to stdout.
 */
export interface IOStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Colours and ✔ marks in green: only on a terminal and unless NO_COLOR is set. */
  color: boolean;
}

export function processIO(env: NodeJS.ProcessEnv = process.env): IOStreams {
  const stderrIsTTY = Boolean(process.stderr.isTTY);
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY,
    color: stderrIsTTY && env.NO_COLOR === undefined,
  };
}

export interface TestIO extends IOStreams {
  /** Everything written to stdout so far. */
  out(): string;
  /** Everything written to stderr so far. */
  err(): string;
  /** Feed text to stdin and end it. */
  input(text: string): void;
}

/** Streams backed by buffers, piped (not a TTY) unless told otherwise. */
export function testIO(tty: { stdin?: boolean; stdout?: boolean; stderr?: boolean } = {}): TestIO {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => outChunks.push(c));
  stderr.on('data', (c: Buffer) => errChunks.push(c));
  return {
    stdin,
    stdout,
    stderr,
    stdinIsTTY: tty.stdin ?? false,
    stdoutIsTTY: tty.stdout ?? false,
    stderrIsTTY: tty.stderr ?? false,
    color: false,
    out: () => Buffer.concat(outChunks).toString('utf8'),
    err: () => Buffer.concat(errChunks).toString('utf8'),
    input: (text) => stdin.end(text),
  };
}
