/**
 * BrokerStore over a real broker API server: three informers in the broker namespace (export
 * records of kind ServiceImport, EndpointSlices, Leases), parsed and validated into the model on
 * arrival, and writes of this cluster's own objects only.
 *
 * Reachability is the informers' health: while any of them fails, connectivity() says so and the
 * reconcilers fail static. Leases are judged by when this agent observed them change, and lease
 * time only runs while the broker is visible (model/liveness.ts, the same rule as the embedded
 * default's in-memory broker): a claimed renew time in 2099 buys nothing, and no cluster turns
 * stale merely because this agent could not watch its renewals.
 *
 * A broker can also look reachable while it is not: a terminating or overloaded API server keeps
 * watch connections open but delivers nothing. So the agent's own lease doubles as a canary: once
 * it renews, it must see its renewals come back through the watch; when its own lease looks older
 * than `heartbeatTimeoutMs`, its view of every other lease is frozen too, and the broker counts as
 * unreachable (before any other lease could look expired in that frozen view).
 */
import { serviceKey } from '../model/service-key.ts';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AgentMetrics, BrokerChange, BrokerConnectivity, BrokerStore } from '../agent/stores.ts';

import { LeaseObserver } from '../model/liveness.ts';
import { ALL_GRANTED, GRANTS_CONFIGMAP, type NamespaceGrants, parseGrants } from '../model/namespace-grants.ts';
import type { ClusterId, ClusterLease, ExportEndpoints, ExportRecord, ServiceRef } from '../model/types.ts';
import { Informer, objectKey, type InformerEventType, type InformerRestartReason } from './informer.ts';
import { brokerRecordName, leaseName } from './names.ts';
import { buildBrokerRecord, buildBrokerSlices, buildLease, mcsApiVersion } from './object-builders.ts';
import { assembleSlices, isManagedByUs, parseBrokerRecord, parseBrokerSlice, parseLease, type ParsedSlice } from './object-parsers.ts';
import { COORDINATION_API_VERSION, DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, KIND_LEASE, KIND_SERVICE_IMPORT } from './objects.ts';
import { sameContent } from './same-content.ts';
import { KubeWriter, resourceOf, type ResourceType } from './writer.ts';

export interface KubeStoreMetrics extends AgentMetrics {
  informerRestart?(informer: string, reason: InformerRestartReason): void;
  brokerReachable?(reachable: boolean): void;
}

export interface KubeBrokerStoreOptions {
  kubeConfig: KubeConfig;
  /** The broker namespace (default clusterset-broker). */
  namespace: string;
  /** This agent's cluster: the only cluster whose objects it writes. */
  cluster: ClusterId;
  /** multicluster.x-k8s.io version the broker serves (discoverMcsVersion). */
  mcsVersion: string;
  logger: Logger;
  metrics?: KubeStoreMetrics;
  now?: () => number;
  /**
   * Broker counts as unreachable when this agent's own renewals have not been seen through the
   * watch for this long (unset: off). Must be shorter than leaseDuration - renewInterval.
   */
  heartbeatTimeoutMs?: number;
  /** Clock skew tolerated between clusters for claimed times (model/liveness.ts). */
  skewToleranceMs?: number;
  /** Informer backoff tuning (tests). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

type Kind = 'record' | 'endpoints' | 'lease' | 'grants';

/** How often the own-lease canary is checked. */
const HEARTBEAT_CHECK_MS = 250;

export class KubeBrokerStore implements BrokerStore {
  private readonly opts: KubeBrokerStoreOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly writer: KubeWriter;
  private readonly recordResource: ResourceType;
  private readonly sliceResource: ResourceType;
  private readonly leaseResource: ResourceType;
  private readonly records: Informer;
  private readonly slices: Informer;
  private readonly leases: Informer;
  /** ConfigMaps of the broker namespace: only clusterset-dns-grants is read. */
  private readonly configMaps: Informer;
  private grants: NamespaceGrants = ALL_GRANTED;
  private readonly listeners = new Set<(change: BrokerChange) => void>();

  /** Parsed views, keyed by object key, and the indexes built from them. */
  private readonly recordOf = new Map<string, ExportRecord>();
  private readonly recordIndex = new Map<string, Map<ClusterId, ExportRecord>>();
  private readonly sliceOf = new Map<string, ParsedSlice>();
  /** service key → cluster → object key → parsed slice */
  private readonly sliceIndex = new Map<string, Map<ClusterId, Map<string, ParsedSlice>>>();
  private readonly endpointsCache = new Map<string, Map<ClusterId, ExportEndpoints>>();
  private readonly leaseOf = new Map<string, ClusterLease>();
  /** The leases as this agent observed them change (what liveness is judged by). */
  private readonly observed: LeaseObserver;
  /** Object keys currently rejected (counted and logged once per bad version). */
  private readonly rejected = new Map<string, string>();

  private state: BrokerConnectivity;
  private everReachable = false;
  /** When this agent first renewed its own lease (the canary check starts after that). */
  private renewalsSince: number | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(options: KubeBrokerStoreOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'broker-store', broker: options.kubeConfig.getCurrentCluster()?.server });
    this.now = options.now ?? Date.now;
    this.writer = new KubeWriter(options.kubeConfig);
    const mcs = mcsApiVersion(options.mcsVersion);
    this.recordResource = resourceOf(mcs, 'serviceimports');
    this.sliceResource = resourceOf(DISCOVERY_API_VERSION, 'endpointslices');
    this.leaseResource = resourceOf(COORDINATION_API_VERSION, 'leases');
    this.state = { reachable: false, since: this.now(), reason: 'broker not synced yet' };
    this.observed = new LeaseObserver({ now: this.now, ...(options.skewToleranceMs === undefined ? {} : { skewToleranceMs: options.skewToleranceMs }) });
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
        onEvent,
        onSynced: () => this.updateConnectivity(),
        onRestart: (reason) => {
          options.metrics?.informerRestart?.(`broker-${plural}`, reason);
          this.updateConnectivity();
        },
      });
    this.records = make(mcs, KIND_SERVICE_IMPORT, 'serviceimports', (t, o) => this.onRecord(t, o));
    this.slices = make(DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, 'endpointslices', (t, o) => this.onSlice(t, o));
    this.leases = make(COORDINATION_API_VERSION, KIND_LEASE, 'leases', (t, o) => this.onLease(t, o));
    this.configMaps = make('v1', 'ConfigMap', 'configmaps', (t, o) => this.onConfigMap(t, o));
  }

  start(): void {
    for (const i of this.informers()) i.start();
    if (this.opts.heartbeatTimeoutMs !== undefined) {
      this.heartbeatTimer = setInterval(() => this.updateConnectivity(), HEARTBEAT_CHECK_MS);
      this.heartbeatTimer.unref();
    }
  }

  stop(): void {
    for (const i of this.informers()) i.stop();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.listeners.clear();
  }

  /**
   * Announces this cluster's own endpoint sets as changed, so that the exporter also visits slices
   * whose record is gone (a crash between two writes) and withdraws them if no export wants them.
   */
  replayOwnEndpoints(): void {
    for (const byCluster of this.sliceIndex.values()) {
      const own = byCluster.get(this.opts.cluster)?.values().next().value;
      if (own !== undefined) this.emit({ kind: 'ExportEndpoints', cluster: this.opts.cluster, namespace: own.ref.namespace, name: own.ref.name });
    }
  }

  /** Why our view of the broker is frozen although the watches look healthy, if it is. */
  private frozenView(now: number): string | undefined {
    const timeout = this.opts.heartbeatTimeoutMs;
    if (timeout === undefined || this.renewalsSince === undefined || now - this.renewalsSince <= timeout) return undefined;
    const own = this.observed.get(this.opts.cluster);
    const age = own === undefined ? now - this.renewalsSince : now - own.renewedAt;
    if (age <= timeout) return undefined;
    return `own lease renewals not seen through the watch for ${Math.round(age / 1000)}s`;
  }

  /** Resolves once every broker informer listed once; rejects after timeoutMs. */
  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(this.informers().map((i) => i.waitForSync(timeoutMs)));
    this.updateConnectivity();
  }

  private informers(): Informer[] {
    return [this.records, this.slices, this.leases, this.configMaps];
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

  private reject(kind: Kind, key: string, obj: KubernetesObject, problems: string[]): void {
    const version = obj.metadata?.resourceVersion ?? '';
    if (this.rejected.get(key) === version) return;
    this.rejected.set(key, version);
    this.opts.metrics?.brokerObjectRejected?.(kind);
    this.logger.error({ object: key, kind, problems }, 'rejected an invalid broker object');
  }

  private onRecord(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.recordOf.get(key);
    let next: ExportRecord | undefined;
    if (type !== 'DELETED') {
      const parsed = parseBrokerRecord(obj);
      if (parsed.ok) {
        next = parsed.value;
        this.rejected.delete(key);
      } else this.reject('record', key, obj, parsed.problems);
    } else this.rejected.delete(key);
    if (old !== undefined) removeFrom(this.recordIndex, serviceKey(old), old.cluster);
    if (next !== undefined) {
      this.recordOf.set(key, next);
      putIn(this.recordIndex, serviceKey(next), next.cluster, next);
    } else this.recordOf.delete(key);
    for (const r of dedupe([old, next])) this.emit({ kind: 'ExportRecord', cluster: r.cluster, namespace: r.namespace, name: r.name });
  }

  private onSlice(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.sliceOf.get(key);
    let next: ParsedSlice | undefined;
    if (type !== 'DELETED') {
      const parsed = parseBrokerSlice(obj);
      if (parsed.ok) {
        next = parsed.value;
        this.rejected.delete(key);
      } else this.reject('endpoints', key, obj, parsed.problems);
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
    for (const s of [old, next]) if (s !== undefined) touched.set(`${s.cluster}|${serviceKey(s.ref)}`, { ref: s.ref, cluster: s.cluster });
    for (const { ref, cluster } of touched.values()) {
      this.reassemble(ref, cluster);
      this.emit({ kind: 'ExportEndpoints', cluster, namespace: ref.namespace, name: ref.name });
    }
  }

  private reassemble(ref: ServiceRef, cluster: ClusterId): void {
    const set = this.sliceIndex.get(serviceKey(ref))?.get(cluster);
    if (set === undefined || set.size === 0) {
      removeFrom(this.endpointsCache, serviceKey(ref), cluster);
      return;
    }
    const { endpoints, ports } = assembleSlices([...set.values()]);
    putIn(this.endpointsCache, serviceKey(ref), cluster, { namespace: ref.namespace, name: ref.name, cluster, endpoints, ports });
  }

  private onLease(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.leaseOf.get(key);
    let next: ClusterLease | undefined;
    if (type !== 'DELETED') {
      const parsed = parseLease(obj);
      if (parsed.ok) {
        next = parsed.value;
        this.rejected.delete(key);
      } else this.reject('lease', key, obj, parsed.problems);
    } else this.rejected.delete(key);
    // An update (or a relist) with the same claim is not a renewal: only a lease that is gone is forgotten.
    if (old !== undefined && (next === undefined || next.cluster !== old.cluster)) this.observed.forget(old.cluster);
    if (next !== undefined) {
      this.leaseOf.set(key, next);
      this.observed.observe(next);
    } else this.leaseOf.delete(key);
    const clusters = new Set([old?.cluster, next?.cluster].filter((c): c is string => c !== undefined));
    for (const cluster of clusters) this.emit({ kind: 'Lease', cluster });
  }

  private onConfigMap(type: InformerEventType, obj: KubernetesObject): void {
    if (obj.metadata?.name !== GRANTS_CONFIGMAP) return;
    const { grants, problems } = type === 'DELETED' ? { grants: ALL_GRANTED, problems: [] } : parseGrants((obj as { data?: Record<string, unknown> }).data);
    if (problems.length > 0) this.reject('grants', objectKey(obj), obj, problems);
    this.grants = grants;
    this.logger.info({ grants: Object.fromEntries([...grants.byCluster].map(([c, g]) => [c, g === '*' ? '*' : [...g].join(',')])) }, 'namespace grants changed');
    this.emit({ kind: 'Grants' });
  }

  namespaceGrants(): NamespaceGrants {
    return this.grants;
  }

  private updateConnectivity(): void {
    const now = this.now();
    const statuses = this.informers().map((i) => ({ name: i.name, ...i.status() }));
    const failing = statuses.find((s) => !s.synced || !s.healthy);
    const frozen = failing === undefined ? this.frozenView(now) : undefined;
    const reachable = failing === undefined && frozen === undefined;
    if (reachable === this.state.reachable) return;
    if (reachable) {
      if (this.everReachable) {
        // Blind since the last own renewal we saw, which may be well before we noticed.
        const ownSeen = this.observed.get(this.opts.cluster)?.renewedAt;
        this.observed.setReachable(true, ownSeen === undefined ? this.state.since : Math.min(this.state.since, ownSeen));
        this.logger.info({ downMs: now - this.state.since }, 'broker reachable again');
      }
      this.everReachable = true;
      this.state = { reachable: true, since: now };
    } else {
      const reason = failing !== undefined ? `broker ${failing.name}: ${failing.lastError ?? 'not synced'}` : `broker view frozen: ${frozen}`;
      this.state = { reachable: false, since: now, reason };
      if (this.everReachable) this.observed.setReachable(false, now);
      this.logger.warn({ reason }, 'broker unreachable: imports stay as they are (fail static)');
    }
    this.opts.metrics?.brokerReachable?.(reachable);
    this.emit({ kind: 'Connectivity' });
  }

  // ---- reads --------------------------------------------------------------------------------

  connectivity(): BrokerConnectivity {
    return this.state;
  }

  subscribe(listener: (change: BrokerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listRecords(): ExportRecord[] {
    return [...this.recordOf.values()];
  }
  listRecordsFor(ref: ServiceRef): ExportRecord[] {
    return [...(this.recordIndex.get(serviceKey(ref))?.values() ?? [])];
  }
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined {
    return this.recordIndex.get(serviceKey(ref))?.get(cluster);
  }
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[] {
    return [...(this.endpointsCache.get(serviceKey(ref))?.values() ?? [])];
  }
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined {
    return this.endpointsCache.get(serviceKey(ref))?.get(cluster);
  }
  listLeases(): ClusterLease[] {
    return this.observed.list();
  }
  getLease(cluster: ClusterId): ClusterLease | undefined {
    return this.observed.get(cluster);
  }

  // ---- writes (own cluster only) ------------------------------------------------------------

  private own(cluster: ClusterId, what: string): void {
    if (cluster !== this.opts.cluster) throw new Error(`refusing to write ${what} of cluster ${cluster}: this agent is ${this.opts.cluster}`);
  }

  private cached(informer: Informer, name: string): KubernetesObject | undefined {
    return informer.get(`${this.opts.namespace}/${name}`);
  }

  async applyRecord(record: ExportRecord): Promise<void> {
    this.own(record.cluster, 'a record');
    const desired = buildBrokerRecord(record, this.opts.namespace, this.opts.mcsVersion);
    if (sameContent(desired, this.cached(this.records, desired.metadata.name))) return;
    this.records.observeWritten(await this.writer.apply(this.recordResource, desired));
  }

  async deleteRecord(cluster: ClusterId, ref: ServiceRef): Promise<void> {
    this.own(cluster, 'a record');
    await this.deleteOwned(this.recordResource, this.records, this.cached(this.records, brokerRecordName(ref, cluster)));
  }

  async applyEndpoints(endpoints: ExportEndpoints): Promise<void> {
    this.own(endpoints.cluster, 'endpoints');
    const desired = buildBrokerSlices(endpoints, this.opts.namespace);
    for (const obj of desired) {
      if (!sameContent(obj, this.cached(this.slices, obj.metadata.name))) this.slices.observeWritten(await this.writer.apply(this.sliceResource, obj));
    }
    // Slices of families or chunks no longer needed go after the new ones exist (no empty gap).
    const wanted = new Set(desired.map((o) => `${this.opts.namespace}/${o.metadata.name}`));
    for (const key of this.sliceIndex.get(serviceKey(endpoints))?.get(endpoints.cluster)?.keys() ?? []) {
      if (!wanted.has(key)) await this.deleteOwned(this.sliceResource, this.slices, this.slices.get(key));
    }
  }

  async deleteEndpoints(cluster: ClusterId, ref: ServiceRef): Promise<void> {
    this.own(cluster, 'endpoints');
    for (const key of [...(this.sliceIndex.get(serviceKey(ref))?.get(cluster)?.keys() ?? [])]) {
      await this.deleteOwned(this.sliceResource, this.slices, this.slices.get(key));
    }
  }

  async applyLease(lease: ClusterLease): Promise<void> {
    this.own(lease.cluster, 'a lease');
    this.renewalsSince ??= this.now();
    await this.writer.apply(this.leaseResource, buildLease(lease, this.opts.namespace));
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

function dedupe(records: (ExportRecord | undefined)[]): ExportRecord[] {
  const out = new Map<string, ExportRecord>();
  for (const r of records) if (r !== undefined) out.set(`${r.cluster}|${serviceKey(r)}`, r);
  return [...out.values()];
}
