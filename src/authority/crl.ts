/**
 * The CRL, as newer step-ca serves it (ca.json `crl`): signed by the intermediate, listing every
 * revoked serial whose certificate has not expired, with its date and reason. Each server process
 * keeps the one it made last and makes a new one when a revocation was recorded since (the store
 * says so cheaply, whichever replica or worker recorded it) or when its renew period has passed;
 * the CRL number comes from the store, so it only grows across processes.
 */
import type { CaConfigJson } from '../config/ca-config.js';
import { formatDuration, tryParseDuration } from '../config/duration.js';
import { CaError } from '../errors.js';
import type { SigningCa } from '../pki/certificate.js';
import { issueCrl } from '../pki/crl.js';
import type { Store } from '../store/types.js';
import type { CrlResponse } from './types.js';

export interface CrlSettings {
  enabled: boolean;
  generateOnRevoke: boolean;
  /** How long a CRL is valid: nextUpdate - thisUpdate (step-ca's default 24h). */
  cacheDurationMs: number;
  /** When a new one is made (default: two thirds of the cache duration). */
  renewPeriodMs: number;
}

const DEFAULT_CACHE_MS = 24 * 3_600_000;

function crlDuration(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const ms = typeof value === 'string' ? tryParseDuration(value) : undefined;
  if (ms === undefined || ms < 0) {
    throw new CaError('ERR_CONFIG_INVALID', `ca.json "crl.${field}" is not a duration: ${JSON.stringify(value)}`, { hint: 'use a Go duration such as 24h' });
  }
  return ms;
}

/** ca.json `crl`, checked with step-ca's rules. */
export function crlSettings(config: CaConfigJson): CrlSettings {
  const crl = (config.crl ?? {}) as Record<string, unknown>;
  if (typeof crl !== 'object' || Array.isArray(crl)) throw new CaError('ERR_CONFIG_INVALID', 'ca.json "crl" must be an object');
  const cacheDurationMs = crlDuration(crl.cacheDuration, 'cacheDuration') || DEFAULT_CACHE_MS;
  const renewPeriodMs = crlDuration(crl.renewPeriod, 'renewPeriod') || Math.floor((cacheDurationMs * 2) / 3);
  if (renewPeriodMs > cacheDurationMs) {
    throw new CaError('ERR_CONFIG_INVALID', `ca.json "crl.renewPeriod" (${formatDuration(renewPeriodMs)}) cannot be longer than "crl.cacheDuration" (${formatDuration(cacheDurationMs)})`);
  }
  return { enabled: crl.enabled === true, generateOnRevoke: crl.generateOnRevoke === true, cacheDurationMs, renewPeriodMs };
}

interface Cached {
  crl: CrlResponse;
  /** The store's revocations version it was made from. */
  version: number;
  renewAt: number;
}

export class CrlPublisher {
  private cached: Cached | undefined;
  private building: Promise<CrlResponse> | undefined;

  constructor(
    readonly settings: CrlSettings,
    private readonly ca: SigningCa,
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /** The current CRL, made anew when it is stale. */
  async current(): Promise<CrlResponse> {
    if (!this.settings.enabled) {
      throw new CaError('ERR_NOT_FOUND', 'this CA does not publish a CRL', {
        status: 404,
        hint: 'an admin turns it on with "crl": {"enabled": true} in ca.json',
      });
    }
    const cached = this.cached;
    if (cached && this.now().getTime() < cached.renewAt && (await this.store.revocationsVersion()) === cached.version) return cached.crl;
    return this.regenerate();
  }

  /** After a revocation: make the CRL now if ca.json asks for it (`generateOnRevoke`). */
  async revoked(): Promise<void> {
    if (this.settings.enabled && this.settings.generateOnRevoke) await this.regenerate();
  }

  /** One build at a time per process; callers arriving meanwhile share it. */
  private regenerate(): Promise<CrlResponse> {
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(): Promise<CrlResponse> {
    const version = await this.store.revocationsVersion();
    const now = this.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.cacheDurationMs);
    // A certificate that expired during the last period stays listed once more, as step-ca keeps it.
    const revocations = await this.store.listRevocations(new Date(thisUpdate.getTime() - this.settings.cacheDurationMs));
    const number = await this.store.nextCrlNumber();
    const der = issueCrl(this.ca, {
      number,
      thisUpdate,
      nextUpdate,
      entries: revocations.map((r) => ({ serial: BigInt(r.serial), revokedAt: r.revokedAt, reasonCode: r.reasonCode })),
    });
    const crl = { der, thisUpdate, nextUpdate, number };
    this.cached = { crl, version, renewAt: thisUpdate.getTime() + this.settings.renewPeriodMs };
    return crl;
  }
}
