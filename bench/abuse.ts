/**
 * Hostile-input benchmark (`npm run bench:abuse`): each attack of issue 9 against the embedded
 * default (`bin/clusterset-dns.js serve`, built from this checkout), loopback only, bounded in
 * count and time, while a legitimate client keeps asking known names. Prints one table: attack,
 * size, crashes (worker restarts, or the primary gone), legitimate queries unanswered, p99 of
 * legitimate queries during the attack, RSS (primary + workers) before / peak / after.
 *
 *   node bench/abuse.ts [--seconds 12] [--workers 2] [--cache-size 64] [--names 500000] [--json FILE]
 *                       [--only huge-headless,random-names,slowloris,tcp-byte-frames,debug-flood,primary-kill]
 *   node bench/abuse.ts --write-state DIR   (only write the served YAML, to run a server by hand)
 *
 * Attack traffic comes from worker threads (their own event loops), so the legitimate client's
 * timings measure the server, not the attacker. Every attacker keeps a bounded window of queries
 * in flight (closed loop: as fast as the server answers, never an unbounded queue). Everything it
 * starts (the server, threads, temp dir) is stopped and removed on exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { freeDnsPort } from '../test/harness/net.ts';
import { processTreeMemory } from './proc-mem.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ZONE = 'clusterset.local';
const HUGE = `flood.big.svc.${ZONE}`;
const WIDE = `wide.big.svc.${ZONE}`;

// ---------------------------------------------------------------- wire helpers (no dns2: speed)

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((l) => l !== '');
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function query(id: number, name: string, qtype: number, edns = true): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header[2] = 0x01;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, encodeName(name), tail, opt]);
}

function framed(message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

// ---------------------------------------------------------------- attacker threads

type AttackKind = 'huge-headless' | 'random-names' | 'slowloris' | 'tcp-byte-frames' | 'debug-flood';
interface AttackJob {
  kind: AttackKind;
  port: number;
  httpPort: number;
  seconds: number;
  names: number;
  thread: number;
  threads: number;
}

async function runAttacker(job: AttackJob): Promise<{ sent: number }> {
  const until = Date.now() + job.seconds * 1000;
  switch (job.kind) {
    case 'huge-headless': {
      // Every query type and both transports at the 100,000-address service: each is a distinct
      // cache key, so an answer that is computed per key (or not cached) shows here.
      const qtypes = [1, 28, 33, 255, 16, 15, 99, 1000];
      let n = 0;
      return udpWindow(job.port, 64, until, (id) => query(id, n % 5 === 0 ? `_http._tcp.${HUGE}` : HUGE, qtypes[n++ % qtypes.length]!, n % 2 === 0), Infinity);
    }
    case 'random-names': {
      // Unique names: unknown services in a known namespace, unknown namespaces, deeper names.
      const share = Math.ceil(job.names / job.threads);
      let i = job.thread * share;
      const end = Math.min(job.names, i + share);
      const shapes = (k: number): string => {
        const r = `r${k.toString(36)}x${(k * 2654435761 >>> 0).toString(36)}`;
        switch (k % 3) {
          case 0: return `${r}.ns-0.svc.${ZONE}`;
          case 1: return `x.${r}.svc.${ZONE}`;
          default: return `${r}.svc-1.ns-0.svc.${ZONE}`;
        }
      };
      // Bounded by count, and by time (60 s past the others) on a slow machine: the table says how many went.
      return udpWindow(job.port, 128, until + 60_000, (id) => query(id, shapes(i++), 1), end - i);
    }
    case 'slowloris': {
      // 300 connections per run (split over threads), one byte every 5 s, reconnecting when closed.
      const count = Math.ceil(300 / job.threads);
      const sockets = new Set<net.Socket>();
      let sent = 0;
      const open = (): void => {
        if (Date.now() > until) return;
        const socket = net.connect({ host: '127.0.0.1', port: job.port });
        socket.setNoDelay(true);
        socket.on('error', () => {});
        socket.on('close', () => {
          sockets.delete(socket);
          setTimeout(open, 100);
        });
        sockets.add(socket);
      };
      for (let i = 0; i < count; i++) open();
      const message = framed(query(1, `svc-1.ns-0.svc.${ZONE}`, 1));
      let position = 0;
      const drip = setInterval(() => {
        for (const s of sockets) if (s.writable) s.write(message.subarray(position % message.length, (position % message.length) + 1));
        position++;
        sent += sockets.size;
      }, 5_000);
      // The first byte right away, so every connection is mid-message from the start.
      for (const s of sockets) s.once('connect', () => s.write(message.subarray(0, 1)));
      await new Promise((r) => setTimeout(r, until - Date.now()));
      clearInterval(drip);
      for (const s of sockets) s.destroy();
      return { sent };
    }
    case 'tcp-byte-frames': {
      // One 64 KiB frame per connection, one byte per segment (Nagle off), again until time is up.
      let sent = 0;
      const one = async (): Promise<void> => {
        while (Date.now() < until) {
          const message = Buffer.alloc(65535);
          query(7, `svc-1.ns-0.svc.${ZONE}`, 1).copy(message);
          const bytes = framed(message);
          await new Promise<void>((resolve) => {
            const socket = net.connect({ host: '127.0.0.1', port: job.port });
            socket.setNoDelay(true);
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.on('data', () => socket.destroy());
            socket.on('connect', async () => {
              for (let i = 0; i < bytes.length && !socket.destroyed && Date.now() < until; i++) {
                socket.write(bytes.subarray(i, i + 1));
                sent++;
                // Let each byte leave as its own segment.
                if (i % 16 === 0) await new Promise((r) => setImmediate(r));
              }
              if (Date.now() >= until) socket.destroy();
            });
          });
        }
      };
      await Promise.all(Array.from({ length: Math.ceil(6 / job.threads) }, one));
      return { sent };
    }
    case 'debug-flood': {
      // 200 concurrent /debug/explain of the 10,000-endpoint service, again and again, each with its
      // own query string so the server cannot answer it from a report it already made.
      let sent = 0;
      const one = async (): Promise<void> => {
        while (Date.now() < until) {
          try {
            const res = await fetch(`http://127.0.0.1:${job.httpPort}/debug/explain?name=${WIDE}&type=A&n=${job.thread}-${sent}`, { signal: AbortSignal.timeout(10_000) });
            await res.arrayBuffer();
          } catch {
            // refused or timed out: keep flooding
          }
          sent++;
        }
      };
      await Promise.all(Array.from({ length: Math.ceil(200 / job.threads) }, one));
      return { sent };
    }
  }
}

/**
 * Keeps at most `window` UDP queries in flight (by ID) until `until` or `count` sent; a reply that
 * does not come within 200 ms frees its slot, so the window never grows past `window`.
 */
function udpWindow(port: number, window: number, until: number, next: (id: number) => Buffer, count: number): Promise<{ sent: number }> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const inFlight = new Map<number, number>();
    let sent = 0;
    let id = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(reaper);
      socket.close();
      resolve({ sent });
    };
    const pump = () => {
      while (!done && inFlight.size < window && sent < count && Date.now() < until) {
        do id = (id + 1) & 0xffff;
        while (inFlight.has(id));
        inFlight.set(id, Date.now());
        sent++;
        socket.send(next(id), port, '127.0.0.1');
      }
      if ((sent >= count && inFlight.size === 0) || Date.now() >= until) finish();
    };
    socket.on('message', (msg) => {
      if (inFlight.delete(msg.readUInt16BE(0))) pump();
    });
    socket.on('error', () => {});
    const reaper = setInterval(() => {
      const stale = Date.now() - 200;
      for (const [key, at] of inFlight) if (at < stale) inFlight.delete(key);
      pump();
    }, 50);
    socket.bind(0, '127.0.0.1', pump);
  });
}

if (!isMainThread) {
  const job = workerData as AttackJob;
  // Said before the first packet, so the legitimate client starts with the attack, not with this
  // thread's start-up (loading this module in a new isolate takes a moment of CPU of its own).
  parentPort!.postMessage({ started: true });
  void runAttacker(job).then((result) => parentPort!.postMessage(result));
} else {
  await main();
}

// ---------------------------------------------------------------- the main thread

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '12' },
      workers: { type: 'string', default: '2' },
      'cache-size': { type: 'string', default: '64' },
      names: { type: 'string', default: '500000' },
      json: { type: 'string' },
      only: { type: 'string' },
      'write-state': { type: 'string' },
    },
    strict: true,
  });
  if (values['write-state']) {
    // Only write the served YAML (to run the server by hand against it), then stop.
    writeState(values['write-state']);
    return;
  }
  const seconds = Number(values.seconds);
  const workers = Number(values.workers);
  const cacheMiB = Number(values['cache-size']);
  const names = Number(values.names);
  for (const [k, v] of Object.entries({ seconds, workers, cacheMiB, names })) {
    if (!Number.isInteger(v) || v < (k === 'workers' ? 0 : 1)) throw new Error(`--${k} must be a whole number, got ${v}`);
  }
  const attackNames = ['huge-headless', 'random-names', 'slowloris', 'tcp-byte-frames', 'debug-flood', 'primary-kill'];
  const only = new Set(values.only === undefined ? attackNames : values.only.split(',').map((a) => a.trim()));
  for (const a of only) if (!attackNames.includes(a)) throw new Error(`--only: unknown attack ${a} (known: ${attackNames.join(', ')})`);
  const say = (message: string) => process.stderr.write(`[abuse] ${message}\n`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterset-abuse-'));
  let server: ChildProcess | null = null;
  const cleanup = () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  try {
    say('building dist/ from this checkout (tsc)');
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
    writeState(path.join(dir, 'state'));
    const port = await freeDnsPort();
    const httpPort = await freeDnsPort();
    const healthPort = await freeDnsPort();
    const logFile = path.join(dir, 'server.log');
    const args = [
      path.join(repoRoot, 'bin/clusterset-dns.js'), 'serve', '--from-dir', path.join(dir, 'state'), '--cluster-id', 'east',
      '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`, '--health-listen', `127.0.0.1:${healthPort}`, '--workers', String(workers),
      '--cache-size', String(cacheMiB), '--log-level', 'warn',
    ];
    say(`server: node ${args.slice(0).join(' ')}`);
    const log = openSync(logFile, 'w');
    server = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    await waitReady(httpPort, 120_000);
    say(`ready; load: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    const rows: Row[] = [];
    const run = async (kind: AttackKind, size: string, legit: 'udp' | 'tcp' | 'health', threads = 2): Promise<void> => {
      if (!only.has(kind)) return;
      const rssBefore = treeRss(server!.pid!);
      const restartsBefore = await metric(httpPort, 'clusterset_dns_worker_restarts_total');
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, treeRss(server!.pid!))), 200);
      const started: Promise<void>[] = [];
      const attackers = Array.from({ length: threads }, (_, thread) =>
        new Promise<{ sent: number }>((resolve, reject) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: { kind, port, httpPort, seconds, names, thread, threads } satisfies AttackJob });
          started.push(
            new Promise((up, fail) => {
              w.once('message', () => {
                up();
                w.once('message', resolve);
              });
              w.once('error', (error) => {
                fail(error);
                reject(error);
              });
            }),
          );
        }),
      );
      await Promise.all(started);
      await new Promise((r) => setTimeout(r, 300)); // let the attack take hold
      const stats = await legitimate(legit, port, healthPort, Date.now() + (seconds - 1) * 1000);
      const sent = (await Promise.all(attackers)).reduce((a, b) => a + b.sent, 0);
      clearInterval(sampler);
      peak = Math.max(peak, treeRss(server!.pid!));
      await new Promise((r) => setTimeout(r, 2000));
      const alive = server!.exitCode === null && server!.signalCode === null;
      const restarts = alive ? (await metric(httpPort, 'clusterset_dns_worker_restarts_total')) - restartsBefore : NaN;
      const row: Row = {
        attack: kind,
        size: size.replace('{sent}', sent.toLocaleString('en')),
        crashes: alive ? String(restarts) : 'primary died',
        unanswered: `${stats.unanswered} / ${stats.sent}`,
        p99: `${stats.p99.toFixed(1)} ms (${legit})`,
        rss: `${mb(rssBefore)} / ${mb(peak)} / ${mb(treeRss(server!.pid!))}`,
        sentByAttacker: sent,
        load: os.loadavg()[0]!.toFixed(2),
      };
      rows.push(row);
      say(`${kind}: ${JSON.stringify(row)}`);
    };

    await run('huge-headless', '1 slice: 1,000 endpoints × 100 addresses; 8 qtypes, EDNS on/off', 'udp');
    await run('random-names', `{sent} of ${names.toLocaleString('en')} unique names in the zone sent`, 'udp');
    await run('slowloris', '300 TCP connections, 1 byte / 5 s, reconnecting', 'tcp', 1);
    await run('tcp-byte-frames', '6 × 64 KiB frames, 1 byte per segment', 'udp', 1);
    await run('debug-flood', '200 concurrent /debug/explain of a 10,000-endpoint service, each distinct', 'health', 1);
    if (only.has('primary-kill')) {
      const orphans = await killPrimary(server, port);
      rows.push({ attack: 'primary SIGKILL', size: 'while answering a UDP flood', crashes: `${orphans} workers left after 3 s`, unanswered: '-', p99: '-', rss: '-', sentByAttacker: 0, load: os.loadavg()[0]!.toFixed(2) });
    }

    const budget = `budget: primary + ${workers} workers × (base + --cache-size ${cacheMiB} MiB)`;
    const table = [
      '| attack | size | crashes | legitimate unanswered | legitimate p99 during attack | RSS before / peak / after (MB) |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.attack} | ${r.size} | ${r.crashes} | ${r.unanswered} | ${r.p99} | ${r.rss} |`),
    ].join('\n');
    process.stdout.write(`\n${table}\n\n${budget}; ${os.availableParallelism()} cores; load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
  } catch (error) {
    say(`failed: ${String(error)}`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}

interface Row {
  attack: string;
  size: string;
  crashes: string;
  unanswered: string;
  p99: string;
  rss: string;
  sentByAttacker: number;
  load: string;
}

/** The legitimate client: known names at a steady 200 queries/s (UDP), a new TCP client every 250 ms, or health probes (on the --health-listen port, where the manifests point the kubelet). */
async function legitimate(kind: 'udp' | 'tcp' | 'health', port: number, healthPort: number, until: number): Promise<{ sent: number; unanswered: number; p99: number }> {
  const latencies: number[] = [];
  let sent = 0;
  let unanswered = 0;
  const names = Array.from({ length: 50 }, (_, i) => `svc-${i + 1}.ns-0.svc.${ZONE}`);
  if (kind === 'udp') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const pending = new Map<number, number>();
    socket.on('message', (msg) => {
      const at = pending.get(msg.readUInt16BE(0));
      if (at === undefined) return;
      pending.delete(msg.readUInt16BE(0));
      latencies.push(performance.now() - at);
    });
    let id = 0;
    while (Date.now() < until) {
      id = (id + 1) & 0xffff;
      pending.set(id, performance.now());
      socket.send(query(id, names[id % names.length]!, 1), port, '127.0.0.1');
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 2000)); // stragglers count as answered late, not lost
    unanswered = pending.size;
    socket.close();
  } else if (kind === 'tcp') {
    const clients: Promise<void>[] = [];
    while (Date.now() < until) {
      sent++;
      clients.push(
        tcpOnce(port, names[sent % names.length]!, 3000).then((ms) => {
          if (ms === null) unanswered++;
          else latencies.push(ms);
        }),
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    await Promise.all(clients);
  } else {
    while (Date.now() < until) {
      for (const p of ['/healthz', '/readyz']) {
        sent++;
        const started = performance.now();
        try {
          const res = await fetch(`http://127.0.0.1:${healthPort}${p}`, { signal: AbortSignal.timeout(5000) });
          await res.text();
          if (res.status === 200) latencies.push(performance.now() - started);
          else unanswered++;
        } catch {
          unanswered++;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  latencies.sort((a, b) => a - b);
  const p99 = latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
  return { sent, unanswered, p99 };
}

/** A new TCP client: connect, one query, its reply; ms from connect to reply, or null. */
function tcpOnce(port: number, name: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(null), timeoutMs);
    const finish = (ms: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ms);
    };
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('connect', () => socket.write(framed(query(9, name, 1))));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) finish(performance.now() - started);
    });
  });
}

/** SIGKILL the primary while a UDP flood runs; how many of its workers are still alive 3 s later. */
async function killPrimary(server: ChildProcess, port: number): Promise<number> {
  const workers = childPids(server.pid!);
  const flood = udpWindow(port, 64, Date.now() + 2000, (id) => query(id, `svc-1.ns-0.svc.${ZONE}`, 1), Infinity);
  await new Promise((r) => setTimeout(r, 500));
  server.kill('SIGKILL');
  await flood;
  await new Promise((r) => setTimeout(r, 3000));
  const left = workers.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return left.length;
}

// ---------------------------------------------------------------- state, processes, metrics

function writeState(dir: string): void {
  const east = path.join(dir, 'east');
  mkdirSync(east, { recursive: true });
  const docs: string[] = ['apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-0\n', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: big\n'];
  for (let i = 1; i <= 200; i++) {
    const meta = `metadata:\n  name: svc-${i}\n  namespace: ns-0\n`;
    docs.push(`apiVersion: v1\nkind: Service\n${meta}spec:\n  type: ClusterIP\n  clusterIP: 10.96.${i >> 8}.${i & 255}\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n`);
    docs.push(`apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc-${i}-a\n  namespace: ns-0\n  labels:\n    kubernetes.io/service-name: svc-${i}\naddressType: IPv4\nendpoints:\n  - addresses: ["10.1.${i >> 8}.${i & 255}"]\n    conditions:\n      ready: true\nports:\n- name: http\n  protocol: TCP\n  port: 8080\n`);
    docs.push(`apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n${meta}`);
  }
  /** A headless service whose endpoints go into slices of at most 1,000 (the API's limit per slice). */
  const headless = (name: string, endpoints: string[]) => {
    const meta = `metadata:\n  name: ${name}\n  namespace: big\n`;
    docs.push(`apiVersion: v1\nkind: Service\n${meta}spec:\n  clusterIP: None\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n`);
    for (let start = 0, n = 0; start < endpoints.length; start += 1000, n++) {
      const slice = endpoints.slice(start, start + 1000).join('');
      docs.push(`apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${name}-${n}\n  namespace: big\n  labels:\n    kubernetes.io/service-name: ${name}\naddressType: IPv4\nendpoints:\n${slice}ports:\n- name: http\n  protocol: TCP\n  port: 80\n`);
    }
    docs.push(`apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n${meta}`);
  };
  // 1,000 endpoints × 100 addresses in one slice: what the API allows.
  headless('flood', Array.from({ length: 1000 }, (_, i) => {
    const addresses = Array.from({ length: 100 }, (_, j) => `"10.${20 + (i >> 8)}.${i & 255}.${j + 1}"`).join(', ');
    return `  - addresses: [${addresses}]\n    hostname: pod-${i}\n    conditions:\n      ready: true\n`;
  }));
  // 10,000 endpoints in 10 slices: the /debug/explain target.
  headless('wide', Array.from({ length: 10_000 }, (_, i) => `  - addresses: ["10.${40 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}"]\n    hostname: pod-${i}\n    conditions:\n      ready: true\n`));
  writeFileSync(path.join(east, 'all.yaml'), docs.join('---\n'));
}

/** RSS of a process and all its descendants, in bytes (Linux /proc). */
function treeRss(root: number): number {
  return processTreeMemory(root).reduce((total, p) => total + p.rssBytes, 0);
}

/** The primary's descendants (its DNS workers). */
function childPids(root: number): number[] {
  return processTreeMemory(root)
    .filter((p) => p.depth > 0)
    .map((p) => p.pid);
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

async function metric(httpPort: number, name: string): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return match ? Number(match[1]) : 0;
}

async function waitReady(httpPort: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not ready within ${timeoutMs} ms`);
}
