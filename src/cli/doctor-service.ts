/**
 * `clusterset-dns doctor service NAME -n NS`: follows one service along its chain, as `subctl
 * diagnose` does, and says where it breaks: the source ServiceExport and its conditions (in this
 * cluster, when it exports the service), the broker's records and EndpointSlices for it and the
 * exporting clusters' leases, this cluster's ServiceImport and MCS EndpointSlices, and the DNS
 * answer. Checks that need a link that failed are SKIP.
 */
import type { DoctorConfig } from '../config/doctor-config.ts';
import { clusterLiveness } from '../model/liveness.ts';
import type { KubeConfig } from '../kube/client.ts';
import { discoverMcsVersion } from '../kube/client.ts';
import { readBrokerKubeConfig, readConfigMapData, readServiceState } from '../kube/doctor-checks.ts';
import { probeApi, readBrokerService, readDestination, readServiceExport, type BrokerServiceState, type DestinationState } from '../kube/doctor-service-read.ts';
import { probe, QTYPE } from './doctor-probe.ts';
import { fail, messageOf, pass, print, printSummary, runChecks, skip, type PlannedCheck } from './doctor-report.ts';
import { brokerCredentials, type Env } from './kube-credentials.ts';
import type { Io } from './io.ts';


const API = 'API reachable';
const EXPORT = 'source ServiceExport';
const BROKER = 'broker has the service';
const IMPORT = 'ServiceImport here';
const SLICES = 'EndpointSlices here';
const ANSWER = 'DNS answer';

export async function runDoctorService(config: DoctorConfig, ref: { namespace: string; name: string }, kc: KubeConfig, env: Env, io: Io): Promise<number> {
  const key = `${ref.namespace}/${ref.name}`;
  const fqdn = `${ref.name}.${ref.namespace}.svc.${config.zone}`;
  let mcsVersion = 'v1alpha1';
  let brokerState: BrokerServiceState | undefined;
  let destination: DestinationState | undefined;
  let clusterId = config.clusterId;
  const header = { service: key, server: kc.getCurrentCluster()?.server ?? null, zone: config.zone };
  if (config.output === 'text') io.stdout.write(`clusterset-dns doctor service ${key}: from ${header.server ?? '?'}, name ${fqdn}\n`);

  const checks: PlannedCheck[] = [
    {
      title: API,
      needs: [],
      run: async () => {
        try {
          const p = await probeApi(kc, config.timeoutMs);
          mcsVersion = await discoverMcsVersion(kc, config.timeoutMs);
          const settings = await readConfigMapData(kc, { namespace: config.namespace, name: 'clusterset-dns-config' }, config.timeoutMs).catch(() => undefined);
          clusterId ??= settings?.['cluster-id'];
          if (config.brokerNamespace === undefined && settings?.['broker-namespace'] !== undefined) config = { ...config, brokerNamespace: settings['broker-namespace'] };
          return pass(API, `${p.server} (${p.gitVersion}, MCS ${mcsVersion})`);
        } catch (err) {
          return fail(API, messageOf(err), 'check the server address in the kubeconfig (--kubeconfig, --context) and the network path to it');
        }
      },
    },
    {
      title: EXPORT,
      needs: [API],
      run: async () => {
        const e = await readServiceExport(kc, mcsVersion, ref, config.timeoutMs);
        if (!e.found) return skip(EXPORT, `this cluster does not export ${key}; run doctor service against an exporting cluster (--context) to see its conditions`);
        const text = e.conditions.map((c) => `${c.type}=${c.status}(${c.reason})`).join(' ') || 'no conditions yet';
        const bad = e.conditions.find((c) => (c.type === 'Valid' || c.type === 'Ready') && c.status !== 'True');
        if (e.conditions.length === 0) return fail(EXPORT, `${text}: the agent has not processed it`, `is the agent running? kubectl -n ${config.namespace} logs deploy/clusterset-dns-agent`);
        if (bad !== undefined) return fail(EXPORT, `${text}: ${bad.message}`, bad.reason === 'NoService' ? `create the Service ${key} in this cluster` : `kubectl -n ${ref.namespace} describe serviceexport ${ref.name}`);
        const conflict = e.conditions.find((c) => c.type === 'Conflict' && c.status === 'True');
        return pass(EXPORT, `${text}${conflict !== undefined ? ` (exported with a conflict: ${conflict.message})` : ''}`);
      },
    },
    {
      title: BROKER,
      needs: [API],
      run: async () => {
        let broker: KubeConfig | undefined;
        try {
          broker = config.brokerKubeconfig !== undefined || config.brokerContext !== undefined
            ? brokerCredentials(config, env)
            : await readBrokerKubeConfig(kc, { namespace: config.namespace, name: 'clusterset-dns-broker' }, config.timeoutMs);
        } catch (err) {
          return fail(BROKER, messageOf(err), 'pass --broker-kubeconfig FILE or --broker-context NAME');
        }
        if (broker === undefined) return fail(BROKER, `no broker credentials: Secret ${config.namespace}/clusterset-dns-broker not found`, 'pass --broker-kubeconfig FILE or --broker-context NAME');
        const ns = config.brokerNamespace ?? 'clusterset-broker';
        try {
          brokerState = await readBrokerService(broker, ns, ref, config.timeoutMs);
        } catch (err) {
          return fail(BROKER, messageOf(err), 'check the broker credentials and the network path to the broker');
        }
        if (brokerState.records.length === 0) return fail(BROKER, `no cluster's record for ${key} in ${ns}`, 'is it exported (ServiceExport Ready=True) in some cluster, and is that cluster\'s agent running?');
        const now = Date.now();
        const parts = brokerState.records
          .map((r) => {
            const l = clusterLiveness(r.cluster, brokerState!.leases.get(r.cluster), now, 600_000);
            const ep = brokerState!.endpoints.get(r.cluster) ?? { total: 0, ready: 0 };
            return { cluster: r.cluster, fresh: l.state === 'live', text: `${r.cluster} (${l.state === 'live' ? 'lease fresh' : l.reason}, ${ep.ready}/${ep.total} endpoints ready)` };
          })
          .sort((a, b) => (a.cluster < b.cluster ? -1 : 1));
        const stale = parts.filter((p) => !p.fresh);
        if (stale.length === parts.length) return fail(BROKER, `exported by ${parts.map((p) => p.text).join(', ')}: no exporting cluster is fresh`, 'the exporting clusters\' agents are not renewing their leases: check their logs');
        return pass(BROKER, `exported by ${parts.map((p) => p.text).join(', ')}`);
      },
    },
    {
      title: IMPORT,
      needs: [API],
      run: async () => {
        destination = await readDestination(kc, mcsVersion, ref, config.timeoutMs);
        if (!destination.namespaceExists) return fail(IMPORT, `namespace ${ref.namespace} does not exist in this cluster: imports appear only in namespaces that exist here (namespace sameness)`, `kubectl create namespace ${ref.namespace}`);
        if (destination.serviceImport === undefined) return fail(IMPORT, `no ServiceImport ${key}`, `the agent of ${clusterId ?? 'this cluster'} imports it once the broker has it: kubectl -n ${config.namespace} logs deploy/clusterset-dns-agent`);
        const si = destination.serviceImport;
        return pass(IMPORT, `${si.type}${si.ips.length > 0 ? ` VIP ${si.ips.join(',')}` : ''}, clusters ${si.clusters.join(', ') || 'none'}`);
      },
    },
    {
      title: SLICES,
      needs: [IMPORT],
      run: async () => {
        const d = destination!;
        const parts = [...d.slices.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([cluster, e]) => `${cluster}: ${e.ready}/${e.total} ready${e.excludedReason !== undefined ? ` (excluded: ${e.excludedReason})` : ''}`);
        const serving = [...d.slices.values()].some((e) => e.ready > 0 && e.excludedReason === undefined);
        const missing = (d.serviceImport?.clusters ?? []).filter((c) => !d.slices.has(c));
        const detail = `${parts.join('; ') || 'none'}${missing.length > 0 ? `; no slice yet from ${missing.join(', ')}` : ''}`;
        if (!serving) return fail(SLICES, `no cluster has a ready endpoint here: ${detail}`, `clusterset-dns explain ${fqdn}`);
        return pass(SLICES, detail);
      },
    },
    {
      title: ANSWER,
      needs: config.resolver !== undefined || config.dnsServer !== undefined ? [] : [API],
      run: async () => {
        let target = config.resolver ?? config.dnsServer;
        if (target === undefined) {
          const kubeDns = await readServiceState(kc, { namespace: 'kube-system', name: 'kube-dns' }, config.timeoutMs).catch(() => undefined);
          const ip = kubeDns?.clusterIPs[0];
          if (ip === undefined) return skip(ANSWER, 'no resolver to ask: pass --resolver HOST:PORT or --dns-server HOST:PORT');
          target = { host: ip, port: 53 };
        }
        const at = `${target.host}:${target.port}`;
        try {
          const reply = await probe(target, fqdn, QTYPE.A, config.timeoutMs);
          if (reply.rcode === 0 && reply.answers > 0) return pass(ANSWER, `${fqdn} A via ${at}: ${reply.answers} record(s)`);
          return fail(ANSWER, `${fqdn} A via ${at}: ${reply.rcode === 0 ? 'no records (NODATA)' : reply.rcodeName}`, `clusterset-dns explain ${fqdn}`);
        } catch (err) {
          return fail(ANSWER, `${fqdn} A: ${messageOf(err)}`, `is something answering DNS at ${at}?`);
        }
      },
    },
  ];
  const results = await runChecks(checks, (r) => {
    if (config.output === 'text') print(io, r);
  });
  return printSummary(io, results, config, header, true);
}
