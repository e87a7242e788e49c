/**
 * The seams between the reconcilers and wherever objects live. The embedded default implements
 * them in memory (src/standalone/); issue 4 implements them over informers on real API servers
 * (src/kube/). Reads are synchronous (from a watch cache); writes are async and may fail.
 */
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

/** One member cluster, as its own agent sees it. */
export interface LocalClusterStore {
  // Export side.
  listServiceExports(): LocalServiceExport[];
  getServiceExport(ref: ServiceRef): LocalServiceExport | undefined;
  getService(ref: ServiceRef): LocalService | undefined;
  /** Every EndpointSlice labelled with the service's name. */
  listEndpointSlices(ref: ServiceRef): LocalEndpointSlice[];
  getExportConditions(ref: ServiceRef): readonly ExportCondition[] | undefined;
  writeExportConditions(ref: ServiceRef, conditions: ExportCondition[]): Promise<void>;

  // Import side.
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

  /** Listeners must not throw; reconcilers only push keys onto their queue. */
  subscribe(listener: (change: LocalChange) => void): () => void;
}

export type BrokerChange =
  /** One cluster's export of one service (its record and endpoints travel together). */
  | { kind: 'Export'; cluster: ClusterId; namespace: string; name: string }
  | { kind: 'Lease'; cluster: ClusterId }
  /** The broker owner's namespace grants changed (namespaceGrants()). */
  | { kind: 'Grants' }
  /** Reachability changed (see connectivity()). */
  | { kind: 'Connectivity' };

export interface BrokerConnectivity {
  reachable: boolean;
  /** Epoch ms of the last reachability change. */
  since: number;
  /** Why it is unreachable. */
  reason?: string;
}

/** The broker as one agent sees it: every cluster's objects readable, only its own written. */
export interface BrokerStore {
  listRecords(): ExportRecord[];
  listRecordsFor(ref: ServiceRef): ExportRecord[];
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined;
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[];
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined;
  listLeases(): ClusterLease[];
  getLease(cluster: ClusterId): ClusterLease | undefined;
  /** Which clusters may export which namespaces (default: every cluster, every namespace). */
  namespaceGrants(): NamespaceGrants;

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

  /** Whether the watch on the broker is currently healthy (fail static when not). */
  connectivity(): BrokerConnectivity;
  subscribe(listener: (change: BrokerChange) => void): () => void;
}

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
