/**
 * DNS benchmark (`npm run bench:dns`): dnsperf against our server and, in the same run, against NSD
 * serving the same records; prints QPS, average and p99 latency for both and the ratio.
 *
 *   node bench/dns.ts [--target cli|inprocess] [--services 10000] [--duration 15] [--rounds 3] [--workers 2]
 *                     [--clients 8] [--outstanding 200] [--threads 1] [--skip-nsd] [--json FILE]
 *
 * --target cli (default): the embedded default, `bin/clusterset-dns.js serve --from-dir DIR`,
 *   fed the generated YAML; waits for /readyz. --target inprocess: a server created in this process
 *   from the generated snapshot (workers are still separate processes), no CLI involved.
 * Both servers run side by side. Each first gets one untimed warm-up pass through the query file
 * (our answers are encoded on first use and cached); then the timed runs alternate between them in
 * --rounds slices adding up to --duration seconds per server, so background load hits both alike.
 * Everything it starts (servers, NSD, dnsperf, temp dir) is stopped and removed on exit.
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
import { createDnsServer } from '../src/server/index.ts';
import { benchImportedState, benchServices, LOCAL_CLUSTER, writeQueryFile, writeYamlDir, writeZoneFile, ZONE } from './bench-state.ts';
import { combineRuns, runDnsperf, type DnsperfResult } from './dnsperf-run.ts';
import { startNsd } from './nsd-run.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'cli' },
    services: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: String(Math.max(1, os.availableParallelism())) },
    clients: { type: 'string', default: '8' },
    outstanding: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' },
    'skip-nsd': { type: 'boolean', default: false },
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
const workers = positiveInt('workers', values.workers, 0);
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

/** A summary of the answer cache after the runs. */
let reportCache: (() => Promise<string>) | null = null;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterset-dns-bench-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  say(`generating ${serviceCount} services across 3 clusters in ${dir}`);
  const services = benchServices(serviceCount);
  const snapshot = buildSnapshot(benchImportedState(services), LOCAL_CLUSTER, 1, Date.now());
  const dnsOptions = { ...DEFAULT_DNS_OPTIONS };
  const queryFile = path.join(dir, 'queries.txt');
  writeQueryFile(queryFile, services);
  const probeName = `${services[0]!.name}.${services[0]!.namespace}.svc.${ZONE}`;

  // --- ours ---
  const ourPort = await freePort();
  if (target === 'cli') {
    const yamlDir = path.join(dir, 'clusters');
    writeYamlDir(yamlDir, services);
    warnIfBuildIsStale();
    const httpPort = await freePort();
    const args = [
      path.join(repoRoot, 'bin/clusterset-dns.js'), 'serve',
      '--from-dir', yamlDir,
      '--cluster-id', LOCAL_CLUSTER,
      '--listen', `127.0.0.1:${ourPort}`,
      '--http-listen', `127.0.0.1:${httpPort}`,
      '--workers', String(workers),
    ];
    const logFile = path.join(dir, 'server.log');
    say(`starting: node ${args.join(' ')} (output in ${logFile}, kept only on failure)`);
    const logFd = openSync(logFile, 'w');
    const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd], cwd: repoRoot });
    closeSync(logFd);
    cleanups.push(() => {
      if (process.exitCode) say(`server output (tail):\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
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
    reportCache = async () => {
      const body = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);
      return `cache hits ${value('clusterset_dns_cache_hits_total')}, misses ${value('clusterset_dns_cache_misses_total')}, snapshot version ${value('clusterset_dns_snapshot_version')}`;
    };
  } else {
    const logger = createLogger({ level: 'warn', destination: process.stderr as never });
    const metrics = createMetrics();
    reportCache = async () => {
      const { body } = await metrics.render();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);
      return `cache hits ${value('clusterset_dns_cache_hits_total')}, misses ${value('clusterset_dns_cache_misses_total')}`;
    };
    const server = createDnsServer(
      { dns: dnsOptions, listen: { host: '127.0.0.1', port: ourPort }, workers, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 256 },
      { logger, metrics },
    );
    await server.start();
    cleanups.push(() => server.stop());
    server.setSnapshot(snapshot);
  }
  await waitForAnswer(ourPort, probeName, 60_000);
  let killPerf: () => void = () => {};
  cleanups.push(() => killPerf());
  say(`clusterset-dns (${target}, workers ${workers}) ready on 127.0.0.1:${ourPort}`);

  // --- NSD, serving the same records ---
  let nsdPort: number | null = null;
  if (!values['skip-nsd']) {
    const zoneFile = path.join(dir, `${ZONE}.zone`);
    writeZoneFile(zoneFile, snapshot, services, dnsOptions);
    nsdPort = await freePort();
    const nsdProcess = startNsd({ dir, port: nsdPort, zone: ZONE, zoneFile, serverCount: Math.max(1, workers) });
    cleanups.push(() => nsdProcess.stop());
    await waitForAnswer(nsdPort, probeName, 60_000);
    say(`NSD ready on 127.0.0.1:${nsdPort}`);
  }

  // Each server first gets one untimed pass through the query file: our answers are computed and
  // encoded on first use (then served from the cache); NSD gets the same warm-up for fairness.
  const targets: { label: string; port: number }[] = [{ label: 'clusterset-dns', port: ourPort }];
  if (nsdPort !== null) targets.push({ label: 'NSD', port: nsdPort });
  for (const t of targets) {
    say(`${t.label}: warm-up pass`);
    await runDnsperf({ port: t.port, queryFile, ...perf, durationS: 300, maxRuns: 1 }, (kill) => (killPerf = kill));
  }
  // Timed runs alternate between the servers in rounds, so load from other work on the machine
  // (it is shared) drifts over both alike instead of favouring whichever ran first.
  const slice = Math.max(1, Math.round(durationS / rounds));
  const runs = new Map<string, DnsperfResult[]>(targets.map((t) => [t.label, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const t of round % 2 === 1 ? targets : [...targets].reverse()) {
      const result = await runDnsperf({ port: t.port, queryFile, ...perf, durationS: slice }, (kill) => (killPerf = kill));
      runs.get(t.label)!.push(result);
      say(`round ${round}/${rounds} ${t.label.padEnd(15)} ${fmt(result)}`);
    }
  }
  const ours = combineRuns(runs.get('clusterset-dns')!);
  say(`clusterset-dns responses: ${ours.rcodes}`);
  if (reportCache) say(`clusterset-dns ${await reportCache()} (warm-up and timed runs)`);
  const nsd = nsdPort === null ? null : combineRuns(runs.get('NSD')!);
  if (nsd) say(`NSD responses: ${nsd.rcodes}`);

  const lines = [
    `DNS benchmark: ${serviceCount} services, 3 clusters, mix 80% A/AAAA, 10% SRV, 10% NXDOMAIN, ${rounds} x ${slice}s per server (alternating),`,
    `dnsperf -c ${perf.clients} -q ${perf.outstanding} -T ${perf.threads}; ours: ${target}, ${workers} worker(s); NSD server-count ${Math.max(1, workers)}; ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(1)}`,
    `clusterset-dns  ${fmt(ours)}`,
  ];
  if (nsd) {
    lines.push(`NSD             ${fmt(nsd)}`);
    lines.push(`ratio (ours/NSD): QPS ${(ours.qps / nsd.qps).toFixed(2)}x, p99 latency ${(ours.p99LatencyMs / nsd.p99LatencyMs).toFixed(2)}x`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) {
    const summary = (r: DnsperfResult) => ({ qps: r.qps, avgLatencyMs: r.avgLatencyMs, p99LatencyMs: r.p99LatencyMs, sent: r.sent, lost: r.lost });
    const report = { services: serviceCount, rounds, sliceS: slice, target, workers, ours: summary(ours), nsd: nsd ? summary(nsd) : null, ratio: nsd ? ours.qps / nsd.qps : null };
    writeFileSync(values.json, JSON.stringify(report, null, 2));
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`[bench] failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
