/**
 * npm run bench: how fast `ca serve` signs, next to how fast this machine can sign at all.
 *
 * Starts the real test IdP and a real CA (`ca init`, `ca provisioner add`, `ca serve` with its
 * default one worker per core), mints every token up front (unique nonces: tokens are single
 * use), then sends a fixed number of POST /sign requests at 1, 16 and 64 in flight over
 * keep-alive HTTPS, and prints sign/s and p50/p99 latency per level. The ceiling is raw ECDSA
 * P-256 signatures/s from node:crypto, measured in the same run on one core and on all cores
 * (worker_threads). A /sign costs one ECDSA sign, one ECDSA verify (the CSR) and one token
 * verify, plus TLS, HTTP, certificate encoding and two database writes.
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
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:https';
import { Worker } from 'node:worker_threads';
import { startIdp, type TestIdp } from '../test/fixtures/idp.js';
import { processTree, startPostgres, type TestPostgres } from '../test/fixtures/postgres.js';
import { createCaHome, makeCsr, mintToken, setDatabase, signJson, startServe, type CaHome, type Serving } from '../test/server/helpers.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const LEVELS = [1, 16, 64];
const WARMUP = 100;
/** Distinct CSRs, reused round-robin: the server's work does not depend on the key being new. */
const CSR_POOL = 64;
const CEILING_MS = 2_000;
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 600) * 1000;

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

// ---- report --------------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pad = (s: string, n: number): string => s.padStart(n);

function report(results: LevelResult[], oneCore: number, allCores: number, cores: number, workers: number): void {
  console.log('');
  console.log(`machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; ca serve with ${workers} workers`);
  console.log(`ceiling: raw ECDSA P-256 sign/s (node:crypto): 1 core ${fmt(oneCore)}; all ${cores} cores (worker_threads) ${fmt(allCores)}`);
  console.log('');
  console.log(`${pad('in flight', 9)} ${pad('requests', 8)} ${pad('sign/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('failed', 6)} ${pad('of all cores', 12)} ${pad('of 1 core', 9)} ${pad('load gen CPU', 12)}`);
  for (const r of results) {
    console.log(
      `${pad(String(r.concurrency), 9)} ${pad(String(r.requests), 8)} ${pad(fmt(r.signPerSecond), 8)} ${pad(fmt(r.p50, 2), 8)} ${pad(fmt(r.p99, 2), 8)} ${pad(String(r.failures), 6)} ${pad(`${fmt((100 * r.signPerSecond) / allCores, 1)}%`, 12)} ${pad(`${fmt((100 * r.signPerSecond) / oneCore, 1)}%`, 9)} ${pad(`${fmt(r.loadCpuPercent)}% of a core`, 12)}`,
    );
    if (r.firstFailure) console.log(`          first failure: ${r.firstFailure.slice(0, 300)}`);
  }
  const at64 = results.find((r) => r.concurrency === 64);
  const at16 = results.find((r) => r.concurrency === 16);
  console.log('');
  if (at64) console.log(`goal: at 64 in flight, sign/s >= 40% of the all-core ceiling: ${fmt((100 * at64.signPerSecond) / allCores, 1)}%`);
  if (at16) console.log(`goal: p99 < 10 ms at 16 in flight: ${fmt(at16.p99, 2)} ms`);
  console.log('(the load generator runs on the same machine: its CPU is taken from the CA)');
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
    serving = await startServe(home, { workers, captureStdout: false });
    console.log(`ca serve is listening on 127.0.0.1:${serving.port}; preparing ${CSR_POOL} CSRs and ${LEVELS.length * (REQUESTS + WARMUP)} tokens ...`);
    const csrs = await Promise.all(Array.from({ length: CSR_POOL }, () => makeCsr()));
    const batches: { warmup: string[]; measured: string[] }[] = [];
    for (const _ of LEVELS) batches.push({ warmup: await mintBodies(idp, csrs, WARMUP), measured: await mintBodies(idp, csrs, REQUESTS) });

    const results: LevelResult[] = [];
    for (const [i, concurrency] of LEVELS.entries()) {
      const batch = batches[i] as { warmup: string[]; measured: string[] };
      process.stdout.write(`${concurrency} in flight: warming up, then ${REQUESTS} requests ... `);
      await runLevel([serving.port], home.rootPem, batch.warmup, concurrency);
      const result = await runLevel([serving.port], home.rootPem, batch.measured, concurrency);
      console.log(`${fmt(result.signPerSecond)} sign/s`);
      results.push(result);
    }
    report(results, oneCore, allCores, cores, workers);
  } finally {
    await serving?.stop('SIGTERM');
    await idp?.close();
    await home?.cleanup();
    clearTimeout(deadline);
  }
}

if (process.argv.includes('--replicas')) await replicasMain();
else await main();
