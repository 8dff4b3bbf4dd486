/**
 * SIGHUP: re-read ca.json and swap the whole configuration, as step-ca does. The file is read
 * once (by the primary in cluster mode, so every worker builds from the same bytes); a changed
 * `db` section is refused, since the store stays open; a file that does not load keeps the
 * running configuration. Reloads never overlap: a SIGHUP during one runs another after it.
 */
import { isDeepStrictEqual } from 'node:util';
import { readCaConfig, type CaConfigJson } from '../config/ca-config.js';
import { CaError, describe } from '../errors.js';

export const DB_CHANGED_LINES = [
  'Reload failed because the database configuration has changed.',
  'Continuing to run with the original configuration.',
  'You can force a restart by sending a SIGTERM signal and then restarting ca serve.',
];

export function sameDatabase(running: CaConfigJson, next: CaConfigJson): boolean {
  return isDeepStrictEqual(running.db ?? null, next.db ?? null);
}

/** The store stays open across reloads, so its configuration may not change underneath it. */
export function checkSameDatabase(running: CaConfigJson, next: CaConfigJson): void {
  if (!sameDatabase(running, next)) {
    throw new CaError('ERR_CONFIG_INVALID', 'the database configuration has changed', {
      hint: 'restart ca serve to use the new "db" section',
    });
  }
}

/** What a reload is applied to: one in-process instance, or every cluster worker. */
export interface ReloadTarget {
  reload(config: CaConfigJson): Promise<void>;
}

export interface ReloaderOptions {
  configPath: string;
  /** The configuration running now. */
  config: CaConfigJson;
  target: ReloadTarget;
  /** A line for the operator (stderr). */
  say: (line: string) => void;
}

export class Reloader {
  private running: Promise<void> | undefined;
  private again = false;
  private config: CaConfigJson;

  constructor(private readonly opts: ReloaderOptions) {
    this.config = opts.config;
  }

  /** Ask for a reload (a SIGHUP arrived). Resolves when no reload is pending. */
  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.reloadOnce();
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  /** One reload; returns whether the new configuration is now serving. */
  async reloadOnce(): Promise<boolean> {
    const { say } = this.opts;
    say('reloading ...');
    let next: CaConfigJson;
    try {
      next = await readCaConfig(this.opts.configPath);
    } catch (err) {
      this.failed(err);
      return false;
    }
    if (!sameDatabase(this.config, next)) {
      DB_CHANGED_LINES.forEach((line) => say(line));
      return false;
    }
    try {
      await this.opts.target.reload(next);
    } catch (err) {
      this.failed(err);
      return false;
    }
    const moved = next.address !== this.config.address;
    this.config = next;
    say(`reloaded the configuration from ${this.opts.configPath}`);
    if (moved) say(`"address" changed to ${String(next.address)}: the listener stays where it is until ca serve restarts`);
    return true;
  }

  private failed(err: unknown): void {
    this.opts.say(`error reloading server: ${describe(err)}`);
    this.opts.say('Continuing to run with the original configuration.');
  }
}
