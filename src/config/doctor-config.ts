/** The `doctor` command's flags (each with an environment equivalent) and its validated config. */
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import type { ListenAddress } from './options.ts';
import { DEFAULT_DNS_SERVICE, parseNamespacedName, type NamespacedName } from './coredns-config.ts';
import { parseClusterId, parseListen, parseZone } from './validate.ts';
import { BROKER_CONTEXT_FLAG, CONTEXT_FLAG } from './kube-flags.ts';

export const DOCTOR_FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_KUBECONFIG', metavar: 'FILE', help: 'kubeconfig of the member cluster to check (default: $KUBECONFIG, ~/.kube/config, in a pod its service account)' },
  CONTEXT_FLAG,
  { name: 'namespace', kind: 'string', env: 'CLUSTERSET_DNS_NAMESPACE', metavar: 'NS', default: 'clusterset-dns-system', help: 'namespace the agent and DNS server run in (ConfigMap clusterset-dns-config, Secret clusterset-dns-broker)' },
  { name: 'cluster-id', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_ID', metavar: 'ID', help: 'this cluster\'s ID (default: key cluster-id of ConfigMap NS/clusterset-dns-config)' },
  { name: 'broker-kubeconfig', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_KUBECONFIG', metavar: 'FILE', help: 'broker credentials (default: the agent\'s own, key kubeconfig of Secret NS/clusterset-dns-broker)' },
  BROKER_CONTEXT_FLAG,
  { name: 'broker-namespace', kind: 'string', env: 'CLUSTERSET_DNS_BROKER_NAMESPACE', metavar: 'NS', help: 'broker namespace (default: key broker-namespace of the ConfigMap, else clusterset-broker)' },
  { name: 'dns-service', kind: 'string', env: 'CLUSTERSET_DNS_SERVICE', metavar: 'NS/NAME', default: DEFAULT_DNS_SERVICE, help: 'the DNS server\'s Service' },
  { name: 'dns-server', kind: 'string', env: 'CLUSTERSET_DNS_DOCTOR_DNS_SERVER', metavar: 'HOST:PORT', help: 'ask this DNS server directly instead of judging the Service\'s endpoints' },
  { name: 'resolver', kind: 'string', env: 'CLUSTERSET_DNS_DOCTOR_RESOLVER', metavar: 'HOST:PORT', help: 'where the test query goes, as a pod would ask (default: --dns-server, else the kube-system/kube-dns Service IP, reachable from inside the cluster)' },
  { name: 'coredns-configmap', kind: 'string', env: 'CLUSTERSET_DNS_COREDNS_CONFIGMAP', metavar: 'NS/NAME', default: 'kube-system/coredns', help: 'the cluster CoreDNS\'s ConfigMap (key Corefile)' },
  { name: 'nodelocal-configmap', kind: 'string', env: 'CLUSTERSET_DNS_NODELOCAL_CONFIGMAP', metavar: 'NS/NAME|none', default: 'kube-system/node-local-dns', help: 'NodeLocal DNS\'s ConfigMap, checked when it exists (none: skip)' },
  { name: 'zone', kind: 'string', env: 'CLUSTERSET_DNS_DOCTOR_ZONE', metavar: 'ZONE', default: 'clusterset.local', help: 'the clusterset zone' },
  { name: 'name', kind: 'string', env: 'CLUSTERSET_DNS_DOCTOR_NAME', metavar: 'NAME', help: 'exported name for the test query (default: the first ServiceImport, else dns-version.ZONE TXT)' },
  { name: 'timeout', kind: 'int', env: 'CLUSTERSET_DNS_DOCTOR_TIMEOUT', metavar: 'SECONDS', min: 1, max: 120, default: 5, help: 'bound on each API call and DNS query' },
  { name: 'output', short: 'o', kind: 'enum', env: 'CLUSTERSET_DNS_DOCTOR_OUTPUT', metavar: 'FORMAT', choices: ['text', 'json'], default: 'text', help: 'text, or json (every check with status, detail and fix)' },
  { name: 'service-namespace', short: 'n', kind: 'string', env: 'CLUSTERSET_DNS_DOCTOR_SERVICE_NAMESPACE', metavar: 'NS', help: 'doctor service NAME: the service\'s namespace (required there)' },
];

export interface DoctorConfig {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  clusterId?: string;
  brokerKubeconfig?: string;
  brokerContext?: string;
  brokerNamespace?: string;
  dnsService: NamespacedName;
  dnsServer?: ListenAddress;
  resolver?: ListenAddress;
  corednsConfigMap: NamespacedName;
  nodeLocalConfigMap?: NamespacedName;
  zone: string;
  name?: string;
  timeoutMs: number;
  output: 'text' | 'json';
  /** `doctor service NAME -n NS`: follow one service's chain instead of the cluster's. */
  service?: { namespace: string; name: string };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespace(raw: string, what: string): string {
  if (!DNS_LABEL.test(raw)) throw new UsageError(`${what} must be a namespace name (a DNS label), got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseDoctorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { config?: DoctorConfig; help: boolean } {
  const parsed = parseArgs('doctor', argv, DOCTOR_FLAGS, env, 2);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  const config: DoctorConfig = {
    namespace: namespace(v['namespace'] as string, '--namespace'),
    dnsService: parseNamespacedName(v['dns-service'] as string, '--dns-service'),
    corednsConfigMap: parseNamespacedName(v['coredns-configmap'] as string, '--coredns-configmap'),
    zone: parseZone(v['zone'] as string, '--zone'),
    timeoutMs: (v['timeout'] as number) * 1000,
    output: v['output'] as 'text' | 'json',
  };
  const [sub, serviceName, ...extra] = parsed.positionals;
  if (sub !== undefined) {
    if (sub !== 'service' || extra.length > 0) throw new UsageError(`doctor: unknown argument ${JSON.stringify(sub)}; use "doctor" or "doctor service NAME -n NS"`);
    if (serviceName === undefined) throw new UsageError('doctor service: NAME is required, e.g. clusterset-dns doctor service web -n shop');
    if (v['service-namespace'] === undefined) throw new UsageError('doctor service: -n NS (the service\'s namespace) is required');
    config.service = { namespace: namespace(v['service-namespace'] as string, '-n'), name: namespace(serviceName, 'NAME') };
  }
  if (v['kubeconfig'] !== undefined) config.kubeconfig = v['kubeconfig'] as string;
  if (v['context'] !== undefined) config.context = v['context'] as string;
  if (v['broker-context'] !== undefined) config.brokerContext = v['broker-context'] as string;
  if (v['cluster-id'] !== undefined) config.clusterId = parseClusterId(v['cluster-id'] as string, '--cluster-id');
  if (v['broker-kubeconfig'] !== undefined) config.brokerKubeconfig = v['broker-kubeconfig'] as string;
  if (v['broker-namespace'] !== undefined) config.brokerNamespace = namespace(v['broker-namespace'] as string, '--broker-namespace');
  if (v['dns-server'] !== undefined) config.dnsServer = parseListen(v['dns-server'] as string, '--dns-server');
  if (v['resolver'] !== undefined) config.resolver = parseListen(v['resolver'] as string, '--resolver');
  const nodeLocal = v['nodelocal-configmap'] as string;
  if (nodeLocal !== 'none') config.nodeLocalConfigMap = parseNamespacedName(nodeLocal, '--nodelocal-configmap');
  if (v['name'] !== undefined) {
    const name = (v['name'] as string).toLowerCase().replace(/\.$/, '');
    if (!name.endsWith(`.${config.zone}`)) throw new UsageError(`--name ${name} is not inside --zone ${config.zone}`);
    config.name = name;
  }
  return { help: false, config };
}
