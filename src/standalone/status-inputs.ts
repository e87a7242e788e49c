/**
 * What `status` shows about the embedded default, collected from its in-memory objects with the
 * SAME functions production uses: liveness from the broker leases (agent/imports.ts), conflicts
 * from aggregateService over the broker records (as the exporter computes its Conflict condition),
 * and the conditions the exporters wrote on the local cluster's ServiceExports.
 */
import { serviceKey } from '../model/service-key.ts';
import { clusterLiveness } from '../agent/imports.ts';
import { type BrokerView, type LocalClusterStore } from '../agent/stores.ts';
import { aggregateService, type ServiceAggregate } from '../model/aggregate.ts';
import type { ClusterInput, ConflictInput, LocalExportInput } from '../model/status-report.ts';
import type { ClusterId, ExportRecord } from '../model/types.ts';

export interface EmbeddedStatusInputs {
  clusters: ClusterInput[];
  conflicts: ConflictInput[];
  localExports: LocalExportInput[];
}

/** Per service key: the aggregate of every valid, not-gone record (only services with conflicts matter to callers). */
export function aggregatesOf(broker: BrokerView, now: number, gcGraceMs: number): Map<string, ServiceAggregate> {
  const byService = new Map<string, ExportRecord[]>();
  const gone = new Map<ClusterId, boolean>();
  const isGone = (cluster: ClusterId): boolean => {
    let g = gone.get(cluster);
    if (g === undefined) gone.set(cluster, (g = clusterLiveness(cluster, broker.getLease(cluster), now, gcGraceMs).state === 'gone'));
    return g;
  };
  for (const r of broker.listRecords()) {
    // The broker holds only records that passed its validator.
    if (isGone(r.cluster)) continue;
    const k = serviceKey(r);
    const list = byService.get(k);
    if (list === undefined) byService.set(k, [r]);
    else list.push(r);
  }
  const out = new Map<string, ServiceAggregate>();
  for (const [k, records] of byService) {
    const aggregate = aggregateService(records);
    if (aggregate !== undefined) out.set(k, aggregate);
  }
  return out;
}

export function collectStatusInputs(options: {
  broker: BrokerView;
  local: LocalClusterStore;
  /** Every member cluster ID known from the directory (some may have no lease yet). */
  members: readonly ClusterId[];
  now: number;
  gcGraceMs: number;
}): EmbeddedStatusInputs {
  const { broker, now, gcGraceMs } = options;
  const exportsPerCluster = new Map<ClusterId, number>();
  for (const r of broker.listRecords()) exportsPerCluster.set(r.cluster, (exportsPerCluster.get(r.cluster) ?? 0) + 1);
  const ids = new Set<ClusterId>([...options.members, ...broker.listLeases().map((l) => l.cluster), ...exportsPerCluster.keys()]);
  const clusters = [...ids].sort().map((id): ClusterInput => {
    const lease = broker.getLease(id);
    const liveness = clusterLiveness(id, lease, now, gcGraceMs);
    const state = liveness.state === 'live' ? 'fresh' : liveness.state;
    const input: ClusterInput = { id, state, exports: exportsPerCluster.get(id) ?? 0 };
    if (liveness.state !== 'live') input.reason = liveness.reason;
    if (lease !== undefined) {
      input.renewedAt = lease.renewedAt;
      input.leaseDurationMs = lease.durationMs;
    }
    return input;
  });
  const conflicts: ConflictInput[] = [];
  for (const a of aggregatesOf(broker, now, gcGraceMs).values()) {
    if (a.conflicts.length > 0) conflicts.push({ namespace: a.namespace, name: a.name, winner: a.winner, reasons: [...a.conflicts], details: [...a.details] });
  }
  const localExports = options.local
    .listServiceExports()
    .map((e) => ({ namespace: e.namespace, name: e.name, conditions: (options.local.getExportConditions(e) ?? []).map((c) => ({ ...c })) }))
    .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
  return { clusters, conflicts, localExports };
}
