import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CaError, describe } from '../errors.js';
import type { Ctx } from './context.js';
import { commandTable } from './commands/index.js';

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The root `ca` command with only the commands that this run needs loaded. */
async function buildProgram(argv: string[], ctx: Ctx): Promise<Command> {
  const program = new Command('ca')
    .description('A private certificate authority with single sign-on: OIDC login in, short-lived X.509 certificates out.')
    .version(version(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .addHelpCommand(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'ca: ')),
    });

  // Load only the command being run, so `ca inspect` never pays for the OIDC client; help and
  // unknown words load them all to list them.
  const word = argv.find((a) => !a.startsWith('-'));
  const wanted = commandTable.filter((c) => c.name === word);
  for (const entry of wanted.length ? wanted : commandTable) {
    const mod = await entry.load();
    program.addCommand(mod.create(ctx));
  }
  inheritSettings(program, program);
  return program;
}

/** addCommand() does not copy the root's settings to commands built elsewhere; do it for the whole tree. */
function inheritSettings(root: Command, cmd: Command): void {
  for (const sub of cmd.commands) {
    sub.copyInheritedSettings(root);
    sub.exitOverride();
    inheritSettings(root, sub);
  }
}

/** Print a CaError as one line (plus a hint) and return its exit code. */
function report(err: unknown, ctx: Ctx): number {
  const { stderr } = ctx.io;
  if (err instanceof CommanderError) {
    // Commander has already printed its message; help and --version end with exit code 0.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    if (err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof CaError) {
    if (err.code === 'ERR_SILENT') return err.exitCode;
    if (err.message) stderr.write(`ca: ${err.message}\n`);
    if (err.hint) stderr.write(`  try: ${err.hint}\n`);
    return err.exitCode;
  }
  // Anything else is a bug in ca, not a user mistake: say so, and how to report it.
  stderr.write(`ca: internal error: ${describe(err)}\n`);
  stderr.write(`  this is a bug in ca ${version()}; please report it with the command you ran (set CA_DEBUG=1 for a stack trace)\n`);
  if (ctx.env.CA_DEBUG && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
  return 70;
}

/** Run the CLI with the given arguments (without `node` and the script) and return the exit code. */
export async function main(argv: string[], ctx: Ctx): Promise<number> {
  try {
    const program = await buildProgram(argv, ctx);
    if (argv.length === 0) {
      ctx.io.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return report(err, ctx);
  }
}
