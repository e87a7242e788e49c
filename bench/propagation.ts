/**
 * Propagation benchmark (`npm run bench:propagation`): on real kube-apiservers (a broker and three
 * member clusters, started by the test harness), with `clusterset-dns agent` and `clusterset-dns
 * dns` running as their own processes for each cluster (the real CLI, kubeconfig files holding
 * tokens of the manifests' least-privilege ServiceAccounts):
 *
 *   1. creates N ServiceExports spread across the clusters (Services and EndpointSlices first, not
 *      timed) and measures, per export, the time from the moment its create request is sent to the
 *      name resolving (NOERROR with an A record) via the NEXT cluster's DNS server;
 *   2. flips every exported service's EndpointSlice to not ready in one burst and measures the time
 *      until the name answers no address there;
 *   3. deletes every ServiceExport and measures the time until the name is NXDOMAIN there.
 *
 * Prints p50 / p99 / max per export and the total convergence time of each phase.
 *
 *   node bench/propagation.ts [--exports 1000] [--clusters 3] [--concurrency 32] [--poll-ms 50]
 *                             [--phase-timeout 300] [--json FILE]
 *
 * Detection polls each pending name over UDP every --poll-ms, at most --max-qps queries per second
 * in total (so with many names pending, each is polled less often: the printed resolution). All
 * processes and sockets are stopped on exit; every socket is on 127.0.0.1. Child logs stay in a
 * temporary directory, printed when something fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { freeDnsPort, freePort, serviceAccountToken, startClusters, type ClusterSet } from '../test/harness/index.ts';
import { kubeconfigYaml } from '../test/harness/kubeconfig.ts';
import { httpGet } from '../test/harness/net.ts';
import { BROKER_NAMESPACE, agentBrokerToken } from '../test/integration/agent-helpers.ts';

const { values: args } = parseArgs({
  options: {
    exports: { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    'poll-ms': { type: 'string', default: '50' },
    'max-qps': { type: 'string', default: '4000' },
    'phase-timeout': { type: 'string', default: '300' },
    json: { type: 'string' },
  },
});
const N = Number(args.exports);
const CLUSTER_COUNT = Number(args.clusters);
const CONCURRENCY = Number(args.concurrency);
const POLL_MS = Number(args['poll-ms']);
const MAX_QPS = Number(args['max-qps']);
const PHASE_TIMEOUT_MS = Number(args['phase-timeout']) * 1000;
for (const [k, v] of Object.entries({ exports: N, clusters: CLUSTER_COUNT, concurrency: CONCURRENCY, 'poll-ms': POLL_MS, 'max-qps': MAX_QPS, 'phase-timeout': PHASE_TIMEOUT_MS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive whole number`);
}
if (CLUSTER_COUNT < 2 || CLUSTER_COUNT > 8) throw new Error('--clusters must be 2-8');

const NS = 'bench';
const ZONE = 'svc.clusterset.local';
const NAMES = ['east', 'west', 'north', 'south', 'alpha', 'beta', 'gamma', 'delta'].slice(0, CLUSTER_COUNT);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---- a minimal DNS client: A queries over one UDP socket, matched by ID ------------------------

interface Reply {
  rcode: number;
  answers: number;
}

class Prober {
  private readonly socket = dgram.createSocket('udp4');
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private readonly port: number;

  constructor(port: number) {
    this.port = port;
    this.socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const done = this.waiting.get(id);
      if (done === undefined) return;
      this.waiting.delete(id);
      done({ rcode: msg[3]! & 0x0f, answers: msg.readUInt16BE(6) });
    });
  }

  /** Resolves with the reply, or undefined after 1 s (a lost datagram is retried next round). */
  query(name: string): Promise<Reply | undefined> {
    const id = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const packet = Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, 1000);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.send(packet, this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

// ---- measurement -------------------------------------------------------------------------------

interface PhaseResult {
  phase: string;
  count: number;
  converged: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  totalMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Runs `act` for every item (bounded concurrency), recording when each request was sent, while
 * polling each acted-on name at its cluster's prober until `done(reply)`; returns the latencies.
 */
async function measure(
  phase: string,
  items: Array<{ name: string; prober: Prober; act: () => Promise<void> }>,
  done: (r: Reply) => boolean,
): Promise<PhaseResult> {
  const sentAt = new Map<number, number>();
  const latency = new Map<number, number>();
  const start = performance.now();
  let next = 0;
  const workers = Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      sentAt.set(i, performance.now());
      await items[i]!.act();
    }
  });
  let acting = true;
  const acted = Promise.all(workers).finally(() => (acting = false));
  const deadline = start + PHASE_TIMEOUT_MS;
  let cursor = 0;
  while ((acting || latency.size < items.length) && performance.now() < deadline) {
    const round = performance.now();
    // Round-robin through the pending names, at most MAX_QPS·POLL_MS/1000 per round.
    const all = [...sentAt.keys()].filter((i) => !latency.has(i));
    const perRound = Math.max(1, Math.floor((MAX_QPS * POLL_MS) / 1000));
    const offset = all.length > perRound ? cursor % all.length : 0;
    const pending = all.length > perRound ? [...all.slice(offset), ...all.slice(0, offset)].slice(0, perRound) : all;
    cursor += pending.length;
    await Promise.all(
      pending.map(async (i) => {
        const reply = await items[i]!.prober.query(items[i]!.name);
        if (reply !== undefined && done(reply) && !latency.has(i)) latency.set(i, performance.now() - sentAt.get(i)!);
      }),
    );
    const wait = POLL_MS - (performance.now() - round);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await acted;
  const totalMs = Math.max(0, ...[...latency].map(([i, l]) => sentAt.get(i)! + l)) - start;
  const sorted = [...latency.values()].sort((a, b) => a - b);
  return { phase, count: items.length, converged: latency.size, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? Number.NaN, totalMs };
}

// ---- workload ----------------------------------------------------------------------------------

function svcName(i: number): string {
  return `svc-${i}`;
}

function endpointSlice(i: number, ready: boolean): KubernetesObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svcName(i)}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': svcName(i) } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`], conditions: { ready } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  } as KubernetesObject;
}

async function withRetry(what: string, fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (attempt >= 5) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function parallel<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

// ---- main --------------------------------------------------------------------------------------

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;

/** Runs `clusterset-dns <args>` from the sources as its own process; output goes to `logFile`. */
function runCli(args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const script = `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(process.argv.slice(1), process.env, { stdout: process.stdout, stderr: process.stderr });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env } });
    child.on('error', () => {});
    return child;
  } finally {
    closeSync(fd);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(url: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await httpGet(url, { timeoutMs: 2000 })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms (${url})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  let set: ClusterSet | undefined;
  const children: ChildProcess[] = [];
  const probers: Prober[] = [];
  const work = mkdtempSync(join(tmpdir(), 'clusterset-dns-propagation-'));
  let failed = true;
  const stopAll = async (): Promise<void> => {
    for (const p of probers) p.close();
    await Promise.allSettled(children.map((c) => stopChild(c)));
    await set?.stop();
    if (failed) log(`child logs kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    log(`starting a broker and ${CLUSTER_COUNT} member clusters ...`);
    set = await startClusters({ names: NAMES, broker: true, log: (l) => log(`[harness] ${l}`) });
    const admins = new Map<string, KubernetesObjectApi>();
    const ready: Promise<void>[] = [];
    for (const name of NAMES) {
      const member = set.get(name);
      admins.set(name, KubernetesObjectApi.makeApiClient(member.kubeConfig));
      const file = (kind: string, yaml: string): string => {
        const path = join(work, `${name}-${kind}.kubeconfig`);
        writeFileSync(path, yaml, { mode: 0o600 });
        return path;
      };
      const agentToken = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-agent', create: false });
      const dnsToken = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-server', create: false });
      const brokerToken = await agentBrokerToken(set.broker!, name);
      const [agentHttp, dnsHttp, dnsPort] = [await freePort(), await freePort(), await freeDnsPort()];
      children.push(runCli(['agent', '--cluster-id', name, '--kubeconfig', file('agent', kubeconfigYaml(member, 'agent', agentToken)),
        '--broker-kubeconfig', file('broker', kubeconfigYaml(set.broker!, `agent-${name}`, brokerToken, BROKER_NAMESPACE)),
        '--http-listen', `127.0.0.1:${agentHttp}`, '--concurrency', '16', '--log-level', 'warn'], join(work, `${name}-agent.log`)));
      children.push(runCli(['dns', '--cluster-id', name, '--kubeconfig', file('dns', kubeconfigYaml(member, 'dns', dnsToken)),
        '--listen', `127.0.0.1:${dnsPort}`, '--http-listen', `127.0.0.1:${dnsHttp}`, '--workers', '0', '--log-level', 'warn'], join(work, `${name}-dns.log`)));
      ready.push(waitReady(`http://127.0.0.1:${agentHttp}/readyz`, `agent ${name}`, 120_000), waitReady(`http://127.0.0.1:${dnsHttp}/readyz`, `dns ${name}`, 120_000));
      probers.push(new Prober(dnsPort));
    }
    const apply = (cluster: string, obj: KubernetesObject): Promise<unknown> => admins.get(cluster)!.patch(obj, undefined, undefined, 'bench', true, PatchStrategy.ServerSideApply);
    for (const name of NAMES) await apply(name, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await Promise.all(ready);

    const owner = (i: number): number => i % CLUSTER_COUNT;
    const indexes = Array.from({ length: N }, (_, i) => i);
    log(`creating ${N} Services and EndpointSlices (not timed) ...`);
    const t = performance.now();
    await parallel(indexes, async (i) => {
      const cluster = NAMES[owner(i)]!;
      await withRetry(`service ${i}`, () => apply(cluster, { apiVersion: 'v1', kind: 'Service', metadata: { name: svcName(i), namespace: NS }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } } as KubernetesObject));
      await withRetry(`slice ${i}`, () => apply(cluster, endpointSlice(i, true)));
    });
    log(`  done in ${fmt(performance.now() - t)}`);

    const name = (i: number): string => `${svcName(i)}.${NS}.${ZONE}`;
    const proberFor = (i: number): Prober => probers[(owner(i) + 1) % CLUSTER_COUNT]!;
    const results: PhaseResult[] = [];

    log(`phase 1: ${N} ServiceExports created, ${CONCURRENCY} at a time; waiting for each name in the next cluster ...`);
    results.push(await measure('export → resolvable', indexes.map((i) => ({
      name: name(i),
      prober: proberFor(i),
      act: () => withRetry(`export ${i}`, () => apply(NAMES[owner(i)]!, { apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceExport', metadata: { name: svcName(i), namespace: NS } } as KubernetesObject)),
    })), (r) => r.rcode === 0 && r.answers > 0));

    log(`phase 2: ${N} EndpointSlices flipped to not ready in one burst ...`);
    results.push(await measure('readiness flip → no address', indexes.map((i) => ({
      name: name(i),
      prober: proberFor(i),
      act: () => withRetry(`flip ${i}`, () => apply(NAMES[owner(i)]!, endpointSlice(i, false))),
    })), (r) => r.rcode === 0 && r.answers === 0));

    log(`phase 3: ${N} ServiceExports deleted ...`);
    results.push(await measure('unexport → NXDOMAIN', indexes.map((i) => ({
      name: name(i),
      prober: proberFor(i),
      act: () => withRetry(`unexport ${i}`, async () => {
        try {
          await admins.get(NAMES[owner(i)]!)!.delete({ apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceExport', metadata: { name: svcName(i), namespace: NS } });
        } catch (err) {
          if ((err as { code?: number }).code !== 404) throw err;
        }
      }),
    })), (r) => r.rcode === 3));

    process.stdout.write(`\npropagation on real kube-apiservers: ${N} exports across ${CLUSTER_COUNT} clusters (agent and dns: one process each per cluster), ${CONCURRENCY} concurrent writes, polled every ${POLL_MS} ms (at most ${MAX_QPS} queries/s)\n`);
    process.stdout.write(`${'phase'.padEnd(30)}${'converged'.padStart(12)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'total'.padStart(10)}\n`);
    for (const r of results) {
      process.stdout.write(`${r.phase.padEnd(30)}${`${r.converged}/${r.count}`.padStart(12)}${fmt(r.p50Ms).padStart(10)}${fmt(r.p99Ms).padStart(10)}${fmt(r.maxMs).padStart(10)}${fmt(r.totalMs).padStart(10)}\n`);
    }
    const memory = set.memory();
    process.stdout.write(`memory: ${Object.entries(memory).map(([k, v]) => `${k} ${v === undefined ? '-' : Math.round(v / 1048576)} MiB`).join(', ')}\n`);
    if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify({ exports: N, clusters: CLUSTER_COUNT, concurrency: CONCURRENCY, pollMs: POLL_MS, results }, null, 2)}\n`);
    if (results.some((r) => r.converged < r.count)) process.exitCode = 1;
    else failed = false;
  } finally {
    await stopAll();
  }
}

await main();
