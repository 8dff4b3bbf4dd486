/**
 * A certificate and its private key as a client presents them over mutual TLS (renew, rekey,
 * revoke): the chain as PEM, the key unencrypted for the TLS client, and the few facts of the leaf
 * the commands decide by. Checked once here, so a wrong pair is a clear error and never a TLS
 * failure at the CA.
 */
import { X509Certificate } from 'node:crypto';
import { CaError } from '../errors.js';
import { openPrivateKey } from './keys.js';
import { parsePem, toPem } from './pem.js';
import { parseCertificate } from './inspect/model.js';
import { commonName } from './inspect/names.js';
import { DerError } from './der.js';

export interface LeafFacts {
  /** Decimal, as step prints and sends serials. */
  serial: string;
  /** The subject's common name ('' when there is none). */
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export interface Credentials {
  /** The certificate blocks of the file (leaf first), re-armoured: what the TLS client sends. */
  chainPem: string;
  /** The private key as unencrypted PKCS#8 PEM, for the TLS client only (never written). */
  keyPem: string;
  leaf: LeafFacts;
}

/** The leaf facts of the first certificate in `certText`; `where` names the file in messages. */
export function leafFacts(certText: string | Uint8Array, where: string): { facts: LeafFacts; chain: Uint8Array[] } {
  const chain = parsePem(certText, where)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
  const leafDer = chain[0];
  if (!leafDer) {
    throw new CaError('ERR_CERT_INVALID', `${where} holds a certificate request, not a certificate`, { hint: 'pass the certificate file (.crt)' });
  }
  try {
    const leaf = parseCertificate(leafDer);
    return {
      facts: { serial: leaf.serial.toString(10), subject: commonName(leaf.subject), notBefore: leaf.notBefore, notAfter: leaf.notAfter },
      chain,
    };
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    throw new CaError('ERR_CERT_INVALID', `${where} is not a valid certificate: ${err.message}`, { cause: err });
  }
}

/**
 * The certificate file's chain and the key file's key, checked to belong together. `password`
 * opens an encrypted key.
 */
export function credentialsFrom(
  certText: string | Uint8Array,
  keyText: string,
  where: { certFile: string; keyFile: string },
  password?: string,
): Credentials {
  const { facts, chain } = leafFacts(certText, where.certFile);
  const key = openPrivateKey(keyText, password, where.keyFile);
  if (!new X509Certificate(Buffer.from(chain[0] as Uint8Array)).checkPrivateKey(key)) {
    throw new CaError('ERR_KEY_INVALID', `${where.keyFile} is not the private key of ${where.certFile}`, {
      hint: 'pass the key file that was saved with this certificate',
    });
  }
  return {
    chainPem: chain.map((der) => toPem('CERTIFICATE', der)).join(''),
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }) as string,
    leaf: facts,
  };
}
