import { Command, CommanderError } from 'commander';
import { CaError, describe } from '../errors.js';
import type { Ctx } from './context.js';
import { commandTable } from './commands/index.js';
import { GETTING_STARTED } from './overview.js';
import { renderTree, walk, type CommandNode } from './tree.js';
import { version } from './version.js';

export { version } from './version.js';

/** The terminal's width when stdout is one, for wrapping the tree as commander wraps help. */
function columns(ctx: Ctx): number | undefined {
  return ctx.io.stdoutIsTTY ? (ctx.io.stdout as Partial<NodeJS.WriteStream>).columns : undefined;
}

/** The root command: its help (`ca`, `ca --help`) is the whole command tree, not only the top level. */
class RootCommand extends Command {
  constructor(private readonly ctx: Ctx) {
    super('ca');
  }

  override helpInformation(): string {
    return renderTree(this, { width: columns(this.ctx), footer: GETTING_STARTED });
  }
}

/** The root `ca` command with only the commands that this run needs loaded. */
async function buildProgram(argv: string[], ctx: Ctx): Promise<Command> {
  const program = new RootCommand(ctx)
    .summary('a private certificate authority with single sign-on')
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

  // Load only the command being run, so `ca inspect` never pays for the OIDC client; help, unknown
  // words and commands that read the whole tree (completion) load them all.
  const word = argv.find((a) => !a.startsWith('-'));
  const wanted = commandTable.filter((c) => c.name === word);
  const loadAll = wanted.length === 0 || wanted.some((c) => c.needsAll);
  for (const entry of loadAll ? commandTable : wanted) {
    const mod = await entry.load();
    program.addCommand(mod.create(ctx).helpGroup(entry.group));
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

/**
 * The whole command tree as data, as `ca` shows it: what the build saves in dist/cli/tree.json
 * for bin.ts to print the overview without loading any command.
 */
export async function commandTree(ctx: Ctx): Promise<CommandNode> {
  return walk(await buildProgram([], ctx));
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
