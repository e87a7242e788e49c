/** The `dns` command's flags: the DNS server flags of `serve`, plus where the imports are read. */
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import { DNS_SERVER_FLAGS, dnsServerConfigFrom, type DnsServerConfig } from './serve-config.ts';
import { parseClusterId } from './validate.ts';
import { CONTEXT_FLAG } from './kube-flags.ts';

export const DNS_FLAGS: readonly FlagSpec[] = [
  { name: 'cluster-id', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_ID', metavar: 'ID', help: 'the cluster this server runs in (local-first answers prefer it; default: the ClusterProperty cluster.clusterset.k8s.io, or id.k8s.io; a mismatch refuses to start)' },
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of this cluster (default: $KUBECONFIG, ~/.kube/config, in a pod its service account)' },
  CONTEXT_FLAG,
  ...DNS_SERVER_FLAGS,
];

export interface DnsCommandConfig extends DnsServerConfig {
  /** Undefined: taken from this cluster's ClusterProperty at start (runtime/cluster-id.ts). */
  clusterId?: string;
  kubeconfig?: string;
  context?: string;
}

export function parseDnsConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cores?: number,
): { config?: DnsCommandConfig; help: boolean } {
  const parsed = parseArgs('dns', argv, DNS_FLAGS, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  const config: DnsCommandConfig = { ...dnsServerConfigFrom(v, cores) };
  if (v['cluster-id'] !== undefined) config.clusterId = parseClusterId(v['cluster-id'] as string, '--cluster-id');
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (v['context'] !== undefined) config.context = v['context'] as string;
  return { help: false, config };
}
