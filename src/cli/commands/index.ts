import type { Command } from 'commander';
import type { Ctx } from '../context.js';

export interface CommandModule {
  create(ctx: Ctx): Command;
}

/** Every top-level command, loaded lazily: only the one being run is imported. */
export const commandTable: { name: string; load: () => Promise<CommandModule> }[] = [
  { name: 'init', load: () => import('./init.js') },
  { name: 'provisioner', load: () => import('./provisioner/index.js') },
  { name: 'inspect', load: () => import('./inspect.js') },
  { name: 'fingerprint', load: () => import('./fingerprint.js') },
  { name: 'serve', load: () => import('./serve.js') },
  { name: 'oauth', load: () => import('./oauth.js') },
  { name: 'certificate', load: () => import('./certificate.js') },
  { name: 'bootstrap', load: () => import('./bootstrap.js') },
  { name: 'root', load: () => import('./root.js') },
  { name: 'roots', load: () => import('./roots.js') },
  { name: 'health', load: () => import('./health.js') },
];
