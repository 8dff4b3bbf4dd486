import { spawn, type ChildProcess } from 'node:child_process';
import { delimiter } from 'node:path';
import { envFlag } from '../config/env-flags.js';

/**
 * Open a URL in the user's browser, without waiting for the browser itself.
 *
 * - `CA_OPEN_BROWSER=0` (or false, no, off): do not try (step's STEP_OPEN_BROWSER=0); the caller
 *   prints the URL.
 * - `$BROWSER`: the commands it lists (separated by ':' as xdg-utils reads it), tried in order
 *   until one starts; `%s` in a command is replaced by the URL, otherwise the URL is appended.
 * - otherwise the platform's opener (the `open` package: xdg-open, open, start), except on a
 *   Linux box with no display, where it could only fail quietly.
 *
 * Resolves true when a browser process was started, false when none could be.
 */
export async function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!canOpenBrowser(env)) return false;
  const fromEnv = env.BROWSER?.trim();
  if (fromEnv) {
    for (const entry of fromEnv.split(delimiter)) {
      const words = entry.trim().split(/\s+/).filter(Boolean);
      const [command, ...args] = words;
      if (!command) continue;
      const withUrl = args.some((a) => a.includes('%s')) ? args.map((a) => a.replaceAll('%s', url)) : [...args, url];
      if (started(spawn(command, withUrl, { detached: true, stdio: 'ignore', env }))) return true;
    }
    return false;
  }
  try {
    const { default: open } = await import('open');
    return started(await open(url));
  } catch {
    return false;
  }
}

/**
 * Whether openBrowser may have something to start: not when CA_OPEN_BROWSER turns it off, nor on
 * a Linux box with no display (and no $BROWSER), where the platform's opener could only fail
 * quietly. (A $BROWSER that names a missing command is found out only by trying.)
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
  if (envFlag(env.CA_OPEN_BROWSER) === false) return false;
  if (env.BROWSER?.trim()) return true;
  return !(process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY && !isWsl(env));
}

/**
 * A spawned process either started (Node gives it a pid at once) or failed to (ENOENT, EACCES;
 * reported by a later 'error' event, which must have a listener). Never wait for it to end.
 */
function started(child: ChildProcess): boolean {
  child.on('error', () => undefined);
  if (child.pid === undefined) return false;
  child.unref();
  return true;
}

function isWsl(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.WSL_DISTRO_NAME || env.WSL_INTEROP);
}
