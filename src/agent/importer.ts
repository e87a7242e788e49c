/**
 * Import side of the agent: from every cluster's broker records, endpoints and leases, keep this
 * cluster's ImportedServices and ImportedSlices equal to computeServiceImport(). Fail static: while
 * the broker is unreachable nothing local changes. Time-driven changes (a lease expiring, a GC
 * grace ending) come from a single timer set at the next liveness transition.
 */
import { serviceKey } from '../model/service-key.ts';
import type { Place } from '../model/snapshot.ts';
import { type RejectedAddress, screenEndpoints, summarizeRejections } from '../model/address-policy.ts';
import { deepEqual } from '../model/equal.ts';
import { isGranted, notGrantedReason } from '../model/namespace-grants.ts';
import type { ClusterId, ClusterLease, ExportEndpoints, ExportRecord, ServiceRef } from '../model/types.ts';
import { type ClusterLiveness, type ImportConfig, clusterLiveness, computeServiceImport, nextLivenessChange } from './imports.ts';
import { KeyedReconciler, type ReconcilerOptions } from './keyed-reconciler.ts';
import { type BrokerChange, type BrokerView, type ImportSink, type LocalChange } from './stores.ts';
import { claimProblems } from '../model/broker-validation.ts';
import type { ReachabilityView } from './reachability.ts';

/** Where a cluster says it is (region and zone on its lease); {} when it says nothing. */
function placeOf(lease: ClusterLease | undefined): Place {
  const p = lease?.properties;
  const place: Place = {};
  if (p?.region !== undefined) place.region = p.region;
  if (p?.zone !== undefined) place.zone = p.zone;
  return place;
}

/** Reads the broker, never writes it; writes only the local imports. */
export type ImporterOptions = ReconcilerOptions<ImportSink, BrokerView> & {
  /** This cluster's probes of the others (unset: every cluster counts as reachable). */
  reachability?: ReachabilityView;
};

export class Importer extends KeyedReconciler<ImportSink, BrokerView> {
  private readonly config: ImportConfig;
  private livenessTimer: unknown;
  /** Last known liveness state per cluster, to queue only the services of clusters that changed. */
  private livenessStates = new Map<ClusterId, string>();
  /** Broker objects currently rejected (logged once when they become invalid). */
  private readonly rejected = new Set<string>();
  private readonly reachability: ReachabilityView | undefined;
  private unsubscribeReachability: (() => void) | undefined;

  constructor(options: ImporterOptions) {
    super('importer', options);
    this.reachability = options.reachability;
    const reachability = options.reachability;
    this.config = {
      gcGraceMs: this.gcGraceMs,
      namespaceExists: (ns) => this.local.hasNamespace(ns),
      vipFor: (ref) => this.local.getClusterSetVip(ref)?.ips,
      ...(reachability === undefined
        ? {}
        : {
            reachability: (cluster: ClusterId) => {
              const excludedReason = reachability.excludedReason(cluster);
              const note = reachability.note(cluster);
              return { ...(excludedReason === undefined ? {} : { excludedReason }), ...(note === undefined ? {} : { note }) };
            },
          }),
      placeOf: (cluster) => placeOf(this.broker.getLease(cluster)),
    };
  }

  protected override beforeFirstResync(): void {
    this.refreshLiveness();
    // A cluster whose path changed: every service it exports is recomputed.
    this.unsubscribeReachability = this.reachability?.subscribe((changed) => {
      for (const r of this.broker.listRecords()) if (changed.has(r.cluster)) this.queue.add(serviceKey(r));
    });
  }

  protected override onStop(): void {
    if (this.livenessTimer !== undefined) this.timers.clearTimeout(this.livenessTimer);
    this.unsubscribeReachability?.();
  }

  /** Queues every service known on the broker or already imported locally. */
  resyncAll(): void {
    for (const r of this.broker.listRecords()) this.queue.add(serviceKey(r));
    for (const s of this.local.listImportedServices()) this.queue.add(serviceKey(s));
  }

  protected onLocalChange(change: LocalChange): void {
    switch (change.kind) {
      case 'Namespace':
        // Imports appear when their namespace is created (and go when it is deleted).
        for (const r of this.broker.listRecords()) if (r.namespace === change.namespace) this.queue.add(serviceKey(r));
        for (const s of this.local.listImportedServices()) if (s.namespace === change.namespace) this.queue.add(serviceKey(s));
        break;
      case 'ClusterSetVip':
        this.queue.add(serviceKey(change));
        break;
      case 'ImportedService':
      case 'ImportedSlice':
        // Someone else's change (an imported slice deleted by hand) is repaired.
        if (!this.writing.has(serviceKey(change))) this.queue.add(serviceKey(change));
        break;
      default:
        break;
    }
  }

  protected onBrokerChange(change: BrokerChange): void {
    switch (change.kind) {
      case 'Export':
        this.queue.add(serviceKey(change));
        break;
      case 'Lease':
        this.refreshLiveness();
        break;
      case 'Grants':
        this.resyncAll();
        break;
      case 'Connectivity':
        if (this.broker.connectivity().reachable) {
          this.logger.info('broker reachable again: resyncing imports');
          this.refreshLiveness();
          this.resyncAll();
        } else {
          this.logger.warn({ reason: this.broker.connectivity().reason }, 'broker unreachable: keeping the last imported state (fail static)');
        }
        break;
    }
  }


  /**
   * Recomputes every cluster's liveness, queues the services of clusters whose state changed and
   * arms one timer for the next transition. Does nothing while the broker is unreachable: an
   * expired lease only means "stale" when we can see the broker.
   */
  private refreshLiveness(): void {
    if (this.stopped) return;
    if (this.livenessTimer !== undefined) this.timers.clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    if (!this.broker.connectivity().reachable) return;
    const now = this.now();
    // The broker stores expose only leases that passed the broker validator.
    const leases = this.broker.listLeases();
    const next = new Map<ClusterId, string>();
    for (const l of leases) {
      const state = clusterLiveness(l.cluster, l, now, this.gcGraceMs);
      // A cluster that moved (another region or zone on its lease) needs its imports rewritten too.
      const place = placeOf(l);
      next.set(l.cluster, `${state.state === 'live' ? 'live' : `${state.state}:${state.reason}`} @${place.region ?? ''}/${place.zone ?? ''}`);
    }
    const changed = new Set<ClusterId>();
    for (const [c, s] of next) if (this.livenessStates.get(c) !== s) changed.add(c);
    for (const c of this.livenessStates.keys()) if (!next.has(c)) changed.add(c);
    if (changed.size > 0) {
      for (const c of changed) {
        const s = next.get(c) ?? 'no lease';
        const before = this.livenessStates.get(c);
        const live = (state: string | undefined): boolean => state?.startsWith('live @') === true;
        if (!live(s)) this.logger.warn({ sourceCluster: c, state: s }, 'source cluster is not live');
        else if (before !== undefined && !live(before)) this.logger.info({ sourceCluster: c, before }, 'source cluster is live again');
        else if (before !== undefined) this.logger.info({ sourceCluster: c, before, now: s }, 'source cluster announced another region or zone');
      }
      for (const r of this.broker.listRecords()) if (changed.has(r.cluster)) this.queue.add(serviceKey(r));
    }
    this.livenessStates = next;
    const at = nextLivenessChange(leases, now, this.gcGraceMs);
    if (at !== undefined) {
      this.livenessTimer = this.timers.setTimeout(() => this.refreshLiveness(), Math.max(1, at - now));
    }
  }

  /** Grants and claimed times are judged here, at use (content was validated by the broker store). */
  private accept(kind: 'record' | 'endpoints', id: string, problems: string[]): boolean {
    if (problems.length === 0) {
      this.rejected.delete(id);
      return true;
    }
    if (!this.rejected.has(id)) {
      this.rejected.add(id);
      this.metrics.brokerObjectRejected?.(kind);
      this.logger.error({ object: id, problems }, 'rejected an invalid broker object');
    }
    return false;
  }

  protected async reconcileRef(ref: ServiceRef): Promise<void> {
    // Fail static: with the broker out of reach, what we imported last stays as it is.
    if (!this.broker.connectivity().reachable) return;
    const now = this.now();
    const claims = { now, skewToleranceMs: this.skewToleranceMs };
    // Grants are checked again here: an object written around the broker's policy is ignored too.
    const grants = this.broker.namespaceGrants();
    const granted = (cluster: ClusterId): string[] => (isGranted(grants, cluster, ref.namespace) ? [] : [notGrantedReason(cluster, ref.namespace)]);
    const records: ExportRecord[] = this.broker
      .listRecordsFor(ref)
      .filter((r) => this.accept('record', `record/${r.cluster}/${serviceKey(r)}`, [...granted(r.cluster), ...claimProblems(r, claims)]));
    // Another cluster's addresses are screened one by one: a refused address is dropped (with a
    // reason on the imported slice, for explain), the rest of the object still serves.
    const refused = new Map<ClusterId, RejectedAddress[]>();
    const endpoints: ExportEndpoints[] = this.broker
      .listEndpointsFor(ref)
      .filter((e) => this.accept('endpoints', `endpoints/${e.cluster}/${serviceKey(e)}`, granted(e.cluster)))
      .map((e) => {
        const screened = screenEndpoints(e.endpoints, this.addressPolicy);
        this.noteRefusedAddresses(`endpoints/${e.cluster}/${serviceKey(e)}`, e.cluster, ref, screened.rejected);
        if (screened.rejected.length === 0) return e;
        refused.set(e.cluster, screened.rejected);
        return { ...e, endpoints: screened.endpoints };
      });
    const liveness = new Map<ClusterId, ClusterLiveness>();
    const livenessOf = (c: ClusterId): ClusterLiveness => {
      let l = liveness.get(c);
      if (l === undefined) {
        l = clusterLiveness(c, this.broker.getLease(c), now, this.gcGraceMs);
        liveness.set(c, l);
      }
      return l;
    };
    const desired = computeServiceImport(ref, records, endpoints, livenessOf, this.config);
    for (const slice of desired.slices) {
      const r = refused.get(slice.sourceCluster);
      if (r !== undefined) slice.rejectedAddresses = summarizeRejections(r);
    }

    const currentSlices = this.local.listImportedSlices(ref);
    const wanted = new Set(desired.slices.map((s) => s.sourceCluster));
    if (desired.service === undefined && this.local.getImportedService(ref) !== undefined) {
      await this.local.deleteImportedService(ref);
    }
    for (const slice of desired.slices) {
      const current = currentSlices.find((s) => s.sourceCluster === slice.sourceCluster);
      if (!deepEqual(current, slice)) await this.local.applyImportedSlice(slice);
    }
    for (const s of currentSlices) if (!wanted.has(s.sourceCluster)) await this.local.deleteImportedSlice(ref, s.sourceCluster);
    // The service last, so DNS never sees a service without its slices.
    if (desired.service !== undefined && !deepEqual(this.local.getImportedService(ref), desired.service)) {
      await this.local.applyImportedService(desired.service);
    }
  }
}
