/**
 * The embedded default's broker: every cluster's export records, endpoints and leases in memory,
 * with watch semantics. Each agent talks to it through its own connection (a BrokerStore view),
 * which can be cut to simulate that agent losing the broker: writes then fail, watch events stop
 * and connectivity() says why. Reads still see the live maps (there is no cache to go stale here);
 * reconcilers do not act on them while the connection is cut. Leases and reachability are the
 * exception: each connection judges them with model/broker-sight.ts, fed the cut as its transport's
 * verdict, every lease event and every own renewal, exactly as the Kube broker store feeds it, so
 * the embedded default judges liveness as production does. (Its own-lease canary is evaluated on
 * those inputs only: an in-memory watch cannot freeze, so it has no timer to wait for.)
 *
 * Content is validated once, when it is put (model/broker-validation.ts, the same validator as
 * the Kube broker store): what fails is not stored and is reported through `onRejected`.
 */
import { serviceKey } from '../model/service-key.ts';
import type { BrokerChange, BrokerConnectivity, BrokerPublisher, BrokerView } from '../agent/stores.ts';
import { BrokerSight } from '../model/broker-sight.ts';
import { validateEndpoints, screenLeaseProperties, validateLease, validateRecord } from '../model/broker-validation.ts';
import { ALL_GRANTED, type NamespaceGrants } from '../model/namespace-grants.ts';
import type { ClusterId, ClusterLease, ExportEndpoints, ExportRecord, ServiceRef } from '../model/types.ts';

export interface MemoryBrokerOptions {
  /** Content refused by the validator (counted and logged by the caller). */
  onRejected?(kind: 'record' | 'endpoints' | 'lease', object: string, problems: string[]): void;
}

export class MemoryBroker {
  /** service key → cluster → record */
  private readonly records = new Map<string, Map<ClusterId, ExportRecord>>();
  private readonly endpoints = new Map<string, Map<ClusterId, ExportEndpoints>>();
  private readonly leases = new Map<ClusterId, ClusterLease>();
  private grants: NamespaceGrants = ALL_GRANTED;
  private readonly listeners = new Set<(change: BrokerChange) => void>();
  private readonly now: () => number;
  private readonly onRejected: MemoryBrokerOptions['onRejected'];

  constructor(now: () => number = Date.now, options: MemoryBrokerOptions = {}) {
    this.now = now;
    this.onRejected = options.onRejected;
  }

  /** Whether content passed the validator; reports it (and leaves it out) when not. */
  private valid(kind: 'record' | 'endpoints' | 'lease', object: string, problems: string[]): boolean {
    if (problems.length === 0) return true;
    this.onRejected?.(kind, object, problems);
    return false;
  }

  /** A connection for one agent. */
  connect(options: MemoryConnectionOptions = {}): MemoryBrokerConnection {
    return new MemoryBrokerConnection(this, this.now, options);
  }

  /** Internal to connections: raw access and change fan-out. */
  listen(listener: (change: BrokerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: BrokerChange): void {
    for (const l of this.listeners) l(change);
  }

  listRecords(): ExportRecord[] {
    const out: ExportRecord[] = [];
    for (const m of this.records.values()) out.push(...m.values());
    return out;
  }
  listRecordsFor(ref: ServiceRef): ExportRecord[] {
    const m = this.records.get(serviceKey(ref));
    return m === undefined ? [] : [...m.values()];
  }
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined {
    return this.records.get(serviceKey(ref))?.get(cluster);
  }
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[] {
    const m = this.endpoints.get(serviceKey(ref));
    return m === undefined ? [] : [...m.values()];
  }
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined {
    return this.endpoints.get(serviceKey(ref))?.get(cluster);
  }
  listLeases(): ClusterLease[] {
    return [...this.leases.values()];
  }
  getLease(cluster: ClusterId): ClusterLease | undefined {
    return this.leases.get(cluster);
  }

  namespaceGrants(): NamespaceGrants {
    return this.grants;
  }
  /** The broker owner's grants (the Kube broker reads them from a ConfigMap). */
  setGrants(grants: NamespaceGrants): void {
    this.grants = grants;
    this.emit({ kind: 'Grants' });
  }

  /** One cluster's export: record and endpoints together, as a Kube broker holds them. */
  putExport(record: ExportRecord, endpoints: ExportEndpoints): void {
    // Refused as a whole, like one object on a Kube broker: never a valid half without the other.
    const id = `${record.cluster}/${serviceKey(record)}`;
    if (!this.valid('record', `record/${id}`, validateRecord(record)) || !this.valid('endpoints', `endpoints/${id}`, validateEndpoints(endpoints))) {
      this.removeExport(record.cluster, record);
      return;
    }
    this.putEndpoints(endpoints);
    this.putRecord(record);
  }
  removeExport(cluster: ClusterId, ref: ServiceRef): boolean {
    const had = this.getRecord(cluster, ref) !== undefined || this.getEndpoints(cluster, ref) !== undefined;
    this.removeEndpoints(cluster, ref);
    this.removeRecord(cluster, ref);
    return had;
  }

  /** The parts one by one (tests write them as a misbehaving member would). */
  putRecord(record: ExportRecord): void {
    if (!this.valid('record', `record/${record.cluster}/${serviceKey(record)}`, validateRecord(record))) {
      // Refused content replaces what was there, as on a Kube broker: nothing invalid stays visible.
      this.removeRecord(record.cluster, record);
      return;
    }
    put(this.records, serviceKey(record), record.cluster, record);
    this.emit({ kind: 'Export', cluster: record.cluster, namespace: record.namespace, name: record.name });
  }
  removeRecord(cluster: ClusterId, ref: ServiceRef): void {
    if (remove(this.records, serviceKey(ref), cluster)) this.emit({ kind: 'Export', cluster, namespace: ref.namespace, name: ref.name });
  }
  putEndpoints(endpoints: ExportEndpoints): void {
    if (!this.valid('endpoints', `endpoints/${endpoints.cluster}/${serviceKey(endpoints)}`, validateEndpoints(endpoints))) {
      this.removeEndpoints(endpoints.cluster, endpoints);
      return;
    }
    put(this.endpoints, serviceKey(endpoints), endpoints.cluster, endpoints);
    this.emit({ kind: 'Export', cluster: endpoints.cluster, namespace: endpoints.namespace, name: endpoints.name });
  }
  removeEndpoints(cluster: ClusterId, ref: ServiceRef): void {
    if (remove(this.endpoints, serviceKey(ref), cluster)) this.emit({ kind: 'Export', cluster, namespace: ref.namespace, name: ref.name });
  }
  putLease(lease: ClusterLease): void {
    if (!this.valid('lease', `lease/${lease.cluster}`, validateLease(lease))) {
      this.removeLease(lease.cluster);
      return;
    }
    // Bad published properties are left out and reported; the lease itself still counts.
    const screened = screenLeaseProperties(lease);
    this.valid('lease', `lease/${lease.cluster}`, screened.problems);
    this.leases.set(lease.cluster, screened.lease);
    this.emit({ kind: 'Lease', cluster: lease.cluster });
  }
  removeLease(cluster: ClusterId): void {
    if (this.leases.delete(cluster)) this.emit({ kind: 'Lease', cluster });
  }
}

function put<V>(index: Map<string, Map<ClusterId, V>>, key: string, cluster: ClusterId, value: V): void {
  let m = index.get(key);
  if (m === undefined) index.set(key, (m = new Map()));
  m.set(cluster, value);
}

function remove<V>(index: Map<string, Map<ClusterId, V>>, key: string, cluster: ClusterId): boolean {
  const m = index.get(key);
  if (m === undefined || !m.delete(cluster)) return false;
  if (m.size === 0) index.delete(key);
  return true;
}

export interface MemoryConnectionOptions {
  /**
   * The agent's cluster (its own lease is the canary and dates the start of an outage). Unset: a
   * connection that only reads, such as a test's.
   */
  cluster?: ClusterId;
  /** The own-lease canary's timeout (model/broker-sight.ts canaryTimeoutMs()); unset: off. */
  canaryTimeoutMs?: number;
}

export class MemoryBrokerConnection implements BrokerView, BrokerPublisher {
  private readonly broker: MemoryBroker;
  private readonly cluster: ClusterId | undefined;
  /** Why the connection is cut, if it is (the transport's verdict). */
  private cut: string | undefined;
  private readonly listeners = new Set<(change: BrokerChange) => void>();
  private readonly unlisten: () => void;
  private readonly sight: BrokerSight;

  constructor(broker: MemoryBroker, now: () => number, options: MemoryConnectionOptions = {}) {
    this.broker = broker;
    this.cluster = options.cluster;
    this.sight = new BrokerSight({
      now,
      ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      ...(options.canaryTimeoutMs === undefined ? {} : { canaryTimeoutMs: options.canaryTimeoutMs }),
    });
    this.observeAllLeases();
    this.sight.update(undefined);
    this.unlisten = broker.listen((change) => {
      if (this.cut !== undefined) return;
      if (change.kind === 'Lease') this.observeLease(change.cluster);
      this.emit(change);
      // Our own renewal coming back re-judges the canary.
      if (change.kind === 'Lease' && change.cluster === this.cluster) this.judge();
    });
  }

  private observeLease(cluster: ClusterId): void {
    const lease = this.broker.getLease(cluster);
    if (lease === undefined) this.sight.leaseGone(cluster);
    else this.sight.leaseSeen(lease);
  }

  /** What a relist does: every lease seen again (unchanged claims keep their observed time). */
  private observeAllLeases(): void {
    const present = new Set<ClusterId>();
    for (const lease of this.broker.listLeases()) {
      present.add(lease.cluster);
      this.sight.leaseSeen(lease);
    }
    for (const lease of this.sight.leases()) if (!present.has(lease.cluster)) this.sight.leaseGone(lease.cluster);
  }

  /** Re-judges reachability; announces a change. */
  private judge(): void {
    if (this.sight.update(this.cut) !== undefined) this.emit({ kind: 'Connectivity' });
  }

  /** Cuts or restores this connection (tests, fault injection). */
  setReachable(reachable: boolean, reason = 'connection to the broker lost'): void {
    if ((this.cut === undefined) === reachable) return;
    this.cut = reachable ? undefined : reason;
    // Back in sight first (blind time credited), then the relist a reconnecting watch does.
    const change = this.sight.update(this.cut);
    if (reachable) this.observeAllLeases();
    if (change !== undefined) this.emit({ kind: 'Connectivity' });
  }

  close(): void {
    this.unlisten();
    this.listeners.clear();
  }

  connectivity(): BrokerConnectivity {
    return this.sight.connectivity();
  }

  subscribe(listener: (change: BrokerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: BrokerChange): void {
    for (const l of this.listeners) l(change);
  }

  private check(): void {
    if (this.cut !== undefined) throw new Error(`broker unreachable: ${this.cut}`);
  }

  listRecords(): ExportRecord[] {
    return this.broker.listRecords();
  }
  listRecordsFor(ref: ServiceRef): ExportRecord[] {
    return this.broker.listRecordsFor(ref);
  }
  getRecord(cluster: ClusterId, ref: ServiceRef): ExportRecord | undefined {
    return this.broker.getRecord(cluster, ref);
  }
  listEndpointsFor(ref: ServiceRef): ExportEndpoints[] {
    return this.broker.listEndpointsFor(ref);
  }
  getEndpoints(cluster: ClusterId, ref: ServiceRef): ExportEndpoints | undefined {
    return this.broker.getEndpoints(cluster, ref);
  }
  listLeases(): ClusterLease[] {
    return this.sight.leases();
  }
  getLease(cluster: ClusterId): ClusterLease | undefined {
    return this.sight.lease(cluster);
  }
  namespaceGrants(): NamespaceGrants {
    return this.broker.namespaceGrants();
  }
  async publishExport(record: ExportRecord, endpoints: ExportEndpoints): Promise<void> {
    this.check();
    this.broker.putExport(record, endpoints);
  }
  async withdrawExport(cluster: ClusterId, ref: ServiceRef): Promise<boolean> {
    this.check();
    return this.broker.removeExport(cluster, ref);
  }
  async applyLease(lease: ClusterLease): Promise<void> {
    if (lease.cluster === this.cluster) this.sight.ownRenewalAttempted();
    this.check();
    this.broker.putLease(lease);
  }
  async deleteLease(cluster: ClusterId): Promise<void> {
    this.check();
    this.broker.removeLease(cluster);
  }
}
