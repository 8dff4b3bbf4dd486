import assert from 'node:assert/strict';
import type { CliResult } from '../helpers/run-cli.js';

/** A command line, what its error must say, and its exit code. */
export type Refusal = [args: string[], message: RegExp, code: number];

/**
 * Run each refused command and check the house rules: its exit code, a message naming the
 * problem, no stack trace, and ca.json (read by `read`) byte-identical to what it was.
 */
export async function assertRefusals(cases: Refusal[], ca: (...args: string[]) => Promise<CliResult>, read: () => Promise<string>): Promise<void> {
  const original = await read();
  for (const [args, message, code] of cases) {
    const res = await ca(...args);
    assert.equal(res.code, code, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message, args.join(' '));
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await read(), original, `ca.json changed by: ${args.join(' ')}`);
  }
}
