/**
 * Scale benchmark (`npm run bench:scale`): the DNS server over 10,000 services × 5 clusters.
 *
 *   1. embedded: `clusterset-dns serve --from-dir DIR` over generated YAML (each service exported
 *      by every cluster: 50,000 exports, 150,000 endpoints);
 *   2. kube: a real kube-apiserver + etcd (the test harness) holding what an MCS implementation
 *      keeps in the local cluster (10,000 ServiceImports, 50,000 MCS EndpointSlices, created with
 *      many requests in flight), served by `clusterset-dns dns`.
 *
 * Each server is started as its own process (the compiled CLI, bin/clusterset-dns.js, as users
 * run it: `npm run build` runs first; with --workers), then
 * stopped and started again over the same state (a restart). For every start it prints the time
 * from spawn to the first correct answer for every name of a sample (real `dig`, local-first: the
 * local service IP, or every pod of every cluster for headless services) and the resident memory
 * of the primary and of each worker, a few seconds after that (now and peak). The load average is
 * printed before and after.
 *
 *   node bench/scale.ts [--services 10000] [--clusters 5] [--workers 2] [--sample 200]
 *                       [--concurrency 64] [--settle 5] [--ready-timeout 180]
 *                       [--skip-embedded] [--skip-kube] [--baseline DIR] [--json FILE]
 *                       [--node-options OPTS] [--log-level warn] [--logs DIR]
 *
 * --node-options: NODE_OPTIONS of every server process; default the container image's
 * (Dockerfile), so that the figures are those of a deployment. '' measures Node's defaults.
 *
 * --log-level: the servers' (info shows each informer's list time and each memory reduction);
 * --logs DIR: their logs are kept there (appended: `embedded.log`, `dns.log`) instead of removed.
 *
 * --baseline DIR: also start DIR/bin/clusterset-dns.js (a checkout of an older version, built, with
 * node_modules reachable) over the same state, to compare a change in one run.
 *
 * Every wait is bounded; every process (servers, apiserver, etcd) is stopped on exit, also on
 * failure or Ctrl-C; every socket is on 127.0.0.1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { freeDnsPort, freePort, startClusters, type Cluster, type ClusterSet } from '../test/harness/index.ts';
import { stopChild } from '../test/harness/procs.ts';
import { runDigBatch } from '../test/helpers/dig.ts';
import { mib, processTreeMemory, type ProcessMemory } from './proc-mem.ts';
import {
  expectedAddresses,
  fqdn,
  sampleServices,
  scaleClusters,
  scaleNamespaces,
  scaleServiceImport,
  scaleServiceImportStatus,
  scaleServices,
  scaleSlice,
  writeScaleYaml,
  type ScaleService,
} from './scale-state.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    clusters: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    sample: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '64' },
    settle: { type: 'string', default: '5' },
    'ready-timeout': { type: 'string', default: '180' },
    'skip-embedded': { type: 'boolean', default: false },
    'skip-kube': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'node-options': { type: 'string', default: '--max-semi-space-size=8' },
    json: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    logs: { type: 'string' },
  },
  strict: true,
});

function wholeNumber(name: string, min: number): number {
  const raw = args[name as keyof typeof args];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
const SERVICES = wholeNumber('services', 1);
const CLUSTER_COUNT = wholeNumber('clusters', 1);
const WORKERS = wholeNumber('workers', 0);
const SAMPLE = wholeNumber('sample', 1);
const CONCURRENCY = wholeNumber('concurrency', 1);
const SETTLE_MS = wholeNumber('settle', 0) * 1000;
const READY_TIMEOUT_MS = wholeNumber('ready-timeout', 1) * 1000;

const ZONE = 'clusterset.local';
const MCS = 'multicluster.x-k8s.io/v1alpha1';
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = path.join(ROOT, 'bin/clusterset-dns.js');
const say = (line: string): void => void process.stderr.write(`[scale] ${line}\n`);
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

const services = scaleServices(SERVICES);
const clusters = scaleClusters(CLUSTER_COUNT);
const LOCAL = clusters[0]!;
const sample = sampleServices(services, SAMPLE);

// ---- processes ---------------------------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];

async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      say(`cleanup failed: ${String(err)}`);
    }
  }
}

/**
 * `clusterset-dns <args>`, compiled, as its own process; output appended to `logFile`. (Run from
 * the sources instead, every process would also load Node's TypeScript stripper: ~40 MB more RSS.)
 */
function runCli(bin: string, cliArgs: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const env = { ...process.env, NODE_OPTIONS: args['node-options'] };
    const child = spawn(process.execPath, [bin, ...cliArgs], { stdio: ['ignore', fd, fd], env });
    child.on('error', () => {});
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Why the sample is not answered correctly yet, or undefined when every name is. */
async function wrongAnswer(port: number): Promise<string | undefined> {
  let results;
  try {
    results = await runDigBatch(port, sample.map((s) => fqdn(s, ZONE)), 'A', { timeoutMs: 60_000 });
  } catch (err) {
    return `no reply: ${(err as Error).message.split('\n')[0]}`;
  }
  for (const svc of sample) {
    const r = results.get(fqdn(svc, ZONE))!;
    const got = r.answer.filter((a) => a.type === 'A').map((a) => a.data).sort();
    const want = expectedAddresses(svc, clusters.length);
    if (r.status !== 'NOERROR' || got.join(',') !== want.join(',')) return `${fqdn(svc, ZONE)}: ${r.status} ${got.join(',')} (want ${want.join(',')})`;
  }
  return undefined;
}

interface StartResult {
  what: string;
  /** Spawn to the first correct answer for every sampled name. */
  readyMs: number;
  memory: ProcessMemory[];
  load: string;
}

/** Starts a server, waits for correct answers (bounded), lets it settle, reads its memory. */
async function measureStart(what: string, bin: string, cliArgs: string[], dnsPort: number, logFile: string): Promise<{ result: StartResult; child: ChildProcess }> {
  const started = performance.now();
  const child = runCli(bin, cliArgs, logFile);
  const stop = (): Promise<void> => stopChild(child);
  cleanups.push(stop);
  let last: string | undefined = 'not asked yet';
  while (last !== undefined) {
    if (child.exitCode !== null) throw new Error(`${what}: the server exited (${child.exitCode}); log: ${logFile}\n${tail(logFile)}`);
    if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`${what}: no correct answers within ${READY_TIMEOUT_MS} ms: ${last}\n${tail(logFile)}`);
    last = await wrongAnswer(dnsPort);
    if (last !== undefined) await new Promise((r) => setTimeout(r, 100));
  }
  const readyMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const memory = processTreeMemory(child.pid!);
  const result = { what, readyMs, memory, load: load() };
  say(`${what}: correct answers after ${(readyMs / 1000).toFixed(1)} s; RSS ${describeMemory(memory)} (load ${result.load})`);
  return { result, child };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}

function describeMemory(memory: readonly ProcessMemory[]): string {
  const total = memory.reduce((sum, p) => sum + p.rssBytes, 0);
  const parts = memory.map((p) => `${p.depth === 0 ? 'primary' : 'worker'} ${mib(p.rssBytes)} (peak ${mib(p.peakBytes)}, anonymous ${mib(p.anonBytes)})`);
  return `${mib(total)} MiB = ${parts.join(' + ')}`;
}

const builds = [{ label: '', bin: BIN }, ...(args.baseline === undefined ? [] : [{ label: ' (baseline)', bin: path.resolve(args.baseline, 'bin/clusterset-dns.js') }])];

/** For each build: a first start, then a restart over the same state. */
async function startTwice(what: string, cliArgs: (dnsPort: number, httpPort: number) => string[], dir: string): Promise<StartResult[]> {
  const results: StartResult[] = [];
  for (const build of builds) {
    for (const attempt of ['start', 'restart']) {
      const dnsPort = await freeDnsPort();
      const httpPort = await freePort();
      const { result, child } = await measureStart(`${what} ${attempt}${build.label}`, build.bin, cliArgs(dnsPort, httpPort), dnsPort, path.join(args.logs ?? dir, `${what}.log`));
      results.push(result);
      await stopChild(child);
    }
  }
  return results;
}

const serverFlags = (dnsPort: number, httpPort: number): string[] => [
  '--cluster-id', LOCAL,
  '--listen', `127.0.0.1:${dnsPort}`,
  '--http-listen', `127.0.0.1:${httpPort}`,
  '--workers', String(WORKERS),
  '--log-level', args['log-level'],
];

// ---- the two set-ups ---------------------------------------------------------------------------

async function embedded(dir: string): Promise<StartResult[]> {
  const yamlDir = path.join(dir, 'clusters');
  const t = performance.now();
  writeScaleYaml(yamlDir, services, clusters);
  say(`embedded: wrote ${services.length} services × ${clusters.length} clusters of YAML in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return startTwice('embedded', (dnsPort, httpPort) => ['serve', '--from-dir', yamlDir, ...serverFlags(dnsPort, httpPort)], dir);
}

/** Runs `work(i)` for i in [0, count), `concurrency` at a time; returns objects per second. */
async function inFlight(count: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/**
 * JSON requests to one API server over kept-alive connections (one per request in flight): the
 * state is 70,000 writes, and a TLS handshake per request would make creating it the benchmark.
 */
function apiClient(cluster: Cluster): (method: string, urlPath: string, body: unknown) => Promise<KubernetesObject> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: cluster.caPem });
  cleanups.push(() => agent.destroy());
  const base = new URL(cluster.server);
  return (method, urlPath, body) =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = https.request(
        { agent, method, host: base.hostname, port: base.port, path: urlPath, timeout: 60_000, headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            if (res.statusCode !== undefined && res.statusCode < 300) resolve(JSON.parse(text) as KubernetesObject);
            else reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text.slice(0, 300)}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer within 60 s`)));
      req.on('error', reject);
      req.end(payload);
    });
}

async function createState(cluster: Cluster): Promise<void> {
  const api = apiClient(cluster);
  for (const ns of scaleNamespaces(services)) await api('POST', '/api/v1/namespaces', ns);
  const imports = (ns: string) => `/apis/${MCS}/namespaces/${ns}/serviceimports`;
  const importRate = await inFlight(services.length, CONCURRENCY, async (i) => {
    const svc = services[i]!;
    const created = await api('POST', imports(svc.namespace), scaleServiceImport(svc, MCS));
    await api('PUT', `${imports(svc.namespace)}/${svc.name}/status`, { ...created, status: scaleServiceImportStatus(clusters) });
  });
  say(`kube: ${services.length} ServiceImports (create + status) at ${importRate.toFixed(0)}/s (load ${load()})`);
  const slices: Array<[ScaleService, number]> = services.flatMap((svc) => clusters.map((_, c) => [svc, c] as [ScaleService, number]));
  const sliceRate = await inFlight(slices.length, CONCURRENCY, async (i) => {
    const [svc, c] = slices[i]!;
    await api('POST', `/apis/discovery.k8s.io/v1/namespaces/${svc.namespace}/endpointslices`, scaleSlice(svc, clusters[c]!, c));
  });
  say(`kube: ${slices.length} MCS EndpointSlices at ${sliceRate.toFixed(0)}/s (load ${load()})`);
}

async function kube(dir: string): Promise<{ results: StartResult[]; apiserverMiB: string }> {
  say('kube: starting etcd and one kube-apiserver (test harness)');
  const set: ClusterSet = await startClusters({ names: [LOCAL], dir: path.join(dir, 'harness'), log: (l) => say(`harness: ${l}`) });
  cleanups.push(() => set.stop());
  const cluster = set.get(LOCAL);
  await createState(cluster);
  const results = await startTwice('dns', (dnsPort, httpPort) => ['dns', '--kubeconfig', cluster.kubeconfigPath, ...serverFlags(dnsPort, httpPort)], dir);
  const apiserver = set.memory()[`apiserver ${LOCAL}`];
  return { results, apiserverMiB: apiserver === undefined ? '?' : mib(apiserver) };
}

// ---- main --------------------------------------------------------------------------------------

function table(results: readonly StartResult[]): string {
  const rows = results.map((r) => {
    const primary = r.memory.find((p) => p.depth === 0);
    const workers = r.memory.filter((p) => p.depth > 0);
    const total = r.memory.reduce((sum, p) => sum + p.rssBytes, 0);
    return `| ${r.what} | ${(r.readyMs / 1000).toFixed(1)} s | ${primary === undefined ? '?' : `${mib(primary.rssBytes)} (peak ${mib(primary.peakBytes)})`} | ${workers.map((w) => mib(w.rssBytes)).join(' + ') || '-'} | ${mib(total)} | ${r.load} |`;
  });
  return [
    `${services.length} services × ${clusters.length} clusters, ${WORKERS} workers, NODE_OPTIONS=${JSON.stringify(args['node-options'])}, sample of ${sample.length} names, RSS ${SETTLE_MS / 1000} s after the first correct answers (MiB)`,
    '',
    '| server | first correct answers | primary RSS | worker RSS | total RSS | load (1/5/15 min) |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  say('building dist/ (npm run build): the CLI is measured as users run it');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 600_000 });
  say(`uptime before: load ${load()}`);
  const results: StartResult[] = [];
  let apiserverMiB: string | undefined;
  if (!args['skip-embedded']) results.push(...(await embedded(dir)));
  if (!args['skip-kube']) {
    const k = await kube(dir);
    results.push(...k.results);
    apiserverMiB = k.apiserverMiB;
  }
  say(`uptime after: load ${load()}`);
  process.stdout.write(`${table(results)}\n`);
  if (apiserverMiB !== undefined) process.stdout.write(`\nkube-apiserver RSS at the end: ${apiserverMiB} MiB\n`);
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ services: services.length, clusters: clusters.length, workers: WORKERS, results }, null, 2));
}

let exitCode = 0;
const interrupted = (): void => {
  say('interrupted: stopping everything');
  void cleanup().then(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);
try {
  await main();
} catch (err) {
  say(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
