/**
 * Propagation benchmark (`npm run bench:propagation`): on real kube-apiservers (a broker and three
 * member clusters, started by the test harness), with `clusterset-dns agent` and `clusterset-dns
 * dns` running as their own processes for each cluster (the real CLI, kubeconfig files holding
 * tokens of the manifests' least-privilege ServiceAccounts):
 *
 *   capacity: before any agent runs, the raw server-side-apply capacity of the same apiservers
 *      (trivial ConfigMaps, all of them at once, --capacity-inflight in flight each): the
 *      yardstick for the write floor printed at the end;
 *   0. trace: --trace exports, one at a time, each hop of the chain timed by watching every
 *      apiserver (broker EndpointSlice and record written, ServiceExport status, imported
 *      EndpointSlice and ServiceImport in the next cluster, DNS answer), then their removal;
 *   1. paced: N ServiceExports created at --rate per second (per-export latency without a write
 *      storm), measured to the name resolving (NOERROR with an A record) via the NEXT cluster's
 *      DNS server; then deleted at the same rate, measured to NXDOMAIN;
 *   2. burst: N ServiceExports created --concurrency at a time (queueing under a write storm),
 *      measured the same way;
 *   2b. restart: every agent, one after the other, stopped and started again with the N exports
 *      in place (a rolling update; each agent alone, as on its own node); prints the
 *      writes they made (from the apiservers' request counters; 0 expected besides heartbeat
 *      Leases), the time until each is ready (/readyz: caches synced, every key queued) and until
 *      its queues are drained (clusterset_dns_agent_queue_depth 0 for both reconcilers);
 *   3. flips every exported service's EndpointSlice to not ready in one burst and measures the time
 *      until the name answers no address there;
 *   4. deletes every ServiceExport in one burst and measures the time until the name is NXDOMAIN.
 *
 * (Services and EndpointSlices are created first, not timed.) Prints p50 / p99 / max per export,
 * the total convergence time of each phase, the load average, and the CPU seconds each process
 * used per phase. Then the goals: writes per export (the agents' writes the apiservers counted in
 * the burst), the write floor (exports × writes per export ÷ capacity), the burst's writes/s
 * against the capacity, CPU per export by process kind, and whether the burst converged within
 * 2× the floor and the paced p99 stayed under 1 s. etcd runs with --unsafe-no-fsync (test harness): real clusters pay a ~1 ms SSD
 * fsync per write, so these figures exclude disk latency.
 *
 *   node bench/propagation.ts [--exports 1000] [--clusters 3] [--concurrency 32] [--rate 5]
 *                             [--trace 5] [--agent-concurrency 64] [--poll-ms 50] [--max-qps 4000]
 *                             [--capacity-writes 1000] [--capacity-inflight 32] [--capacity-rounds 3]
 *                             [--phase-timeout 300] [--json FILE] [--profile DIR] [--node-options OPTS]
 *                             [--apiserver-profile DIR]
 *
 * --rate 0 skips the paced phases; --trace 0 skips the trace. --node-options: NODE_OPTIONS of every agent
 * and dns process, default the container image's (--max-semi-space-size=8), so memory is as deployed.
 *
 * Detection polls each pending name over UDP every --poll-ms, at most --max-qps queries per second
 * in total (so with many names pending, each is polled less often: the printed resolution). All
 * processes and sockets are stopped on exit; every socket is on 127.0.0.1. Child logs stay in a
 * temporary directory, printed when something fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { KubernetesObjectApi, PatchStrategy, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { freeDnsPort, freePort, serviceAccountToken, startClusters, type ClusterSet } from '../test/harness/index.ts';
import { kubeconfigYaml } from '../test/harness/kubeconfig.ts';
import { httpGet } from '../test/harness/net.ts';
import { readState } from '../test/harness/clusters.ts';
import { WriteMeter } from '../test/harness/request-counts.ts';
import { BROKER_NAMESPACE, agentBrokerToken } from '../test/integration/agent-helpers.ts';
import { makePooledApiClient } from '../test/harness/pooled-api.ts';
import { measureApplyCapacity } from './apply-capacity.ts';
import { ConnectionSampler } from './proc-sockets.ts';
import { mib, processTreeMemory } from './proc-mem.ts';

const { values: args } = parseArgs({
  options: {
    exports: { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    rate: { type: 'string', default: '20' },
    trace: { type: 'string', default: '5' },
    'agent-concurrency': { type: 'string', default: '64' },
    'capacity-writes': { type: 'string', default: '1000' },
    'capacity-inflight': { type: 'string', default: '32' },
    'capacity-rounds': { type: 'string', default: '3' },
    'poll-ms': { type: 'string', default: '50' },
    'max-qps': { type: 'string', default: '4000' },
    'phase-timeout': { type: 'string', default: '300' },
    json: { type: 'string' },
    profile: { type: 'string' },
    // Go CPU profiles of every apiserver over the burst export (/debug/pprof/profile), for `go tool pprof`.
    'apiserver-profile': { type: 'string' },
    // The container image's NODE_OPTIONS (Dockerfile), so memory is measured as deployed.
    'node-options': { type: 'string', default: '--max-semi-space-size=8' },
  },
});
const N = Number(args.exports);
const CLUSTER_COUNT = Number(args.clusters);
const CONCURRENCY = Number(args.concurrency);
const RATE = Number(args.rate);
const TRACE = Number(args.trace);
const AGENT_CONCURRENCY = Number(args['agent-concurrency']);
const CAPACITY_WRITES = Number(args['capacity-writes']);
const CAPACITY_INFLIGHT = Number(args['capacity-inflight']);
const CAPACITY_ROUNDS = Number(args['capacity-rounds']);
const POLL_MS = Number(args['poll-ms']);
const MAX_QPS = Number(args['max-qps']);
const PHASE_TIMEOUT_MS = Number(args['phase-timeout']) * 1000;
const PROFILE_DIR = args.profile;
const APISERVER_PROFILE_DIR = args['apiserver-profile'];
const NODE_OPTIONS = args['node-options'];
/** How long after the burst the memory is read a second time, the processes idle. */
const IDLE_MEMORY_WAIT_MS = 10_000;
for (const [k, v] of Object.entries({ exports: N, clusters: CLUSTER_COUNT, concurrency: CONCURRENCY, 'agent-concurrency': AGENT_CONCURRENCY, 'capacity-writes': CAPACITY_WRITES, 'capacity-inflight': CAPACITY_INFLIGHT, 'capacity-rounds': CAPACITY_ROUNDS, 'poll-ms': POLL_MS, 'max-qps': MAX_QPS, 'phase-timeout': PHASE_TIMEOUT_MS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive whole number`);
}
for (const [k, v] of Object.entries({ rate: RATE, trace: TRACE })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a whole number (0: skip)`);
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
  private closed = false;

  constructor(port: number) {
    this.port = port;
    // Hundreds of replies can arrive while this process waits for a CPU: the default buffer
    // (about 200 datagrams) would drop some, which would read as slow answers.
    this.socket.once('listening', () => {
      try {
        this.socket.setRecvBufferSize(4 << 20);
      } catch {
        // capped by the kernel; the default still works, with more "no reply" counts
      }
    });
    this.socket.bind(0, '127.0.0.1');
    this.socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const done = this.waiting.get(id);
      if (done === undefined) return;
      this.waiting.delete(id);
      done({ rcode: msg[3]! & 0x0f, answers: msg.readUInt16BE(6) });
    });
  }

  /** Resolves with the reply, or undefined after 500 ms (a lost datagram is asked again next round). */
  query(name: string): Promise<Reply | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const id = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const packet = Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, 500);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.send(packet, this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.closed = true;
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
  /** Worst interval between two polls of one pending name: latencies are exact to about this. */
  resolutionMs: number;
  /** DNS queries without a reply within the prober's timeout (the name is asked again). */
  unanswered: number;
  /** When the benchmark's last request of the phase was answered, since the phase started. */
  actedMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** How a phase issues its requests: `concurrency` at a time as fast as they go, or `rate` per second. */
type Schedule = { concurrency: number } | { rate: number };

/**
 * Runs `act` for every item (bounded concurrency, or paced at a fixed rate), recording when each
 * request was sent, while polling each acted-on name at its cluster's prober until `done(reply)`;
 * returns the latencies.
 */
async function measure(
  phase: string,
  items: Array<{ name: string; prober: Prober; act: () => Promise<void> }>,
  done: (r: Reply) => boolean,
  schedule: Schedule = { concurrency: CONCURRENCY },
): Promise<PhaseResult> {
  const sentAt = new Map<number, number>();
  const latency = new Map<number, number>();
  const start = performance.now();
  let next = 0;
  const workers =
    'rate' in schedule
      ? items.map(async (item, i) => {
          // Paced: request i goes out at start + i/rate, whatever the earlier ones are doing.
          const wait = start + (i * 1000) / schedule.rate - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          sentAt.set(i, performance.now());
          await item.act();
        })
      : Array.from({ length: Math.min(schedule.concurrency, items.length) }, async () => {
          while (next < items.length) {
            const i = next++;
            sentAt.set(i, performance.now());
            await items[i]!.act();
          }
        });
  let acting = true;
  let actedMs = Number.NaN;
  const acted = Promise.all(workers).finally(() => {
    acting = false;
    actedMs = performance.now() - start;
  });
  const deadline = start + PHASE_TIMEOUT_MS;
  let cursor = 0;
  let worstGapMs = 0;
  let unanswered = 0;
  // Queries are not awaited per round: one slow or lost reply must not delay every other name's
  // next poll. Each name has at most one query outstanding.
  const outstanding = new Set<number>();
  const perRound = Math.max(1, Math.floor((MAX_QPS * POLL_MS) / 1000));
  while ((acting || latency.size < items.length) && performance.now() < deadline) {
    const round = performance.now();
    // Round-robin through the pending names, at most MAX_QPS·POLL_MS/1000 per round.
    const waiting = [...sentAt.keys()].filter((i) => !latency.has(i));
    const all = waiting.filter((i) => !outstanding.has(i));
    const offset = all.length > perRound ? cursor % all.length : 0;
    const pending = all.length > perRound ? [...all.slice(offset), ...all.slice(0, offset)].slice(0, perRound) : all;
    cursor += pending.length;
    for (const i of pending) {
      outstanding.add(i);
      void items[i]!.prober.query(items[i]!.name).then((reply) => {
        outstanding.delete(i);
        if (reply === undefined) unanswered += 1;
        else if (done(reply) && !latency.has(i)) latency.set(i, performance.now() - sentAt.get(i)!);
      });
    }
    // How long a pending name may wait for its next poll: the resolution of the latencies measured.
    if (waiting.length > 0) worstGapMs = Math.max(worstGapMs, POLL_MS * Math.ceil(waiting.length / perRound));
    const wait = POLL_MS - (performance.now() - round);
    await new Promise((r) => setTimeout(r, Math.max(1, wait)));
  }
  await acted;
  for (let k = 0; k < 100 && outstanding.size > 0; k++) await new Promise((r) => setTimeout(r, 20));
  const totalMs = Math.max(0, ...[...latency].map(([i, l]) => sentAt.get(i)! + l)) - start;
  const sorted = [...latency.values()].sort((a, b) => a - b);
  return { phase, count: items.length, converged: latency.size, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? Number.NaN, totalMs, resolutionMs: worstGapMs, unanswered, actedMs };
}

// ---- workload ----------------------------------------------------------------------------------

/** Services 0..N-1 are the measured ones; N..N+TRACE-1 are traced one at a time first. */
function svcName(i: number): string {
  return i < N ? `svc-${i}` : `trace-${i - N}`;
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

// ---- where the CPU goes: /proc/<pid>/stat of every process, per phase ------------------------

const CLOCK_TICKS = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are fields 14 and 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

class CpuMeter {
  private readonly pids: Map<string, number>;
  private last = new Map<string, number>();
  private readonly started = new Set<string>();
  private lastAt = performance.now();

  constructor(pids: Map<string, number>) {
    this.pids = pids;
    this.take();
  }

  /**
   * CPU seconds per process since the last call, and the wall seconds they span. A process
   * replaced since (a restarted agent: same name, new pid) counts from its start; what the old one
   * used after the last call is lost (it ran for at most that interval).
   */
  take(): { wallS: number; cpu: Map<string, number> } {
    const now = performance.now();
    const cpu = new Map<string, number>();
    const current = new Map<string, number>();
    for (const [name, pid] of this.pids) {
      const s = cpuSeconds(pid);
      if (s === undefined) continue;
      current.set(`${name}|${pid}`, s);
      cpu.set(name, s - (this.last.get(`${name}|${pid}`) ?? (this.started.has(`${name}|${pid}`) ? s : 0)));
      this.started.add(`${name}|${pid}`);
    }
    const wallS = (now - this.lastAt) / 1000;
    this.last = current;
    this.lastAt = now;
    return { wallS, cpu };
  }
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '-';
  }
}

// ---- trace: when each hop of one export's chain becomes visible ------------------------------

/**
 * Watches objects on the apiservers (admin credentials) and remembers when each event was first
 * seen, keyed `label|event|name`; `event` is the watch type, or STATUS when `hasStatus(obj)`.
 */
class HopWatcher {
  private readonly seen = new Map<string, number>();
  private readonly stops: Array<() => void> = [];
  private stopped = false;

  watch(kc: KubeConfig, label: string, path: string, hasStatus: (obj: KubernetesObject) => boolean, labelSelector?: string): void {
    let resourceVersion: string | undefined;
    const loop = async (): Promise<void> => {
      while (!this.stopped) {
        await new Promise<void>((resolve) => {
          void new Watch(kc)
            .watch(path, { allowWatchBookmarks: true, timeoutSeconds: 25, labelSelector, resourceVersion }, (type: string, obj: KubernetesObject) => {
              resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
              const name = obj.metadata?.name ?? '';
              const t = performance.now();
              const mark = (event: string): void => {
                if (!this.seen.has(`${label}|${event}|${name}`)) this.seen.set(`${label}|${event}|${name}`, t);
              };
              mark(type);
              if (type !== 'DELETED' && hasStatus(obj)) mark('STATUS');
            }, () => resolve())
            .then((req) => this.stops.push(() => req.abort()), () => resolve());
        });
      }
    };
    void loop();
  }

  at(label: string, event: string, name: string): number | undefined {
    return this.seen.get(`${label}|${event}|${name}`);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.stops) s();
  }
}

// ---- main --------------------------------------------------------------------------------------

/**
 * The compiled CLI (built from this checkout at the start), as the image runs it: from the `.ts`
 * sources, Node's type stripper adds ~40 MiB and about a second of start-up to every process.
 */
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;

/** Runs `clusterset-dns <args>` from dist/ as its own process; output goes to `logFile`. */
function runCli(args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const script = `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(process.argv.slice(1), process.env, { stdout: process.stdout, stderr: process.stderr });`;
    // --profile DIR: V8 CPU profiles of every agent and dns process, written when they exit.
    const prof = PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
    const child = spawn(process.execPath, [...prof, '--input-type=module', '-e', script, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, NODE_OPTIONS: NODE_OPTIONS } });
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

async function waitReady(url: string, what: string, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await httpGet(url, { timeoutMs: 2000 })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms (${url})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** CPU seconds of the processes whose name matches. */
function sumCpu(cpu: Map<string, number>, match: (name: string) => boolean): number {
  return [...cpu].filter(([name]) => match(name)).reduce((a, [, s]) => a + s, 0);
}

/**
 * Writes the agents made, from the apiservers' counters of one phase (the burst export or the
 * restart): every mutating request but the benchmark's own (creating or deleting ServiceExports)
 * and Leases (heartbeats of the agents and the apiservers' own: they come with time, not with
 * exports).
 */
function writesByAgents(perServer: Map<string, Map<string, number>>): number {
  let n = 0;
  for (const counts of perServer.values()) {
    for (const [key, v] of counts) {
      if (key.includes('leases') || key === 'APPLY serviceexports' || key === 'DELETE serviceexports') continue;
      n += v;
    }
  }
  return n;
}

interface AgentProcess {
  child: ChildProcess;
  start: () => ChildProcess;
  readyz: string;
  metrics: string;
}

interface RestartResult {
  name: string;
  /** From the new process's spawn to /readyz answering 200 (caches synced, every key queued). */
  readyMs: number;
  /** From the spawn to both reconcilers' queues being empty (every key reconciled once). */
  drainedMs: number;
  /** CPU seconds the new process used until then (starting Node and loading the code included). */
  cpuS: number;
}

interface AgentScrape {
  lagP99S: number;
  lagMaxS: number;
  /** `<target> sum|count` of clusterset_dns_agent_api_request_seconds over every outcome. */
  writes: Map<string, number>;
  limits: Map<string, number>;
  /** V8's heap in use and committed, and memory held outside it (buffers), in bytes. */
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Memory-reducing collections run so far. */
  reductions: number;
}

/** An agent's event-loop delay since its last scrape, its write latency totals and its limits (undefined if unreachable). */
async function scrapeAgent(url: string): Promise<AgentScrape | undefined> {
  const page = await httpGet(url, { timeoutMs: 5000 }).catch(() => undefined);
  if (page === undefined || page.status !== 200) return undefined;
  const writes = new Map<string, number>();
  const limits = new Map<string, number>();
  for (const line of page.body.split('\n')) {
    const m = /^clusterset_dns_agent_api_request_seconds_(sum|count)\{target="(\w+)"[^}]*\} (\S+)$/.exec(line);
    if (m !== null) writes.set(`${m[2]} ${m[1]}`, (writes.get(`${m[2]} ${m[1]}`) ?? 0) + Number(m[3]));
    const l = /^clusterset_dns_agent_api_concurrency_limit\{target="(\w+)"\} (\S+)$/.exec(line);
    if (l !== null) limits.set(l[1]!, Number(l[2]));
  }
  const sum = (metric: string): number => metricSum(page.body, metric) ?? Number.NaN;
  return {
    lagP99S: sum('nodejs_eventloop_lag_p99_seconds'),
    lagMaxS: sum('nodejs_eventloop_lag_max_seconds'),
    writes,
    limits,
    heapUsedBytes: sum('nodejs_heap_size_used_bytes'),
    heapTotalBytes: sum('nodejs_heap_size_total_bytes'),
    externalBytes: sum('nodejs_external_memory_bytes'),
    reductions: metricSum(page.body, 'clusterset_dns_memory_reductions_total') ?? 0,
  };
}

/** Sum of the samples of `metric` in a Prometheus text page (undefined when there is none). */
function metricSum(text: string, metric: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Restarts every agent, one after the other as a rolling update does (SIGTERM, then the same
 * command line again): in a real deployment each agent has its own node, so one restart at a
 * time on this shared machine measures the agent, not three agents fighting for two cores.
 * Measures per agent the time to ready and to drained queues, and the CPU it used until then.
 */
async function restartAgents(agents: Map<string, AgentProcess>): Promise<RestartResult[]> {
  const results: RestartResult[] = [];
  for (const [name, a] of agents) {
    await stopChild(a.child);
    const spawned = performance.now();
    a.child = a.start();
    await waitReady(a.readyz, `restarted agent ${name}`, 60_000, 20);
    const readyMs = performance.now() - spawned;
    const deadline = performance.now() + 60_000;
    for (;;) {
      const page = await httpGet(a.metrics, { timeoutMs: 2000 }).catch(() => undefined);
      // Both reconcilers report their depth once they started; 0 waiting in both: drained.
      const depth = page === undefined ? undefined : metricSum(page.body, 'clusterset_dns_agent_queue_depth');
      const reported = page !== undefined && page.body.includes('reconciler="exporter"') && page.body.includes('reconciler="importer"');
      if (reported && depth === 0) break;
      if (performance.now() > deadline) throw new Error(`restarted agent ${name}: queues not drained within 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const drainedMs = performance.now() - spawned;
    results.push({ name, readyMs, drainedMs, cpuS: a.child.pid === undefined ? Number.NaN : (cpuSeconds(a.child.pid) ?? Number.NaN) });
  }
  return results;
}

async function main(): Promise<void> {
  log('building dist/ from this checkout (tsc)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: new URL('..', import.meta.url).pathname, stdio: 'inherit', timeout: 600_000 });
  let set: ClusterSet | undefined;
  const children: ChildProcess[] = [];
  const probers: Prober[] = [];
  const hops = new HopWatcher();
  const work = mkdtempSync(join(tmpdir(), 'clusterset-dns-propagation-'));
  let failed = true;
  const stopAll = async (): Promise<void> => {
    hops.stop();
    for (const p of probers) p.close();
    await Promise.allSettled(children.map((c) => stopChild(c)));
    await set?.stop();
    if (failed) log(`child logs kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  // A promise nobody awaited failed: stop every child and apiserver before exiting (otherwise the
  // agents and DNS servers outlive the benchmark and take CPU from the next run).
  process.once('unhandledRejection', (reason) => {
    log(`unhandled rejection: ${String(reason)}`);
    void stopAll().then(() => process.exit(1));
  });
  try {
    log(`starting a broker and ${CLUSTER_COUNT} member clusters ...`);
    set = await startClusters({ names: NAMES, broker: true, profiling: APISERVER_PROFILE_DIR !== undefined, log: (l) => log(`[harness] ${l}`) });
    const admins = new Map<string, KubernetesObjectApi>();
    const ready: Promise<void>[] = [];
    const pids = new Map<string, number>();
    for (const p of readState(set.dir)?.processes ?? []) pids.set(p.name, p.pid);
    pids.set('bench', process.pid);
    const endpoints = set.clusters.map((c) => ({ name: c.name, server: c.server, caPem: readFileSync(c.caFile, 'utf8'), token: c.adminToken }));

    // The yardstick: what these apiservers absorb, before any agent or watcher runs.
    const CAPACITY_NS = 'bench-capacity';
    for (const c of set.clusters) {
      await KubernetesObjectApi.makeApiClient(c.kubeConfig).patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CAPACITY_NS } } as KubernetesObject, undefined, undefined, 'bench', true, PatchStrategy.ServerSideApply);
    }
    log(`capacity: ${CAPACITY_WRITES} server-side applies of trivial ConfigMaps on each of the ${endpoints.length} apiservers at once, ${CAPACITY_INFLIGHT} in flight each ...`);
    const capacityCpu = new CpuMeter(pids);
    const capacityLoadBefore = loadAverage();
    // The best of --capacity-rounds rounds: a round that other work on the machine slowed would
    // lower the floor and make the burst look closer to it than it is.
    const rounds: Awaited<ReturnType<typeof measureApplyCapacity>>[] = [];
    for (let round = 0; round < CAPACITY_ROUNDS; round++) {
      rounds.push(await measureApplyCapacity(endpoints, { namespace: CAPACITY_NS, writesPerServer: CAPACITY_WRITES, inFlight: CAPACITY_INFLIGHT }));
    }
    const capacity = rounds.reduce((best, r) => (r.appliesPerSecond > best.appliesPerSecond ? r : best));
    const capacityUsed = capacityCpu.take();
    const capacityLoad = `${capacityLoadBefore} → ${loadAverage()}`;
    log(`  ${rounds.map((r) => Math.round(r.appliesPerSecond)).join(', ')} applies/s in ${rounds.length} rounds; the best is the yardstick (${capacity.writes} in ${fmt(capacity.wallMs)}, ${capacity.failures} failed; load ${capacityLoad})`);

    /** Each agent's command line, so that the restart phase starts the very same agent again. */
    const agentStarts = new Map<string, AgentProcess>();
    for (const name of NAMES) {
      const member = set.get(name);
      // Pooled like the agents' clients: client-node's own opens a TLS connection per request, which
      // on a busy machine made the benchmark's creates, not the agents, the slow part of a burst.
      const admin = makePooledApiClient(member.kubeConfig, KubernetesObjectApi);
      admins.set(name, admin);
      const file = (kind: string, yaml: string): string => {
        const path = join(work, `${name}-${kind}.kubeconfig`);
        writeFileSync(path, yaml, { mode: 0o600 });
        return path;
      };
      const agentToken = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-agent', create: false });
      const dnsToken = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-server', create: false });
      const brokerToken = await agentBrokerToken(set.broker!, name);
      const [agentHttp, dnsHttp, dnsPort] = [await freePort(), await freePort(), await freeDnsPort()];
      const agentArgs = ['agent', '--cluster-id', name, '--kubeconfig', file('agent', kubeconfigYaml(member, 'agent', agentToken)),
        '--broker-kubeconfig', file('broker', kubeconfigYaml(set.broker!, `agent-${name}`, brokerToken, BROKER_NAMESPACE)),
        '--http-listen', `127.0.0.1:${agentHttp}`, '--concurrency', String(AGENT_CONCURRENCY), '--log-level', 'warn'];
      const startAgentProcess = (): ChildProcess => {
        const child = runCli(agentArgs, join(work, `${name}-agent.log`));
        children.push(child);
        if (child.pid !== undefined) pids.set(`agent ${name}`, child.pid);
        return child;
      };
      const agent = startAgentProcess();
      agentStarts.set(name, { child: agent, start: startAgentProcess, readyz: `http://127.0.0.1:${agentHttp}/readyz`, metrics: `http://127.0.0.1:${agentHttp}/metrics` });
      const dns = runCli(['dns', '--cluster-id', name, '--kubeconfig', file('dns', kubeconfigYaml(member, 'dns', dnsToken)),
        '--listen', `127.0.0.1:${dnsPort}`, '--http-listen', `127.0.0.1:${dnsHttp}`, '--workers', '0', '--log-level', 'warn'], join(work, `${name}-dns.log`));
      children.push(dns);
      if (dns.pid !== undefined) pids.set(`dns ${name}`, dns.pid);
      ready.push(waitReady(`http://127.0.0.1:${agentHttp}/readyz`, `agent ${name}`, 120_000), waitReady(`http://127.0.0.1:${dnsHttp}/readyz`, `dns ${name}`, 120_000));
      probers.push(new Prober(dnsPort));
    }
    const apply = (cluster: string, obj: KubernetesObject): Promise<unknown> => admins.get(cluster)!.patch(obj, undefined, undefined, 'bench', true, PatchStrategy.ServerSideApply);
    for (const name of NAMES) await apply(name, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await Promise.all(ready);

    const owner = (i: number): number => i % CLUSTER_COUNT;
    const indexes = Array.from({ length: N }, (_, i) => i);
    const traced = Array.from({ length: TRACE }, (_, j) => N + j);
    log(`creating ${N + TRACE} Services and EndpointSlices (not timed) ...`);
    const t = performance.now();
    await parallel([...indexes, ...traced], async (i) => {
      const cluster = NAMES[owner(i)]!;
      await withRetry(`service ${i}`, () => apply(cluster, { apiVersion: 'v1', kind: 'Service', metadata: { name: svcName(i), namespace: NS }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } } as KubernetesObject));
      await withRetry(`slice ${i}`, () => apply(cluster, endpointSlice(i, true)));
    });
    log(`  done in ${fmt(performance.now() - t)}`);

    const name = (i: number): string => `${svcName(i)}.${NS}.${ZONE}`;
    const importer = (i: number): number => (owner(i) + 1) % CLUSTER_COUNT;
    const proberFor = (i: number): Prober => probers[importer(i)]!;
    const serviceExport = (i: number): KubernetesObject => ({ apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceExport', metadata: { name: svcName(i), namespace: NS } }) as KubernetesObject;
    const exportAct = (i: number) => () => withRetry(`export ${i}`, () => apply(NAMES[owner(i)]!, serviceExport(i)));
    const unexportAct = (i: number) => () =>
      withRetry(`unexport ${i}`, async () => {
        try {
          await admins.get(NAMES[owner(i)]!)!.delete(serviceExport(i));
        } catch (err) {
          if ((err as { code?: number }).code !== 404) throw err;
        }
      });
    const resolvable = (r: Reply): boolean => r.rcode === 0 && r.answers > 0;
    const noAddress = (r: Reply): boolean => r.rcode === 0 && r.answers === 0;
    const nxdomain = (r: Reply): boolean => r.rcode === 3;
    const results: PhaseResult[] = [];
    const cpu = new CpuMeter(pids);
    const writes = new WriteMeter(endpoints);
    const cpuPerPhase: Array<{ phase: string; wallS: number; load: string; cpu: Map<string, number>; writes: Map<string, Map<string, number>> }> = [];
    /** Lets the previous phase's stragglers (status writes, echoes) finish, then starts counting. */
    const settle = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 2000));
      cpu.take();
      await writes.take();
    };
    const run = async (phase: string, go: () => Promise<PhaseResult>): Promise<void> => {
      await settle();
      const result = await go();
      results.push(result);
      await new Promise((r) => setTimeout(r, 2000));
      const used = cpu.take();
      cpuPerPhase.push({ phase, ...used, load: loadAverage(), writes: await writes.take() });
      log(`  ${phase}: ${result.converged}/${result.count}, p50 ${fmt(result.p50Ms)}, p99 ${fmt(result.p99Ms)}, total ${fmt(result.totalMs)}, the benchmark's requests done after ${fmt(result.actedMs)} (load ${loadAverage()})`);
    };

    let traceLines: string[] = [];
    if (TRACE > 0) {
      log(`trace: ${TRACE} exports, one at a time, every hop watched ...`);
      traceLines = await trace(set, traced, { name, owner, importer, proberFor, exportAct, unexportAct, resolvable, nxdomain });
      hops.stop(); // no extra watchers on the apiservers during the measured phases
    }

    if (RATE > 0) {
      log(`paced: ${N} ServiceExports created at ${RATE}/s ...`);
      await run('paced export', () => measure(`export → resolvable @${RATE}/s`, indexes.map((i) => ({ name: name(i), prober: proberFor(i), act: exportAct(i) })), resolvable, { rate: RATE }));
      log(`paced: ${N} ServiceExports deleted at ${RATE}/s ...`);
      await run('paced unexport', () => measure(`unexport → NXDOMAIN @${RATE}/s`, indexes.map((i) => ({ name: name(i), prober: proberFor(i), act: unexportAct(i) })), nxdomain, { rate: RATE }));
    }

    log(`burst: ${N} ServiceExports created, ${CONCURRENCY} at a time; waiting for each name in the next cluster ...`);
    // Each new connection is a TLS handshake: count the agents' connections to the apiservers.
    const apiserverPorts = new Set(endpoints.map((e) => Number(new URL(e.server).port)));
    const agentPids = (): Map<string, number> => new Map([...pids].filter(([n]) => n.startsWith('agent ')));
    const sockets = new ConnectionSampler(agentPids, apiserverPorts);
    sockets.start();
    // Event-loop delay (reset by each scrape) and write latency of each agent, over the burst.
    const agentsBefore = new Map(await Promise.all([...agentStarts].map(async ([n, a]) => [n, await scrapeAgent(a.metrics)] as const)));
    // --apiserver-profile DIR: each apiserver's Go CPU profile over the first 20 s of the burst.
    const apiserverProfiles = APISERVER_PROFILE_DIR === undefined ? [] : endpoints.map((e) =>
      saveGoProfile(e, 20, join(APISERVER_PROFILE_DIR, `apiserver-${e.name}.pb.gz`)).catch((err: unknown) => log(`  apiserver profile of ${e.name}: ${String(err)}`)));
    await run('burst export', () => measure('export → resolvable (burst)', indexes.map((i) => ({ name: name(i), prober: proberFor(i), act: exportAct(i) })), resolvable));
    await Promise.all(apiserverProfiles);

    const burstSockets = sockets.stop();
    const agentLines: string[] = [];
    for (const [n, a] of agentStarts) {
      const before = agentsBefore.get(n);
      const after = await scrapeAgent(a.metrics);
      if (before === undefined || after === undefined) continue;
      const mean = (target: string): string => {
        const count = (after.writes.get(`${target} count`) ?? 0) - (before.writes.get(`${target} count`) ?? 0);
        const sum = (after.writes.get(`${target} sum`) ?? 0) - (before.writes.get(`${target} sum`) ?? 0);
        return count > 0 ? `${count} writes to ${target}, mean ${fmt((1000 * sum) / count)} (gate wait included), limit now ${after.limits.get(target) ?? '-'}` : `no writes to ${target}`;
      };
      agentLines.push(`agent ${n}: event-loop delay p99 ${fmt(after.lagP99S * 1000)}, max ${fmt(after.lagMaxS * 1000)}; ${mean('broker')}; ${mean('local')}`);
      agentLines.push(`agent ${n}: V8 heap ${mib(after.heapUsedBytes)} MiB used of ${mib(after.heapTotalBytes)} committed, ${mib(after.externalBytes)} MiB external; ${after.reductions} memory reductions so far`);
    }
    for (const line of agentLines) log(`  ${line}`);
    for (const [agent, c] of burstSockets) log(`  ${agent}: ${c.opened} connections to the apiservers seen during the burst, at most ${c.peak} at once`);
    // Issue 11's memory goals are stated after this burst: each agent against Lighthouse's agent
    // (120 MB), each DNS server (primary and workers together) under 150 MB.
    const sampleMemory = () =>
      [...pids]
        .filter(([n]) => n.startsWith('agent ') || n.startsWith('dns '))
        .map(([n, pid]) => {
          const tree = processTreeMemory(pid);
          const total = (field: 'rssBytes' | 'peakBytes' | 'anonBytes') => tree.reduce((a, m) => a + m[field], 0);
          return { name: n, rssBytes: total('rssBytes'), peakBytes: total('peakBytes'), anonBytes: total('anonBytes') };
        });
    const describe = (sample: ReturnType<typeof sampleMemory>): string =>
      sample.map((m) => `${m.name} ${mib(m.rssBytes)} MiB (peak ${mib(m.peakBytes)}, anonymous ${mib(m.anonBytes)})`).join(', ');
    const burstMemory = sampleMemory();
    const memoryLine = describe(burstMemory);
    log(`  resident memory after the burst: ${memoryLine}`);
    // Once idle, each process's memory reducer may give a burst's heap back (it checks every 2 s).
    await new Promise((r) => setTimeout(r, IDLE_MEMORY_WAIT_MS));
    const idleMemory = sampleMemory();
    const idleMemoryLine = describe(idleMemory);
    log(`  resident memory ${IDLE_MEMORY_WAIT_MS / 1000} s later: ${idleMemoryLine}`);
    log(`restart: every agent stopped and started again with ${N} exports in place ...`);
    await settle();
    const restart = await restartAgents(agentStarts);
    const restartWrites = await writes.take({ strict: true });
    cpuPerPhase.push({ phase: 'agent restart', ...cpu.take(), load: loadAverage(), writes: restartWrites });
    for (const r of restart) log(`  agent ${r.name}: ready after ${fmt(r.readyMs)}, queues drained after ${fmt(r.drainedMs)}, ${r.cpuS.toFixed(1)} CPU s`);

    log(`burst: ${N} EndpointSlices flipped to not ready ...`);
    await run('burst flip', () => measure('readiness flip → no address', indexes.map((i) => ({
      name: name(i),
      prober: proberFor(i),
      act: () => withRetry(`flip ${i}`, () => apply(NAMES[owner(i)]!, endpointSlice(i, false))),
    })), noAddress));

    log(`burst: ${N} ServiceExports deleted ...`);
    await run('burst unexport', () => measure('unexport → NXDOMAIN (burst)', indexes.map((i) => ({ name: name(i), prober: proberFor(i), act: unexportAct(i) })), nxdomain));

    const out = (line: string): void => void process.stdout.write(`${line}\n`);
    out('');
    out(`propagation on real kube-apiservers: ${N} exports across ${CLUSTER_COUNT} clusters (agent and dns: one process each per cluster, agent --concurrency ${AGENT_CONCURRENCY}); burst phases ${CONCURRENCY} writes in flight${RATE > 0 ? `, paced phases ${RATE} exports/s` : ''}; polled every ${POLL_MS} ms (at most ${MAX_QPS} queries/s); NODE_OPTIONS=${JSON.stringify(NODE_OPTIONS)}`);
    out('etcd: --unsafe-no-fsync (test harness; real clusters add ~1 ms of SSD fsync per write)');
    if (traceLines.length > 0) {
      out('');
      for (const line of traceLines) out(line);
    }
    out('');
    out(`${'phase'.padEnd(34)}${'converged'.padStart(11)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'total'.padStart(10)}${'poll res.'.padStart(11)}${'no reply'.padStart(10)}${'load (1/5/15)'.padStart(18)}`);
    results.forEach((r, k) => {
      out(`${r.phase.padEnd(34)}${`${r.converged}/${r.count}`.padStart(11)}${fmt(r.p50Ms).padStart(10)}${fmt(r.p99Ms).padStart(10)}${fmt(r.maxMs).padStart(10)}${fmt(r.totalMs).padStart(10)}${fmt(r.resolutionMs).padStart(11)}${String(r.unanswered).padStart(10)}${(cpuPerPhase[k]?.load ?? '-').padStart(18)}`);
    });
    out('');
    out('CPU seconds per process and phase (wall seconds in the header):');
    const procNames = [...pids.keys()];
    out(`${'process'.padEnd(20)}${cpuPerPhase.map((p) => `${p.phase} ${Math.round(p.wallS)}s`.padStart(22)).join('')}`);
    for (const proc of procNames) out(`${proc.padEnd(20)}${cpuPerPhase.map((p) => (p.cpu.get(proc)?.toFixed(1) ?? '-').padStart(22)).join('')}`);
    out(`${'total'.padEnd(20)}${cpuPerPhase.map((p) => [...p.cpu.values()].reduce((a, b) => a + b, 0).toFixed(1).padStart(22)).join('')}`);
    out('');
    out('API writes per apiserver and phase (verb resource: count), counted by the apiservers, incl. the benchmark\'s own:');
    for (const p of cpuPerPhase) {
      const all = [...p.writes].map(([c, m]) => `${c}: ${[...m].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
      const total = [...p.writes.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
      out(`  ${p.phase}: ${total} writes, ${(total / N).toFixed(1)} per export`);
      for (const line of all) out(`    ${line}`);
    }
    out('');
    out(`capacity of the same apiservers (before the agents started; trivial ConfigMaps, all ${endpoints.length} at once, ${CAPACITY_INFLIGHT} in flight each, best of ${rounds.length} rounds: ${rounds.map((r) => Math.round(r.appliesPerSecond)).join(', ')}): ${Math.round(capacity.appliesPerSecond)} server-side applies/s (${capacity.writes} in ${fmt(capacity.wallMs)}, ${capacity.failures} failed; load ${capacityLoad}; apiservers + etcd CPU ${(sumCpu(capacityUsed.cpu, (n) => n.startsWith('apiserver') || n === 'etcd') * 1000 / Math.max(1, rounds.reduce((n, r) => n + r.writes, 0))).toFixed(2)} ms per apply)`);
    const burst = cpuPerPhase.find((p) => p.phase === 'burst export');
    const burstResult = results.find((r) => r.phase === 'export → resolvable (burst)');
    const goals: Record<string, unknown> = { capacityAppliesPerSecond: capacity.appliesPerSecond };
    if (burst !== undefined && burstResult !== undefined) {
      const agentWrites = writesByAgents(burst.writes);
      const perExport = agentWrites / N;
      const floorMs = (N * perExport * 1000) / capacity.appliesPerSecond;
      const achieved = (agentWrites * 1000) / burstResult.totalMs;
      out(`burst: ${agentWrites} writes by the agents (the apiservers' counters, without the benchmark's own and the heartbeat Leases) = ${perExport.toFixed(1)} per export`);
      out(`  write floor ${N} × ${perExport.toFixed(1)} ÷ ${Math.round(capacity.appliesPerSecond)}/s = ${fmt(floorMs)}; converged after ${fmt(burstResult.totalMs)} = ${(burstResult.totalMs / floorMs).toFixed(2)}× the floor (goal ≤ 2×: ${burstResult.totalMs <= 2 * floorMs ? 'met' : 'NOT met'})`);
      out(`  ${Math.round(achieved)} writes/s achieved = ${Math.round((100 * achieved) / capacity.appliesPerSecond)} % of the capacity; the benchmark's ${N} creates were all answered after ${fmt(burstResult.actedMs)}`);
      const kinds: Array<[string, (n: string) => boolean]> = [['agents', (n) => n.startsWith('agent')], ['dns servers', (n) => n.startsWith('dns')], ['apiservers', (n) => n.startsWith('apiserver')], ['etcd', (n) => n === 'etcd'], ['benchmark (DNS polling, requests)', (n) => n === 'bench']];
      out(`  CPU per export: ${kinds.map(([k, match]) => `${k} ${((sumCpu(burst.cpu, match) * 1000) / N).toFixed(1)} ms`).join(', ')}`);
      Object.assign(goals, { agentWrites, writesPerExport: perExport, floorMs, burstTotalMs: burstResult.totalMs, floorRatio: burstResult.totalMs / floorMs, writesPerSecond: achieved, cpuMsPerExport: Object.fromEntries(kinds.map(([k, match]) => [k, (sumCpu(burst.cpu, match) * 1000) / N])) });
    }
    out('agents during the burst:');
    for (const line of agentLines) out(`  ${line}`);
    out(`connections of each agent to the apiservers during the burst (each new one a TLS handshake; watches hold their own): ${[...burstSockets].map(([a, c]) => `${a} ${c.opened} opened, ${c.peak} at most at once`).join('; ')}`);
    Object.assign(goals, { burstConnections: Object.fromEntries(burstSockets) });
    const restartPhase = cpuPerPhase.find((p) => p.phase === 'agent restart');
    if (restartPhase !== undefined) {
      const slowest = Math.max(...restart.map((r) => r.readyMs));
      const drained = Math.max(...restart.map((r) => r.drainedMs));
      const agentWrites = writesByAgents(restartPhase.writes);
      out(`agent restart with ${N} exports in place (one agent after the other): ${agentWrites} writes besides heartbeat Leases (goal 0: ${agentWrites === 0 ? 'met' : 'NOT met'}); ready (/readyz) after ${restart.map((r) => `${r.name} ${fmt(r.readyMs)}`).join(', ')} (goal < 5 s: ${slowest < 5000 ? 'met' : 'NOT met'}); queues drained after at most ${fmt(drained)}; CPU until drained ${restart.map((r) => `${r.cpuS.toFixed(1)} s`).join(', ')}`);
      Object.assign(goals, { restartWrites: agentWrites, restartReadyMs: Object.fromEntries(restart.map((r) => [r.name, r.readyMs])), restartDrainedMs: Object.fromEntries(restart.map((r) => [r.name, r.drainedMs])) });
    }
    const paced = results.find((r) => r.phase.startsWith('export → resolvable @'));
    if (paced !== undefined) {
      out(`paced at ${RATE} exports/s: p99 export → resolvable ${fmt(paced.p99Ms)} (goal < 1 s at 20/s: ${RATE >= 20 && paced.p99Ms < 1000 ? 'met' : RATE < 20 ? 'not measured at 20/s' : 'NOT met'})`);
      Object.assign(goals, { pacedRate: RATE, pacedP99Ms: paced.p99Ms });
    }
    out(`memory of our processes after the burst (RSS, peak; DNS servers with --workers 0): ${memoryLine}; goals: each agent ≤ 120 MB (Lighthouse's agent), each DNS server < 150 MB`);
    out(`memory of our processes ${IDLE_MEMORY_WAIT_MS / 1000} s later, idle: ${idleMemoryLine}`);
    Object.assign(goals, { memoryAfterBurst: burstMemory, memoryIdleAfterBurst: idleMemory });
    const memory = set.memory();
    out(`memory: ${Object.entries(memory).map(([k, v]) => `${k} ${v === undefined ? '-' : Math.round(v / 1048576)} MiB`).join(', ')}`);
    if (args.json !== undefined) {
      const cpuJson = cpuPerPhase.map((p) => ({ phase: p.phase, wallS: p.wallS, load: p.load, cpuS: Object.fromEntries(p.cpu), writes: Object.fromEntries([...p.writes].map(([c, m]) => [c, Object.fromEntries(m)])) }));
      writeFileSync(args.json, `${JSON.stringify({ exports: N, clusters: CLUSTER_COUNT, concurrency: CONCURRENCY, rate: RATE, agentConcurrency: AGENT_CONCURRENCY, pollMs: POLL_MS, capacity: { ...capacity, perServer: Object.fromEntries(capacity.perServer), load: capacityLoad }, goals, results, cpu: cpuJson, trace: traceLines }, null, 2)}\n`);
    }
    if (results.some((r) => r.converged < r.count)) process.exitCode = 1;
    else failed = false;
  } finally {
    await stopAll();
  }

  /**
   * Exports (then unexports) the traced services one at a time, with every hop of the chain
   * watched on the apiservers; returns the printed table of median times since the request.
   */
  async function trace(
    clusters: ClusterSet,
    items: number[],
    w: {
      name: (i: number) => string;
      owner: (i: number) => number;
      importer: (i: number) => number;
      proberFor: (i: number) => Prober;
      exportAct: (i: number) => () => Promise<void>;
      unexportAct: (i: number) => () => Promise<void>;
      resolvable: (r: Reply) => boolean;
      nxdomain: (r: Reply) => boolean;
    },
  ): Promise<string[]> {
    const mcs = '/apis/multicluster.x-k8s.io/v1beta1/namespaces';
    const slices = '/apis/discovery.k8s.io/v1/namespaces';
    const broker = clusters.broker!.kubeConfig;
    hops.watch(broker, 'broker-slices', `${slices}/${BROKER_NAMESPACE}/endpointslices`, () => false);
    hops.watch(broker, 'broker-records', `${mcs}/${BROKER_NAMESPACE}/serviceimports`, () => false);
    for (const c of NAMES) {
      const kc = clusters.get(c).kubeConfig;
      hops.watch(kc, `exports@${c}`, `${mcs}/${NS}/serviceexports`, (o) => ((o as { status?: { conditions?: unknown[] } }).status?.conditions?.length ?? 0) > 0);
      hops.watch(kc, `imports@${c}`, `${mcs}/${NS}/serviceimports`, (o) => ((o as { status?: { clusters?: unknown[] } }).status?.clusters?.length ?? 0) > 0);
      hops.watch(kc, `slices@${c}`, `${slices}/${NS}/endpointslices`, () => false, 'multicluster.kubernetes.io/source-cluster');
    }
    await new Promise((r) => setTimeout(r, 1000)); // the watches are open
    const until = async (i: number, ok: (r: Reply) => boolean): Promise<number> => {
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        const reply = await w.proberFor(i).query(w.name(i));
        if (reply !== undefined && ok(reply)) return performance.now();
        await new Promise((r) => setTimeout(r, 5));
      }
      return Number.NaN;
    };
    type Hop = { hop: string; at: (i: number) => number | undefined };
    const forward: Hop[] = [
      { hop: 'broker EndpointSlice written', at: (i) => hops.at('broker-slices', 'ADDED', `${svcName(i)}.${NS}.${NAMES[w.owner(i)]}.ipv4`) },
      { hop: 'broker record written', at: (i) => hops.at('broker-records', 'ADDED', `${svcName(i)}.${NS}.${NAMES[w.owner(i)]}`) },
      { hop: 'import EndpointSlice written', at: (i) => hops.at(`slices@${NAMES[w.importer(i)]}`, 'ADDED', `${svcName(i)}.${NAMES[w.owner(i)]}.ipv4`) },
      { hop: 'import ServiceImport written', at: (i) => hops.at(`imports@${NAMES[w.importer(i)]}`, 'ADDED', svcName(i)) },
      { hop: 'import ServiceImport status', at: (i) => hops.at(`imports@${NAMES[w.importer(i)]}`, 'STATUS', svcName(i)) },
      { hop: 'ServiceExport status (owner)', at: (i) => hops.at(`exports@${NAMES[w.owner(i)]}`, 'STATUS', svcName(i)) },
    ];
    const backward: Hop[] = [
      { hop: 'broker record deleted', at: (i) => hops.at('broker-records', 'DELETED', `${svcName(i)}.${NS}.${NAMES[w.owner(i)]}`) },
      { hop: 'broker EndpointSlice deleted', at: (i) => hops.at('broker-slices', 'DELETED', `${svcName(i)}.${NS}.${NAMES[w.owner(i)]}.ipv4`) },
      { hop: 'import ServiceImport deleted', at: (i) => hops.at(`imports@${NAMES[w.importer(i)]}`, 'DELETED', svcName(i)) },
      { hop: 'import EndpointSlice deleted', at: (i) => hops.at(`slices@${NAMES[w.importer(i)]}`, 'DELETED', `${svcName(i)}.${NAMES[w.owner(i)]}.ipv4`) },
    ];
    const rows = new Map<string, number[]>();
    const note = (hop: string, ms: number | undefined): void => {
      if (ms === undefined || Number.isNaN(ms)) return;
      let list = rows.get(hop);
      if (list === undefined) rows.set(hop, (list = []));
      list.push(ms);
    };
    for (const i of items) {
      const sent = performance.now();
      await w.exportAct(i)();
      note('export: create request answered', performance.now() - sent);
      const answered = await until(i, w.resolvable);
      await new Promise((r) => setTimeout(r, 500)); // late hops (the export's status)
      for (const h of forward) note(`export: ${h.hop}`, (h.at(i) ?? Number.NaN) - sent);
      note('export: name resolves (DNS, next cluster)', answered - sent);
      const gone = performance.now();
      await w.unexportAct(i)();
      note('unexport: delete request answered', performance.now() - gone);
      const nx = await until(i, w.nxdomain);
      await new Promise((r) => setTimeout(r, 500));
      for (const h of backward) note(`unexport: ${h.hop}`, (h.at(i) ?? Number.NaN) - gone);
      note('unexport: NXDOMAIN (DNS, next cluster)', nx - gone);
    }
    const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
    const lines = [`trace: ${items.length} exports one at a time; median ms since the request, as seen by watches on each apiserver`];
    for (const [hop, xs] of [...rows].sort((a, b) => (a[0].split(':')[0] === b[0].split(':')[0] ? median(a[1]) - median(b[1]) : 0))) {
      lines.push(`  ${hop.padEnd(48)}${fmt(median(xs)).padStart(10)}   (${xs.map((x) => Math.round(x)).join(', ')})`);
    }
    return lines;
  }
}

await main();

/** Fetches an apiserver's Go CPU profile over `seconds` (profiling is on by default) into `file`. */
async function saveGoProfile(target: { server: string; caPem: string; token: string }, seconds: number, file: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = httpsRequest(new URL(`/debug/pprof/profile?seconds=${seconds}`, target.server), { ca: target.caPem, headers: { authorization: `Bearer ${target.token}` }, timeout: (seconds + 30) * 1000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode} from ${target.server}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('profile not received in time')));
    req.on('error', reject);
    req.end();
  });
  writeFileSync(file, body);
}
