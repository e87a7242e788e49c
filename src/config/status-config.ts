/** The `status` command's flags (each with an environment equivalent) and its validated config. */
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import { BROKER_CONTEXT_FLAG, CONTEXT_FLAG } from './kube-flags.ts';
import { parseClusterId } from './validate.ts';

export const STATUS_OUTPUTS = ['table', 'json', 'yaml'] as const;
export type StatusOutput = (typeof STATUS_OUTPUTS)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const STATUS_FLAGS: readonly FlagSpec[] = [
  { name: 'output', short: 'o', kind: 'enum', env: 'CLUSTERSET_DNS_STATUS_OUTPUT', metavar: 'FORMAT', choices: STATUS_OUTPUTS, default: 'table', help: 'table, json or yaml' },
  { name: 'url', kind: 'string', env: 'CLUSTERSET_DNS_STATUS_URL', metavar: 'URL', help: 'ask a running serve (its --http-listen, e.g. http://127.0.0.1:9153) instead of a cluster\'s API' },
  { name: 'namespace', short: 'n', kind: 'string', env: 'CLUSTERSET_DNS_STATUS_NAMESPACE', metavar: 'NS', help: 'only services (and exports) in this namespace' },
  { name: 'service', kind: 'string', env: 'CLUSTERSET_DNS_STATUS_SERVICE', metavar: 'NAME', help: 'only services with this name' },
  { name: 'wait', kind: 'bool', help: 'poll until everything shown is ready; exit code 1 if it is not within --timeout' },
  { name: 'timeout', kind: 'int', env: 'CLUSTERSET_DNS_STATUS_TIMEOUT', metavar: 'SECONDS', min: 1, max: 3600, default: 60, help: 'how long --wait waits (and the bound on each request)' },
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of the member cluster to read (default: $KUBECONFIG, ~/.kube/config, in a pod its service account)' },
  CONTEXT_FLAG,
  { name: 'cluster-id', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_ID', metavar: 'ID', help: 'this cluster\'s ID (default: key cluster-id of ConfigMap clusterset-dns-config in --system-namespace)' },
  { name: 'system-namespace', kind: 'string', env: 'CLUSTERSET_DNS_SYSTEM_NAMESPACE', metavar: 'NS', default: 'clusterset-dns-system', help: 'namespace the agent runs in (its ConfigMap and broker Secret)' },
  { name: 'broker-kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_KUBECONFIG', metavar: 'FILE', help: 'broker credentials for the leases (default: the agent\'s, key kubeconfig of Secret clusterset-dns-broker)' },
  BROKER_CONTEXT_FLAG,
  { name: 'broker-namespace', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_NAMESPACE', metavar: 'NS', help: 'broker namespace (default: key broker-namespace of the ConfigMap, else clusterset-broker)' },
];

export interface StatusConfig {
  output: StatusOutput;
  url?: string;
  namespace?: string;
  service?: string;
  wait: boolean;
  timeoutMs: number;
  kubeconfig?: string;
  context?: string;
  clusterId?: string;
  systemNamespace: string;
  brokerKubeconfig?: string;
  brokerContext?: string;
  brokerNamespace?: string;
}

function label(raw: string, what: string): string {
  if (!DNS_LABEL.test(raw)) throw new UsageError(`${what} must be a DNS label, got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseStatusConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { config?: StatusConfig; help: boolean } {
  const parsed = parseArgs('status', argv, STATUS_FLAGS, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  const config: StatusConfig = {
    output: v['output'] as StatusOutput,
    wait: v['wait'] === true,
    timeoutMs: (v['timeout'] as number) * 1000,
    systemNamespace: label(v['system-namespace'] as string, '--system-namespace'),
  };
  if (v['url'] !== undefined) {
    const url = (v['url'] as string).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be an http:// URL, got ${JSON.stringify(url)}`);
    config.url = url;
  }
  if (v['namespace'] !== undefined) config.namespace = label(v['namespace'] as string, '--namespace');
  if (v['service'] !== undefined) config.service = label(v['service'] as string, '--service');
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (v['context'] !== undefined) config.context = v['context'] as string;
  if (v['cluster-id'] !== undefined) config.clusterId = parseClusterId(v['cluster-id'] as string, '--cluster-id');
  if (v['broker-kubeconfig'] !== undefined) config.brokerKubeconfig = v['broker-kubeconfig'] as string;
  if (v['broker-context'] !== undefined) config.brokerContext = v['broker-context'] as string;
  if (v['broker-namespace'] !== undefined) config.brokerNamespace = label(v['broker-namespace'] as string, '--broker-namespace');
  if (config.url !== undefined && (config.kubeconfig !== undefined || config.context !== undefined)) {
    throw new UsageError('status: --url asks a running serve; --kubeconfig/--context read a cluster: pass one or the other');
  }
  return { help: false, config };
}
