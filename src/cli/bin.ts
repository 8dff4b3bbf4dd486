import { readFileSync } from 'node:fs';

// A reader that stops early (`ca inspect x.crt | head -2`) closes the pipe: end quietly, as
// Unix tools do, instead of an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/**
 * `ca --version`, `ca` and `ca --help` are answered without loading commander or any command:
 * the version from package.json, the overview from the command tree the build saved. Undefined
 * when this run needs the full CLI (or the saved tree cannot be read: then the full CLI prints it).
 */
async function quickAnswer(argv: string[]): Promise<number | undefined> {
  const only = argv.length === 1 ? argv[0] : argv.length === 0 ? '' : undefined;
  if (only === '--version' || only === '-v') {
    const { version } = await import('./version.js');
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (only !== '' && only !== '--help' && only !== '-h') return undefined;
  try {
    const { overview, TREE_FILE } = await import('./overview.js');
    const tree = JSON.parse(readFileSync(new URL(`./${TREE_FILE}`, import.meta.url), 'utf8'));
    process.stdout.write(overview(tree, process.stdout.isTTY ? process.stdout.columns : undefined));
    return 0;
  } catch {
    return undefined;
  }
}

// The only place that ends the process: everything else returns exit codes.
const argv = process.argv.slice(2);
let code = await quickAnswer(argv);
if (code === undefined) {
  const [{ defaultContext }, { main }] = await Promise.all([import('./context.js'), import('./main.js')]);
  code = await main(argv, defaultContext());
}
process.exitCode = code;
