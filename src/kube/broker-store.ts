/**
 * The broker store (BrokerView and BrokerPublisher, agent/stores.ts) over a real broker API server: informers in the broker namespace (the exports'
 * EndpointSlices, which carry each export's record, and Leases), parsed and validated into the
 * model on arrival (model/broker-validation.ts, the same validator as the in-memory broker), and
 * writes of this cluster's own objects only. One export is one object kind: publishing it writes
 * its slice(s), nothing else.
 *
 * An export is read only when its slice set is whole (kinds/broker-slice.ts). While another
 * cluster's set is being rewritten, its last whole state stays visible (fail static); this
 * agent's own sets are shown as they are, so that the exporter repairs a set left half written.
 *
 * Reachability and lease liveness are judged by model/broker-sight.ts, the same rule as the
 * embedded default's in-memory broker: this store feeds it the informers' health (while any of them
 * fails, the reconcilers fail static), every lease event and every own renewal (the own-lease
 * canary, `heartbeatTimeoutMs`), and arms one timer for the moment the canary could trip.
 *
 * Broker records of older agents (a separate ServiceImport-kind object per export) are not read:
 * removeLegacyRecords() deletes this cluster's own once, at start.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from 'pino';
import type { AgentMetrics, BrokerChange, BrokerConnectivity, BrokerPublisher, BrokerView } from '../agent/stores.ts';
import { BrokerSight } from '../model/broker-sight.ts';
import { screenLeaseProperties, validateExport, validateLease } from '../model/broker-validation.ts';
import { ALL_GRANTED, GRANTS_CONFIGMAP, type NamespaceGrants, parseGrants } from '../model/namespace-grants.ts';
import { clusterServiceKey, serviceKey } from '../model/service-key.ts';
import type { ClusterId, ClusterLease, ExportEndpoints, ExportRecord, ServiceRef } from '../model/types.ts';
import { withoutBulkMetadata } from './projections.ts';
import { Informer, objectKey, type InformerEventType, type InformerRestartReason } from './informer.ts';
import { assembleBrokerExport, buildBrokerSlices, parseBrokerSlice, type BrokerSlicePart } from './kinds/broker-slice.ts';
import { buildLease, leaseName, parseLease } from './kinds/lease.ts';
import { clusterLabelValue, isManagedByUs, mcsApiVersion } from './kinds/object-meta.ts';
import { makeRawGet } from './client.ts';
import { LABEL_MANAGED_BY, LABEL_MCS_SOURCE_CLUSTER, MANAGED_BY_VALUE } from './labels.ts';
import { COORDINATION_API_VERSION, DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, KIND_LEASE } from './objects.ts';
import { sameContent } from './same-content.ts';
import { KubeWriter, resourceOf, type ResourceType, type WriterMetrics } from './writer.ts';

export interface KubeStoreMetrics extends AgentMetrics, WriterMetrics {
  informerRestart?(informer: string, reason: InformerRestartReason): void;
  brokerReachable?(reachable: boolean): void;
}

export interface KubeBrokerStoreOptions {
  kubeConfig: KubeConfig;
  /** The broker namespace (default clusterset-broker). */
  namespace: string;
  /** This agent's cluster: the only cluster whose objects it writes. */
  cluster: ClusterId;
  /** multicluster.x-k8s.io version the broker serves (discoverMcsVersion): only for removeLegacyRecords. */
  mcsVersion: string;
  logger: Logger;
  metrics?: KubeStoreMetrics;
  now?: () => number;
  /**
   * Broker counts as unreachable when this agent's own renewals have not been seen through the
   * watch for this long (unset: off; model/broker-sight.ts canaryTimeoutMs()).
   */
  heartbeatTimeoutMs?: number;
  /** Clock skew tolerated between clusters for claimed times (model/liveness.ts). */
  skewToleranceMs?: number;
  /** Informer backoff tuning (tests). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

type Kind = 'record' | 'endpoints' | 'lease' | 'grants';

/** Bound on the one-shot listing of legacy records. */
const LEGACY_LIST_TIMEOUT_MS = 15_000;
const LEGACY_LIST_LIMIT = 5000;

/** One cluster's whole export of one service, as last seen. */
interface WholeExport {
  record: ExportRecord;
  endpoints: ExportEndpoints;
}

export class KubeBrokerStore implements BrokerView, BrokerPublisher {
  private readonly opts: KubeBrokerStoreOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly writer: KubeWriter;
  private readonly sliceResource: ResourceType;
  private readonly leaseResource: ResourceType;
  private readonly slices: Informer;
  private readonly leases: Informer;
  /** ConfigMaps of the broker namespace: only clusterset-dns-grants is read. */
  private readonly configMaps: Informer;
  private grants: NamespaceGrants = ALL_GRANTED;
  private readonly listeners = new Set<(change: BrokerChange) => void>();

  /** Parsed slices by object key, and per service key → cluster → object key. */
  private readonly sliceOf = new Map<string, BrokerSlicePart>();
  private readonly sliceIndex = new Map<string, Map<ClusterId, Map<string, BrokerSlicePart>>>();
  /** service key → cluster → the last whole, valid export. */
  private readonly exportIndex = new Map<string, Map<ClusterId, WholeExport>>();
  /** This cluster's exports whose slice set is whole right now (clusterServiceKey). */
  private readonly ownWhole = new Set<string>();
  private readonly leaseOf = new Map<string, ClusterLease>();
  /** Reachability and the leases as this agent observed them change (what liveness is judged by). */
  private readonly sight: BrokerSight;
  /** Object keys currently rejected (counted and logged once per bad version). */
  private readonly rejected = new Map<string, string>();

  private stopped = false;
  /** The one timer for the moment the own-lease canary could trip, and that moment. */
  private canaryTimer: NodeJS.Timeout | undefined;
  private canaryAt: number | undefined;

  constructor(options: KubeBrokerStoreOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'broker-store', broker: options.kubeConfig.getCurrentCluster()?.server });
    this.now = options.now ?? Date.now;
    this.writer = new KubeWriter(options.kubeConfig, { target: 'broker', ...(options.metrics === undefined ? {} : { metrics: options.metrics }) });
    this.sliceResource = resourceOf(DISCOVERY_API_VERSION, 'endpointslices');
    this.leaseResource = resourceOf(COORDINATION_API_VERSION, 'leases');
    this.sight = new BrokerSight({
      cluster: options.cluster,
      now: this.now,
      ...(options.skewToleranceMs === undefined ? {} : { skewToleranceMs: options.skewToleranceMs }),
      ...(options.heartbeatTimeoutMs === undefined ? {} : { canaryTimeoutMs: options.heartbeatTimeoutMs }),
    });
    const common = {
      kubeConfig: options.kubeConfig,
      logger: this.logger,
      ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    };
    const make = (apiVersion: string, kind: string, plural: string, onEvent: (t: InformerEventType, o: KubernetesObject) => void): Informer =>
      new Informer({
        ...common,
        resource: { apiVersion, kind, plural, namespace: options.namespace },
        // Cached objects are compared with what we would write (sameContent) and deleted by uid.
        project: withoutBulkMetadata,
        onEvent,
        onSynced: () => this.updateConnectivity(),
        onRestart: (reason) => {
          options.metrics?.informerRestart?.(`broker-${plural}`, reason);
          this.updateConnectivity();
        },
      });
    this.slices = make(DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, 'endpointslices', (t, o) => this.onSlice(t, o));
    this.leases = make(COORDINATION_API_VERSION, KIND_LEASE, 'leases', (t, o) => this.onLease(t, o));
    this.configMaps = make('v1', 'ConfigMap', 'configmaps', (t, o) => this.onConfigMap(t, o));
  }

  start(): void {
    for (const i of this.informers()) i.start();
  }

  stop(): void {
    this.stopped = true;
    for (const i of this.informers()) i.stop();
    if (this.canaryTimer !== undefined) clearTimeout(this.canaryTimer);
    this.canaryTimer = undefined;
    this.listeners.clear();
  }

  /**
   * Announces this cluster's own slice sets as changed, so that the exporter also visits sets
   * that are not whole (a crash between two writes) and repairs or withdraws them.
   */
  replayOwnExports(): void {
    for (const byCluster of this.sliceIndex.values()) {
      const own = byCluster.get(this.opts.cluster)?.values().next().value;
      if (own !== undefined) this.emit({ kind: 'Export', cluster: this.opts.cluster, namespace: own.ref.namespace, name: own.ref.name });
    }
  }

  /**
   * Deletes this cluster's broker records left by an agent before the one-object broker (kind
   * ServiceImport in the broker namespace): nothing reads them any more. Once, at start; a broker
   * without the CRD, or credentials without the right to list them, leave nothing to do.
   */
  async removeLegacyRecords(): Promise<number> {
    const mcs = mcsApiVersion(this.opts.mcsVersion);
    const path = `/apis/${mcs}/namespaces/${encodeURIComponent(this.opts.namespace)}/serviceimports`;
    let items: KubernetesObject[];
    try {
      const list = (await makeRawGet(this.opts.kubeConfig)(path, { labelSelector: brokerOwnSelector(this.opts.cluster), limit: LEGACY_LIST_LIMIT }, LEGACY_LIST_TIMEOUT_MS)) as { items?: KubernetesObject[] };
      items = list.items ?? [];
    } catch (err) {
      this.logger.debug({ err }, 'no legacy broker records to look at');
      return 0;
    }
    const resource = resourceOf(mcs, 'serviceimports');
    let removed = 0;
    try {
      for (const obj of items) {
        if (!isManagedByUs(obj)) continue;
        if (await this.writer.delete(resource, this.opts.namespace, obj.metadata?.name ?? '', obj.metadata?.uid ? { uid: obj.metadata.uid } : {})) removed++;
      }
    } catch (err) {
      // Not fatal: importers no longer read these records; they only take space on the broker.
      this.logger.warn({ err, removed, left: items.length - removed }, 'could not remove the broker records of an older agent');
      return removed;
    }
    if (removed > 0) this.logger.info({ removed }, 'removed broker records of an older agent (exports now live in their EndpointSlices)');
    return removed;
  }

  /** Resolves once every broker informer listed once; rejects after timeoutMs. */
  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(this.informers().map((i) => i.waitForSync(timeoutMs)));
    this.updateConnectivity();
  }

  private informers(): Informer[] {
    return [this.slices, this.leases, this.configMaps];
  }

  // ---- events -------------------------------------------------------------------------------

  private emit(change: BrokerChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.logger.error({ err }, 'broker change listener threw');
      }
    }
  }

  private reject(kind: Kind, key: string, version: string, problems: string[]): void {
    if (this.rejected.get(key) === version) return;
    this.rejected.set(key, version);
    this.opts.metrics?.brokerObjectRejected?.(kind);
    this.logger.error({ object: key, kind, problems }, 'rejected an invalid broker object');
  }

  private onSlice(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.sliceOf.get(key);
    let next: BrokerSlicePart | undefined;
    if (type !== 'DELETED') {
      const parsed = parseBrokerSlice(obj);
      if (parsed.ok) {
        next = parsed.value;
        this.rejected.delete(key);
      } else this.reject('endpoints', key, obj.metadata?.resourceVersion ?? '', parsed.problems);
    } else this.rejected.delete(key);
    if (old !== undefined) {
      const set = this.sliceIndex.get(serviceKey(old.ref))?.get(old.cluster);
      set?.delete(key);
      if (set !== undefined && set.size === 0) removeFrom(this.sliceIndex, serviceKey(old.ref), old.cluster);
    }
    if (next !== undefined) {
      this.sliceOf.set(key, next);
      let byCluster = this.sliceIndex.get(serviceKey(next.ref));
      if (byCluster === undefined) this.sliceIndex.set(serviceKey(next.ref), (byCluster = new Map()));
      let set = byCluster.get(next.cluster);
      if (set === undefined) byCluster.set(next.cluster, (set = new Map()));
      set.set(key, next);
    } else this.sliceOf.delete(key);
    const touched = new Map<string, { ref: ServiceRef; cluster: ClusterId }>();
    for (const s of [old, next]) if (s !== undefined) touched.set(clusterServiceKey(s.cluster, s.ref), { ref: s.ref, cluster: s.cluster });
    for (const { ref, cluster } of touched.values()) {
      this.reassemble(ref, cluster);
      this.emit({ kind: 'Export', cluster, namespace: ref.namespace, name: ref.name });
    }
  }

  /** Re-reads one export from its slice set: whole and valid replaces the view, gone removes it. */
  private reassemble(ref: ServiceRef, cluster: ClusterId): void {
    const id = clusterServiceKey(cluster, ref);
    const set = this.sliceIndex.get(serviceKey(ref))?.get(cluster);
    this.ownWhole.delete(id);
    if (set === undefined || set.size === 0) {
      removeFrom(this.exportIndex, serviceKey(ref), cluster);
      this.rejected.delete(id);
      return;
    }
    const assembled = assembleBrokerExport([...set.values()]);
    if (!assembled.whole) {
      // A set being rewritten slice by slice: keep its last whole state (importers fail static).
      this.logger.debug({ export: id, reason: assembled.reason }, 'export slices not whole yet');
      return;
    }
    const problems = validateExport(assembled.record, assembled.endpoints);
    if (problems.length > 0) {
      removeFrom(this.exportIndex, serviceKey(ref), cluster);
      this.reject('record', id, [...set.values()].map((p) => p.recordText).join('|'), problems);
      return;
    }
    this.rejected.delete(id);
    if (cluster === this.opts.cluster) this.ownWhole.add(id);
    putIn(this.exportIndex, serviceKey(ref), cluster, { record: assembled.record, endpoints: assembled.endpoints });
  }

  private onLease(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.leaseOf.get(key);
    let next: ClusterLease | undefined;
    if (type !== 'DELETED') {
      const parsed = parseLease(obj);
      const problems = parsed.ok ? validateLease(parsed.value) : parsed.problems;
      if (parsed.ok && problems.length === 0) {
        // Bad published properties are left out and reported once; the lease itself still counts.
        const screened = screenLeaseProperties(parsed.value);
        const propertyProblems = [...(parsed.propertyProblems ?? []), ...screened.problems];
        next = screened.lease;
        if (propertyProblems.length > 0) this.reject('lease', key, obj.metadata?.resourceVersion ?? '', propertyProblems);
        else this.rejected.delete(key);
      } else this.reject('lease', key, obj.metadata?.resourceVersion ?? '', problems);
    } else this.rejected.delete(key);
    // An update (or a relist) with the same claim is not a renewal: only a lease that is gone is forgotten.
    if (old !== undefined && (next === undefined || next.cluster !== old.cluster)) this.sight.leaseGone(old.cluster);
    if (next !== undefined) {
      this.leaseOf.set(key, next);
      this.sight.leaseSeen(next);
    } else this.leaseOf.delete(key);
    const clusters = new Set([old?.cluster, next?.cluster].filter((c): c is string => c !== undefined));
    for (const cluster of clusters) this.emit({ kind: 'Lease', cluster });
    // Our own renewal coming back through the watch thaws a view the canary judged frozen.
    if (clusters.has(this.opts.cluster)) this.updateConnectivity();
  }

  private onConfigMap(type: InformerEventType, obj: KubernetesObject): void {
    if (obj.metadata?.name !== GRANTS_CONFIGMAP) return;
    const { grants, problems } = type === 'DELETED' ? { grants: ALL_GRANTED, problems: [] } : parseGrants((obj as { data?: Record<string, unknown> }).data);
    if (problems.length > 0) this.reject('grants', objectKey(obj), obj.metadata?.resourceVersion ?? '', problems);
    this.grants = grants;
    this.logger.info({ grants: Object.fromEntries([...grants.byCluster].map(([c, g]) => [c, g === '*' ? '*' : [...g].join(',')])) }, 'namespace grants changed');
    this.emit({ kind: 'Grants' });
  }

  namespaceGrants(): NamespaceGrants {
    return this.grants;
  }
  /** Feeds the informers' health to the sight; logs, counts and announces a change. */
  private updateConnectivity(): void {
    if (this.stopped) return;
    const failing = this.informers()
      .map((i) => ({ name: i.name, ...i.status() }))
      .find((s) => !s.synced || !s.healthy);
    const change = this.sight.update(failing === undefined ? undefined : `broker ${failing.name}: ${failing.lastError ?? 'not synced'}`);
    this.armCanaryCheck();
    if (change === undefined) return;
    if (change.reachable && change.downMs !== undefined) this.logger.info({ downMs: change.downMs }, 'broker reachable again');
    if (!change.reachable) this.logger.warn({ reason: change.reason }, 'broker unreachable: imports stay as they are (fail static)');
    this.opts.metrics?.brokerReachable?.(change.reachable);
    this.emit({ kind: 'Connectivity' });
  }

  /** One timer for the moment the canary could trip (re-armed only when that moment moves). */
  private armCanaryCheck(): void {
    const at = this.sight.nextCheckAt();
    if (at === this.canaryAt) return;
    if (this.canaryTimer !== undefined) clearTimeout(this.canaryTimer);
    this.canaryTimer = undefined;
    this.canaryAt = at;
    if (at === undefined) return;
    this.canaryTimer = setTimeout(() => {
      this.canaryTimer = undefined;
      // Forgotten first: a timer that fires a little early re-arms for the same moment.
      this.canaryAt = undefined;
      this.updateConnectivity();
    }, Math.max(1, at - this.now()));
    this.canaryTimer.unref();
  }

  // ---- reads --------------------------------------------------------------------------------

  connectivity(): BrokerConnectivity {
    return this.sight.connectivity();
  }

  subscribe(listener: (change: BrokerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listRecords(): ExportRecord[] {
    const out: ExportRecord[] = [];
    for (const byCluster of this.exportIndex.values()) for (const e of byCluster.values()) if (this.visible(e)) out.push(e.record);
    return out;
  }
  listRecordsFor(ref: ServiceRef): ExportRecord[] {
    return [...(this.exportIndex.get(serviceKey(ref))?.values() ?? [])].filter((e) => this.visible(e)).map((e) => e.record);
  }
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined {
    const e = this.exportIndex.get(serviceKey(ref))?.get(cluster);
    return e !== undefined && this.visible(e) ? e.record : undefined;
  }
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[] {
    return [...(this.exportIndex.get(serviceKey(ref))?.values() ?? [])].filter((e) => this.visible(e)).map((e) => e.endpoints);
  }
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined {
    const e = this.exportIndex.get(serviceKey(ref))?.get(cluster);
    return e !== undefined && this.visible(e) ? e.endpoints : undefined;
  }
  listLeases(): ClusterLease[] {
    return this.sight.leases();
  }
  getLease(cluster: ClusterId): ClusterLease | undefined {
    return this.sight.lease(cluster);
  }

  /** Another cluster's last whole export stays visible while it is rewritten; our own only while whole. */
  private visible(e: WholeExport): boolean {
    return e.record.cluster !== this.opts.cluster || this.ownWhole.has(clusterServiceKey(e.record.cluster, e.record));
  }

  // ---- writes (own cluster only) ------------------------------------------------------------

  private own(cluster: ClusterId, what: string): void {
    if (cluster !== this.opts.cluster) throw new Error(`refusing to write ${what} of cluster ${cluster}: this agent is ${this.opts.cluster}`);
  }

  private cached(informer: Informer, name: string): KubernetesObject | undefined {
    return informer.get(`${this.opts.namespace}/${name}`);
  }

  /** One write per slice whose content differs (one slice for most services); then surplus slices go. */
  async publishExport(record: ExportRecord, endpoints: ExportEndpoints): Promise<void> {
    this.own(record.cluster, 'an export');
    const desired = buildBrokerSlices(record, endpoints, this.opts.namespace);
    for (const obj of desired) {
      const current = this.cached(this.slices, obj.metadata.name);
      if (!sameContent(obj, current)) this.slices.observeWritten(await this.writer.write(this.sliceResource, obj, current));
    }
    // Slices of families or chunks no longer needed go after the new ones exist (no empty gap).
    const wanted = new Set(desired.map((o) => `${this.opts.namespace}/${o.metadata.name}`));
    for (const key of [...(this.sliceIndex.get(serviceKey(record))?.get(record.cluster)?.keys() ?? [])]) {
      if (!wanted.has(key)) await this.deleteOwned(this.sliceResource, this.slices, this.slices.get(key));
    }
  }

  async withdrawExport(cluster: ClusterId, ref: ServiceRef): Promise<boolean> {
    this.own(cluster, 'an export');
    // Every slice of the set, whole or not: a half-written export is withdrawn too.
    const keys = [...(this.sliceIndex.get(serviceKey(ref))?.get(cluster)?.keys() ?? [])];
    for (const key of keys) await this.deleteOwned(this.sliceResource, this.slices, this.slices.get(key));
    return keys.length > 0;
  }

  async applyLease(lease: ClusterLease): Promise<void> {
    this.own(lease.cluster, 'a lease');
    this.sight.ownRenewalAttempted();
    this.armCanaryCheck();
    // Urgent: a renewal must not queue behind a burst of exports, or the lease would look expired.
    await this.writer.apply(this.leaseResource, buildLease(lease, this.opts.namespace), { urgent: true });
  }

  async deleteLease(cluster: ClusterId): Promise<void> {
    this.own(cluster, 'a lease');
    await this.deleteOwned(this.leaseResource, this.leases, this.cached(this.leases, leaseName(cluster)));
  }

  /** Deletes an object only if it carries our label, and only the exact version we saw. */
  private async deleteOwned(resource: ResourceType, informer: Informer, obj: KubernetesObject | undefined): Promise<void> {
    if (obj === undefined) return;
    if (!isManagedByUs(obj)) throw new Error(`refusing to delete ${objectKey(obj)}: not managed by clusterset-dns`);
    const preconditions = { ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}), ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) };
    const done = await this.writer.delete(resource, obj.metadata?.namespace ?? this.opts.namespace, obj.metadata?.name ?? '', preconditions);
    if (!done) throw new Error(`${objectKey(obj)} changed while being deleted; retrying`);
    informer.observeDeleted(objectKey(obj));
  }
}

/** Label selector of this cluster's own objects on the broker. */
function brokerOwnSelector(cluster: ClusterId): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE},${LABEL_MCS_SOURCE_CLUSTER}=${clusterLabelValue(cluster)}`;
}

function putIn<V>(index: Map<string, Map<ClusterId, V>>, key: string, cluster: ClusterId, value: V): void {
  let m = index.get(key);
  if (m === undefined) index.set(key, (m = new Map()));
  m.set(cluster, value);
}

function removeFrom<V>(index: Map<string, Map<ClusterId, V>>, key: string, cluster: ClusterId): void {
  const m = index.get(key);
  if (m === undefined) return;
  m.delete(cluster);
  if (m.size === 0) index.delete(key);
}
