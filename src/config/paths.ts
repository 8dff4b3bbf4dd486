import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where a CA's files live under its base directory: the layout `step ca init` uses under
 * $STEPPATH, so a step home works here and ours works with step.
 */
export interface CaLayout {
  base: string;
  certsDir: string;
  secretsDir: string;
  configDir: string;
  dbDir: string;
  rootCert: string;
  /** The root's (empty) CRL, signed at init: services that check a CRL for every CA of a chain need it. */
  rootCrl: string;
  rootKey: string;
  intermediateCert: string;
  intermediateKey: string;
  caConfig: string;
  defaults: string;
}

/** `$CA_PATH`, else `~/.ca`: the twin of step's `$STEPPATH` and `~/.step`. */
export function caBasePath(env: NodeJS.ProcessEnv, home: () => string = homedir): string {
  const fromEnv = env.CA_PATH?.trim();
  return fromEnv ? resolve(fromEnv) : join(home(), '.ca');
}

export function caLayout(base: string): CaLayout {
  const certsDir = join(base, 'certs');
  const secretsDir = join(base, 'secrets');
  const configDir = join(base, 'config');
  return {
    base,
    certsDir,
    secretsDir,
    configDir,
    dbDir: join(base, 'db'),
    rootCert: join(certsDir, 'root_ca.crt'),
    rootCrl: join(certsDir, 'root_ca.crl'),
    rootKey: join(secretsDir, 'root_ca_key'),
    intermediateCert: join(certsDir, 'intermediate_ca.crt'),
    intermediateKey: join(secretsDir, 'intermediate_ca_key'),
    caConfig: join(configDir, 'ca.json'),
    defaults: join(configDir, 'defaults.json'),
  };
}

/** Paths inside ca.json may be relative; step resolves them against the base directory. */
export function resolveIn(base: string, path: string): string {
  return isAbsolute(path) ? path : join(base, path);
}
