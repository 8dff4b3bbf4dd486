import { inquirerPrompter, type Prompter } from './prompter.js';
import { processIO, type IOStreams } from './io.js';
import { caBasePath } from '../config/paths.js';

/**
 * Everything a command touches outside its own arguments, built once at start-up. A command takes
 * only the part it needs (`Pick<Ctx, ...>`), and tests build their own with real files and
 * servers and a scripted prompter.
 */
export interface Ctx {
  /** Terminal streams; status to stderr, results to stdout. */
  io: IOStreams;
  /** The environment, for CA_* twins of flags. Read-only by convention. */
  env: NodeJS.ProcessEnv;
  /** The clock: certificate validity and token checks read it, tests may fix it. */
  now: () => Date;
  /** The network, handed on to openid-client and jose as their custom fetch. */
  fetch: typeof fetch;
  /** Questions to the user; refuses (naming the flag) when not interactive. */
  prompter: Prompter;
  /** The base directory: $CA_PATH or ~/.ca. */
  caPath: string;
}

/** CI=true or a stdin that is not a terminal means nobody can answer a prompt. */
export function isInteractive(io: IOStreams, env: NodeJS.ProcessEnv): boolean {
  const ci = (env.CI ?? '').toLowerCase();
  return io.stdinIsTTY && ci !== 'true' && ci !== '1';
}

/** A fetch that honours HTTPS_PROXY / NO_PROXY, its HTTP client loaded on the first request only. */
function lazyProxyFetch(env: NodeJS.ProcessEnv): typeof fetch {
  let real: typeof fetch | undefined;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    real ??= (await import('../client/http.js')).makeFetch({ env });
    return real(input, init);
  }) as typeof fetch;
}

export function defaultContext(env: NodeJS.ProcessEnv = process.env): Ctx {
  const io = processIO(env);
  return {
    io,
    env,
    now: () => new Date(),
    fetch: lazyProxyFetch(env),
    prompter: inquirerPrompter(isInteractive(io, env)),
    caPath: caBasePath(env),
  };
}
