import * as oidc from 'openid-client';
import { CaError } from '../errors.js';
import { formatDuration } from '../config/duration.js';
import { DEVICE_CODE_GRANT, authorizationError, tokenError, tokenResult, type TokenResult } from './provider.js';
import type { Progress } from './progress.js';

/**
 * The device authorization grant (RFC 8628), what `--console` means when the provider offers it:
 * the user opens a URL on any device, and this command polls the token endpoint until the login
 * is approved, denied, or runs out of time.
 */

export interface DeviceFlowOptions {
  scopes: readonly string[];
  /** The tenant an Entra ID token must be for, when the provisioner names one. */
  tenantId?: string;
  /** The most to wait for approval; the device code's lifetime (expires_in) bounds it too. */
  timeoutMs: number;
  requireIdToken: boolean;
}

export interface DeviceFlowDeps {
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Prints the instructions. */
  log: (line: string) => void;
  /** Called once the instructions are out, to show progress while polling. */
  waiting: () => Progress;
}

/** RFC 8628 §3.2: the interval when the provider names none, and §3.5: what slow_down adds. */
const DEFAULT_INTERVAL_S = 5;
const SLOW_DOWN_S = 5;

export async function deviceLogin(config: oidc.Configuration, opts: DeviceFlowOptions, deps: DeviceFlowDeps): Promise<TokenResult> {
  let authorization: oidc.DeviceAuthorizationResponse;
  try {
    authorization = await oidc.initiateDeviceAuthorization(config, { scope: opts.scopes.join(' ') });
  } catch (err) {
    const failure = tokenError(err, 'the identity provider refused the device authorization request');
    if (err instanceof oidc.ResponseBodyError) {
      throw new CaError(failure.code, failure.message, {
        cause: err,
        hint: 'the client may not be allowed the device flow; run without --console to log in with a browser on this machine',
      });
    }
    throw failure;
  }

  // The address alone on its line, nothing glued to it, so that copying it takes nothing else.
  const { user_code: userCode, verification_uri: uri, verification_uri_complete: uriComplete } = authorization;
  deps.log('To log in, visit this address on any device:');
  deps.log('');
  deps.log(uriComplete ?? uri);
  deps.log('');
  deps.log(uriComplete ? `and check that it shows the code ${userCode}` : `and enter the code ${userCode}`);
  deps.log('');

  const limitMs = Math.min(authorization.expires_in * 1000, opts.timeoutMs);
  const deadline = deps.now().getTime() + limitMs;
  let intervalS = authorization.interval ?? DEFAULT_INTERVAL_S;
  const progress = deps.waiting();
  try {
    for (;;) {
      const left = deadline - deps.now().getTime();
      if (left <= 0) {
        throw new CaError('ERR_LOGIN_TIMEOUT', `login timed out after ${formatDuration(limitMs)} waiting for approval at ${uri}`, {
          hint: 'run the command again and approve the login in time',
        });
      }
      await deps.sleep(Math.min(intervalS * 1000, left));
      try {
        const response = await oidc.genericGrantRequest(config, DEVICE_CODE_GRANT, { device_code: authorization.device_code });
        return tokenResult(config, response, { requireIdToken: opts.requireIdToken, tenantId: opts.tenantId });
      } catch (err) {
        if (!(err instanceof oidc.ResponseBodyError)) throw tokenError(err, 'failed to get the tokens of the device login');
        if (err.error === 'authorization_pending') continue;
        if (err.error === 'slow_down') {
          intervalS += SLOW_DOWN_S;
          continue;
        }
        if (err.error === 'expired_token') {
          throw new CaError('ERR_LOGIN_TIMEOUT', 'the device code expired before the login was approved', {
            cause: err,
            hint: 'run the command again and approve the login in time',
          });
        }
        if (err.error === 'access_denied') throw authorizationError(err.error, err.error_description ?? 'the login was cancelled at the identity provider');
        throw tokenError(err, 'failed to get the tokens of the device login');
      }
    }
  } finally {
    progress.stop();
  }
}
