/**
 * `clusterset-dns serve`: flags in, the embedded default (src/runtime/serve.ts) until a shutdown
 * signal; once it synced, the problems found in the files and a few commands to try it.
 */
import { existsSync, statSync } from 'node:fs';
import { formatFlags, UsageError } from '../config/flags.ts';
import { parseServeConfig, SERVE_FLAGS, type ServeConfig } from '../config/serve-config.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { createLogger, createMetrics, registerBuildInfo, resolveLogFormat } from '../observability/index.ts';
import { startServe } from '../runtime/serve.ts';
import { formatProblem, listClusterIds } from '../standalone/loader.ts';
import type { Io } from './io.ts';
import { waitForShutdownSignal } from './signals.ts';
import { tryLines } from './try-lines.ts';
import { VERSION } from './version.ts';
import { startMemoryReducer } from '../observability/memory-reducer.ts';

const SERVE_HELP = `Usage: clusterset-dns serve --from-dir DIR --cluster-id ID [flags]

Runs the whole pipeline in one process from YAML files: DIR has one sub-directory per member
cluster (its name is the cluster ID) holding Namespace, Service, EndpointSlice, ServiceExport and
optional ServiceImport (spec.ips) and ClusterProperty objects. Edits are picked up within a second;
a file named OFFLINE in a cluster directory stops that cluster's lease renewals. A cluster that
announces probe targets (ClusterProperty probe.clusterset-dns.io) leaves service-wide answers while
they stop answering (--probe-*).

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
  registerBuildInfo(metrics.registry, VERSION, 'serve');
  const memoryReducer = startMemoryReducer({ logger, registry: metrics.registry });
  const running = await startServe(config, { logger, metrics, logFormat: resolveLogFormat(config.logFormat ?? 'auto', io.stdout) });
  const synced = await firstSynced(() => running.snapshot(), SYNC_WAIT_MS);
  if (!synced) {
    logger.warn({ waitedMs: SYNC_WAIT_MS }, 'not synced yet; answering SERVFAIL until the first full sync');
  } else {
    for (const p of running.problems()) io.stderr.write(`problem: ${formatProblem(p)}\n`);
    io.stderr.write(`${tryLines(synced, config, running.dnsPort, running.httpPort)}\n`);
  }

  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await running.stop();
  memoryReducer.stop();
  return 0;
}
