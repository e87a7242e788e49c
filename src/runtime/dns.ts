/**
 * The DNS server of a member cluster (`clusterset-dns dns`), fed by informers on the cluster's
 * ServiceImports and MCS EndpointSlices (written by our agent or any MCS implementation).
 * SERVFAIL and /readyz 503 until both informers synced; if the API server goes away, the last
 * state keeps being served (snapshot marked staleSource).
 */
import type { KubeConfig } from '../kube/client.ts';
import type { Logger } from 'pino';
import type { DnsServerConfig } from '../config/serve-config.ts';
import { describeApiError, discoverAboutVersion, discoverMcsVersion, serverOf } from '../kube/client.ts';
import { KubeClusterProperties } from '../kube/cluster-properties.ts';
import { KubeImportedStateSource } from '../kube/imported-source.ts';
import { createMetrics, type Metrics } from '../observability/index.ts';
import { createDnsServer, createHttpServer } from '../server/index.ts';
import { reportRefusals, startSnapshotFeed } from './snapshot-feed.ts';
import { dnsServerOptions } from './dns-server-options.ts';

export interface DnsRuntimeOptions {
  clusterId: string;
  kubeConfig: KubeConfig;
  server: DnsServerConfig;
  logger: Logger;
  /** The workers log in this format (the primary's, resolved); default json. */
  logFormat?: 'json' | 'text';
  metrics?: Metrics;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface RunningDns {
  dnsPort: number;
  httpPort: number;
  source: KubeImportedStateSource;
  stop(): Promise<void>;
}

const DISCOVERY_RETRY_MS = 2_000;

export async function startDns(options: DnsRuntimeOptions): Promise<RunningDns> {
  const { logger, server: config } = options;
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  let stopped = false;
  // Sockets first: until the imports are synced, the server answers SERVFAIL (never NXDOMAIN).
  const server = createDnsServer({ ...dnsServerOptions(config), ...(options.logFormat === undefined ? {} : { logFormat: options.logFormat }) }, { logger, metrics });
  let source: KubeImportedStateSource | undefined;
  let properties: KubeClusterProperties | undefined;
  let feed: ReturnType<typeof startSnapshotFeed> | undefined;
  const http = createHttpServer({
    listen: config.httpListen,
    getSnapshot: () => feed?.current(),
    dnsOptions: config.dns,
    metrics,
    logger,
    healthProblem: () => server.healthProblem?.() ?? null,
    notReady: () => server.notReady?.() ?? null,
    debugRemote: config.debugRemote ?? false,
    ...(config.healthListen === undefined ? {} : { healthListen: config.healthListen }),
  });
  const stopAll = async (): Promise<void> => {
    stopped = true;
    feed?.stop();
    source?.stop();
    properties?.stop();
    await Promise.allSettled([http.stop(), server.stop()]);
  };
  // Discovery may fail while the API server starts; keep answering SERVFAIL meanwhile.
  const discover = async (): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const version = await discoverMcsVersion(options.kubeConfig);
        // Where this cluster is (policy `nearest`): its own ClusterProperties, when the API has them.
        const aboutVersion = await discoverAboutVersion(options.kubeConfig);
        if (stopped) return;
        properties =
          aboutVersion === undefined
            ? undefined
            : new KubeClusterProperties({
                kubeConfig: options.kubeConfig,
                version: aboutVersion,
                logger,
                onRestart: (reason) => metrics.informerRestarts.inc({ informer: 'clusterproperties', reason }),
                ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
                ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
              });
        source = new KubeImportedStateSource({
          kubeConfig: options.kubeConfig,
          mcsVersion: version,
          logger,
          ...(properties === undefined ? {} : { properties }),
          onInformerRestart: (informer, reason) => metrics.informerRestarts.inc({ informer, reason }),
          ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
          ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
        });
        feed = startSnapshotFeed({
          source,
          localCluster: options.clusterId,
          publish: (snapshot) => server.setSnapshot(snapshot),
          onError: (err) => logger.error({ err }, 'snapshot rebuild failed; still serving the previous state'),
          ...(config.addressPolicy === undefined ? {} : { addressPolicy: config.addressPolicy }),
          onRefused: reportRefusals(logger, (n) => metrics.addressesRefused.inc(n)),
        });
        properties?.start();
        source.start();
        logger.info({ server: serverOf(options.kubeConfig), mcs: version }, 'watching ServiceImports and MCS EndpointSlices');
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 15 === 0) logger.warn({ err: describeApiError(err), attempt }, 'API discovery failed; answering SERVFAIL until it works');
        await new Promise((r) => setTimeout(r, DISCOVERY_RETRY_MS).unref());
      }
    }
  };
  // Listing starts while the workers boot (at 10,000 services the lists are most of a start, and
  // a worker takes up to a second to load): the server takes snapshots before it listens, and
  // answers SERVFAIL from the moment it does until the lists are complete.
  const discovering = discover();
  let dnsPort: number;
  let httpPort: number;
  try {
    ({ port: dnsPort } = await server.start());
    ({ port: httpPort } = await http.start());
  } catch (err) {
    stopped = true;
    await discovering;
    await stopAll();
    throw err;
  }

  return {
    dnsPort,
    httpPort,
    get source() {
      if (source === undefined) throw new Error('not watching yet');
      return source;
    },
    async stop() {
      stopped = true;
      await discovering;
      await stopAll();
    },
  };
}
