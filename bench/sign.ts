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
 * A benchmark, not a test: it asserts nothing about speed. Bounded: BENCH_REQUESTS requests per
 * level (default 2000), and everything is stopped after BENCH_DEADLINE_S seconds (default 600).
 */
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:https';
import { Worker } from 'node:worker_threads';
import { startIdp, type TestIdp } from '../test/fixtures/idp.js';
import { createCaHome, makeCsr, mintToken, signJson, startServe, type CaHome, type Serving } from '../test/server/helpers.js';

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

/** Send every body with `concurrency` requests in flight; latencies per request. */
async function runLevel(port: number, rootPem: string, bodies: string[], concurrency: number): Promise<LevelResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: rootPem });
  const latencies = new Float64Array(bodies.length);
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const started = performance.now();
      try {
        const res = await post(agent, port, bodies[i] as string);
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
  agent.destroy();
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
      await runLevel(serving.port, home.rootPem, batch.warmup, concurrency);
      const result = await runLevel(serving.port, home.rootPem, batch.measured, concurrency);
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

await main();
