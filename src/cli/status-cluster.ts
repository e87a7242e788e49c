/**
 * `status` against a real cluster: the member cluster's imports and exports, the broker's leases and
 * records (with the agent's own broker credentials unless --broker-kubeconfig/--broker-context are
 * given), turned into the same report `serve` produces. Liveness and conflicts use the agent's
 * own functions (clusterLiveness, aggregateService), answers the DNS server's selection code.
 */
import { clusterLiveness } from '../model/liveness.ts';
import { DEFAULT_DNS_OPTIONS } from '../config/options.ts';
import type { StatusConfig } from '../config/status-config.ts';
import type { KubeConfig } from '../kube/client.ts';
import { describeApiError, discoverMcsVersion } from '../kube/client.ts';
import { readBrokerKubeConfig, readConfigMapData } from '../kube/doctor-checks.ts';
import { readBrokerForStatus, readMemberForStatus, type BrokerReadout } from '../kube/status-read.ts';
import { aggregateService } from '../model/aggregate.ts';
import { buildSnapshot } from '../model/snapshot-build.ts';
import { buildStatusReport, type ClusterInput, type ConflictInput, type StatusReport } from '../model/status-report.ts';
import type { ExportRecord } from '../model/types.ts';
import { brokerCredentials, clusterCredentials, type Env } from './kube-credentials.ts';
import { StatusSourceError } from './status-error.ts';

/** The agent's default --gc-grace: past it a stale cluster counts as gone. */
const GC_GRACE_MS = 600_000;

async function brokerConfig(config: StatusConfig, kc: KubeConfig, env: Env): Promise<KubeConfig | Error> {
  try {
    if (config.brokerKubeconfig !== undefined || config.brokerContext !== undefined) return brokerCredentials(config, env);
    const secret = { namespace: config.systemNamespace, name: 'clusterset-dns-broker' };
    return (await readBrokerKubeConfig(kc, secret, config.timeoutMs)) ?? new Error(`no broker credentials: Secret ${secret.namespace}/${secret.name} not found; pass --broker-kubeconfig or --broker-context`);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export async function readClusterStatus(config: StatusConfig, env: Env): Promise<StatusReport> {
  const kc = clusterCredentials(config, env);
  const server = kc.getCurrentCluster()?.server ?? '(unknown)';
  let mcsVersion: string;
  try {
    mcsVersion = await discoverMcsVersion(kc, config.timeoutMs);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    throw new StatusSourceError(`cannot read the cluster at ${server}: ${describeApiError(err)}${cause}`);
  }
  const settings = await readConfigMapData(kc, { namespace: config.systemNamespace, name: 'clusterset-dns-config' }, config.timeoutMs).catch(() => undefined);
  const clusterId = config.clusterId ?? settings?.['cluster-id'];
  if (clusterId === undefined) {
    throw new StatusSourceError(`cluster ID unknown: pass --cluster-id ID (no key cluster-id in ConfigMap ${config.systemNamespace}/clusterset-dns-config)`);
  }
  const brokerNamespace = config.brokerNamespace ?? settings?.['broker-namespace'] ?? 'clusterset-broker';
  let member;
  try {
    member = await readMemberForStatus(kc, mcsVersion, config.timeoutMs);
  } catch (err) {
    throw new StatusSourceError(`cannot read the cluster at ${server}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const broker = await brokerConfig(config, kc, env);
  let readout: BrokerReadout | Error;
  if (broker instanceof Error) readout = broker;
  else readout = await readBrokerForStatus(broker, brokerNamespace, config.timeoutMs).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

  const now = Date.now();
  const snapshot = buildSnapshot(member.state, clusterId, 1, now);
  const clusters: ClusterInput[] = [];
  const conflicts: ConflictInput[] = [];
  if (readout instanceof Error) {
    // Without the broker the clusters are those the imports name; their liveness is unknown.
    const ids = new Set<string>([clusterId, ...member.state.slices.map((s) => s.sourceCluster)]);
    for (const id of [...ids].sort()) clusters.push({ id, state: 'unknown', reason: `broker not read: ${readout.message}`, exports: member.state.slices.filter((s) => s.sourceCluster === id).length });
  } else {
    const perCluster = new Map<string, number>();
    const byService = new Map<string, ExportRecord[]>();
    for (const r of readout.records) {
      perCluster.set(r.cluster, (perCluster.get(r.cluster) ?? 0) + 1);
      const k = `${r.namespace}/${r.name}`;
      byService.set(k, [...(byService.get(k) ?? []), r]);
    }
    const leases = new Map(readout.leases.map((l) => [l.cluster, l]));
    const ids = new Set<string>([clusterId, ...leases.keys(), ...perCluster.keys()]);
    for (const id of [...ids].sort()) {
      const lease = leases.get(id);
      const l = clusterLiveness(id, lease, now, GC_GRACE_MS);
      const input: ClusterInput = { id, state: l.state === 'live' ? 'fresh' : l.state, exports: perCluster.get(id) ?? 0 };
      if (l.state !== 'live') input.reason = l.reason;
      if (lease !== undefined) {
        input.renewedAt = lease.renewedAt;
        input.leaseDurationMs = lease.durationMs;
      }
      clusters.push(input);
    }
    for (const records of byService.values()) {
      const present = records.filter((r) => clusterLiveness(r.cluster, leases.get(r.cluster), now, GC_GRACE_MS).state !== 'gone');
      const a = aggregateService(present);
      if (a !== undefined && a.conflicts.length > 0) conflicts.push({ namespace: a.namespace, name: a.name, winner: a.winner, reasons: [...a.conflicts], details: [...a.details] });
    }
  }
  const problems: Array<{ severity: 'warning' | 'error'; file: string; text: string }> = [];
  if (member.invalid > 0) problems.push({ severity: 'warning', file: server, text: `${member.invalid} ServiceImport/EndpointSlice object(s) could not be read and are left out` });
  return buildStatusReport(
    {
      snapshot,
      selection: { policy: DEFAULT_DNS_OPTIONS.policy, panicMode: DEFAULT_DNS_OPTIONS.panicMode },
      clusters,
      conflicts,
      localExports: member.localExports,
      problems,
      source: 'cluster',
      now,
    },
    { ...(config.namespace === undefined ? {} : { namespace: config.namespace }), ...(config.service === undefined ? {} : { service: config.service }) },
  );
}
