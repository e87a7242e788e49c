/**
 * The DNS server's read model: an immutable snapshot of every imported service, rebuilt (or
 * patched) when the imported state changes. The DNS room answers only from this.
 */
import type { Place, PolicyName } from './traffic-policy.ts';

export type { Place } from './traffic-policy.ts';
import type { ClusterId, Endpoint, ImportType, ServicePort } from './types.ts';

/** One source cluster's backends for one service, merged across that cluster's MCS slices. */
export interface ClusterBackend {
  cluster: ClusterId;
  /** ClusterSetIP: one endpoint holding the cluster's service IPs. Headless: the pods. */
  endpoints: Endpoint[];
  ports: ServicePort[];
  /** Set when the importer excluded this cluster (stale lease, type conflict, ...). */
  excludedReason?: string;
  /** Addresses refused by the address policy (by the importer or the DNS feed), one bounded line. */
  rejectedAddresses?: string;
  /** A reachability fact that did not exclude the cluster (the importer's fail-safe). */
  reachabilityNote?: string;
  /** 0-1000; undefined means DEFAULT_WEIGHT. 0 drains the cluster from service-wide answers. */
  weight?: number;
  /** The cluster's region and zone (ClusterProperties), for policy `nearest`. */
  region?: string;
  zone?: string;
}

export interface ServiceEntry {
  namespace: string;
  name: string;
  type: ImportType;
  /** Clusterset VIPs from ServiceImport spec.ips (may be empty). */
  vips: string[];
  /** Merged ports from the ServiceImport (conflict winner + union). */
  ports: ServicePort[];
  /** Backends sorted by cluster ID, so every answer is deterministic before rotation. */
  backends: ClusterBackend[];
  /** The service's own policy (annotation); undefined: the server's --policy applies. */
  policy?: PolicyName;
}

export interface Snapshot {
  /** Increases by one on every change; part of every answer-cache key. */
  version: number;
  /** False until the first full sync: the server answers SERVFAIL, never NXDOMAIN. */
  synced: boolean;
  localCluster: ClusterId;
  /** Keyed by `serviceKey()` = `<namespace>/<name>`. */
  services: ReadonlyMap<string, ServiceEntry>;
  /** Namespaces that hold at least one imported service (empty non-terminal `<ns>.svc.Z`). */
  namespaces: ReadonlySet<string>;
  /** Epoch ms when this snapshot was built (for the snapshot-age metric and explain). */
  builtAt: number;
  /** The local cluster's region and zone (policy `nearest`); empty when unknown. */
  localPlace?: Place;
  /** Set when the source of the state is known to be unreachable (fail static): why and since when. */
  staleSource?: { reason: string; since: number };
}
