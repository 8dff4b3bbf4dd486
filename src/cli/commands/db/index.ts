import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import * as migrate from './migrate.js';

export function create(ctx: Ctx): Command {
  return new Command('db')
    .summary("the CA's database (move from SQLite to PostgreSQL)")
    .description("Work on the database ca serve keeps its records in: issued certificates and used tokens.")
    .addCommand(migrate.create(ctx))
    .addHelpText('after', `\nExamples:\n  $ ca db migrate --from sqlite --to 'postgresql://ca@db.internal:5432/' --database ca`);
}
