/**
 * The seams between the reconcilers and wherever objects live, named by the role they play:
 * the exporter reads its ExportSource (the local cluster's exports) and publishes to the broker
 * (BrokerPublisher); the importer reads the broker (BrokerView) and writes its ImportSink (the
 * local cluster's imports). The embedded default implements them in memory (src/standalone/),
 * production over informers on real API servers (src/kube/). Reads are synchronous (from a watch
 * cache); writes are async and may fail.
 */
import type { BrokerConnectivity } from '../model/broker-sight.ts';
import type { ConditionTypeValue } from '../model/conflicts.ts';
import type { ClusterSetVip } from '../model/local-objects.ts';
import type { NamespaceGrants } from '../model/namespace-grants.ts';
import type {
  ClusterId,
  ClusterLease,
  ExportEndpoints,
  ExportRecord,
  ImportedService,
  ImportedSlice,
  LocalEndpointSlice,
  LocalService,
  LocalServiceExport,
  ServiceRef,
} from '../model/types.ts';

/** One ServiceExport status condition (metav1.Condition shape, time in epoch ms). */
export interface ExportCondition {
  type: ConditionTypeValue;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: number;
}

export type LocalChange =
  | {
      kind: 'Service' | 'EndpointSlice' | 'ServiceExport' | 'ClusterSetVip' | 'ImportedService' | 'ImportedSlice';
      namespace: string;
      /** The service name (for EndpointSlices: the kubernetes.io/service-name label). */
      name: string;
    }
  | { kind: 'Namespace'; namespace: string };

/** Change notifications of the local cluster. Listeners must not throw; reconcilers only queue keys. */
export interface LocalChanges {
  subscribe(listener: (change: LocalChange) => void): () => void;
}

/**
 * The local cluster as the exporter reads it: ServiceExports with their Services and
 * EndpointSlices, and each export's status conditions (the one thing the exporter writes here).
 */
export interface ExportSource extends LocalChanges {
  listServiceExports(): LocalServiceExport[];
  getServiceExport(ref: ServiceRef): LocalServiceExport | undefined;
  getService(ref: ServiceRef): LocalService | undefined;
  /** Every EndpointSlice labelled with the service's name. */
  listEndpointSlices(ref: ServiceRef): LocalEndpointSlice[];
  getExportConditions(ref: ServiceRef): readonly ExportCondition[] | undefined;
  writeExportConditions(ref: ServiceRef, conditions: ExportCondition[]): Promise<void>;
}

/**
 * The local cluster as the importer writes it: the imported services and their slices, and what
 * decides whether an import may exist here (its namespace, a user-provided VIP).
 */
export interface ImportSink extends LocalChanges {
  hasNamespace(namespace: string): boolean;
  /** A user-provided ServiceImport's spec.ips for the service, if any. */
  getClusterSetVip(ref: ServiceRef): ClusterSetVip | undefined;
  listImportedServices(): ImportedService[];
  getImportedService(ref: ServiceRef): ImportedService | undefined;
  listImportedSlices(ref: ServiceRef): ImportedSlice[];
  applyImportedService(service: ImportedService): Promise<void>;
  deleteImportedService(ref: ServiceRef): Promise<void>;
  applyImportedSlice(slice: ImportedSlice): Promise<void>;
  deleteImportedSlice(ref: ServiceRef, sourceCluster: ClusterId): Promise<void>;
}

/** One member cluster, both roles: what the Kube and in-memory local stores implement. */
export interface LocalClusterStore extends ExportSource, ImportSink {}

export type BrokerChange =
  /** One cluster's export of one service (its record and endpoints travel together). */
  | { kind: 'Export'; cluster: ClusterId; namespace: string; name: string }
  | { kind: 'Lease'; cluster: ClusterId }
  /** The broker owner's namespace grants changed (namespaceGrants()). */
  | { kind: 'Grants' }
  /** Reachability changed (see connectivity()). */
  | { kind: 'Connectivity' };

/** Judged by model/broker-sight.ts in both broker stores. */
export type { BrokerConnectivity };

/**
 * The broker as one agent reads it: every cluster's records and endpoints, the leases as this
 * agent observed them (model/broker-sight.ts), the grants, and whether it is in sight at all.
 * All the importer may touch on the broker.
 */
export interface BrokerView {
  listRecords(): ExportRecord[];
  listRecordsFor(ref: ServiceRef): ExportRecord[];
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined;
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[];
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined;
  listLeases(): ClusterLease[];
  getLease(cluster: ClusterId): ClusterLease | undefined;
  /** Which clusters may export which namespaces (default: every cluster, every namespace). */
  namespaceGrants(): NamespaceGrants;
  /** Whether the watch on the broker is currently healthy (fail static when not). */
  connectivity(): BrokerConnectivity;
  subscribe(listener: (change: BrokerChange) => void): () => void;
}

/** This cluster's own objects on the broker: what the exporter and the lease renewer write. */
export interface BrokerPublisher {
  /**
   * Publishes this cluster's export of one service, record and endpoints as one (on a Kube
   * broker: its EndpointSlice(s), one write for most services). Reads show only content that
   * passed the broker validator (model/broker-validation.ts).
   */
  publishExport(record: ExportRecord, endpoints: ExportEndpoints): Promise<void>;
  /** Removes this cluster's export of one service; resolves whether there was anything to remove. */
  withdrawExport(cluster: ClusterId, ref: ServiceRef): Promise<boolean>;
  applyLease(lease: ClusterLease): Promise<void>;
  deleteLease(cluster: ClusterId): Promise<void>;
}

/** The broker as one agent sees it, both roles: every cluster's objects readable, only its own written. */
export interface BrokerStore extends BrokerView, BrokerPublisher {}

/** Optional metric hooks; the observability room adapts them to prom-client (bounded labels). */
export interface AgentMetrics {
  reconciled?(reconciler: 'exporter' | 'importer', outcome: 'ok' | 'error'): void;
  queueDepth?(reconciler: 'exporter' | 'importer', depth: number): void;
  retried?(reconciler: 'exporter' | 'importer'): void;
  brokerObjectRejected?(kind: 'record' | 'endpoints' | 'lease' | 'grants'): void;
  leaseRenewal?(outcome: 'ok' | 'error'): void;
  /** Objects with addresses refused by the address policy (counted once per new refusal). */
  addressesRejected?(stage: 'export' | 'import'): void;
}
