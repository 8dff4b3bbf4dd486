import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { envFlag } from '../../src/config/env-flags.js';

/** Whether a command runs here (`tool -c 'exit 0'` for shells, `tool --version` otherwise), or a path exists. */
export function installed(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  const args = ['zsh', 'fish', 'bash', 'sh'].includes(tool) ? ['-c', 'exit 0'] : ['--version'];
  return !spawnSync(tool, args, { stdio: 'ignore' }).error;
}

/**
 * The `skip` option of a test that needs `tool`: a reason to skip on a developer's machine that
 * lacks it, but never in CI (CI=true), where the test runs and `requireTool` fails it by name.
 */
export function skipWithout(tool: string, env: NodeJS.ProcessEnv = process.env, present = installed(tool)): string | false {
  if (present || envFlag(env.CI) === true) return false;
  return `${tool} is not installed`;
}

/** Fail (in CI) with the tool's name and where it comes from, rather than an ENOENT deep in a test. */
export function requireTool(tool: string, present = installed(tool)): void {
  if (!present) throw new Error(`${tool} is not installed: in CI (CI=true) a missing tool is a failure; .ci/run installs it with apt`);
}
