/**
 * Names told apart by their look, as step's `x509util.SplitSANs` does: an IP address, then a URI
 * (anything with a scheme), then an email (anything with an @), else a DNS name. The CLI builds
 * its requests this way and the CA reads a JWK token's `sans` this way, so both agree.
 */
import { isIP } from 'node:net';
import type { SubjectAltName } from './csr.js';

export function sanByLook(value: string): SubjectAltName {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(bare)) return { type: 'ip', value: bare };
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return { type: 'uri', value };
  if (value.includes('@')) return { type: 'email', value };
  return { type: 'dns', value };
}
