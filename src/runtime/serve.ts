/**
 * The embedded default (`clusterset-dns serve`): member clusters from YAML directories, the same
 * export → broker → import pipeline in memory, and the DNS + HTTP servers answering from it.
 */
import type { Logger } from 'pino';
import type { ServeConfig } from '../config/serve-config.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { buildStatusReport } from '../model/status-report.ts';
import { createAgentMetrics } from '../observability/agent-metrics.ts';
import { createEmbeddedMetrics, type Metrics } from '../observability/index.ts';
import { createDnsServer, createHttpServer } from '../server/index.ts';
import { startEmbedded } from '../standalone/embedded.ts';
import { formatProblem, type Problem } from '../standalone/loader.ts';
import { dnsServerOptions } from './dns-server-options.ts';
import { reportRefusals, startSnapshotFeed } from './snapshot-feed.ts';
import { statusRoutes } from './status-routes.ts';

export interface ServeDeps {
  logger: Logger;
  /** The process's registry: the embedded reconcilers report into it too, so one /metrics shows both. */
  metrics: Metrics;
  /** The workers log in this format (the primary's, resolved). */
  logFormat: 'json' | 'text';
}

export interface RunningServe {
  dnsPort: number;
  httpPort: number;
  /** What the DNS server answers from right now. */
  snapshot(): Snapshot;
  /** Problems found in the directory's files, as of the last load. */
  problems(): Problem[];
  stop(): Promise<void>;
}

export async function startServe(config: ServeConfig, deps: ServeDeps): Promise<RunningServe> {
  const { logger, metrics } = deps;
  const agentMetrics = createAgentMetrics({ registry: metrics.registry });
  const embeddedMetrics = createEmbeddedMetrics(metrics.registry);

  const embedded = await startEmbedded({
    dir: config.fromDir,
    localCluster: config.clusterId,
    leaseDurationMs: config.leaseDurationMs,
    leaseRenewMs: config.leaseRenewMs,
    logger,
    metrics: agentMetrics.hooks,
    reachabilityMetrics: agentMetrics.reachability,
    ...(config.probe === undefined ? {} : { probe: config.probe }),
    ...(config.addressPolicy === undefined ? {} : { addressPolicy: config.addressPolicy }),
    onProblems: (problems) => embeddedMetrics.setFileProblems(problems),
    onReload: (outcome, filesRead) => embeddedMetrics.reloaded(outcome, filesRead),
  });
  // The in-memory broker lives in this process: it is reachable for as long as we run.
  agentMetrics.hooks.brokerReachable?.(true);
  const server = createDnsServer({ ...dnsServerOptions(config), logFormat: deps.logFormat }, { logger, metrics });
  const feed = startSnapshotFeed({
    source: embedded.source,
    localCluster: config.clusterId,
    publish: (snapshot) => server.setSnapshot(snapshot),
    onError: (err) => logger.error({ err }, 'snapshot rebuild failed; still serving the previous state'),
    ...(config.addressPolicy === undefined ? {} : { addressPolicy: config.addressPolicy }),
    onRefused: reportRefusals(logger, (n) => metrics.addressesRefused.inc(n)),
  });
  const http = createHttpServer({
    listen: config.httpListen,
    getSnapshot: () => feed.current(),
    dnsOptions: config.dns,
    metrics,
    logger,
    healthProblem: () => server.healthProblem?.() ?? null,
    notReady: () => server.notReady?.() ?? null,
    routes: statusRoutes((filter) =>
      buildStatusReport(
        {
          snapshot: feed.current(),
          selection: { policy: config.dns.policy, panicMode: config.dns.panicMode },
          ...embedded.statusInputs(),
          problems: embedded.problems().map((p) => ({ severity: p.severity, file: p.file, ...(p.line === undefined ? {} : { line: p.line }), text: formatProblem(p) })),
          source: 'serve',
          now: Date.now(),
        },
        filter,
      ),
    ),
    debugRemote: config.debugRemote ?? false,
    ...(config.healthListen === undefined ? {} : { healthListen: config.healthListen }),
  });

  const stop = async (): Promise<void> => {
    feed.stop();
    await Promise.allSettled([http.stop(), server.stop()]);
    await embedded.stop();
  };

  try {
    const { port: dnsPort } = await server.start();
    const { port: httpPort } = await http.start();
    logger.info(
      { dns: `${config.listen.host}:${dnsPort}`, http: `${config.httpListen.host}:${httpPort}`, cluster: config.clusterId, workers: config.workers },
      'clusterset-dns serving',
    );
    return { dnsPort, httpPort, snapshot: () => feed.current(), problems: () => embedded.problems(), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
