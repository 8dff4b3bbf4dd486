import { x509 } from './crypto.js';
import { exportPkcs8, generateKeyPair, randomSerialHex, signingAlgorithm } from './keys.js';

/** step ca init: 10 years, counted as 10 × 365 days. */
export const CA_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;

export interface IssuedCa {
  cert: x509.X509Certificate;
  /** Unencrypted PKCS#8 DER; the caller encrypts it before it touches the disk. */
  keyPkcs8: Buffer;
  keys: CryptoKeyPair;
}

const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

/** Distinguished names as Go writes them: O before CN. Quoted so commas in a name stay one RDN. */
function caName(name: string, role: 'Root' | 'Intermediate'): x509.JsonName {
  return [{ O: [name] }, { CN: [`${name} ${role} CA`] }];
}

/** A root CA and an intermediate CA signed by it: ECDSA P-256, pathlen 1 and 0, as `step ca init` makes them. */
export async function createCaPair(name: string, now: Date): Promise<{ root: IssuedCa; intermediate: IssuedCa }> {
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + CA_VALIDITY_MS);

  const rootKeys = await generateKeyPair();
  const rootName = new x509.Name(caName(name, 'Root'));
  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey);
  const rootCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: rootName,
    issuer: rootName,
    notBefore,
    notAfter,
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: signingAlgorithm(rootKeys.privateKey),
    extensions: [
      new x509.KeyUsagesExtension(caUsages, true),
      new x509.BasicConstraintsExtension(true, 1, true),
      rootSki,
    ],
  });

  const intKeys = await generateKeyPair();
  const intCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: new x509.Name(caName(name, 'Intermediate')),
    issuer: rootName,
    notBefore,
    notAfter,
    publicKey: intKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: signingAlgorithm(rootKeys.privateKey),
    extensions: [
      new x509.KeyUsagesExtension(caUsages, true),
      new x509.BasicConstraintsExtension(true, 0, true),
      await x509.SubjectKeyIdentifierExtension.create(intKeys.publicKey),
      new x509.AuthorityKeyIdentifierExtension(rootSki.keyId),
    ],
  });

  return {
    root: { cert: rootCert, keyPkcs8: await exportPkcs8(rootKeys.privateKey), keys: rootKeys },
    intermediate: { cert: intCert, keyPkcs8: await exportPkcs8(intKeys.privateKey), keys: intKeys },
  };
}
