/**
 * `clusterset-dns doctor`: walks one cluster's resolution chain in order (CRDs → agent lease on the
 * broker → broker reachable with the agent's credentials → DNS server ready → CoreDNS forwards the
 * zone to the DNS Service → NodeLocal DNS forwards it too → an exported name answers) and prints
 * PASS/FAIL/SKIP with a one-line fix for each failure. Exit code 1 when anything failed.
 *
 * The broker is found the way the agent finds it: the kubeconfig in the agent's Secret
 * (NS/clusterset-dns-broker, key kubeconfig), so the broker checks use the agent's own credentials;
 * --broker-kubeconfig overrides that. The cluster ID and broker namespace come from the agent's
 * ConfigMap (NS/clusterset-dns-config) unless given as flags.
 */
import { formatFlags } from '../config/flags.ts';
import { DOCTOR_FLAGS, parseDoctorConfig, type DoctorConfig } from '../config/doctor-config.ts';
import type { ListenAddress } from '../config/options.ts';
import { CorefileSyntaxError, zoneRouting } from '../corefile/index.ts';
import type { KubeConfig } from '../kube/client.ts';
import { brokerCredentials, clusterCredentials } from './kube-credentials.ts';
import { readCorefile, type ObjectRef } from '../kube/coredns-configmap.ts';
import {
  ApiCallError,
  firstServiceImport,
  probeBroker,
  readBrokerKubeConfig,
  readClusterLease,
  readConfigMapData,
  readCrdStatus,
  probeApi,
  readServiceState,
  type LeaseState,
  type ServiceState,
} from '../kube/doctor-checks.ts';
import { probe, QTYPE, type ProbeReply } from './doctor-probe.ts';
import { runDoctorService } from './doctor-service.ts';
import { fail, messageOf, pass, print, printSummary, runChecks, skip, type CheckResult, type PlannedCheck } from './doctor-report.ts';

export type { CheckResult, CheckStatus } from './doctor-report.ts';
import type { Io } from './io.ts';


const DOCTOR_HELP = `Usage: clusterset-dns doctor [--kubeconfig FILE] [--context NAME] [--cluster-id ID] [-o text|json] [flags]
       clusterset-dns doctor service NAME -n NS [flags]

Checks, in the order a query travels, that this member cluster can resolve clusterset names:
  0. API reachable        this cluster's API server answers (the address and network error if not)
  1. CRDs installed       serviceexports and serviceimports (multicluster.x-k8s.io) are served
  2. broker reachable     with the agent's credentials (Secret NS/clusterset-dns-broker, or --broker-kubeconfig)
  3. agent lease fresh    the cluster's heartbeat Lease on the broker was renewed within its duration
  4. DNS server ready     its Service has ready endpoints (or --dns-server answers SOA for the zone)
  5. CoreDNS routes zone  the Corefile forwards the zone to the DNS Service's IP
  6. NodeLocal DNS        forwards the zone too (skipped when NodeLocal DNS is not installed)
  7. test query           an exported name answers (through --resolver, --dns-server or kube-dns)
A check whose prerequisite failed is SKIP, so one cause is one FAIL. Each failure prints a fix.
"doctor service NAME -n NS" follows one service instead: the source ServiceExport and its
conditions, the broker's records, EndpointSlices and leases for it, this cluster's ServiceImport
and MCS EndpointSlices, and the DNS answer, and says where the chain breaks.
Exit code 1 when any check fails.

Flags:
${formatFlags(DOCTOR_FLAGS)}`;

/** Pure: is the lease fresh at `now`? */
export function leaseVerdict(lease: LeaseState, now: number): { fresh: boolean; detail: string } {
  const where = `Lease ${lease.namespace}/${lease.name}`;
  if (lease.renewedAt === undefined) return { fresh: false, detail: `${where} has never been renewed` };
  const ageS = Math.max(0, Math.round((now - lease.renewedAt.getTime()) / 1000));
  const duration = lease.durationSeconds ?? 0;
  const fresh = now - lease.renewedAt.getTime() <= duration * 1000;
  return { fresh, detail: `${where} renewed ${ageS}s ago (duration ${duration}s)` };
}

/** Pure: the IP a `forward` target points at, when it is plain DNS on port 53. */
export function forwardIp(target: string): string | undefined {
  const t = target.replace(/^dns:\/\//, '');
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracketed) return bracketed[2] === undefined || bracketed[2] === '53' ? bracketed[1] : undefined;
  const v4 = /^([0-9.]+)(?::(\d+))?$/.exec(t);
  if (v4) return v4[2] === undefined || v4[2] === '53' ? v4[1] : undefined;
  return t.includes(':') && !t.includes('/') ? t : undefined; // bare IPv6
}

interface Context {
  config: DoctorConfig;
  kc: KubeConfig;
  clusterId: string | undefined;
  brokerNamespace: string;
  /** The broker credentials, or why there are none. */
  broker: KubeConfig | Error;
  dnsService: ServiceState | Error;
  mcsVersion: string | undefined;
}

const refText = (ref: ObjectRef) => `${ref.namespace}/${ref.name}`;
const addrText = (a: ListenAddress) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

function apiFix(err: unknown, what: string): string {
  const status = err instanceof ApiCallError ? err.status : undefined;
  if (status === 401) return `${what}: the credentials were rejected; renew the token in the kubeconfig`;
  if (status === 403) return `${what}: not authorized; check the RBAC bindings (manifests/overlays)`;
  return `${what}: check the server address in the kubeconfig and the network path to it`;
}

async function checkCrds(ctx: Context): Promise<CheckResult> {
  const title = 'CRDs installed';
  try {
    const crds = await readCrdStatus(ctx.kc, ctx.config.timeoutMs);
    const missing = crds.filter((c) => !c.found).map((c) => c.name);
    if (missing.length > 0) return fail(title, `missing ${missing.join(', ')}`, 'kubectl apply -k manifests/overlays/member (or manifests/base for the CRDs only)');
    const notReady = crds.filter((c) => !c.established).map((c) => c.name);
    if (notReady.length > 0) return fail(title, `${notReady.join(', ')} not Established`, 'kubectl describe crd ' + notReady.join(' '));
    const unusable = crds.filter((c) => !c.servedVersions.some((v) => v === 'v1beta1' || v === 'v1alpha1'));
    if (unusable.length > 0) return fail(title, `${unusable.map((c) => c.name).join(', ')} serve neither v1beta1 nor v1alpha1`, 'apply the CRDs from manifests/crds');
    const versions = [...new Set(crds.flatMap((c) => c.servedVersions))].sort();
    ctx.mcsVersion = versions.includes('v1beta1') ? 'v1beta1' : 'v1alpha1';
    return pass(title, `${crds.map((c) => c.name.split('.')[0]).join(', ')} (served ${versions.join(', ')})`);
  } catch (err) {
    return fail(title, messageOf(err), apiFix(err, 'this cluster'));
  }
}

async function checkLease(ctx: Context): Promise<CheckResult> {
  const title = 'agent lease fresh';
  if (ctx.clusterId === undefined) {
    return fail(title, `cluster ID unknown (no --cluster-id, no key cluster-id in ConfigMap ${ctx.config.namespace}/clusterset-dns-config)`, 'pass --cluster-id ID, or deploy manifests/overlays/member with this cluster\'s ID');
  }
  if (ctx.broker instanceof Error) return fail(title, ctx.broker.message, brokerCredentialsFix(ctx));
  try {
    const lease = await readClusterLease(ctx.broker, ctx.brokerNamespace, ctx.clusterId, ctx.config.timeoutMs);
    if (lease.renewedAt === undefined && lease.durationSeconds === undefined) {
      return fail(title, `no Lease ${lease.namespace}/${lease.name} on the broker: the agent of ${ctx.clusterId} never reached it`, agentLogsFix(ctx));
    }
    const verdict = leaseVerdict(lease, Date.now());
    return verdict.fresh ? pass(title, verdict.detail) : fail(title, `${verdict.detail}: ${ctx.clusterId} counts as stale for every other cluster`, agentLogsFix(ctx));
  } catch (err) {
    return fail(title, `cannot read the lease: ${messageOf(err)}`, 'see "broker reachable" below');
  }
}

function agentLogsFix(ctx: Context): string {
  return `is the agent running and reaching the broker? kubectl -n ${ctx.config.namespace} logs deploy/clusterset-dns-agent`;
}

function brokerCredentialsFix(ctx: Context): string {
  return `kubectl -n ${ctx.config.namespace} create secret generic clusterset-dns-broker --from-file=kubeconfig=<this cluster's broker kubeconfig> (or pass --broker-kubeconfig)`;
}

async function checkBroker(ctx: Context): Promise<CheckResult> {
  const title = 'broker reachable';
  if (ctx.broker instanceof Error) return fail(title, ctx.broker.message, brokerCredentialsFix(ctx));
  try {
    const probed = await probeBroker(ctx.broker, ctx.brokerNamespace, ctx.config.timeoutMs);
    return pass(title, `${probed.server} (${probed.gitVersion}), ${probed.leases} cluster lease(s) visible in ${ctx.brokerNamespace}`);
  } catch (err) {
    return fail(title, messageOf(err), apiFix(err, 'the broker'));
  }
}

async function checkDnsServer(ctx: Context): Promise<CheckResult> {
  const title = 'DNS server ready';
  const { config } = ctx;
  if (config.dnsServer !== undefined) {
    const at = addrText(config.dnsServer);
    let reply: ProbeReply;
    try {
      reply = await probe(config.dnsServer, config.zone, QTYPE.SOA, config.timeoutMs);
    } catch (err) {
      return fail(title, messageOf(err), `is the DNS server running at ${at}? (clusterset-dns dns --listen ${at})`);
    }
    if (reply.rcode === 0 && reply.answers > 0) return pass(title, `${at} answers SOA for ${config.zone}${reply.authoritative ? ' (authoritative)' : ''}`);
    if (reply.rcode === 2) return fail(title, `${at} answers SERVFAIL: it has not synced its first state yet`, 'wait, then check its logs: the API server must be reachable with its credentials');
    if (reply.rcode === 5) return fail(title, `${at} refuses ${config.zone}: it does not serve that zone`, `start it with --zone ${config.zone}`);
    return fail(title, `${at} answers ${reply.rcodeName} with ${reply.answers} record(s) for SOA ${config.zone}`, `run: clusterset-dns explain ${config.zone} --type SOA`);
  }
  const svc = ctx.dnsService;
  if (svc instanceof Error) return fail(title, svc.message, apiFix(svc, 'this cluster'));
  if (!svc.found) return fail(title, `Service ${refText(config.dnsService)} not found`, 'kubectl apply -k manifests/overlays/member (or pass --dns-service NS/NAME)');
  if (svc.readyAddresses.length === 0) {
    return fail(title, `Service ${refText(config.dnsService)} has no ready endpoints`, `kubectl -n ${config.dnsService.namespace} get pods -l app.kubernetes.io/component=dns-server (a server is ready once it has synced)`);
  }
  return pass(title, `${svc.readyAddresses.length} ready endpoint(s) behind ${refText(config.dnsService)} (${svc.clusterIPs.join(', ')})`);
}

async function checkCorefile(ctx: Context, title: string, ref: ObjectRef, flavor: 'coredns' | 'nodelocal'): Promise<CheckResult> {
  const { config } = ctx;
  let corefile: string | undefined;
  try {
    corefile = await readCorefile(ctx.kc, ref);
  } catch (err) {
    return fail(title, messageOf(err), apiFix(err, 'this cluster'));
  }
  if (corefile === undefined) {
    if (flavor === 'nodelocal') return skip(title, `no ConfigMap ${refText(ref)}: NodeLocal DNS is not installed`);
    return fail(title, `ConfigMap ${refText(ref)} not found`, 'is this cluster\'s DNS CoreDNS? pass --coredns-configmap NS/NAME');
  }
  const svc = ctx.dnsService;
  if (svc instanceof Error || !svc.found || svc.clusterIPs.length === 0) {
    return fail(title, `cannot compare: the DNS Service ${refText(config.dnsService)} ${svc instanceof Error ? `could not be read (${svc.message})` : 'has no ClusterIP'}`, 'see "DNS server ready" above');
  }
  let routing;
  try {
    routing = zoneRouting(corefile, config.zone);
  } catch (err) {
    if (err instanceof CorefileSyntaxError) return fail(title, `the Corefile of ${refText(ref)} does not parse: ${err.message}`, `kubectl -n ${ref.namespace} edit configmap ${ref.name}`);
    throw err;
  }
  const install = `clusterset-dns coredns install${config.kubeconfig !== undefined ? ` --kubeconfig ${config.kubeconfig}` : ''} --dns-service ${refText(config.dnsService)}`;
  if (routing.upstreams.length === 0) {
    const where = flavor === 'nodelocal' ? 'to the node\'s upstream resolvers' : 'to the root block, which cannot answer it';
    return fail(title, `${refText(ref)} has no server block for ${config.zone}: its queries go ${where}`, install);
  }
  const ips = routing.upstreams.map(forwardIp);
  const hits = svc.clusterIPs.filter((ip) => ips.includes(ip));
  const viaClusterDns = flavor === 'nodelocal' && routing.upstreams.includes('__PILLAR__CLUSTER__DNS__');
  if (hits.length === 0 && !viaClusterDns) {
    return fail(title, `${refText(ref)} forwards ${config.zone} to ${routing.upstreams.join(' ')}, but the DNS Service's IP is ${svc.clusterIPs.join(', ')}`, install);
  }
  const how = viaClusterDns && hits.length === 0 ? 'the cluster DNS (which forwards it on)' : hits.join(', ');
  return pass(title, `${refText(ref)} forwards ${config.zone} to ${how}${routing.managed ? '' : ' (a block not managed by clusterset-dns)'} (line ${routing.line ?? '?'})`);
}

async function checkQuery(ctx: Context): Promise<CheckResult> {
  const title = 'test query';
  const { config } = ctx;
  let name = config.name;
  let qtype: number = QTYPE.A;
  let typeName = 'A';
  if (name === undefined) {
    try {
      const first = ctx.mcsVersion === undefined ? undefined : await firstServiceImport(ctx.kc, ctx.mcsVersion, config.timeoutMs);
      if (first !== undefined) name = `${first.name}.${first.namespace}.svc.${config.zone}`;
    } catch {
      /* fall back to dns-version below */
    }
  }
  if (name === undefined) {
    name = `dns-version.${config.zone}`;
    qtype = QTYPE.TXT;
    typeName = 'TXT';
  }
  let target = config.resolver ?? config.dnsServer;
  if (target === undefined) {
    const kubeDns = await readServiceState(ctx.kc, { namespace: 'kube-system', name: 'kube-dns' }, config.timeoutMs).catch(() => undefined);
    const ip = kubeDns?.clusterIPs[0];
    if (ip === undefined) return fail(title, 'no resolver to ask: kube-system/kube-dns has no ClusterIP', 'pass --resolver HOST:PORT (the cluster DNS as pods reach it) or --dns-server HOST:PORT');
    target = { host: ip, port: 53 };
  }
  const at = addrText(target);
  let reply: ProbeReply;
  try {
    reply = await probe(target, name, qtype, config.timeoutMs);
  } catch (err) {
    return fail(title, `${name} ${typeName}: ${messageOf(err)}`, config.resolver === undefined && config.dnsServer === undefined ? 'the kube-dns Service IP is only reachable inside the cluster: run doctor in a pod, or pass --resolver HOST:PORT' : `is something answering DNS at ${at}?`);
  }
  if (reply.rcode === 0 && (reply.answers > 0 || reply.truncated)) {
    return pass(title, `${name} ${typeName} via ${at}: ${reply.answers} record(s)${reply.truncated ? ' (truncated over UDP)' : ''}`);
  }
  const explain = `clusterset-dns explain ${name} --type ${typeName}`;
  if (reply.rcode === 3) return fail(title, `${name} ${typeName} via ${at}: NXDOMAIN`, `is the service exported (ServiceExport) and its namespace present in this cluster? ${explain}`);
  if (reply.rcode === 0) return fail(title, `${name} ${typeName} via ${at}: no records (NODATA)`, `no healthy cluster or endpoint? ${explain}`);
  if (reply.rcode === 2) return fail(title, `${name} ${typeName} via ${at}: SERVFAIL`, 'the DNS server has not synced, or CoreDNS cannot reach it: see the checks above');
  return fail(title, `${name} ${typeName} via ${at}: ${reply.rcodeName}`, explain);
}

async function checkApi(ctx: Context): Promise<CheckResult> {
  const title = API_CHECK;
  try {
    const probed = await probeApi(ctx.kc, ctx.config.timeoutMs);
    return pass(title, `${probed.server} (${probed.gitVersion})`);
  } catch (err) {
    return fail(title, messageOf(err), apiFix(err, 'this cluster'));
  }
}

const API_CHECK = 'API reachable';
const BROKER_CHECK = 'broker reachable';

export async function runDoctor(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const parsed = parseDoctorConfig(argv, env);
  if (parsed.help || parsed.config === undefined) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  const config = parsed.config;
  const kc = clusterCredentials(config, env);
  if (config.service !== undefined) return runDoctorService(config, config.service, kc, env, io);
  const settingsRef = { namespace: config.namespace, name: 'clusterset-dns-config' };
  // With the API down these reads fail fast; their checks are SKIP behind "API reachable".
  const apiUp = await probeApi(kc, config.timeoutMs).then(() => true, () => false);
  const settings = apiUp ? await readConfigMapData(kc, settingsRef, config.timeoutMs).catch(() => undefined) : undefined;

  let broker: KubeConfig | Error;
  try {
    if (config.brokerKubeconfig !== undefined || config.brokerContext !== undefined) {
      broker = brokerCredentials(config, env);
    } else if (!apiUp) {
      broker = new Error('the broker credentials are in a Secret of this cluster, whose API is unreachable');
    } else {
      const secret = { namespace: config.namespace, name: 'clusterset-dns-broker' };
      broker = (await readBrokerKubeConfig(kc, secret, config.timeoutMs)) ?? new Error(`no broker credentials: Secret ${refText(secret)} not found (the agent cannot start without it)`);
    }
  } catch (err) {
    broker = err instanceof Error ? err : new Error(String(err));
  }
  const ctx: Context = {
    config,
    kc,
    clusterId: config.clusterId ?? settings?.['cluster-id'],
    brokerNamespace: config.brokerNamespace ?? settings?.['broker-namespace'] ?? 'clusterset-broker',
    broker,
    dnsService: apiUp
      ? await readServiceState(kc, config.dnsService, config.timeoutMs).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
      : new Error('the API is unreachable'),
    mcsVersion: undefined,
  };

  const header = { cluster: ctx.clusterId ?? null, server: kc.getCurrentCluster()?.server ?? null, zone: config.zone };
  if (config.output === 'text') io.stdout.write(`clusterset-dns doctor: cluster ${ctx.clusterId ?? '(unknown ID)'} at ${header.server ?? '?'}, zone ${config.zone}\n`);
  const direct = config.dnsServer !== undefined;
  const checks: PlannedCheck[] = [
    { title: API_CHECK, needs: [], run: () => checkApi(ctx) },
    { title: 'CRDs installed', needs: [API_CHECK], run: () => checkCrds(ctx) },
    { title: BROKER_CHECK, needs: config.brokerKubeconfig !== undefined || config.brokerContext !== undefined ? [] : [API_CHECK], run: () => checkBroker(ctx) },
    // An unknown cluster ID is its own failure, whatever the broker does.
    { title: 'agent lease fresh', needs: ctx.clusterId === undefined ? [] : [BROKER_CHECK], run: () => checkLease(ctx) },
    { title: 'DNS server ready', needs: direct ? [] : [API_CHECK], run: () => checkDnsServer(ctx) },
    { title: 'CoreDNS routes the zone', needs: [API_CHECK], run: () => checkCorefile(ctx, 'CoreDNS routes the zone', config.corednsConfigMap, 'coredns') },
    {
      title: 'NodeLocal DNS forwards the zone',
      needs: config.nodeLocalConfigMap === undefined ? [] : [API_CHECK],
      run: () => (config.nodeLocalConfigMap === undefined ? Promise.resolve(skip('NodeLocal DNS forwards the zone', 'not checked (--nodelocal-configmap none)')) : checkCorefile(ctx, 'NodeLocal DNS forwards the zone', config.nodeLocalConfigMap, 'nodelocal')),
    },
    { title: 'test query', needs: config.resolver !== undefined || direct ? [] : [API_CHECK], run: () => checkQuery(ctx) },
  ];
  const results = await runChecks(checks, (r) => {
    if (config.output === 'text') print(io, r);
  });
  return printSummary(io, results, config, header);
}
