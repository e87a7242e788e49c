/**
 * createDnsServer: answers in this process (workers: 0) or runs a pool of worker processes that
 * each bind the port (workers: N). Either way setSnapshot() is the only way state gets in.
 */
import type { DnsServer, DnsServerOptions, ServerDeps } from './api.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { bindBoth } from './bind-both.ts';
import { Responder } from './responder.ts';
import { clusterHealth } from './snapshot-wire.ts';
import { MIN_CACHE_BYTES } from './answer-cache.ts';
import { answeringSettings } from './server-settings.ts';
import { listenTcp, type TcpListener } from './tcp-listener.ts';
import { listenUdp, type UdpListener } from './udp-listener.ts';
import { createQueryLog } from '../observability/query-log.ts';
import { createWorkerPool } from './worker-pool.ts';

export function createDnsServer(options: DnsServerOptions, deps: ServerDeps): DnsServer {
  validateServerOptions(options);
  if (options.workers > 0) return createWorkerPool(options, deps);
  return createInProcessServer(options, deps);
}

function validateServerOptions(options: DnsServerOptions): void {
  if (!Number.isInteger(options.workers) || options.workers < 0) throw new Error(`workers must be an integer >= 0, got ${options.workers}`);
  if (!(options.tcpIdleTimeoutMs > 0)) throw new Error(`tcpIdleTimeoutMs must be > 0, got ${options.tcpIdleTimeoutMs}`);
  if (!Number.isInteger(options.tcpMaxConnections) || options.tcpMaxConnections < 1) {
    throw new Error(`tcpMaxConnections must be an integer >= 1, got ${options.tcpMaxConnections}`);
  }
  if (options.cacheBytes !== undefined && !(options.cacheBytes >= MIN_CACHE_BYTES)) {
    throw new Error(`cacheBytes must be at least ${MIN_CACHE_BYTES} (the largest capped answer must fit), got ${options.cacheBytes}`);
  }
  for (const key of ['tcpReadTimeoutMs', 'tcpMaxQueriesPerConnection', 'negativeCacheEntries', 'workerStallTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new Error(`${key} must be > 0, got ${value}`);
  }
}

function createInProcessServer(options: DnsServerOptions, deps: ServerDeps): DnsServer {
  const { logger, metrics } = deps;
  const settings = answeringSettings(options);
  const responderOptions = {
    dns: options.dns,
    stats: metrics.stats,
    logger,
    cacheMaxBytes: settings.cacheBytes,
    negativeCacheEntries: settings.negativeCacheEntries,
    ...(options.queryLog === true ? { queryLog: createQueryLog(logger) } : {}),
  };
  const responder = new Responder(deps.answerFn ? { ...responderOptions, answerFn: deps.answerFn } : responderOptions);
  let listeners: { udp: UdpListener; tcp: TcpListener } | null = null;
  let state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  return {
    async start() {
      if (state !== 'new') throw new Error(`DNS server cannot start: it is ${state}`);
      state = 'starting';
      try {
        listeners = await bindBoth(options.listen, (host, port) => listenUdp({ host, port, reusePort: false, responder, logger }), (host, port) =>
          listenTcp({
            host,
            port,
            idleTimeoutMs: options.tcpIdleTimeoutMs,
            readTimeoutMs: settings.tcpReadTimeoutMs,
            maxQueriesPerConnection: settings.tcpMaxQueriesPerConnection,
            maxConnections: options.tcpMaxConnections,
            responder,
            stats: metrics.stats,
            logger,
          }),
        );
      } catch (error) {
        state = 'stopped';
        throw error;
      }
      state = 'running';
      logger.info({ host: options.listen.host, port: listeners.udp.port, workers: 0 }, 'DNS server listening (UDP and TCP)');
      return { port: listeners.udp.port };
    },
    setSnapshot(snapshot: Snapshot) {
      responder.setSnapshot(snapshot);
      metrics.setSnapshotInfo({ version: snapshot.version, builtAt: snapshot.builtAt, clusterHealthy: clusterHealth(snapshot) });
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      const current = listeners;
      listeners = null;
      if (current) await Promise.all([current.udp.close(), current.tcp.close()]);
      logger.info('DNS server stopped');
    },
    healthProblem() {
      return state === 'running' ? null : `DNS server is ${state}`;
    },
  };
}
