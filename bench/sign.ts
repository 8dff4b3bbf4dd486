/**
 * npm run bench: every performance figure of `ca`, measured on this machine in one run.
 *
 * 1. Signing: the real test IdP and a real CA (`ca init`, `ca provisioner add`, `ca serve` with its
 *    default one worker per core, SQLite at synchronous=FULL), every token minted up front
 *    (single use), then a fixed number of POST /sign requests at 1, 16 and 64 in flight over
 *    keep-alive HTTPS: sign/s, p50/p99 latency, the server's own CPU per certificate (every
 *    process of it, user+system, from /proc: the load generator shares the cores, so this is the
 *    figure that does not depend on it), and the largest worker RSS. The ceiling is raw ECDSA
 *    P-256 signatures/s from node:crypto on one core and on all cores.
 * 2. The same at 16 in flight with 1,000 more provisioners in ca.json (flat is the goal), after a
 *    restart; BENCH_PROVISIONERS=0 runs that restart without them, the control that separates
 *    a restarted process's colder start from the provisioners' cost.
 * 3. Start-up: `ca --version`, `ca --help`, `ca inspect` against `node -e 0`; `ca certificate
 *    --token` end to end against the running CA; the time from starting `ca serve` to its first
 *    answered /health (one worker, and one per core). Medians of repeated runs.
 *
 * `npm run bench -- --replicas`: 1, 2 and 3 `ca serve` replicas from one CA home on one throwaway
 * PostgreSQL (test/fixtures/postgres.ts), BENCH_REPLICA_WORKERS workers each (default 1), the
 * load round-robin over them at BENCH_IN_FLIGHT requests in flight (default 16); per level sign/s,
 * p50/p99, and CPU per request: the replicas' own user+system CPU (every process of each, from
 * /proc) divided by the requests, and the same for PostgreSQL. On one machine the replicas share
 * its cores, so this shows what a replica costs, not what separate hosts would add up to.
 *
 * A benchmark, not a test: it asserts nothing about speed. Bounded: BENCH_REQUESTS requests per
 * level (default 2000), and everything is stopped after BENCH_DEADLINE_S seconds (default 600).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:https';
import { Worker } from 'node:worker_threads';
import { startIdp, type TestIdp } from '../test/fixtures/idp.js';
import { processTree, startPostgres, type TestPostgres } from '../test/fixtures/postgres.js';
import { createCaHome, makeCsr, mintToken, setDatabase, signJson, startServe, type CaHome, type Serving } from '../test/server/helpers.js';
import { CA_BIN } from '../test/helpers/run-cli.js';
import { testdir } from '../test/helpers/testdir.js';
import { topOfProfiles } from './profile.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
/** In-flight levels to measure; BENCH_LEVELS=16 (say) with --profile looks at one. */
const LEVELS = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
const WARMUP = 100;
/** Distinct CSRs, reused round-robin: the server's work does not depend on the key being new. */
const CSR_POOL = 64;
const CEILING_MS = 2_000;
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 600) * 1000;
const EXTRA_PROVISIONERS = Number(process.env.BENCH_PROVISIONERS ?? 1000);

// ---- the ceiling: raw ECDSA P-256 signatures/s ---------------------------------------------

/** Runs in a worker thread: sign 64 bytes with P-256/SHA-256 for `ms` once told to go. */
const SIGNER = `
const { parentPort, workerData } = require('node:worker_threads');
const { generateKeyPairSync, sign } = require('node:crypto');
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const data = Buffer.alloc(64, 1);
for (let i = 0; i < 200; i++) sign('sha256', data, privateKey);
parentPort.once('message', () => {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < workerData.ms) { sign('sha256', data, privateKey); n++; }
  parentPort.postMessage(n / ((performance.now() - start) / 1000));
});
parentPort.postMessage('ready');
`;

/** Signatures/s of `threads` threads signing at once, summed. */
async function ecdsaSignsPerSecond(threads: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(SIGNER, { eval: true, workerData: { ms: CEILING_MS } }));
  try {
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    const rates = workers.map((w) => new Promise<number>((resolve) => w.once('message', resolve)));
    workers.forEach((w) => w.postMessage('go'));
    return (await Promise.all(rates)).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// ---- the load ------------------------------------------------------------------------------

interface LevelResult {
  concurrency: number;
  requests: number;
  signPerSecond: number;
  p50: number;
  p99: number;
  failures: number;
  firstFailure?: string;
  /** CPU this load generator used (percent of one core): it shares the machine with the CA. */
  loadCpuPercent: number;
}

function post(agent: Agent, port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/1.0/sign', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Send every body with `concurrency` requests in flight, round-robin over `ports`; latencies per request. */
async function runLevel(ports: number[], rootPem: string, bodies: string[], concurrency: number): Promise<LevelResult> {
  const agents = ports.map(() => new Agent({ keepAlive: true, maxSockets: concurrency, ca: rootPem }));
  const latencies = new Float64Array(bodies.length);
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const started = performance.now();
      try {
        const res = await post(agents[i % ports.length] as Agent, ports[i % ports.length] as number, bodies[i] as string);
        if (res.status !== 201) {
          failures += 1;
          firstFailure ??= `${res.status} ${res.text.trim()}`;
        }
      } catch (err) {
        failures += 1;
        firstFailure ??= String(err);
      }
      latencies[i] = performance.now() - started;
    }
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  agents.forEach((a) => a.destroy());
  latencies.sort();
  return { concurrency, requests: bodies.length, signPerSecond: bodies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures, firstFailure, loadCpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / seconds };
}

async function mintBodies(idp: TestIdp, csrs: string[], count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) bodies.push(signJson(csrs[i % csrs.length] as string, await mintToken(idp)));
  return bodies;
}

// ---- server CPU and memory, from /proc ----------------------------------------------------------

/** Resident set size (MiB) of each process of the tree under `pid`. */
function treeRssMiB(pid: number): number[] {
  return processTree(pid).flatMap((p) => {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      return kb ? [Number(kb) / 1024] : [];
    } catch {
      return [];
    }
  });
}

interface MeasuredLevel extends LevelResult {
  /** The server's own CPU (all its processes) per certificate, in µs. */
  serverCpuUs: number;
  /** The largest RSS of one server process during the level, MiB. */
  maxRssMiB: number;
}

/** runLevel, with the server's CPU per request and its largest process RSS sampled while it runs. */
async function measureLevel(server: Serving, rootPem: string, bodies: string[], concurrency: number): Promise<MeasuredLevel> {
  const pid = server.child.pid as number;
  let maxRss = 0;
  const sample = (): void => void (maxRss = Math.max(maxRss, ...treeRssMiB(pid)));
  const sampler = setInterval(sample, 100);
  const cpuBefore = treeCpuSeconds(pid);
  try {
    const result = await runLevel([server.port], rootPem, bodies, concurrency);
    sample();
    return { ...result, serverCpuUs: ((treeCpuSeconds(pid) - cpuBefore) * 1e6) / bodies.length, maxRssMiB: maxRss };
  } finally {
    clearInterval(sampler);
  }
}

// ---- start-up -------------------------------------------------------------------------------------

const STARTS = Number(process.env.BENCH_STARTS ?? 15);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Wall time (ms) of a command run to completion, `runs` times; the median. */
function commandMs(command: string, args: string[], env: NodeJS.ProcessEnv, runs = STARTS): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const res = spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    if (res.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${res.stderr?.toString() ?? res.status}`);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** From spawning `ca serve` to its first answered GET /health (ms), `runs` times; the median. */
async function firstHealthMs(home: CaHome, workers: number, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const child = spawn(process.execPath, [CA_BIN, 'serve', '--password-file', home.passwordFile], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent-home', ...home.env, CA_WORKERS: String(workers) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          const m = /Serving HTTPS on \S*:(\d+)/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`ca serve exited: ${stderr}`)));
      });
      for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
          const req = request({ host: '127.0.0.1', port, path: '/health', ca: home.rootPem, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
          });
          req.on('error', () => resolve(false));
          req.end();
        });
        if (ok) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      times.push(performance.now() - started);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
    }
  }
  return median(times);
}

interface StartupFigures {
  node: number;
  version: number;
  help: number;
  inspect: number;
  certificateToken: number;
  firstHealthOne: number;
  firstHealthAll: number;
}

async function startupFigures(home: CaHome, idp: TestIdp, server: Serving, cores: number): Promise<StartupFigures> {
  const env = { PATH: process.env.PATH, HOME: '/nonexistent-home', ...home.env };
  const node = commandMs(process.execPath, ['-e', '0'], env);
  const version = commandMs(process.execPath, [CA_BIN, '--version'], env);
  const help = commandMs(process.execPath, [CA_BIN, '--help'], env);
  const inspect = commandMs(process.execPath, [CA_BIN, 'inspect', home.rootFile, '--short'], env);
  // ca certificate --token end to end: a fresh token each run (tokens are single use).
  const work = await testdir();
  const times: number[] = [];
  try {
    for (let i = 0; i < STARTS; i++) {
      const token = await mintToken(idp);
      const started = performance.now();
      const res = spawnSync(
        process.execPath,
        [CA_BIN, 'certificate', 'alice@example.com', work.path('a.crt'), work.path('a.key'), '--token', token, '--force', '--ca-url', `https://127.0.0.1:${server.port}`, '--root', home.rootFile],
        { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
      );
      if (res.status !== 0) throw new Error(`ca certificate --token failed: ${res.stderr.toString()}`);
      times.push(performance.now() - started);
    }
  } finally {
    await work.cleanup();
  }
  return { node, version, help, inspect, certificateToken: median(times), firstHealthOne: await firstHealthMs(home, 1), firstHealthAll: await firstHealthMs(home, cores) };
}

/** 1,000 more provisioners in ca.json (JWK: no IdP to wait for), to show signing does not slow down with them. */
async function addProvisioners(home: CaHome, count: number): Promise<void> {
  const config = JSON.parse(readFileSync(home.configPath, 'utf8')) as { authority: { provisioners: unknown[] } };
  for (let i = 0; i < count; i++) {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    config.authority.provisioners.push({ type: 'JWK', name: `bench-${i}`, key: { use: 'sig', ...jwk, alg: 'ES256', kid: `bench-kid-${i}` } });
  }
  writeFileSync(home.configPath, JSON.stringify(config, null, '\t'));
}

// ---- report --------------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pad = (s: string, n: number): string => s.padStart(n);

function report(results: MeasuredLevel[], many: MeasuredLevel, start: StartupFigures, oneCore: number, allCores: number, cores: number, workers: number): void {
  const ratio = (ms: number): string => `${fmt(ms)} ms (${fmt(ms / start.node, 2)}x node -e 0)`;
  console.log('');
  console.log(`machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; ca serve with ${workers} workers, SQLite synchronous=FULL`);
  console.log(`ceiling: raw ECDSA P-256 sign/s (node:crypto): 1 core ${fmt(oneCore)}; all ${cores} cores (worker_threads) ${fmt(allCores)}`);
  console.log('');
  console.log(`${pad('in flight', 9)} ${pad('requests', 8)} ${pad('sign/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('failed', 6)} ${pad('server CPU/cert', 15)} ${pad('max RSS/worker', 14)} ${pad('load gen CPU', 12)}`);
  const row = (label: string, r: MeasuredLevel): void => {
    console.log(
      `${pad(label, 9)} ${pad(String(r.requests), 8)} ${pad(fmt(r.signPerSecond), 8)} ${pad(fmt(r.p50, 2), 8)} ${pad(fmt(r.p99, 2), 8)} ${pad(String(r.failures), 6)} ${pad(`${fmt(r.serverCpuUs)} µs`, 15)} ${pad(`${fmt(r.maxRssMiB)} MiB`, 14)} ${pad(`${fmt(r.loadCpuPercent)}% of a core`, 12)}`,
    );
    if (r.firstFailure) console.log(`          first failure: ${r.firstFailure.slice(0, 300)}`);
  };
  for (const r of results) row(String(r.concurrency), r);
  row(`16 +${EXTRA_PROVISIONERS}p`, many);
  console.log(`(+${EXTRA_PROVISIONERS}p: the same at 16 in flight after a restart with ${fmt(EXTRA_PROVISIONERS)} more provisioners in ca.json)`);
  console.log('');
  console.log(`ca --version          ${ratio(start.version)}`);
  console.log(`ca --help             ${ratio(start.help)}`);
  console.log(`ca inspect --short    ${ratio(start.inspect)}`);
  console.log(`node -e 0             ${fmt(start.node)} ms`);
  console.log(`ca certificate --token, end to end against the local CA: ${fmt(start.certificateToken)} ms`);
  console.log(`ca serve to its first /health: ${fmt(start.firstHealthOne)} ms with 1 worker, ${fmt(start.firstHealthAll)} ms with ${cores}`);
  const at = (n: number): MeasuredLevel | undefined => results.find((r) => r.concurrency === n);
  const cpu = Math.max(...results.map((r) => r.serverCpuUs));
  console.log('');
  console.log('goals (issue 12):');
  console.log(`  server CPU per certificate <= 450 µs: ${fmt(Math.min(...results.map((r) => r.serverCpuUs)))}-${fmt(cpu)} µs`);
  console.log(`  sign/s at 64 in flight >= 3,000: ${fmt(at(64)?.signPerSecond ?? NaN)}`);
  console.log(`  p99 at 16 in flight <= 15 ms: ${fmt(at(16)?.p99 ?? NaN, 2)} ms`);
  console.log(`  RSS per worker <= 150 MB: ${fmt(Math.max(...results.map((r) => r.maxRssMiB), many.maxRssMiB))} MiB`);
  console.log(`  flat with ${fmt(EXTRA_PROVISIONERS)} more provisioners: ${fmt(many.signPerSecond)} sign/s vs ${fmt(at(16)?.signPerSecond ?? NaN)} at 16 in flight`);
  console.log(`  ca --version and --help <= 1.5x node -e 0: ${fmt(start.version / start.node, 2)}x, ${fmt(start.help / start.node, 2)}x; ca inspect <= 2x: ${fmt(start.inspect / start.node, 2)}x`);
  console.log(`  ca certificate --token <= 400 ms: ${fmt(start.certificateToken)} ms; first /health <= 600 ms: ${fmt(start.firstHealthOne)} / ${fmt(start.firstHealthAll)} ms`);
  console.log('(the load generator runs on the same machine: its CPU is taken from the CA)');
}

/** The top self-time entries of the workers' CPU profiles, in µs per certificate. */
function printProfile(dir: string, certificates: number): void {
  const { entries, totalMs, files } = topOfProfiles(dir, process.cwd(), Number(process.env.BENCH_PROFILE_TOP ?? 30));
  console.log('');
  console.log(`CPU profile of ${files} worker(s): ${fmt((totalMs * 1000) / certificates)} µs sampled per certificate (${certificates} certificates incl. warm-up)`);
  console.log(`${pad('µs/cert', 8)} ${pad('share', 6)}  self time in`);
  for (const e of entries) console.log(`${pad(fmt((e.selfMs * 1000) / certificates), 8)} ${pad(`${fmt(e.share * 100, 1)}%`, 6)}  ${e.label}`);
}

// ---- replicas mode -------------------------------------------------------------------------

const REPLICA_COUNTS = [1, 2, 3];
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const REPLICA_WORKERS = Number(process.env.BENCH_REPLICA_WORKERS ?? 1);

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user+system CPU seconds of `pid` and every process below it, now (Linux /proc; NaN elsewhere). */
function treeCpuSeconds(pid: number): number {
  try {
    return (
      processTree(pid).reduce((sum, p) => {
        try {
          // The command may hold spaces and parentheses: fields count from the last ')'.
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return sum + Number(f[11]) + Number(f[12]);
        } catch {
          return sum; // gone meanwhile
        }
      }, 0) / CLOCK_TICKS
    );
  } catch {
    return NaN;
  }
}

interface ReplicaResult extends LevelResult {
  replicas: number;
  /** The replicas' CPU (ms) per request. */
  serverCpuMs: number;
  /** PostgreSQL's CPU (ms) per request. */
  dbCpuMs: number;
}

async function replicasMain(): Promise<void> {
  const cores = availableParallelism();
  let idp: TestIdp | undefined;
  let pgt: TestPostgres | undefined;
  let home: CaHome | undefined;
  let replicas: Serving[] = [];
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${DEADLINE_MS / 1000} s; stopping everything`);
    replicas.forEach((r) => r.child.kill('SIGKILL'));
    void pgt?.close().finally(() => process.exit(1));
  }, DEADLINE_MS);
  deadline.unref();
  try {
    console.log('starting the IdP, PostgreSQL and a CA home on it (ca init, ca provisioner add) ...');
    [idp, pgt] = await Promise.all([startIdp(), startPostgres()]);
    home = await createCaHome(idp);
    await setDatabase(home, { type: 'postgresql', dataSource: pgt.url(), database: await pgt.createDatabase() });
    const csrs = await Promise.all(Array.from({ length: CSR_POOL }, () => makeCsr()));
    const results: ReplicaResult[] = [];
    for (const n of REPLICA_COUNTS) {
      const started = await Promise.all(Array.from({ length: n }, () => startServe(home as CaHome, { workers: REPLICA_WORKERS, captureStdout: false })));
      replicas = started;
      const ports = replicas.map((r) => r.port);
      process.stdout.write(`${n} replica${n > 1 ? 's' : ''} (ports ${ports.join(', ')}): minting tokens ... `);
      const warmup = await mintBodies(idp, csrs, WARMUP);
      const measured = await mintBodies(idp, csrs, REQUESTS);
      process.stdout.write(`warming up, then ${REQUESTS} requests at ${IN_FLIGHT} in flight ... `);
      await runLevel(ports, home.rootPem, warmup, IN_FLIGHT);
      const cpu = (): { server: number; db: number } => ({ server: replicas.reduce((sum, r) => sum + treeCpuSeconds(r.child.pid as number), 0), db: treeCpuSeconds((pgt as TestPostgres).pid()) });
      const before = cpu();
      const result = await runLevel(ports, home.rootPem, measured, IN_FLIGHT);
      const spent = cpu();
      results.push({ ...result, replicas: n, serverCpuMs: ((spent.server - before.server) * 1000) / REQUESTS, dbCpuMs: ((spent.db - before.db) * 1000) / REQUESTS });
      console.log(`${fmt(result.signPerSecond)} sign/s`);
      await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
      replicas = [];
    }
    console.log('');
    console.log(`machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; each replica a ca serve with ${REPLICA_WORKERS} worker(s); one PostgreSQL; ${IN_FLIGHT} in flight, round-robin`);
    console.log('');
    console.log(`${pad('replicas', 8)} ${pad('requests', 8)} ${pad('sign/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('failed', 6)} ${pad('server CPU/req', 14)} ${pad('db CPU/req', 10)} ${pad('load gen CPU', 12)}`);
    for (const r of results) {
      console.log(
        `${pad(String(r.replicas), 8)} ${pad(String(r.requests), 8)} ${pad(fmt(r.signPerSecond), 8)} ${pad(fmt(r.p50, 2), 8)} ${pad(fmt(r.p99, 2), 8)} ${pad(String(r.failures), 6)} ${pad(`${fmt(r.serverCpuMs, 2)} ms`, 14)} ${pad(`${fmt(r.dbCpuMs, 2)} ms`, 10)} ${pad(`${fmt(r.loadCpuPercent)}% of a core`, 12)}`,
      );
      if (r.firstFailure) console.log(`          first failure: ${r.firstFailure.slice(0, 300)}`);
    }
    console.log('');
    console.log('(server CPU/req: the replicas\' own user+system CPU divided by the requests; db CPU/req: PostgreSQL\'s.');
    console.log(' Everything, the load generator too, shares this machine\'s cores: more replicas here cannot add cores.)');
  } finally {
    await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
    await idp?.close();
    await pgt?.close();
    await home?.cleanup();
    clearTimeout(deadline);
  }
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cores = availableParallelism();
  const workers = Number(process.env.CA_WORKERS ?? cores);
  console.log(`measuring the ECDSA P-256 ceiling (${CEILING_MS / 1000} s on 1 core, then on ${cores}) ...`);
  const oneCore = await ecdsaSignsPerSecond(1);
  const allCores = await ecdsaSignsPerSecond(cores);

  let idp: TestIdp | undefined;
  let home: CaHome | undefined;
  let serving: Serving | undefined;
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${DEADLINE_MS / 1000} s; stopping everything`);
    serving?.child.kill('SIGKILL');
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();
  try {
    console.log('starting the IdP and the CA (ca init, ca provisioner add, ca serve) ...');
    idp = await startIdp();
    home = await createCaHome(idp);
    // --profile: the workers run with --cpu-prof (they inherit the primary's node options); their profiles are summed up after the load.
    const profileDir = process.argv.includes('--profile') ? await mkdtemp(join(tmpdir(), 'ca-bench-profile-')) : undefined;
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined;
    serving = await startServe(home, { workers, captureStdout: false, nodeArgs });
    console.log(`ca serve is listening on 127.0.0.1:${serving.port}; preparing ${CSR_POOL} CSRs and ${LEVELS.length * (REQUESTS + WARMUP)} tokens ...`);
    const csrs = await Promise.all(Array.from({ length: CSR_POOL }, () => makeCsr()));
    const batches: { warmup: string[]; measured: string[] }[] = [];
    for (const _ of LEVELS) batches.push({ warmup: await mintBodies(idp, csrs, WARMUP), measured: await mintBodies(idp, csrs, REQUESTS) });

    const results: MeasuredLevel[] = [];
    for (const [i, concurrency] of LEVELS.entries()) {
      const batch = batches[i] as { warmup: string[]; measured: string[] };
      process.stdout.write(`${concurrency} in flight: warming up, then ${REQUESTS} requests ... `);
      await runLevel([serving.port], home.rootPem, batch.warmup, concurrency);
      const result = await measureLevel(serving, home.rootPem, batch.measured, concurrency);
      console.log(`${fmt(result.signPerSecond)} sign/s, ${fmt(result.serverCpuUs)} µs of server CPU per certificate`);
      results.push(result);
    }
    if (profileDir) {
      await serving.stop('SIGTERM');
      printProfile(profileDir, results.reduce((n, r) => n + r.requests, 0) + LEVELS.length * WARMUP);
      await rm(profileDir, { recursive: true, force: true });
      return;
    }
    process.stdout.write('start-up times ... ');
    const start = await startupFigures(home, idp, serving, cores);
    console.log('done');
    await serving.stop('SIGTERM');

    process.stdout.write(`${fmt(EXTRA_PROVISIONERS)} more provisioners: restarting the CA ... `);
    await addProvisioners(home, EXTRA_PROVISIONERS);
    serving = await startServe(home, { workers, captureStdout: false });
    const warm = await mintBodies(idp, csrs, WARMUP);
    const measured = await mintBodies(idp, csrs, REQUESTS);
    await runLevel([serving.port], home.rootPem, warm, 16);
    const many = await measureLevel(serving, home.rootPem, measured, 16);
    console.log(`${fmt(many.signPerSecond)} sign/s`);
    report(results, many, start, oneCore, allCores, cores, workers);
  } finally {
    await serving?.stop('SIGTERM');
    await idp?.close();
    await home?.cleanup();
    clearTimeout(deadline);
  }
}

if (process.argv.includes('--replicas')) await replicasMain();
else await main();
