import type { Command } from 'commander';
import type { Ctx } from '../context.js';

export interface CommandModule {
  create(ctx: Ctx): Command;
}

export interface CommandEntry {
  name: string;
  /** The heading `ca` and `ca --help` list it under. */
  group: string;
  load: () => Promise<CommandModule>;
  /** It reads the whole command tree (`completion`), so every command is loaded with it. */
  needsAll?: boolean;
}

const USE = 'Get a certificate:';
const LIFECYCLE = 'Renew and revoke:';
const ADMIN = 'Run a CA (admins):';
const TOOLS = 'Tools:';

/**
 * Every top-level command, loaded lazily: only the one being run is imported. The order is the
 * order of the listing: what a developer does first, then what an admin does, then tools.
 */
export const commandTable: CommandEntry[] = [
  { name: 'certificate', group: USE, load: () => import('./certificate.js') },
  { name: 'bootstrap', group: USE, load: () => import('./bootstrap.js') },
  { name: 'token', group: USE, load: () => import('./token.js') },
  { name: 'renew', group: LIFECYCLE, load: () => import('./renew.js') },
  { name: 'rekey', group: LIFECYCLE, load: () => import('./rekey.js') },
  { name: 'revoke', group: LIFECYCLE, load: () => import('./revoke.js') },
  { name: 'crl', group: LIFECYCLE, load: () => import('./crl.js') },
  { name: 'init', group: ADMIN, load: () => import('./init.js') },
  { name: 'provisioner', group: ADMIN, load: () => import('./provisioner/index.js') },
  { name: 'admin', group: ADMIN, load: () => import('./admin/index.js') },
  { name: 'serve', group: ADMIN, load: () => import('./serve.js') },
  { name: 'db', group: ADMIN, load: () => import('./db/index.js') },
  { name: 'inspect', group: TOOLS, load: () => import('./inspect.js') },
  { name: 'fingerprint', group: TOOLS, load: () => import('./fingerprint.js') },
  { name: 'oauth', group: TOOLS, load: () => import('./oauth.js') },
  { name: 'root', group: TOOLS, load: () => import('./root.js') },
  { name: 'roots', group: TOOLS, load: () => import('./roots.js') },
  { name: 'health', group: TOOLS, load: () => import('./health.js') },
  { name: 'completion', group: TOOLS, load: () => import('./completion.js'), needsAll: true },
];
