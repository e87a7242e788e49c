/**
 * `clusterset-dns agent`: flags and environment in, the running agent (src/runtime/agent.ts) until
 * a shutdown signal.
 */
import { AGENT_FLAGS, parseAgentConfig } from '../config/agent-config.ts';
import { formatFlags } from '../config/flags.ts';
import { createAgentMetrics } from '../observability/agent-metrics.ts';
import { createLogger, registerBuildInfo } from '../observability/index.ts';
import { startAgentService } from '../runtime/agent.ts';
import { clusterIdAtStart } from '../runtime/cluster-id.ts';
import type { Io } from './io.ts';
import { brokerCredentials, clusterCredentials } from './kube-credentials.ts';
import { waitForShutdownSignal } from './signals.ts';
import { VERSION } from './version.ts';
import { startMemoryReducer } from '../observability/memory-reducer.ts';

const AGENT_HELP = `Usage: clusterset-dns agent [--cluster-id ID] --broker-kubeconfig FILE [flags]

Runs in every member cluster. Exports this cluster's ServiceExported services to the broker (one
record, its EndpointSlices and a heartbeat Lease per cluster, in --broker-namespace) and imports
every cluster's exports back as ServiceImports and MCS EndpointSlices in this cluster. Uses the
pod's service account unless --kubeconfig is given. If the broker is unreachable, imports stay as
they are (fail static) and the metric clusterset_dns_agent_broker_reachable says 0. Publishes this
cluster's ClusterProperties (probe targets, region, zone) on its lease, and probes every other
cluster's targets: an unreachable cluster is left out of this cluster's service-wide answers.

Flags:
${formatFlags(AGENT_FLAGS)}`;

export async function runAgent(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const { config, help } = parseAgentConfig(argv, env);
  if (help || !config) {
    io.stdout.write(`${AGENT_HELP}\n`);
    return 0;
  }
  const local = clusterCredentials(config, env);
  const broker = brokerCredentials(config, env);
  const logger = createLogger({ level: config.logLevel, destination: io.stdout, format: config.logFormat });
  const metrics = createAgentMetrics();
  registerBuildInfo(metrics.registry, VERSION, 'agent');
  const memoryReducer = startMemoryReducer({ logger, registry: metrics.registry });
  const clusterId = await clusterIdAtStart(local, config.clusterId, logger);
  const running = await startAgentService({ ...config, clusterId }, { local, broker, logger, metrics });
  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await running.stop();
  memoryReducer.stop();
  return 0;
}
