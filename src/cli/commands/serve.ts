import { Command } from 'commander';
import { CaError } from '../../errors.js';
import type { Ctx } from '../context.js';

// Placeholder until the server lands: the command exists so the tree and help are complete.
export function create(_ctx: Ctx): Command {
  return new Command('serve').summary('run the certificate authority (HTTPS)').action(() => {
    throw new CaError('ERR_INTERNAL', "'ca serve' is not built yet");
  });
}
