/**
 * DNS benchmark (`npm run bench:dns`): dnsperf against our server and, in the same run, against NSD
 * and CoreDNS (`file` plugin) serving the same records, and against our server behind CoreDNS's
 * `forward` stub; prints one table of QPS, average and p99 latency with ratios.
 *
 *   node bench/dns.ts [--target cli|inprocess] [--services 10000] [--duration 15] [--rounds 3]
 *                     [--workers N | --workers 1,2] [--baseline DIR] [--clients 8] [--outstanding 200]
 *                     [--threads 1] [--skip-nsd] [--skip-coredns] [--coredns PATH] [--json FILE] [--weights]
 *
 * --target cli (default): the embedded default, `bin/clusterset-dns.js serve --from-dir DIR`,
 *   fed the generated YAML; waits for /readyz. --target inprocess: a server created in this process
 *   from the generated snapshot (workers are still separate processes), no CLI involved.
 * --workers N[,M...]: one instance of ours per value, side by side (the first is "ours" for the
 *   ratios and the one CoreDNS forwards to; NSD gets the same number as server-count). Default:
 *   one per core (as the CLI's --workers auto). --baseline DIR: also run DIR/bin/clusterset-dns.js (a
 *   copy of bin/ and dist/ from before a change, with node_modules reachable) at the first worker
 *   count, to compare a change in the same run.
 * CoreDNS: --coredns PATH, else the binary test/peers/build.sh builds (cached). Two instances, each
 *   without the cache plugin: `file` over the generated zone, and `errors` + `forward` to ours (the
 *   stub we ship in coredns/stub.Corefile). --skip-coredns leaves both out.
 * --weights: west's ServiceExports carry `clusterset-dns.io/weight: "300"` (issue 14), so answers
 *   naming west and another cluster go through the weighted rotation (a baseline from before issue
 *   14 ignores the annotation: same records, even rotation).
 * All servers run side by side. Each first gets one untimed warm-up pass through the query file
 * (our answers are encoded on first use and cached); then the timed runs alternate between them in
 * --rounds slices adding up to --duration seconds per server, so background load hits all alike.
 * Everything it starts (servers, NSD, CoreDNS, dnsperf, temp dir) is stopped and removed on exit;
 * every socket is on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DNS_OPTIONS } from '../src/config/options.ts';
import { buildSnapshot } from '../src/model/snapshot-build.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import type { Snapshot } from '../src/model/snapshot.ts';
import { createDnsServer } from '../src/server/index.ts';
import { benchImportedState, benchServices, LOCAL_CLUSTER, writeQueryFile, writeYamlDir, writeZoneFile, ZONE } from './bench-state.ts';
import { combineRuns, runDnsperf, type DnsperfResult } from './dnsperf-run.ts';
import { corednsBinary, describeCorefile, startBenchCoreDns, type CoreDnsMode } from './coredns-run.ts';
import { startNsd } from './nsd-run.ts';
import { processTreeCpuSeconds } from './proc-cpu.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'cli' },
    services: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    // One fewer than the cores (at least 1): dnsperf runs on this machine too, and on 2 cores one
    // worker answered as many queries as two at 20-30 % less CPU per query (see the README).
    workers: { type: 'string', default: String(Math.max(1, os.availableParallelism())) },
    baseline: { type: 'string' },
    clients: { type: 'string', default: '8' },
    outstanding: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' },
    'skip-nsd': { type: 'boolean', default: false },
    'skip-coredns': { type: 'boolean', default: false },
    weights: { type: 'boolean', default: false },
    coredns: { type: 'string' },
    json: { type: 'string' },
  },
  strict: true,
});

function positiveInt(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
const target = values.target;
if (target !== 'cli' && target !== 'inprocess') throw new Error(`--target must be cli or inprocess, got ${JSON.stringify(target)}`);
const serviceCount = positiveInt('services', values.services, 1);
const durationS = positiveInt('duration', values.duration, 1);
const rounds = positiveInt('rounds', values.rounds, 1);
const workerCounts = (values.workers ?? '').split(',').map((raw) => positiveInt('workers', raw.trim(), 0));
const workers = workerCounts[0]!;
if (values.baseline !== undefined && target !== 'cli') throw new Error('--baseline needs --target cli');
const perf = {
  durationS,
  clients: positiveInt('clients', values.clients, 1),
  outstanding: positiveInt('outstanding', values.outstanding, 1),
  threads: positiveInt('threads', values.threads, 1),
};

const cleanups: (() => Promise<void> | void)[] = [];
const say = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      say(`cleanup failed: ${String(error)}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().then(() => process.exit(130));
  });
}

async function freePort(): Promise<number> {
  // A port free for both UDP and TCP.
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

/** Polls a UDP query until it gets the expected rcode, bounded. */
async function waitForAnswer(port: number, name: string, timeoutMs: number): Promise<void> {
  const labels = name.split('.');
  const query = Buffer.concat([
    Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rcode = await new Promise<number | null>((resolve) => {
      const socket = dgram.createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        resolve(null);
      }, 500);
      socket.on('message', (msg) => {
        clearTimeout(timer);
        socket.close();
        resolve(msg[3]! & 0x0f);
      });
      socket.send(query, port, '127.0.0.1');
    });
    if (rcode === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no NOERROR answer for ${name} on port ${port} within ${timeoutMs} ms`);
}

async function waitForReady(httpPort: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not ready within ${timeoutMs} ms (last /readyz: ${last.trim()})`);
}

function fmt(r: DnsperfResult): string {
  return `${r.qps.toFixed(0).padStart(8)} QPS  avg ${r.avgLatencyMs.toFixed(3).padStart(7)} ms  p99 ${r.p99LatencyMs.toFixed(3).padStart(7)} ms  lost ${r.lost}/${r.sent}`;
}

/** The CLI runs the compiled dist/: say so when src/ has changed since it was built. */
function warnIfBuildIsStale(): void {
  const built = statSync(path.join(repoRoot, 'dist/cli/main.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = readdirSync(path.join(repoRoot, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .reduce((max, entry) => Math.max(max, statSync(path.join(entry.parentPath, entry.name)).mtimeMs), 0);
  if (newest > built) say('warning: src/ is newer than dist/ (the CLI runs dist/); run "npm run build" to benchmark the current code');
}

interface OurInstance {
  label: string;
  port: number;
  /** Processes whose CPU time counts as this server's (null: not measurable, e.g. in-process). */
  pids: number[];
  /** A summary of its answer cache, read after the runs. */
  cacheSummary(): Promise<string>;
}

/** Reads one unlabelled sample from a Prometheus text exposition. */
function sample(body: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);
}

/** Our server as a child process running the real CLI (from `root`: this repo, or a --baseline copy). */
async function startOursCli(label: string, root: string, workerCount: number, yamlDir: string, dir: string): Promise<OurInstance> {
  const port = await freePort();
  const httpPort = await freePort();
  const args = [
    path.join(root, 'bin/clusterset-dns.js'), 'serve',
    '--from-dir', yamlDir,
    '--cluster-id', LOCAL_CLUSTER,
    '--listen', `127.0.0.1:${port}`,
    '--http-listen', `127.0.0.1:${httpPort}`,
    '--workers', String(workerCount),
  ];
  const logFile = path.join(dir, `server-${label.replace(/[^a-z0-9]+/gi, '-')}.log`);
  say(`${label}: node ${args.join(' ')} (output in ${logFile}, kept only on failure)`);
  const logFd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd], cwd: root });
  closeSync(logFd);
  cleanups.push(() => {
    if (process.exitCode) say(`${label} output (tail):\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  await waitForReady(httpPort, child, 180_000);
  return {
    label,
    port,
    pids: child.pid === undefined ? [] : [child.pid],
    cacheSummary: async () => {
      const body = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      return `cache hits ${sample(body, 'clusterset_dns_cache_hits_total')}, misses ${sample(body, 'clusterset_dns_cache_misses_total')}, snapshot version ${sample(body, 'clusterset_dns_snapshot_version')}`;
    },
  };
}

/** Our server created in this process from the snapshot (its workers are still child processes). */
async function startOursInProcess(label: string, workerCount: number, snapshot: Snapshot): Promise<OurInstance> {
  const port = await freePort();
  const logger = createLogger({ level: 'warn', destination: process.stderr as never });
  const metrics = createMetrics();
  const server = createDnsServer(
    { dns: { ...DEFAULT_DNS_OPTIONS }, listen: { host: '127.0.0.1', port }, workers: workerCount, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 256 },
    { logger, metrics },
  );
  await server.start();
  cleanups.push(() => server.stop());
  server.setSnapshot(snapshot);
  return {
    label,
    port,
    pids: [], // shares this process with the benchmark itself
    cacheSummary: async () => {
      const { body } = await metrics.render();
      return `cache hits ${sample(body, 'clusterset_dns_cache_hits_total')}, misses ${sample(body, 'clusterset_dns_cache_misses_total')}`;
    },
  };
}

interface Target {
  label: string;
  port: number;
  /** Process trees whose CPU time is this server's; empty when it cannot be told apart. */
  pids: number[];
}

function cpuSecondsOf(pids: number[]): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    const seconds = processTreeCpuSeconds(pid);
    if (seconds === null) return null;
    total += seconds;
  }
  return total;
}

function row(label: string, r: DnsperfResult, cpuMicrosPerQuery: number): string {
  const cells = [
    label.padEnd(22),
    r.qps.toFixed(0).padStart(8),
    r.avgLatencyMs.toFixed(3).padStart(8),
    r.p99LatencyMs.toFixed(3).padStart(8),
    (Number.isFinite(cpuMicrosPerQuery) ? cpuMicrosPerQuery.toFixed(1) : 'n/a').padStart(9),
    `${r.lost}/${r.sent}`.padStart(16),
  ];
  return cells.join('  ');
}

function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return os.loadavg().map((n) => n.toFixed(2)).join(' ');
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterset-dns-bench-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  say(`generating ${serviceCount} services across 3 clusters in ${dir}`);
  const services = benchServices(serviceCount);
  const snapshot = buildSnapshot(benchImportedState(services, values.weights), LOCAL_CLUSTER, 1, Date.now());
  const queryFile = path.join(dir, 'queries.txt');
  writeQueryFile(queryFile, services);
  const probeName = `${services[0]!.name}.${services[0]!.namespace}.svc.${ZONE}`;
  const zoneFile = path.join(dir, `${ZONE}.zone`);
  writeZoneFile(zoneFile, snapshot, services, { ...DEFAULT_DNS_OPTIONS });

  // --- ours (one instance per --workers value, plus the --baseline build) ---
  const ourInstances: OurInstance[] = [];
  const oursLabel = (n: number) => (workerCounts.length > 1 || values.baseline !== undefined ? `clusterset-dns w${n}` : 'clusterset-dns');
  if (target === 'cli') {
    const yamlDir = path.join(dir, 'clusters');
    writeYamlDir(yamlDir, services, values.weights);
    warnIfBuildIsStale();
    for (const n of workerCounts) ourInstances.push(await startOursCli(oursLabel(n), repoRoot, n, yamlDir, dir));
    if (values.baseline !== undefined) ourInstances.push(await startOursCli(`baseline w${workers}`, path.resolve(values.baseline), workers, yamlDir, dir));
  } else {
    for (const n of workerCounts) ourInstances.push(await startOursInProcess(oursLabel(n), n, snapshot));
  }
  let killPerf: () => void = () => {};
  cleanups.push(() => killPerf());
  for (const instance of ourInstances) {
    await waitForAnswer(instance.port, probeName, 60_000);
    say(`${instance.label} (${target}) ready on 127.0.0.1:${instance.port}`);
  }
  const ours = ourInstances[0]!;
  const targets: Target[] = ourInstances.map(({ label, port, pids }) => ({ label, port, pids }));

  // --- NSD, serving the same records ---
  if (!values['skip-nsd']) {
    const port = await freePort();
    const nsdProcess = startNsd({ dir, port, zone: ZONE, zoneFile, serverCount: Math.max(1, workers) });
    cleanups.push(() => nsdProcess.stop());
    await waitForAnswer(port, probeName, 60_000);
    say(`NSD ready on 127.0.0.1:${port}`);
    targets.push({ label: 'NSD', port, pids: [nsdProcess.pid] });
  }

  // --- CoreDNS: the same zone with the file plugin, and the forward stub in front of ours ---
  const corefiles: string[] = [];
  if (!values['skip-coredns']) {
    const binary = await corednsBinary(values.coredns, (line) => say(line));
    const modes: { label: string; subdir: string; mode: CoreDnsMode }[] = [
      { label: 'CoreDNS (file)', subdir: 'coredns-file', mode: { kind: 'file', zone: ZONE, zoneFile } },
      { label: `${ours.label} behind CoreDNS`.replace('clusterset-dns', 'ours'), subdir: 'coredns-forward', mode: { kind: 'forward', zone: ZONE, upstreamPort: ours.port } },
    ];
    for (const { label, subdir, mode } of modes) {
      const instance = await startBenchCoreDns(binary, path.join(dir, subdir), mode);
      cleanups.push(() => instance.stop());
      await waitForAnswer(instance.ports.dns, probeName, 60_000);
      say(`${label} ready on 127.0.0.1:${instance.ports.dns}: ${describeCorefile(mode)}`);
      corefiles.push(`${label}: ${describeCorefile(mode)}`);
      // Behind the stub, a query costs CoreDNS's CPU and ours.
      targets.push({ label, port: instance.ports.dns, pids: mode.kind === 'forward' ? [instance.pid, ...ours.pids] : [instance.pid] });
    }
  }

  // Each server first gets one untimed pass through the query file: our answers are computed and
  // encoded on first use (then served from the cache); the others get the same warm-up for fairness.
  for (const t of targets) {
    say(`${t.label}: warm-up pass`);
    await runDnsperf({ port: t.port, queryFile, scratchDir: dir, ...perf, durationS: 300, maxRuns: 1 }, (kill) => (killPerf = kill));
  }
  // Timed runs alternate between the servers in rounds, so load from other work on the machine
  // (it is shared) drifts over all alike instead of favouring whichever ran first.
  const loadBefore = loadavg();
  const slice = Math.max(1, Math.round(durationS / rounds));
  const runs = new Map<string, DnsperfResult[]>(targets.map((t) => [t.label, []]));
  const cpuUsed = new Map(targets.map((t) => [t.label, { seconds: 0, queries: 0 }]));
  for (let round = 1; round <= rounds; round++) {
    for (const t of round % 2 === 1 ? targets : [...targets].reverse()) {
      const cpuBefore = cpuSecondsOf(t.pids);
      const result = await runDnsperf({ port: t.port, queryFile, scratchDir: dir, ...perf, durationS: slice }, (kill) => (killPerf = kill));
      const cpuAfter = cpuSecondsOf(t.pids);
      runs.get(t.label)!.push(result);
      const cpu = cpuUsed.get(t.label)!;
      if (cpuBefore === null || cpuAfter === null) cpu.seconds = NaN;
      else cpu.seconds += cpuAfter - cpuBefore;
      cpu.queries += result.completed;
      const perQuery = cpuBefore === null || cpuAfter === null ? '' : `  CPU ${(((cpuAfter - cpuBefore) / result.completed) * 1e6).toFixed(1)} µs/q`;
      say(`round ${round}/${rounds} ${t.label.padEnd(22)} ${fmt(result)}${perQuery}`);
    }
  }
  const loadAfter = loadavg();
  const results = new Map<string, DnsperfResult>(targets.map((t) => [t.label, combineRuns(runs.get(t.label)!)]));
  for (const [label, r] of results) say(`${label} responses: ${r.rcodes}`);
  for (const instance of ourInstances) say(`${instance.label} ${await instance.cacheSummary()} (warm-up and timed runs)`);

  const oursResult = results.get(ours.label)!;
  // Server CPU (user + system, all its processes) per answered query over the timed runs.
  const cpuMicros = (label: string) => {
    const used = cpuUsed.get(label)!;
    return (used.seconds / used.queries) * 1e6;
  };
  const lines = [
    `DNS benchmark: ${serviceCount} services, 3 clusters, mix 80% A/AAAA, 10% SRV, 10% NXDOMAIN, ${rounds} x ${slice}s per server (alternating),`,
    `dnsperf -c ${perf.clients} -q ${perf.outstanding} -T ${perf.threads}; ours: ${target}, ${workerCounts.join('/')} worker(s); NSD server-count ${Math.max(1, workers)}; CoreDNS GOMAXPROCS default (all cores);`,
    `${os.availableParallelism()} cores, load average (1/5/15 min) ${loadBefore} before the timed runs, ${loadAfter} after`,
    `${'server'.padEnd(22)}  ${'QPS'.padStart(8)}  ${'avg ms'.padStart(8)}  ${'p99 ms'.padStart(8)}  ${'CPU µs/q'.padStart(9)}  ${'lost/sent'.padStart(16)}`,
    ...[...results].map(([label, r]) => row(label, r, cpuMicros(label))),
  ];
  lines.push('(CPU µs/q: user+system CPU of the server\'s processes per answered query in the timed runs; "behind CoreDNS" counts CoreDNS and ours)');
  for (const [label, r] of results) {
    if (label !== ours.label) lines.push(`ours/${label}: QPS ${(oursResult.qps / r.qps).toFixed(2)}x, p99 latency ${(oursResult.p99LatencyMs / r.p99LatencyMs).toFixed(2)}x`);
  }
  if (corefiles.length > 0) lines.push('CoreDNS configs:', ...corefiles.map((c) => `  ${c}`));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) {
    const summary = (label: string, r: DnsperfResult) => ({
      qps: r.qps,
      avgLatencyMs: r.avgLatencyMs,
      p99LatencyMs: r.p99LatencyMs,
      cpuMicrosPerQuery: Number.isFinite(cpuMicros(label)) ? cpuMicros(label) : null,
      sent: r.sent,
      lost: r.lost,
    });
    const report = {
      services: serviceCount,
      rounds,
      sliceS: slice,
      target,
      workers: workerCounts,
      loadavgBefore: loadBefore,
      loadavgAfter: loadAfter,
      ours: ours.label,
      results: Object.fromEntries([...results].map(([label, r]) => [label, summary(label, r)])),
      ratios: Object.fromEntries([...results].filter(([label]) => label !== ours.label).map(([label, r]) => [label, oursResult.qps / r.qps])),
      corednsConfigs: corefiles,
    };
    writeFileSync(values.json, JSON.stringify(report, null, 2));
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`[bench] failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
