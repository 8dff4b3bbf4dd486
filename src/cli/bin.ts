import { defaultContext } from './context.js';
import { main } from './main.js';

// A reader that stops early (`ca inspect x.crt | head -2`) closes the pipe: end quietly, as
// Unix tools do, instead of an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// The only place that ends the process: everything else returns exit codes.
const code = await main(process.argv.slice(2), defaultContext());
process.exitCode = code;
