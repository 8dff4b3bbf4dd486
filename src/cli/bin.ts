import { defaultContext } from './context.js';
import { main } from './main.js';

// The only place that ends the process: everything else returns exit codes.
const code = await main(process.argv.slice(2), defaultContext());
process.exitCode = code;
