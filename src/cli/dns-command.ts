/**
 * `clusterset-dns dns`: flags and environment in, the running DNS server (src/runtime/dns.ts)
 * until a shutdown signal.
 */
import { DNS_FLAGS, parseDnsConfig } from '../config/dns-config.ts';
import { formatFlags } from '../config/flags.ts';
import { createLogger, createMetrics, registerBuildInfo, resolveLogFormat } from '../observability/index.ts';
import { clusterIdAtStart } from '../runtime/cluster-id.ts';
import { startDns } from '../runtime/dns.ts';
import type { Io } from './io.ts';
import { clusterCredentials } from './kube-credentials.ts';
import { waitForShutdownSignal } from './signals.ts';
import { VERSION } from './version.ts';
import { startMemoryReducer } from '../observability/memory-reducer.ts';

const DNS_HELP = `Usage: clusterset-dns dns [--cluster-id ID] [--kubeconfig FILE] [flags]

Answers clusterset.local (and any --zone) from this cluster's ServiceImports and MCS
EndpointSlices. Point the cluster's CoreDNS at it with a forward stub for the zone. Uses the pod's
service account unless --kubeconfig is given. Answers SERVFAIL until the first full sync; keeps
answering from the last known state while the API server is unreachable.

Flags:
${formatFlags(DNS_FLAGS)}`;

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
  const memoryReducer = startMemoryReducer({ logger, registry: metrics.registry });
  const clusterId = await clusterIdAtStart(kubeConfig, config.clusterId, logger);
  const running = await startDns({ clusterId, kubeConfig, server: config, logger, logFormat: resolveLogFormat(config.logFormat ?? 'auto', io.stdout), metrics });
  logger.info({ dns: `${config.listen.host}:${running.dnsPort}`, http: `${config.httpListen.host}:${running.httpPort}`, cluster: clusterId }, 'clusterset-dns dns serving');
  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await running.stop();
  memoryReducer.stop();
  return 0;
}
