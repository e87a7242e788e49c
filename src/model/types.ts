/**
 * Pure model types shared by every room. Nothing here knows Kubernetes object shapes or sockets:
 * the kube room translates objects into these on arrival (as CoreDNS shrinks objects to small
 * internal types), and the DNS side reads only these.
 */
import type { PublishedProperties } from './cluster-properties.ts';

import type { PolicyName } from './traffic-policy.ts';

export type ClusterId = string;
export type IPFamily = 'IPv4' | 'IPv6';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** MCS ServiceImport types. */
export type ImportType = 'ClusterSetIP' | 'Headless';

export interface ServicePort {
  /** May be empty for a single unnamed port. */
  name: string;
  protocol: Protocol;
  port: number;
  appProtocol?: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

// ---------------------------------------------------------------------------------------------
// Local cluster objects (export side input). Translated from Service, EndpointSlice, ServiceExport.
// ---------------------------------------------------------------------------------------------

export type LocalServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface LocalService extends ServiceRef {
  type: LocalServiceType;
  /** spec.clusterIPs, or [] for headless (clusterIP None). */
  clusterIPs: string[];
  headless: boolean;
  ipFamilies: IPFamily[];
  ports: ServicePort[];
  sessionAffinity: 'None' | 'ClientIP';
  publishNotReadyAddresses: boolean;
}

export interface Endpoint {
  /** One or more addresses of one family (EndpointSlice semantics). */
  addresses: string[];
  hostname?: string;
  /** conditions.ready, with nil already resolved to true. */
  ready: boolean;
}

/** One EndpointSlice of a local Service (labelled kubernetes.io/service-name). */
export interface LocalEndpointSlice extends ServiceRef {
  /** metadata.name of the slice. */
  sliceName: string;
  /** The owning service name (label kubernetes.io/service-name); `name` above equals it. */
  addressType: IPFamily | 'FQDN';
  endpoints: Endpoint[];
  ports: ServicePort[];
}

export interface LocalServiceExport extends ServiceRef {
  /** metadata.creationTimestamp in epoch milliseconds. */
  createdAt: number;
  generation: number;
  /**
   * The traffic annotations as written (`clusterset-dns.io/policy`, `clusterset-dns.io/weight`),
   * unparsed: the exporter judges them, so a bad value becomes Valid=False instead of an export
   * that is silently ignored (model/traffic-policy.ts).
   */
  policyText?: string;
  weightText?: string;
}

// ---------------------------------------------------------------------------------------------
// Broker objects: what one cluster publishes for one exported service.
// ---------------------------------------------------------------------------------------------

/** One cluster's export of one service (an MCS ServiceImport-kind record on the broker). */
export interface ExportRecord extends ServiceRef {
  cluster: ClusterId;
  type: ImportType;
  ports: ServicePort[];
  /** The cluster's own service IPs (ClusterSetIP) — empty for headless. */
  serviceIPs: string[];
  ipFamilies: IPFamily[];
  sessionAffinity: 'None' | 'ClientIP';
  /** The ServiceExport's creationTimestamp (epoch ms): the conflict tie-breaker. */
  exportCreatedAt: number;
  /** The export's policy annotation; the conflict winner's applies to the service. */
  policy?: PolicyName;
  /** The export's weight annotation (0-1000); undefined means DEFAULT_WEIGHT. */
  weight?: number;
}

/**
 * One cluster's endpoints for one exported service. ClusterSetIP: a single endpoint whose
 * addresses are the service IPs, ready when at least one backend is ready. Headless: the pods.
 */
export interface ExportEndpoints extends ServiceRef {
  cluster: ClusterId;
  endpoints: Endpoint[];
  ports: ServicePort[];
}

export interface ClusterLease {
  cluster: ClusterId;
  /** Epoch ms of the last renewal. */
  renewedAt: number;
  durationMs: number;
  /**
   * What the cluster publishes about itself (model/cluster-properties.ts: probe targets, region,
   * zone), carried on its lease so every importer knows it. Absent: nothing announced.
   */
  properties?: PublishedProperties;
}

// ---------------------------------------------------------------------------------------------
// Imported state in the local cluster (ServiceImport + MCS EndpointSlices). The DNS server reads
// only this, so any MCS implementation that writes those objects can feed it.
// ---------------------------------------------------------------------------------------------

export interface ImportedService extends ServiceRef {
  type: ImportType;
  /** spec.ips: clusterset VIPs, if any implementation assigned them. */
  ips: string[];
  ports: ServicePort[];
  sessionAffinity: 'None' | 'ClientIP';
  ipFamilies: IPFamily[];
  /** status.clusters */
  clusters: ClusterId[];
  /**
   * The service's own policy (the conflict winner's annotation), written by the importer as an
   * annotation; undefined: the DNS server's --policy applies.
   */
  policy?: PolicyName;
}

/** An MCS EndpointSlice for one source cluster of one imported service. */
export interface ImportedSlice extends ServiceRef {
  sourceCluster: ClusterId;
  sliceName: string;
  endpoints: Endpoint[];
  ports: ServicePort[];
  /**
   * Why this cluster's endpoints must not be served (stale lease, type conflict, ...), written by
   * the importer as an annotation. When set, every endpoint is also marked not ready.
   */
  excludedReason?: string;
  /**
   * Addresses the importer refused (model/address-policy.ts) for this cluster, as one bounded
   * line; they are not in `endpoints`. Shown by `explain`.
   */
  rejectedAddresses?: string;
  /**
   * A reachability fact that did not exclude the cluster (the fail-safe held the exclusion back),
   * written by the importer as an annotation. Shown by `explain`.
   */
  reachabilityNote?: string;
  /** That cluster's weight (its ServiceExport annotation), as an annotation; undefined: DEFAULT_WEIGHT. */
  weight?: number;
  /** That cluster's region and zone (its published ClusterProperties), as annotations; for `nearest`. */
  region?: string;
  zone?: string;
}
