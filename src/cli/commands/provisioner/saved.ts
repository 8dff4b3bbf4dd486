import type { IOStreams } from '../../io.js';
import { status, success } from '../../output.js';

/** What step prints after it edits ca.json: where, and how to make a running CA see it. */
export function printSaved(io: IOStreams, configPath: string): void {
  success(io, 'CA Configuration', configPath);
  status(io);
  status(
    io,
    'Success! Your `ca` config has been updated. To pick up the new configuration SIGHUP (kill -1 <pid>) or restart the `ca serve` process.',
  );
}

/** What a change through the admin API prints: where, and that no reload is needed. */
export function printRemoteSaved(io: IOStreams, caUrl: string, what: string): void {
  success(io, 'CA', caUrl);
  status(io);
  status(io, `Success! The CA ${what}; it takes effect at once on every server, with no reload.`);
}
