import { readFileSync } from 'node:fs';

/** The package's version, read from package.json beside dist/ (no other module loaded for it). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
