/**
 * `clusterset-dns dns`: the DNS server of a member cluster, fed by informers on the cluster's
 * ServiceImports and MCS EndpointSlices (written by our agent or any MCS implementation).
 * SERVFAIL and /readyz 503 until both informers synced; if the API server goes away, the last
 * state keeps being served (snapshot marked staleSource).
 */
import type { KubeConfig } from '../kube/client.ts';
import type { Logger } from 'pino';
import { DNS_FLAGS, parseDnsConfig } from '../config/dns-config.ts';
import { formatFlags } from '../config/flags.ts';
import type { DnsServerConfig } from '../config/serve-config.ts';
import { describeApiError, discoverMcsVersion, serverOf } from '../kube/client.ts';
import { clusterCredentials } from './kube-credentials.ts';
import { KubeImportedStateSource } from '../kube/imported-source.ts';
import { createLogger, createMetrics, registerBuildInfo, resolveLogFormat, type Metrics } from '../observability/index.ts';
import { VERSION } from './version.ts';
import { createDnsServer, createHttpServer } from '../server/index.ts';
import type { Io } from './main.ts';
import { waitForShutdownSignal } from './signals.ts';
import { reportRefusals, startSnapshotFeed } from './snapshot-feed.ts';
import { dnsServerOptions } from './dns-server-options.ts';

const DNS_HELP = `Usage: clusterset-dns dns --cluster-id ID [--kubeconfig FILE] [flags]

Answers clusterset.local (and any --zone) from this cluster's ServiceImports and MCS
EndpointSlices. Point the cluster's CoreDNS at it with a forward stub for the zone. Uses the pod's
service account unless --kubeconfig is given. Answers SERVFAIL until the first full sync; keeps
answering from the last known state while the API server is unreachable.

Flags:
${formatFlags(DNS_FLAGS)}`;

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
  let feed: ReturnType<typeof startSnapshotFeed> | undefined;
  const http = createHttpServer({
    listen: config.httpListen,
    getSnapshot: () => feed?.current(),
    dnsOptions: config.dns,
    metrics,
    logger,
    healthProblem: () => server.healthProblem?.() ?? null,
    debugRemote: config.debugRemote ?? false,
  });
  const stopAll = async (): Promise<void> => {
    stopped = true;
    feed?.stop();
    source?.stop();
    await Promise.allSettled([http.stop(), server.stop()]);
  };
  let dnsPort: number;
  let httpPort: number;
  try {
    ({ port: dnsPort } = await server.start());
    ({ port: httpPort } = await http.start());
  } catch (err) {
    await stopAll();
    throw err;
  }

  // Discovery may fail while the API server starts; keep answering SERVFAIL meanwhile.
  const discover = async (): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const version = await discoverMcsVersion(options.kubeConfig);
        if (stopped) return;
        source = new KubeImportedStateSource({
          kubeConfig: options.kubeConfig,
          mcsVersion: version,
          logger,
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
        source.start();
        logger.info({ server: serverOf(options.kubeConfig), mcs: version }, 'watching ServiceImports and MCS EndpointSlices');
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 15 === 0) logger.warn({ err: describeApiError(err), attempt }, 'API discovery failed; answering SERVFAIL until it works');
        await new Promise((r) => setTimeout(r, DISCOVERY_RETRY_MS).unref());
      }
    }
  };
  const discovering = discover();

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

export async function runDns(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const { config, help } = parseDnsConfig(argv, env);
  if (help || !config) {
    io.stdout.write(`${DNS_HELP}\n`);
    return 0;
  }
  const kubeConfig = clusterCredentials(config, env);
  const logger = createLogger({ level: config.logLevel, destination: io.stdout, format: config.logFormat ?? 'auto' });
  const metrics = createMetrics();
  registerBuildInfo(metrics.registry, VERSION, 'dns');
  const running = await startDns({ clusterId: config.clusterId, kubeConfig, server: config, logger, logFormat: resolveLogFormat(config.logFormat ?? 'auto', io.stdout), metrics });
  logger.info({ dns: `${config.listen.host}:${running.dnsPort}`, http: `${config.httpListen.host}:${running.httpPort}`, cluster: config.clusterId }, 'clusterset-dns dns serving');
  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await running.stop();
  return 0;
}
