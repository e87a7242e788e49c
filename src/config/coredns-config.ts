/** The `coredns install|uninstall` command's flags (each with an environment equivalent) and its validated config. */
import { isIP } from 'node:net';
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import { checkZonesDisjoint, parseZone } from './validate.ts';
import { CONTEXT_FLAG } from './kube-flags.ts';

export const COREDNS_ACTIONS = ['install', 'uninstall'] as const;
export type CorednsAction = (typeof COREDNS_ACTIONS)[number];

export const DEFAULT_DNS_SERVICE = 'clusterset-dns-system/clusterset-dns-server';

export const COREDNS_FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of the cluster (default: $KUBECONFIG, ~/.kube/config, in a pod its service account)' },
  CONTEXT_FLAG,
  { name: 'dns-service-ip', kind: 'list', env: 'CLUSTERSET_DNS_SERVICE_IP', metavar: 'IP[:PORT]', default: [], help: 'forward the zone here; repeatable (default: the ClusterIPs of --dns-service)' },
  { name: 'dns-service', kind: 'string', env: 'CLUSTERSET_DNS_SERVICE', metavar: 'NS/NAME', default: DEFAULT_DNS_SERVICE, help: 'the DNS server\'s Service, when --dns-service-ip is not given' },
  { name: 'zone', kind: 'list', env: 'CLUSTERSET_DNS_ZONES', metavar: 'ZONE', default: ['clusterset.local'], help: 'zone to route; repeatable (env: comma-separated)' },
  { name: 'coredns-configmap', kind: 'string', env: 'CLUSTERSET_DNS_COREDNS_CONFIGMAP', metavar: 'NS/NAME', default: 'kube-system/coredns', help: 'the cluster CoreDNS\'s ConfigMap (key Corefile)' },
  { name: 'nodelocal-configmap', kind: 'string', env: 'CLUSTERSET_DNS_NODELOCAL_CONFIGMAP', metavar: 'NS/NAME|none', default: 'kube-system/node-local-dns', help: 'NodeLocal DNS\'s ConfigMap, edited too when it exists (none: skip)' },
  { name: 'cluster-domain', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_DOMAIN', metavar: 'DOMAIN', default: 'cluster.local', help: 'the cluster\'s own domain (NodeLocal DNS\'s block for it is the template)' },
  { name: 'dry-run', kind: 'bool', help: 'print the resulting Corefiles, change nothing' },
];

export interface NamespacedName {
  namespace: string;
  name: string;
}

export interface ForwardAddress {
  ip: string;
  /** Undefined: port 53. */
  port?: number;
}

export interface CorednsConfig {
  action: CorednsAction;
  kubeconfig?: string;
  context?: string;
  /** Explicit forward targets; empty: look up `dnsService`. */
  dnsServiceIps: ForwardAddress[];
  dnsService: NamespacedName;
  zones: string[];
  corednsConfigMap: NamespacedName;
  /** Undefined when NodeLocal DNS is not to be touched (`none`). */
  nodeLocalConfigMap?: NamespacedName;
  clusterDomain: string;
  dryRun: boolean;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function parseNamespacedName(raw: string, what: string): NamespacedName {
  const parts = raw.split('/');
  if (parts.length !== 2 || !NAME.test(parts[0]!) || !NAME.test(parts[1]!)) {
    throw new UsageError(`${what} must be NAMESPACE/NAME, got ${JSON.stringify(raw)}`);
  }
  return { namespace: parts[0]!, name: parts[1]! };
}

/** `IP`, `IP:PORT` (IPv4) or `[IPv6]:PORT`. */
export function parseForwardAddress(raw: string, what: string): ForwardAddress {
  if (isIP(raw) !== 0) return { ip: raw };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:]+):(\d+)$/.exec(raw);
  if (!m || isIP(m[1]!) === 0) throw new UsageError(`${what} must be an IP address, IP:PORT or [IPv6]:PORT, got ${JSON.stringify(raw)}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`${what}: port must be from 1 to 65535, got ${m[2]}`);
  return port === 53 ? { ip: m[1]! } : { ip: m[1]!, port };
}

export function parseCorednsConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { config?: CorednsConfig; help: boolean } {
  const parsed = parseArgs('coredns', argv, COREDNS_FLAGS, env, 1);
  if (parsed.help) return { help: true };
  const action = parsed.positionals[0];
  if (action === undefined) throw new UsageError('coredns: say what to do: clusterset-dns coredns install|uninstall');
  if (!(COREDNS_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`coredns: unknown action ${JSON.stringify(action)}; actions: ${COREDNS_ACTIONS.join(', ')}`);
  }
  const v = parsed.values;
  const zones = (v['zone'] as string[]).map((z) => parseZone(z, '--zone'));
  if (zones.length === 0) throw new UsageError('--zone: at least one zone is required');
  checkZonesDisjoint(zones);
  const nodeLocal = v['nodelocal-configmap'] as string;
  const config: CorednsConfig = {
    action: action as CorednsAction,
    dnsServiceIps: (v['dns-service-ip'] as string[]).map((a) => parseForwardAddress(a, '--dns-service-ip')),
    dnsService: parseNamespacedName(v['dns-service'] as string, '--dns-service'),
    zones,
    corednsConfigMap: parseNamespacedName(v['coredns-configmap'] as string, '--coredns-configmap'),
    clusterDomain: parseZone(v['cluster-domain'] as string, '--cluster-domain'),
    dryRun: v['dry-run'] === true,
  };
  if (nodeLocal !== 'none') config.nodeLocalConfigMap = parseNamespacedName(nodeLocal, '--nodelocal-configmap');
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (v['context'] !== undefined) config.context = v['context'] as string;
  return { help: false, config };
}
