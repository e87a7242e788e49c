/** The `agent` command's flags (each with an environment equivalent) and its validated config. */
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import { LOG_LEVELS, type LogLevel } from './serve-config.ts';
import type { ListenAddress } from './options.ts';
import type { AddressPolicy } from '../model/address-policy.ts';
import { ALLOWED_CIDRS_FLAG, parseAllowedCidrs, parseClusterId, parseListen } from './validate.ts';
import { BROKER_CONTEXT_FLAG, CONTEXT_FLAG } from './kube-flags.ts';
import { LOG_FORMAT_FLAG, type LogFormat } from './log-format.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const AGENT_FLAGS: readonly FlagSpec[] = [
  { name: 'cluster-id', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_ID', metavar: 'ID', help: 'this cluster\'s ID: one or two DNS labels (default: the ClusterProperty cluster.clusterset.k8s.io, or id.k8s.io; a mismatch with them refuses to start)' },
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of this cluster (default: $KUBECONFIG, ~/.kube/config, in a pod its service account)' },
  CONTEXT_FLAG,
  { name: 'broker-kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of the broker API server (required unless --broker-context is given)' },
  BROKER_CONTEXT_FLAG,
  { name: 'broker-namespace', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_NAMESPACE', metavar: 'NS', default: 'clusterset-broker', help: 'broker namespace holding every cluster\'s records, slices and leases' },
  { name: 'namespaces', kind: 'list', env: 'CLUSTERSET_DNS_NAMESPACES', metavar: 'NS', default: [], help: 'watch only these namespaces; repeatable or comma-separated (default: all)' },
  { name: 'lease-duration', kind: 'int', env: 'CLUSTERSET_DNS_LEASE_DURATION', metavar: 'SECONDS', min: 1, max: 3600, default: 30, help: 'this cluster\'s lease duration: importers mark it stale this long after its last renewal' },
  { name: 'lease-renew', kind: 'int', env: 'CLUSTERSET_DNS_LEASE_RENEW', metavar: 'SECONDS', min: 1, max: 3600, default: 10, help: 'lease renewal interval (less than --lease-duration)' },
  { name: 'gc-grace', kind: 'int', env: 'CLUSTERSET_DNS_GC_GRACE', metavar: 'SECONDS', min: 0, max: 604800, default: 600, help: 'how long a stale cluster\'s imports stay (excluded) before they are removed' },
  { name: 'resync', kind: 'int', env: 'CLUSTERSET_DNS_RESYNC', metavar: 'SECONDS', min: 0, max: 86400, default: 300, help: 'full reconcile of every key this often, a safety net for missed events (0: off)' },
  { name: 'concurrency', kind: 'int', env: 'CLUSTERSET_DNS_CONCURRENCY', metavar: 'N', min: 1, max: 256, default: 8, help: 'keys reconciled in parallel, per direction (export, import); their writes share an adaptive limit per API server' },
  { name: 'http-listen', kind: 'string', env: 'CLUSTERSET_DNS_AGENT_HTTP_LISTEN', metavar: 'HOST:PORT', default: '127.0.0.1:9154', help: 'HTTP address for /metrics, /healthz, /readyz' },
  { name: 'log-level', kind: 'enum', env: 'CLUSTERSET_DNS_LOG_LEVEL', metavar: 'LEVEL', choices: LOG_LEVELS, default: 'info', help: 'log level' },
  ALLOWED_CIDRS_FLAG,
  { name: 'skew-tolerance', kind: 'int', env: 'CLUSTERSET_DNS_SKEW_TOLERANCE', metavar: 'SECONDS', min: 0, max: 3600, default: 30, help: 'clock skew tolerated between clusters: an export time further in the future is refused' },
  LOG_FORMAT_FLAG,
];

export interface AgentConfig {
  /** Undefined: taken from this cluster's ClusterProperty at start (runtime/cluster-id.ts). */
  clusterId?: string;
  /** Undefined: in-cluster config. */
  kubeconfig?: string;
  context?: string;
  /** Undefined: resolved like --kubeconfig's default chain, with brokerContext. */
  brokerKubeconfig?: string;
  brokerContext?: string;
  brokerNamespace: string;
  /** Undefined: every namespace. */
  namespaces?: string[];
  leaseDurationMs: number;
  leaseRenewMs: number;
  gcGraceMs: number;
  resyncMs: number;
  concurrency: number;
  httpListen: ListenAddress;
  logLevel: LogLevel;
  addressPolicy: AddressPolicy;
  skewToleranceMs: number;
  logFormat: LogFormat;
}

function parseNamespace(raw: string, what: string): string {
  if (!DNS_LABEL.test(raw)) throw new UsageError(`${what} must be a namespace name (a DNS label), got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseAgentConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { config?: AgentConfig; help: boolean } {
  const parsed = parseArgs('agent', argv, AGENT_FLAGS, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  if (v['broker-kubeconfig'] === undefined && v['broker-context'] === undefined) {
    throw new UsageError('agent: --broker-kubeconfig FILE or --broker-context NAME is required (or CLUSTERSET_DNS_BROKER_KUBECONFIG, CLUSTERSET_DNS_BROKER_CONTEXT)');
  }
  const leaseDurationMs = (v['lease-duration'] as number) * 1000;
  const leaseRenewMs = (v['lease-renew'] as number) * 1000;
  if (leaseRenewMs >= leaseDurationMs) {
    throw new UsageError(`--lease-renew (${leaseRenewMs / 1000}s) must be shorter than --lease-duration (${leaseDurationMs / 1000}s)`);
  }
  const namespaces = (v['namespaces'] as string[]).map((ns) => parseNamespace(ns, '--namespaces'));
  const config: AgentConfig = {
    ...(v['cluster-id'] === undefined ? {} : { clusterId: parseClusterId(v['cluster-id'] as string, '--cluster-id') }),
    brokerNamespace: parseNamespace(v['broker-namespace'] as string, '--broker-namespace'),
    leaseDurationMs,
    leaseRenewMs,
    gcGraceMs: (v['gc-grace'] as number) * 1000,
    resyncMs: (v['resync'] as number) * 1000,
    concurrency: v['concurrency'] as number,
    httpListen: parseListen(v['http-listen'] as string, '--http-listen'),
    logLevel: v['log-level'] as LogLevel,
    addressPolicy: parseAllowedCidrs(v['allowed-cidrs'] as string[]),
    skewToleranceMs: (v['skew-tolerance'] as number) * 1000,
    logFormat: v['log-format'] as LogFormat,
  };
  if (v['broker-kubeconfig'] !== undefined) config.brokerKubeconfig = v['broker-kubeconfig'] as string;
  if (v['context'] !== undefined) config.context = v['context'] as string;
  if (v['broker-context'] !== undefined) config.brokerContext = v['broker-context'] as string;
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (namespaces.length > 0) config.namespaces = [...new Set(namespaces)];
  return { help: false, config };
}
