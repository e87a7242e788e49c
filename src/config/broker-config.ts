/** The `broker join-config` command's flags (each with an environment equivalent) and its config. */
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import { parseClusterId } from './validate.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const JOIN_CONFIG_FLAGS: readonly FlagSpec[] = [
  { name: 'cluster', kind: 'string', env: 'CLUSTERSET_DNS_JOIN_CLUSTER', metavar: 'ID', help: 'the member cluster to write credentials for (ServiceAccount member-ID in the broker namespace; required)' },
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of the broker, with rights to request tokens (default: in-cluster service account)' },
  { name: 'broker-namespace', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_NAMESPACE', metavar: 'NS', default: 'clusterset-broker', help: 'the broker namespace' },
  { name: 'duration', kind: 'int', env: 'CLUSTERSET_DNS_JOIN_DURATION', metavar: 'SECONDS', min: 600, max: 31_536_000, default: 86_400, help: 'lifetime of the bound token (the API server may shorten it); renew by running the command again' },
  { name: 'server', kind: 'string', env: 'CLUSTERSET_DNS_JOIN_SERVER', metavar: 'URL', help: 'broker API URL as members reach it (default: the server of --kubeconfig)' },
  { name: 'output', kind: 'string', env: 'CLUSTERSET_DNS_JOIN_OUTPUT', metavar: 'FILE', help: 'write the kubeconfig here, mode 0600 (default: standard output)' },
];

export interface JoinConfigConfig {
  cluster: string;
  kubeconfig?: string;
  brokerNamespace: string;
  durationSeconds: number;
  server?: string;
  output?: string;
}

export function parseJoinConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { config?: JoinConfigConfig; help: boolean } {
  const parsed = parseArgs('broker join-config', argv, JOIN_CONFIG_FLAGS, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  if (v['cluster'] === undefined) throw new UsageError('broker join-config: --cluster ID is required (or CLUSTERSET_DNS_JOIN_CLUSTER)');
  const ns = v['broker-namespace'] as string;
  if (!DNS_LABEL.test(ns)) throw new UsageError(`--broker-namespace must be a namespace name (a DNS label), got ${JSON.stringify(ns)}`);
  const config: JoinConfigConfig = { cluster: parseClusterId(v['cluster'] as string, '--cluster'), brokerNamespace: ns, durationSeconds: v['duration'] as number };
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (v['server'] !== undefined) {
    const server = v['server'] as string;
    if (!/^https:\/\/[^/\s]+/.test(server)) throw new UsageError(`--server must be an https:// URL, got ${JSON.stringify(server)}`);
    config.server = server;
  }
  if (v['output'] !== undefined) config.output = v['output'] as string;
  return { help: false, config };
}
