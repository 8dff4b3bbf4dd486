/**
 * One loaded configuration: the authority built from it and every response body that does not
 * depend on the request, prepared once. SIGHUP makes a new generation and swaps it in with one
 * assignment; a request holds the generation it started with until it ends, and the old
 * authority is closed only when the last such request is done.
 */
import type { Authority } from '../authority/types.js';
import type { CaConfigJson } from '../config/ca-config.js';
import type { Store } from '../store/types.js';
import type { TlsSettings } from './tls.js';

/** Response bodies that only change on reload. */
export interface Published {
  health: string;
  version: string;
  roots: string;
  rootsPem: string;
  intermediates: string;
  intermediatesPem: string;
  /** Lowercase hex SHA-256 → `{"ca": PEM}` body. */
  rootByFingerprint: ReadonlyMap<string, string>;
}

/** JSON as Go's encoder writes it: with a trailing newline. */
export function jsonBody(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

function pemBundle(pems: readonly string[]): string {
  return pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}

export function publish(authority: Authority, version: string): Published {
  const rootByFingerprint = new Map<string, string>();
  authority.rootFingerprints.forEach((fp, i) => {
    const pem = authority.rootsPem[i];
    if (pem !== undefined) rootByFingerprint.set(fp.toLowerCase(), jsonBody({ ca: pem }));
  });
  return {
    health: jsonBody({ status: 'ok' }),
    version: jsonBody({ version }),
    roots: jsonBody({ crts: authority.rootsPem }),
    rootsPem: pemBundle(authority.rootsPem),
    intermediates: jsonBody({ crts: [authority.intermediatePem] }),
    intermediatesPem: pemBundle([authority.intermediatePem]),
    rootByFingerprint,
  };
}

export class Generation {
  private inflight = 0;
  private retired = false;

  constructor(
    readonly authority: Authority,
    readonly config: CaConfigJson,
    readonly tls: TlsSettings,
    readonly published: Published,
    /** The store the authority writes to; /health asks it whether the database answers, the admin API keeps its records there. */
    readonly store: Store,
    /** With remote administration: the store's provisioners this generation serves (JSON), to tell when they changed. */
    readonly provisionersKey = '',
  ) {}

  /** A request starts using this authority; pair with leave(). */
  enter(): void {
    this.inflight += 1;
  }

  leave(): void {
    this.inflight -= 1;
    if (this.retired && this.inflight === 0) this.authority.close();
  }

  /** Replaced: close the authority once the requests still on it are done. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.inflight === 0) this.authority.close();
  }
}
