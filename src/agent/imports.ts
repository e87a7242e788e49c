/**
 * Pure: the imported state one cluster should hold (ImportedService + one ImportedSlice per source
 * cluster, its own exports included), from every cluster's broker records, endpoints and leases.
 * Stale clusters are kept but excluded (endpoints not ready, with a reason) until a longer GC grace
 * has passed; clusters whose type conflicts with the aggregated service are excluded the same way.
 */
import { serviceKey } from '../model/service-key.ts';
import type { Place } from '../model/snapshot.ts';
import { type ServiceAggregate, aggregateService } from '../model/aggregate.ts';
import type {
  ClusterId,
  ClusterLease,
  ExportEndpoints,
  ExportRecord,
  ImportedService,
  ImportedSlice,
  ServiceRef,
} from '../model/types.ts';
import { type ClusterLiveness, clusterLiveness, nextLivenessChange } from '../model/liveness.ts';


export interface ImportConfig {
  gcGraceMs: number;
  /** Imports exist only in namespaces that exist in the local cluster (as in Lighthouse). */
  namespaceExists: (namespace: string) => boolean;
  /** Clusterset VIPs from a user-provided local ServiceImport. */
  vipFor: (ref: ServiceRef) => readonly string[] | undefined;
  /**
   * This cluster's own view of the data path to another (agent/reachability.ts): why to exclude
   * it, or a note when the fail-safe held its exclusion back. Unset: every cluster is reachable.
   */
  reachability?: (cluster: ClusterId) => { excludedReason?: string; note?: string };
  /** Where a source cluster is (the region and zone it publishes on its lease); {} when unknown. */
  placeOf?: (cluster: ClusterId) => Place;
}

// Liveness lives in model/liveness.ts (shared by both broker stores); re-exported for callers here.
export { type ClusterLiveness, clusterLiveness, nextLivenessChange } from '../model/liveness.ts';

export function importedSliceName(ref: ServiceRef, cluster: ClusterId): string {
  return `${ref.name}-${cluster}`;
}

export interface ServiceImportResult {
  service?: ImportedService;
  slices: ImportedSlice[];
  aggregate?: ServiceAggregate;
}

/** The imports of ONE service. `records`/`endpoints` may hold any clusters, already validated. */
export function computeServiceImport(
  ref: ServiceRef,
  records: readonly ExportRecord[],
  endpoints: readonly ExportEndpoints[],
  liveness: (cluster: ClusterId) => ClusterLiveness,
  cfg: ImportConfig,
): ServiceImportResult {
  if (!cfg.namespaceExists(ref.namespace)) return { slices: [] };
  const present = records.filter((r) => liveness(r.cluster).state !== 'gone');
  const aggregate = aggregateService(present);
  if (aggregate === undefined) return { slices: [] };

  const vip = aggregate.type === 'ClusterSetIP' ? (cfg.vipFor(ref) ?? []) : [];
  const service: ImportedService = {
    namespace: ref.namespace,
    name: ref.name,
    type: aggregate.type,
    ips: [...vip],
    ports: aggregate.ports,
    sessionAffinity: aggregate.sessionAffinity,
    ipFamilies: aggregate.ipFamilies,
    clusters: aggregate.clusters,
  };
  // The DNS server reads only the imported objects: the service's policy and each cluster's
  // weight travel on them.
  if (aggregate.policy !== undefined) service.policy = aggregate.policy;

  const endpointsByCluster = new Map(endpoints.map((e) => [e.cluster, e]));
  const slices: ImportedSlice[] = [];
  for (const record of [...present].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0))) {
    const l = liveness(record.cluster);
    const reasons: string[] = [];
    if (l.state === 'stale' || l.state === 'unknown') reasons.push(l.reason);
    // The same path as a stale lease: the endpoints stay, marked not ready, with the reason.
    const path = cfg.reachability?.(record.cluster);
    if (path?.excludedReason !== undefined) reasons.push(path.excludedReason);
    const typeConflict = aggregate.excluded.get(record.cluster);
    if (typeConflict !== undefined) reasons.push(typeConflict);
    const ep = endpointsByCluster.get(record.cluster);
    const excluded = reasons.length > 0;
    const slice: ImportedSlice = {
      namespace: ref.namespace,
      name: ref.name,
      sourceCluster: record.cluster,
      sliceName: importedSliceName(ref, record.cluster),
      endpoints: (ep?.endpoints ?? []).map((e) => ({ ...e, addresses: [...e.addresses], ready: excluded ? false : e.ready })),
      ports: (ep?.ports ?? record.ports).map((p) => ({ ...p })),
    };
    if (excluded) slice.excludedReason = reasons.join('; ');
    if (path?.note !== undefined) slice.reachabilityNote = path.note;
    if (record.weight !== undefined) slice.weight = record.weight;
    const place = cfg.placeOf?.(record.cluster) ?? {};
    if (place.region !== undefined) slice.region = place.region;
    if (place.zone !== undefined) slice.zone = place.zone;
    slices.push(slice);
  }
  return { service, slices, aggregate };
}

export interface ImportsResult {
  services: ImportedService[];
  slices: ImportedSlice[];
  /** When the result changes next by time alone (a lease expiring or a GC grace ending). */
  nextChangeAt?: number;
}

/** The imports of every service (whole-world form of computeServiceImport). */
export function computeImports(
  records: readonly ExportRecord[],
  endpoints: readonly ExportEndpoints[],
  leases: readonly ClusterLease[],
  now: number,
  cfg: ImportConfig,
): ImportsResult {
  const leaseByCluster = new Map(leases.map((l) => [l.cluster, l]));
  const livenessCache = new Map<ClusterId, ClusterLiveness>();
  const liveness = (cluster: ClusterId): ClusterLiveness => {
    let l = livenessCache.get(cluster);
    if (l === undefined) {
      l = clusterLiveness(cluster, leaseByCluster.get(cluster), now, cfg.gcGraceMs);
      livenessCache.set(cluster, l);
    }
    return l;
  };
  const recordsByService = new Map<string, ExportRecord[]>();
  for (const r of records) {
    const k = serviceKey(r);
    const list = recordsByService.get(k);
    if (list === undefined) recordsByService.set(k, [r]);
    else list.push(r);
  }
  const endpointsByService = new Map<string, ExportEndpoints[]>();
  for (const e of endpoints) {
    const k = serviceKey(e);
    const list = endpointsByService.get(k);
    if (list === undefined) endpointsByService.set(k, [e]);
    else list.push(e);
  }
  const services: ImportedService[] = [];
  const slices: ImportedSlice[] = [];
  for (const k of [...recordsByService.keys()].sort()) {
    const list = recordsByService.get(k)!;
    const first = list[0]!;
    const result = computeServiceImport({ namespace: first.namespace, name: first.name }, list, endpointsByService.get(k) ?? [], liveness, cfg);
    if (result.service !== undefined) services.push(result.service);
    slices.push(...result.slices);
  }
  const nextChangeAt = nextLivenessChange(leases, now, cfg.gcGraceMs);
  return nextChangeAt === undefined ? { services, slices } : { services, slices, nextChangeAt };
}
