import type { IOStreams } from './io.js';

const green = (s: string) => `\x1b[32m${s}\x1b[0m`;
const bold = (s: string) => `\x1b[1m${s}\x1b[0m`;

/** step's status line: `✔ Name: value`, on stderr, the mark green and the name bold on a terminal. */
export function success(io: IOStreams, name: string, value: string): void {
  const mark = io.color ? green('✔') : '✔';
  const label = io.color ? bold(`${name}:`) : `${name}:`;
  io.stderr.write(`${mark} ${label} ${value}\n`);
}

/** A plain status line on stderr. */
export function status(io: IOStreams, line = ''): void {
  io.stderr.write(`${line}\n`);
}

/** A result for scripts, on stdout. */
export function result(io: IOStreams, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
