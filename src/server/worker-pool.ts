/**
 * The primary side of `workers: N`: forks N DNS worker processes (node:cluster), ships each new
 * snapshot to them (coalesced: a worker that is still receiving one gets only the newest next),
 * restarts workers that die (with backoff; logged and counted), gathers their metrics for /metrics,
 * and stops them within a bounded time.
 *
 * Stalls: the primary pings every worker each HEARTBEAT_MS over IPC; the worker answers from its
 * event loop. A worker that has not answered for workerStallTimeoutMs is stalled (a blocked loop
 * answers nothing, not even DNS): it is reported by healthProblem() (so /healthz fails and a
 * liveness probe would restart the pod if it kept happening), counted, killed and replaced.
 */
import cluster, { type Worker } from 'node:cluster';
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { DnsServer, DnsServerOptions, ServerDeps } from './api.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { MetricsJson } from '../observability/metrics.ts';
import { bindBoth } from './bind-both.ts';
import { answeringSettings } from './server-settings.ts';
import { clusterHealth, snapshotDeltaToWire, snapshotToWire } from './snapshot-wire.ts';
import { isMessage, type FromWorker, type ToWorker } from './worker-protocol.ts';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const METRICS_TIMEOUT_MS = 2_000;
const RESTART_BACKOFF_MIN_MS = 250;
const RESTART_BACKOFF_MAX_MS = 10_000;
/** A worker that stayed up this long resets its slot's backoff. */
const STABLE_AFTER_MS = 30_000;
export const DEFAULT_WORKER_STALL_TIMEOUT_MS = 5_000;
/** Worker heap beyond the cache: the snapshot (tens of MB for 100,000 addresses) and Node's own. */
const WORKER_HEAP_BASE_MIB = 128;
const WORKER_SEMI_SPACE_MIB = 16;
/** Heartbeat period: a fraction of the stall timeout, at most once a second. */
const HEARTBEAT_MAX_MS = 1_000;

interface Slot {
  index: number;
  worker: Worker | null;
  listening: boolean;
  startedAt: number;
  failures: number;
  /** A snapshot send is in flight; `pending` holds the newest one to send after it. */
  sending: boolean;
  pending: Snapshot | null;
  /**
   * The last snapshot sent to this worker process (null: none, or a send failed): the next one
   * goes as a delta against it. IPC keeps order, so the worker holds it when the delta arrives.
   */
  sent: Snapshot | null;
  restartTimer: NodeJS.Timeout | null;
  /** When the worker last answered a heartbeat (or started listening). */
  lastPong: number;
  /** Set when the worker was found stalled, until its replacement listens. */
  stalledSince: number | null;
  /** The snapshot version the worker last said it installed (-1: none yet). */
  appliedVersion: number;
}

/**
 * The V8 old-space cap of each worker: twice its answer-cache budget (the cache's charge is an
 * estimate, and garbage waits for the next major GC) plus room for the snapshot and Node itself.
 * Without a cap V8 lets a worker's heap grow far past its live data under a flood of unique names
 * (measured: 71 MB → 228 MB RSS over 100,000 junk names with only 4,096 entries alive).
 */
export function workerHeapMiB(cacheBytes: number): number {
  return Math.ceil((2 * cacheBytes) / (1024 * 1024)) + WORKER_HEAP_BASE_MIB;
}

/**
 * V8 flags of a worker: the old-space cap above, and a young generation capped at
 * WORKER_SEMI_SPACE_MIB per semi-space. Node 24 grows the young generation to ~200 MB under a
 * high allocation rate (measured under a junk-name flood: new space 205 MB, 17 MB of it live); at
 * 8 MiB the extra scavenges cost 8 % of QPS in bench:dns (1.00x the pre-issue-9 code at 16 MiB).
 */
function workerExecArgv(cacheBytes: number): string[] {
  return [`--max-old-space-size=${workerHeapMiB(cacheBytes)}`, `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`];
}

function workerEntry(): string {
  // Source runs (.ts, Node type stripping) and the compiled build (.js) each fork their own kind.
  const file = import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js';
  return fileURLToPath(new URL(file, import.meta.url));
}

export function createWorkerPool(options: DnsServerOptions, deps: ServerDeps): DnsServer {
  const { logger, metrics } = deps;
  const slots: Slot[] = [];
  let port = options.listen.port;
  let latest: Snapshot | null = null;
  let state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  let metricsRequestId = 0;
  const metricsWaiters = new Map<number, (workerId: number, json: MetricsJson) => void>();
  const settings = answeringSettings(options);
  const stallTimeoutMs = options.workerStallTimeoutMs ?? DEFAULT_WORKER_STALL_TIMEOUT_MS;
  const heartbeatMs = Math.max(10, Math.min(HEARTBEAT_MAX_MS, stallTimeoutMs / 4));
  let heartbeatSeq = 0;
  let heartbeat: NodeJS.Timeout | null = null;

  metrics.addRemoteSource(() => collectWorkerMetrics());

  function sendSnapshot(slot: Slot): void {
    const worker = slot.worker;
    if (!worker || !slot.pending || slot.sending || !worker.isConnected()) return;
    const snapshot = slot.pending;
    slot.pending = null;
    slot.sending = true;
    const message: ToWorker =
      slot.sent === null ? { type: 'snapshot', snapshot: snapshotToWire(snapshot) } : { type: 'snapshot-delta', delta: snapshotDeltaToWire(slot.sent, snapshot) };
    slot.sent = snapshot;
    worker.send(message, undefined, (error: Error | null) => {
      slot.sending = false;
      if (error) {
        // The worker may not hold it: the next send is whole.
        logger.warn({ err: error, slot: slot.index }, 'could not send snapshot to DNS worker');
        slot.sent = null;
        slot.pending ??= latest;
      }
      sendSnapshot(slot);
    });
  }

  function fork(slot: Slot, onListening?: (error?: Error) => void): void {
    // Workers accept TCP connections themselves from the shared listening socket. Node's default
    // on Linux (round-robin) accepts every connection in the primary and hands it over IPC, so a
    // new client waits for the primary's event loop (in `serve`, the whole embedded pipeline) and
    // for the IPC channel that also carries snapshots; under a connection flood (slowloris
    // reconnecting) that queue is what a legitimate TCP client met.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: workerEntry(), execArgv: workerExecArgv(settings.cacheBytes), args: [] });
    const worker = cluster.fork();
    slot.worker = worker;
    slot.listening = false;
    slot.startedAt = Date.now();
    slot.sending = false;
    slot.sent = null; // a new process holds nothing: its first snapshot is whole
    slot.appliedVersion = -1; // a new process has installed nothing yet
    worker.on('message', (raw: unknown) => {
      if (!isMessage<FromWorker>(raw)) return;
      switch (raw.type) {
        case 'listening':
          slot.listening = true;
          slot.lastPong = Date.now();
          if (slot.stalledSince !== null) {
            slot.stalledSince = null;
            updateStalledGauge();
          }
          logger.info({ slot: slot.index, workerPid: worker.process.pid }, 'DNS worker listening');
          onListening?.();
          onListening = undefined;
          break;
        case 'bind-error':
          logger.error({ slot: slot.index, error: raw.message }, 'DNS worker could not bind');
          onListening?.(new Error(raw.message));
          onListening = undefined;
          break;
        case 'metrics-response':
          metricsWaiters.get(raw.id)?.(worker.id, raw.metrics);
          break;
        case 'snapshot-applied':
          slot.appliedVersion = raw.version; // in order: one IPC channel per worker
          break;
        case 'snapshot-resync':
          logger.warn({ slot: slot.index, holding: raw.holding, deltaBase: raw.deltaBase }, 'DNS worker could not apply a snapshot delta; sending the whole snapshot');
          slot.sent = null;
          slot.pending = latest;
          sendSnapshot(slot);
          break;
        case 'pong':
          slot.lastPong = Date.now();
          break;
      }
    });
    worker.on('error', (error) => logger.warn({ err: error, slot: slot.index }, 'DNS worker IPC error'));
    worker.on('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      slot.listening = false;
      onListening?.(new Error(`DNS worker exited before listening (code ${code}, signal ${signal})`));
      onListening = undefined;
      if (state !== 'running') return;
      scheduleRestart(slot, code, signal);
    });
    const init: ToWorker = {
      type: 'init',
      dns: options.dns,
      host: options.listen.host,
      port,
      tcpIdleTimeoutMs: options.tcpIdleTimeoutMs,
      tcpReadTimeoutMs: settings.tcpReadTimeoutMs,
      tcpMaxQueriesPerConnection: settings.tcpMaxQueriesPerConnection,
      tcpMaxConnections: Math.max(1, Math.ceil(options.tcpMaxConnections / options.workers)),
      cacheBytes: settings.cacheBytes,
      negativeCacheEntries: settings.negativeCacheEntries,
      primaryPid: process.pid,
      logLevel: logger.level,
      slot: slot.index,
      ...(options.queryLog === true ? { queryLog: true } : {}),
      ...(options.logFormat === 'text' ? { logFormat: 'text' as const } : {}),
    };
    worker.send(init);
    slot.pending = latest;
    sendSnapshot(slot);
  }

  function updateStalledGauge(): void {
    metrics.workersStalled.set(slots.filter((s) => s.stalledSince !== null).length);
  }

  /** Pings every listening worker and replaces those that stopped answering. */
  function checkHeartbeats(): void {
    const now = Date.now();
    for (const slot of slots) {
      const worker = slot.worker;
      if (!worker || !slot.listening || slot.stalledSince !== null) continue;
      const silentMs = now - slot.lastPong;
      if (silentMs > stallTimeoutMs) {
        slot.stalledSince = now;
        metrics.workerStalls.inc();
        updateStalledGauge();
        logger.error(
          { slot: slot.index, workerPid: worker.process.pid, silentMs, stallTimeoutMs },
          'DNS worker stalled (its event loop answers no heartbeat); killing and replacing it',
        );
        try {
          worker.process.kill('SIGKILL');
        } catch (error) {
          logger.warn({ err: error, slot: slot.index }, 'could not kill the stalled DNS worker (already gone?)');
        }
        continue;
      }
      try {
        if (worker.isConnected()) worker.send({ type: 'ping', seq: ++heartbeatSeq } satisfies ToWorker);
      } catch (error) {
        logger.debug({ err: error, slot: slot.index }, 'heartbeat to a DNS worker failed');
      }
    }
  }

  function scheduleRestart(slot: Slot, code: number | null, signal: string | null): void {
    if (Date.now() - slot.startedAt > STABLE_AFTER_MS) slot.failures = 0;
    const delay = Math.min(RESTART_BACKOFF_MIN_MS * 2 ** slot.failures, RESTART_BACKOFF_MAX_MS);
    slot.failures++;
    metrics.workerRestarts.inc();
    logger.warn({ slot: slot.index, code, signal, restartInMs: delay }, 'DNS worker died; restarting it');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (state === 'running') fork(slot);
    }, delay);
  }

  async function collectWorkerMetrics(): Promise<MetricsJson[]> {
    const live = slots.map((s) => s.worker).filter((w): w is Worker => w !== null && w.isConnected());
    if (live.length === 0) return [];
    const id = ++metricsRequestId;
    const results = new Map<number, MetricsJson>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, METRICS_TIMEOUT_MS);
      metricsWaiters.set(id, (workerId, json) => {
        results.set(workerId, json);
        if (results.size === live.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const worker of live) {
        try {
          worker.send({ type: 'metrics-request', id } satisfies ToWorker);
        } catch (error) {
          logger.debug({ err: error }, 'metrics request to a DNS worker failed');
        }
      }
    });
    metricsWaiters.delete(id);
    return [...results.values()];
  }

  async function stopWorkers(): Promise<void> {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    for (const slot of slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    const exits = slots
      .map((slot) => slot.worker)
      .filter((w): w is Worker => w !== null)
      .map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => {
              logger.warn({ pid: worker.process.pid }, 'DNS worker did not stop in time; killing it');
              worker.process.kill('SIGKILL');
            }, STOP_TIMEOUT_MS);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker);
              else worker.process.kill('SIGTERM');
            } catch {
              worker.process.kill('SIGTERM');
            }
          }),
      );
    await Promise.all(exits);
  }

  return {
    async start() {
      if (state !== 'new') throw new Error(`DNS server cannot start: it is ${state}`);
      state = 'starting';
      try {
        if (port === 0) port = await findFreePort(options);
        const started = Array.from({ length: options.workers }, (_, index) => {
          const slot: Slot = {
            index,
            worker: null,
            listening: false,
            startedAt: 0,
            failures: 0,
            sending: false,
            pending: null,
            sent: null,
            restartTimer: null,
            lastPong: 0,
            stalledSince: null,
            appliedVersion: -1,
          };
          slots.push(slot);
          return new Promise<void>((resolve, reject) => fork(slot, (error) => (error ? reject(error) : resolve())));
        });
        await withTimeout(Promise.all(started), START_TIMEOUT_MS, `DNS workers did not start within ${START_TIMEOUT_MS} ms`);
      } catch (error) {
        state = 'stopped';
        await stopWorkers();
        throw error;
      }
      state = 'running';
      heartbeat = setInterval(checkHeartbeats, heartbeatMs);
      heartbeat.unref();
      logger.info({ host: options.listen.host, port, workers: options.workers }, 'DNS server listening (UDP and TCP) in worker processes');
      return { port };
    },
    setSnapshot(snapshot: Snapshot) {
      metrics.setSnapshotInfo({ version: snapshot.version, builtAt: snapshot.builtAt, clusterHealthy: clusterHealth(snapshot) });
      latest = snapshot;
      for (const slot of slots) {
        slot.pending = latest;
        sendSnapshot(slot);
      }
    },
    async stop() {
      if (state === 'stopped' || state === 'new') {
        state = 'stopped';
        return;
      }
      state = 'stopped';
      await stopWorkers();
      logger.info('DNS server stopped (workers terminated)');
    },
    healthProblem() {
      if (state !== 'running') return `DNS server is ${state}`;
      const stalled = slots.filter((s) => s.stalledSince !== null);
      if (stalled.length > 0) {
        return stalled
          .map((s) => `DNS worker ${s.index} stalled (no heartbeat answer for more than ${stallTimeoutMs} ms); replacing it`)
          .join('; ');
      }
      const up = slots.filter((s) => s.listening).length;
      return up > 0 ? null : `none of the ${slots.length} DNS workers is listening`;
    },
    notReady() {
      if (latest === null) return null; // the state's own readiness says why
      const version = latest.version;
      const behind = slots.filter((s) => s.listening && s.appliedVersion !== version).length;
      return behind === 0 ? null : `${behind} of ${slots.length} DNS workers still installing snapshot version ${version}`;
    },
  };
}

/** Port 0 with workers: pick a port free for both UDP and TCP here, then let every worker bind it. */
async function findFreePort(options: DnsServerOptions): Promise<number> {
  const { udp, tcp } = await bindBoth(
    options.listen,
    (h, p) =>
      new Promise<{ port: number; close(): Promise<void> }>((resolve, reject) => {
        const socket = dgram.createSocket(net.isIPv6(h) ? 'udp6' : 'udp4');
        socket.once('error', reject);
        socket.bind({ address: h, port: p, exclusive: true }, () =>
          resolve({ port: socket.address().port, close: () => new Promise((done) => socket.close(() => done())) }),
        );
      }),
    (h, p) =>
      new Promise<{ close(): Promise<void> }>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen({ host: h, port: p, exclusive: true }, () => resolve({ close: () => new Promise((done) => server.close(() => done())) }));
      }),
  );
  const port = udp.port;
  await Promise.all([udp.close(), tcp.close()]);
  return port;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
