/**
 * The production agent of one member cluster (`clusterset-dns agent`): the same reconcilers as the
 * embedded default (Exporter, Importer, LeaseRenewer) run against informer-backed stores on this
 * cluster's API server and on the broker's, with the agent's HTTP endpoints (/metrics, /healthz,
 * /readyz, /status) in front.
 */
import type { KubeConfig } from '../kube/client.ts';
import type { Logger } from 'pino';
import type { AddressPolicy } from '../model/address-policy.ts';
import { canaryTimeoutMs } from '../model/broker-sight.ts';
import { Exporter } from '../agent/exporter.ts';
import { Importer } from '../agent/importer.ts';
import { LeaseRenewer } from '../agent/lease.ts';
import { PublishedPropertiesSource } from '../agent/published-properties.ts';
import { KubeClusterProperties } from '../kube/cluster-properties.ts';
import type { AgentConfig } from '../config/agent-config.ts';
import { KubeBrokerStore } from '../kube/broker-store.ts';
import { describeApiError, discoverAboutVersion, discoverMcsVersion, followKubeConfigFile, serverOf } from '../kube/client.ts';
import { KubeLocalClusterStore } from '../kube/local-cluster-store.ts';
import { createAgentMetrics, type AgentMetricsRegistry } from '../observability/agent-metrics.ts';
import { createAgentHttp } from './agent-http.ts';
import { agentStatusReport } from './agent-status.ts';

export interface AgentRuntimeOptions {
  clusterId: string;
  local: KubeConfig;
  broker: KubeConfig;
  brokerNamespace: string;
  namespaces?: readonly string[];
  leaseDurationMs: number;
  leaseRenewMs: number;
  gcGraceMs: number;
  resyncMs: number;
  concurrency: number;
  logger: Logger;
  metrics?: AgentMetricsRegistry;
  /** Informer backoff (tests use short ones). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Retry delay of failed reconciles. */
  retryBaseMs?: number;
  /** Which addresses may be exported and imported (`--allowed-cidrs`). */
  addressPolicy?: AddressPolicy;
  /** Clock skew tolerated for times other clusters claim. */
  skewToleranceMs?: number;
  /**
   * The file `broker` was loaded from: followed, so a renewed (expiring) token written there is
   * used without a restart.
   */
  brokerKubeconfigPath?: string;
  /** How often that file is checked (default 5 s). */
  credentialsPollMs?: number;
}

export interface RunningAgent {
  /** Resolves once both caches synced and the reconcilers run (rejects if stopped first). */
  readonly started: Promise<void>;
  /** Why the agent is not ready (caches not synced), or null. */
  notReady(): string | null;
  readonly local: KubeLocalClusterStore;
  readonly broker: KubeBrokerStore;
  /** Resolves when both reconcilers' queues are empty. */
  whenIdle(): Promise<void>;
  stop(): Promise<void>;
}

const DISCOVERY_RETRY_MS = 2_000;
const SYNC_LOG_EVERY_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Retries API discovery until it works or `stopped()` (an API server may start after the agent). */
async function discoverUntil(kc: KubeConfig, what: string, logger: Logger, stopped: () => boolean): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await discoverMcsVersion(kc);
    } catch (err) {
      if (stopped()) throw new Error('stopped');
      if (attempt === 1 || attempt % 15 === 0) logger.warn({ server: serverOf(kc), err: describeApiError(err), attempt }, `${what}: API discovery failed; retrying`);
      await sleep(DISCOVERY_RETRY_MS);
    }
  }
}

export function startAgent(options: AgentRuntimeOptions): RunningAgent {
  const logger = options.logger.child({ cluster: options.clusterId });
  const metrics = options.metrics ?? createAgentMetrics({ defaultMetrics: false });
  const backoff = {
    ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
    ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
  };
  let stopped = false;
  let local: KubeLocalClusterStore | undefined;
  let broker: KubeBrokerStore | undefined;
  let exporter: Exporter | undefined;
  let importer: Importer | undefined;
  let lease: LeaseRenewer | undefined;
  let properties: KubeClusterProperties | undefined;
  let synced = false;
  let phase = 'discovering the MCS API versions';
  const credentials =
    options.brokerKubeconfigPath === undefined
      ? undefined
      : followKubeConfigFile(options.broker, options.brokerKubeconfigPath, {
          ...(options.credentialsPollMs === undefined ? {} : { intervalMs: options.credentialsPollMs }),
          onReload: () => logger.info({ file: options.brokerKubeconfigPath }, 'broker credentials changed on disk: using the new token'),
          onError: (message) => logger.error({ file: options.brokerKubeconfigPath }, `broker credentials not reloaded: ${message}`),
        });

  const started = (async () => {
    const [localVersion, brokerVersion] = await Promise.all([
      discoverUntil(options.local, 'local cluster', logger, () => stopped),
      discoverUntil(options.broker, 'broker', logger, () => stopped),
    ]);
    if (stopped) throw new Error('stopped');
    const aboutVersion = await discoverAboutVersion(options.local).catch((err: unknown) => {
      logger.warn({ err: describeApiError(err) }, 'could not discover about.k8s.io: no ClusterProperties are published');
      return undefined;
    });
    if (aboutVersion === undefined) logger.info('about.k8s.io ClusterProperties not served here: this cluster announces no probe targets or topology');
    else properties = new KubeClusterProperties({ kubeConfig: options.local, version: aboutVersion, logger, onRestart: (reason) => metrics.hooks.informerRestart?.('local-clusterproperties', reason), ...backoff });
    logger.info({ local: serverOf(options.local), localMcs: localVersion, localAbout: aboutVersion ?? null, broker: serverOf(options.broker), brokerMcs: brokerVersion, brokerNamespace: options.brokerNamespace }, 'agent starting');
    local = new KubeLocalClusterStore({
      kubeConfig: options.local,
      cluster: options.clusterId,
      mcsVersion: localVersion,
      ...(options.namespaces === undefined ? {} : { namespaces: options.namespaces }),
      logger,
      metrics: metrics.hooks,
      ...backoff,
    });
    broker = new KubeBrokerStore({
      kubeConfig: options.broker,
      namespace: options.brokerNamespace,
      cluster: options.clusterId,
      mcsVersion: brokerVersion,
      // Our own renewals must show up in the watch well before anyone else's lease could look expired.
      heartbeatTimeoutMs: canaryTimeoutMs(options.leaseDurationMs, options.leaseRenewMs),
      ...(options.skewToleranceMs === undefined ? {} : { skewToleranceMs: options.skewToleranceMs }),
      logger,
      metrics: metrics.hooks,
      ...backoff,
    });
    local.start();
    broker.start();
    properties?.start();
    phase = 'waiting for the local and broker caches to sync';
    // Reconcile nothing before both caches are complete: a partial cache would look like deletions.
    for (;;) {
      try {
        await Promise.all([local.waitForSync(SYNC_LOG_EVERY_MS), broker.waitForSync(SYNC_LOG_EVERY_MS), properties?.waitForSync(SYNC_LOG_EVERY_MS)]);
        break;
      } catch (err) {
        if (stopped) throw new Error('stopped');
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'caches not synced yet; still waiting');
      }
    }
    if (stopped) throw new Error('stopped');
    const queue = { concurrency: options.concurrency, ...(options.retryBaseMs === undefined ? {} : { baseDelayMs: options.retryBaseMs }) };
    const trust = {
      ...(options.addressPolicy === undefined ? {} : { addressPolicy: options.addressPolicy }),
      ...(options.skewToleranceMs === undefined ? {} : { skewToleranceMs: options.skewToleranceMs }),
    };
    const watched = properties;
    const published = new PublishedPropertiesSource(() => watched?.current() ?? new Map(), logger);
    lease = new LeaseRenewer({ cluster: options.clusterId, broker, durationMs: options.leaseDurationMs, renewMs: options.leaseRenewMs, logger, metrics: metrics.hooks, properties: () => published.current() });
    exporter = new Exporter({ cluster: options.clusterId, local, broker, logger, gcGraceMs: options.gcGraceMs, metrics: metrics.hooks, queue, resyncMs: options.resyncMs, ...trust });
    importer = new Importer({ cluster: options.clusterId, local, broker, logger, gcGraceMs: options.gcGraceMs, metrics: metrics.hooks, queue, resyncMs: options.resyncMs, ...trust });
    await lease.start();
    exporter.start();
    importer.start();
    // The reconcilers' resync starts from whole exports and ServiceImports; slice sets left half
    // written by a crash between two writes are visited too, and repaired or removed.
    broker.replayOwnExports();
    local.replayImportedSlices();
    void broker.removeLegacyRecords();
    synced = true;
    phase = 'running';
    logger.info({ exports: local.listServiceExports().length, brokerRecords: broker.listRecords().length }, 'agent synced: reconciling every key');
  })();
  // The caller awaits `started`; this keeps an early stop() from surfacing as an unhandled rejection.
  started.catch(() => undefined);

  return {
    started,
    notReady: () => (synced ? null : phase),
    get local() {
      if (local === undefined) throw new Error('agent not started yet');
      return local;
    },
    get broker() {
      if (broker === undefined) throw new Error('agent not started yet');
      return broker;
    },
    async whenIdle() {
      await Promise.all([exporter?.whenIdle(), importer?.whenIdle()]);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      credentials?.stop();
      await started.catch(() => undefined);
      // The lease is left to expire, not deleted: a restarting agent must not make its cluster
      // vanish from every other cluster's answers.
      await Promise.allSettled([exporter?.stop(), importer?.stop(), lease?.stop()]);
      local?.stop();
      broker?.stop();
      properties?.stop();
      logger.info('agent stopped');
    },
  };
}

export interface AgentServiceDeps {
  /** This cluster's API server and the broker's (resolved from flags and environment). */
  local: KubeConfig;
  broker: KubeConfig;
  logger: Logger;
  metrics: AgentMetricsRegistry;
}

export interface RunningAgentService {
  readonly agent: RunningAgent;
  httpPort: number;
  stop(): Promise<void>;
}

/** The agent as `clusterset-dns agent` runs it: the reconcilers and their HTTP endpoints. */
/** `config.clusterId` resolved (runtime/cluster-id.ts clusterIdAtStart). */
export async function startAgentService(config: AgentConfig & { clusterId: string }, deps: AgentServiceDeps): Promise<RunningAgentService> {
  const { local, broker, logger, metrics } = deps;
  const agent = startAgent({
    clusterId: config.clusterId,
    local,
    broker,
    brokerNamespace: config.brokerNamespace,
    ...(config.namespaces === undefined ? {} : { namespaces: config.namespaces }),
    leaseDurationMs: config.leaseDurationMs,
    leaseRenewMs: config.leaseRenewMs,
    gcGraceMs: config.gcGraceMs,
    resyncMs: config.resyncMs,
    concurrency: config.concurrency,
    logger,
    metrics,
    addressPolicy: config.addressPolicy,
    skewToleranceMs: config.skewToleranceMs,
    brokerKubeconfigPath: config.brokerKubeconfig,
  });
  const http = createAgentHttp({
    listen: config.httpListen,
    metrics: () => metrics.render(),
    notReady: () => agent.notReady(),
    logger,
    status: (filter) => (agent.notReady() !== null ? undefined : agentStatusReport({ clusterId: config.clusterId, local: agent.local, broker: agent.broker, gcGraceMs: config.gcGraceMs, filter })),
  });
  let httpPort: number;
  try {
    ({ port: httpPort } = await http.start());
    logger.info({ http: `${config.httpListen.host}:${httpPort}` }, 'agent HTTP listening (/metrics, /healthz, /readyz)');
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return {
    agent,
    httpPort,
    async stop() {
      await Promise.allSettled([agent.stop(), http.stop()]);
    },
  };
}
