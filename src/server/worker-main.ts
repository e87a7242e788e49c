/**
 * Entry point of a DNS worker process (forked by worker-pool.ts with node:cluster). It binds its own
 * UDP socket with SO_REUSEPORT (the kernel spreads datagrams over workers), shares the primary's
 * TCP listener, answers from its own copy of the snapshot with its own cache, and reports metrics
 * when the primary asks. It exits when the primary says so or goes away.
 */
import cluster from 'node:cluster';
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../observability/logger.ts';
import { createQueryLog } from '../observability/query-log.ts';
import { createMetrics } from '../observability/metrics.ts';
import { startMemoryReducer } from '../observability/memory-reducer.ts';
import { Responder } from './responder.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { applySnapshotDelta, snapshotFromWire, type SnapshotDeltaWire, type SnapshotWire } from './snapshot-wire.ts';
import { listenTcp, type TcpListener } from './tcp-listener.ts';
import { listenUdp, type UdpListener } from './udp-listener.ts';
import { isMessage, type FromWorker, type ToWorker, type WorkerInit } from './worker-protocol.ts';

if (!cluster.isWorker) throw new Error('worker-main.ts is started by the DNS server primary, not directly');

/** How often a worker checks that its primary is still its parent. */
const PARENT_CHECK_MS = 500;
/** A stopping worker exits by then even if a socket never finishes closing. */
const STOP_DEADLINE_MS = 2_000;

function send(message: FromWorker, then?: () => void): void {
  if (process.connected && process.send) process.send(message, undefined, undefined, () => then?.());
  else then?.();
}

function runWorker(): void {
  const metrics = createMetrics();
  let responder: Responder | null = null;
  let listeners: { udp: UdpListener; tcp: TcpListener } | null = null;
  /** The newest snapshot received (deltas apply to it), held until the responder exists. */
  let held: Snapshot | null = null;
  let logger = createLogger({ level: 'info', base: { component: 'dns-worker' } });

  /** Hands the held snapshot to the responder; reports it installed once its large answers are computed. */
  const install = () => {
    if (!responder || !held) return;
    const snapshot = held;
    responder.setSnapshot(snapshot);
    responder.whenWarm(() => send({ type: 'snapshot-applied', version: snapshot.version }));
  };

  const receiveWhole = (wire: SnapshotWire) => {
    held = snapshotFromWire(wire);
    install();
  };

  const receiveDelta = (delta: SnapshotDeltaWire) => {
    if (!held || held.version !== delta.baseVersion) {
      logger.warn({ holding: held?.version ?? -1, deltaBase: delta.baseVersion }, 'snapshot delta does not fit the snapshot held; asking for the whole one');
      send({ type: 'snapshot-resync', holding: held?.version ?? -1, deltaBase: delta.baseVersion });
      return;
    }
    held = applySnapshotDelta(held, delta);
    install();
  };

  const init = async (message: WorkerInit) => {
    logger = createLogger({ level: message.logLevel as LevelWithSilent, base: { component: 'dns-worker', slot: message.slot }, format: message.logFormat ?? 'json' });
    const current = new Responder({
      dns: message.dns,
      stats: metrics.stats,
      logger,
      cacheMaxBytes: message.cacheBytes,
      negativeCacheEntries: message.negativeCacheEntries,
      ...(message.queryLog === true ? { queryLog: createQueryLog(logger) } : {}),
    });
    watchPrimary(message.primaryPid);
    // A whole snapshot (tens of MB at 10,000 services) grows the heap and the young generation;
    // give that back once this worker is idle again.
    startMemoryReducer({ logger, registry: metrics.registry });
    responder = current;
    install();
    try {
      const udp = await listenUdp({ host: message.host, port: message.port, reusePort: true, responder: current, logger });
      try {
        const tcp = await listenTcp({
          host: message.host,
          port: message.port,
          exclusive: false,
          idleTimeoutMs: message.tcpIdleTimeoutMs,
          readTimeoutMs: message.tcpReadTimeoutMs,
          maxQueriesPerConnection: message.tcpMaxQueriesPerConnection,
          maxConnections: message.tcpMaxConnections,
          responder: current,
          stats: metrics.stats,
          logger,
        });
        listeners = { udp, tcp };
      } catch (error) {
        await udp.close();
        throw error;
      }
      send({ type: 'listening' });
    } catch (error) {
      send({ type: 'bind-error', message: error instanceof Error ? error.message : String(error) }, () => process.exit(1));
    }
  };

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    // Whatever happens while closing (a socket that never finishes closing), exit soon.
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS);
    logger.info({ why }, 'DNS worker stopping');
    const current = listeners;
    listeners = null;
    if (current) await Promise.allSettled([current.udp.close(), current.tcp.close()]);
    process.exit(0);
  };

  /**
   * The primary can die in ways that do not close the IPC channel at once (SIGKILL while the
   * channel is busy, a wedged primary): also exit when our parent changes (we were re-parented).
   */
  const watchPrimary = (primaryPid: number) => {
    const timer = setInterval(() => {
      if (process.ppid !== primaryPid) void stop(`the primary (pid ${primaryPid}) is gone`);
    }, PARENT_CHECK_MS);
    timer.unref();
  };

  process.on('message', (raw: unknown) => {
    if (!isMessage<ToWorker>(raw)) return;
    switch (raw.type) {
      case 'init':
        void init(raw);
        break;
      case 'snapshot':
        receiveWhole(raw.snapshot);
        break;
      case 'snapshot-delta':
        receiveDelta(raw.delta);
        break;
      case 'metrics-request':
        metrics
          .exportForAggregation()
          .then((json) => send({ type: 'metrics-response', id: raw.id, metrics: json }))
          .catch((error: unknown) => logger.warn({ err: error }, 'could not export worker metrics'));
        break;
      case 'ping':
        send({ type: 'pong', seq: raw.seq });
        break;
      case 'stop':
        void stop('asked by the primary');
        break;
    }
  });
  // The primary is gone (crashed or killed): nothing will ever stop us, so stop now.
  process.on('disconnect', () => void stop('the IPC channel to the primary closed'));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'DNS worker crashed; the primary restarts it');
    process.exit(1);
  });
}

runWorker();
