/**
 * The CLI side of OpenID Connect: log in at the user's identity provider and return a checked ID
 * token (what `ca certificate` sends to the CA), as `step oauth` does.
 */
export { login, authorize, DEFAULT_SCOPES, DEFAULT_TIMEOUT_MS, DEFAULT_DEVICE_TIMEOUT_MS } from './login.js';
export type { LoginRequest, LoginDeps, LoginIO, LoginPrompter, LoginResult } from './login.js';
export type { TokenResponse, TokenResult } from './provider.js';
export { openBrowser } from './browser.js';
