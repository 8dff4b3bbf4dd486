/**
 * `step certificate inspect` for certificates and CSRs, and `step crl inspect` for CRLs: pure
 * functions from decoded PEM blocks to the exact text to print. The long and short text forms
 * follow smallstep/certinfo (and crlutil), the JSON form zcrypto, so output can be compared with
 * step's side by side.
 */
import { CaError } from '../../errors.js';
import { toPem } from '../pem.js';
import type { PemBlock } from '../pem.js';
import { DerError } from '../der.js';
import { certificateJson, goJson, requestJson } from './json.js';
import { parseCertificate, parseRequest } from './model.js';
import type { Model } from './model.js';
import { certificateShortText, requestShortText } from './short.js';
import { crlJson, crlShortText, crlText, parseCrl, type CrlModel } from './crl.js';
import { certificateText, requestText } from './text.js';

export type InspectFormat = 'text' | 'json' | 'pem';

export interface InspectOptions {
  format: InspectFormat;
  /** The short summary; only with the text format. */
  short: boolean;
  /** Show every block, not only the first; JSON then prints an array. */
  bundle: boolean;
}

/** The output for `blocks`, ending in a newline. Throws CaError when a block's DER is not what its label says. */
export function inspect(blocks: readonly PemBlock[], options: InspectOptions): string {
  if (blocks.length === 0) throw new TypeError('inspect needs at least one block');
  if (options.short && options.format !== 'text') throw new TypeError(`short output exists only for text, not ${options.format}`);
  const shown = (options.bundle ? blocks : blocks.slice(0, 1)).map((block, i) => parseBlock(block, i + 1));
  switch (options.format) {
    case 'text':
      return shown.map((model) => (options.short ? shortText(model) : longText(model))).join('');
    case 'json': {
      const values = shown.map((model) => (model.kind === 'certificate' ? certificateJson(model) : model.kind === 'crl' ? crlJson(model) : requestJson(model)));
      return goJson(options.bundle ? values : values[0]);
    }
    case 'pem':
      return shown.map((model) => toPem(PEM_LABELS[model.kind], model.der)).join('');
    default:
      throw new TypeError(`unknown inspect format: ${String(options.format)}`);
  }
}

const PEM_LABELS = { certificate: 'CERTIFICATE', request: 'CERTIFICATE REQUEST', crl: 'X509 CRL' } as const;

function longText(model: Model | CrlModel): string {
  return model.kind === 'certificate' ? certificateText(model) : model.kind === 'crl' ? crlText(model) : requestText(model);
}

function shortText(model: Model | CrlModel): string {
  return model.kind === 'certificate' ? certificateShortText(model) : model.kind === 'crl' ? crlShortText(model) : requestShortText(model);
}

const KINDS = {
  CERTIFICATE: { parse: parseCertificate, what: 'certificate', code: 'ERR_CERT_INVALID' },
  'CERTIFICATE REQUEST': { parse: parseRequest, what: 'certificate request', code: 'ERR_CSR_INVALID' },
  'X509 CRL': { parse: parseCrl, what: 'certificate revocation list', code: 'ERR_CERT_INVALID' },
} as const;

function parseBlock(block: PemBlock, position: number): Model | CrlModel {
  const kind = KINDS[block.label];
  try {
    return kind.parse(block.der);
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    throw new CaError(kind.code, `block ${position} is not a valid ${kind.what}: ${err.message}`, { status: 400, cause: err });
  }
}
