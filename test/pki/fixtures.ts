import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a file in test/pki/__fixtures__ (made by __fixtures__/make.sh). */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./__fixtures__/${name}`, import.meta.url));
}

export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(name)));
}

/** The single-certificate fixtures, by base name. */
export const CERTIFICATES = ['root-ca', 'intermediate-ca', 'leaf-oidc', 'rsa2048', 'p384', 'p521-jwk', 'ed25519', 'kitchen-sink'] as const;
