/**
 * `clusterset-dns serve`: the embedded default. Member clusters come from YAML directories, the
 * same export → broker → import pipeline runs in memory, and the DNS + HTTP servers answer from it.
 */
import { existsSync, statSync } from 'node:fs';
import { formatFlags } from '../config/flags.ts';
import { parseServeConfig, SERVE_FLAGS, type ServeConfig } from '../config/serve-config.ts';
import { UsageError } from '../config/flags.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { createEmbeddedMetrics, createLogger, createMetrics, registerBuildInfo, resolveLogFormat } from '../observability/index.ts';
import { VERSION } from './version.ts';
import { createDnsServer, createHttpServer } from '../server/index.ts';
import { startEmbedded } from '../standalone/embedded.ts';
import { formatProblem, listClusterIds } from '../standalone/loader.ts';
import type { Io } from './main.ts';
import { createAgentMetrics } from './agent-metrics.ts';
import { reportRefusals, startSnapshotFeed } from './snapshot-feed.ts';
import { dnsServerOptions } from './dns-server-options.ts';
import { waitForShutdownSignal } from './signals.ts';
import { tryLines } from './try-lines.ts';
import { buildStatusReport } from '../model/status-report.ts';
import { statusRoutes } from './status-routes.ts';

const SERVE_HELP = `Usage: clusterset-dns serve --from-dir DIR --cluster-id ID [flags]

Runs the whole pipeline in one process from YAML files: DIR has one sub-directory per member
cluster (its name is the cluster ID) holding Namespace, Service, EndpointSlice, ServiceExport and
optional ServiceImport (spec.ips) objects. Edits are picked up within a second; a file named
OFFLINE in a cluster directory stops that cluster's lease renewals.

Flags:
${formatFlags(SERVE_FLAGS)}`;

const SYNC_WAIT_MS = 30_000;

async function checkFromDir(config: ServeConfig): Promise<void> {
  if (!existsSync(config.fromDir) || !statSync(config.fromDir).isDirectory()) {
    throw new UsageError(`--from-dir ${config.fromDir}: no such directory`);
  }
  const clusters = await listClusterIds(config.fromDir);
  if (!clusters.includes(config.clusterId)) {
    throw new UsageError(
      `--cluster-id ${config.clusterId}: no directory ${config.clusterId} in ${config.fromDir} (clusters found: ${clusters.join(', ') || 'none'})`,
    );
  }
}

/** Resolves with the first synced snapshot, or undefined after `timeoutMs`. */
function firstSynced(current: () => Snapshot, timeoutMs: number): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const poll = (): void => {
      const s = current();
      if (s.synced) return resolve(s);
      if (Date.now() >= deadline) return resolve(undefined);
      setTimeout(poll, 50);
    };
    poll();
  });
}

export async function runServe(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const { config, help } = parseServeConfig(argv, env);
  if (help || !config) {
    io.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  await checkFromDir(config);
  const logger = createLogger({ level: config.logLevel, destination: io.stdout, format: config.logFormat ?? 'auto' });
  const metrics = createMetrics();
  // The embedded default's reconcilers report into the same registry, so one /metrics shows both.
  const agentMetrics = createAgentMetrics({ registry: metrics.registry });
  const embeddedMetrics = createEmbeddedMetrics(metrics.registry);
  registerBuildInfo(metrics.registry, VERSION, 'serve');

  const embedded = await startEmbedded({
    dir: config.fromDir,
    localCluster: config.clusterId,
    leaseDurationMs: config.leaseDurationMs,
    leaseRenewMs: config.leaseRenewMs,
    logger,
    metrics: agentMetrics.hooks,
    ...(config.addressPolicy === undefined ? {} : { addressPolicy: config.addressPolicy }),
    onProblems: (problems) => embeddedMetrics.setFileProblems(problems),
    onReload: (outcome, filesRead) => embeddedMetrics.reloaded(outcome, filesRead),
  });
  // The in-memory broker lives in this process: it is reachable for as long as we run.
  agentMetrics.hooks.brokerReachable?.(true);
  const server = createDnsServer({ ...dnsServerOptions(config), logFormat: resolveLogFormat(config.logFormat ?? 'auto', io.stdout) }, { logger, metrics });
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
  });

  const stopAll = async (): Promise<void> => {
    feed.stop();
    await Promise.allSettled([http.stop(), server.stop()]);
    await embedded.stop();
  };

  try {
    const { port } = await server.start();
    const { port: httpPort } = await http.start();
    logger.info(
      { dns: `${config.listen.host}:${port}`, http: `${config.httpListen.host}:${httpPort}`, cluster: config.clusterId, workers: config.workers },
      'clusterset-dns serving',
    );
    const synced = await firstSynced(() => feed.current(), SYNC_WAIT_MS);
    if (!synced) {
      logger.warn({ waitedMs: SYNC_WAIT_MS }, 'not synced yet; answering SERVFAIL until the first full sync');
    } else {
      for (const p of embedded.problems()) io.stderr.write(`problem: ${formatProblem(p)}\n`);
      io.stderr.write(`${tryLines(synced, config, port, httpPort)}\n`);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await stopAll();
  return 0;
}
