/**
 * Broker liveness: when is a source cluster live, stale or gone — judged by what THIS importer
 * observed, never by the time a member claims.
 *
 * A Lease's `renewTime` is written by the member itself, so it is a claim: a lease claiming 2099
 * would never expire, and clock skew between two clusters would shift staleness one to one. So
 * the time that counts is when this importer saw the lease *change* (a renewal is a change of the
 * claimed renew time, whatever value it claims). The claim is used only against the claimer: a
 * lease first seen with a renew time already older than its duration plus the skew tolerance is
 * taken at its word (a long-dead cluster is not revived by an importer restart); a claim can make
 * a lease older, never younger.
 *
 * And staleness only runs while the importer can see the broker (DESIGN.md health model): time
 * spent blind (the broker unreachable, or its watch frozen) is credited back to every lease
 * observed before it, so an outage on OUR side never makes other clusters look dead.
 *
 * Pure: the clock is passed in. Driven by broker-sight.ts, which both broker stores (the Kube one
 * and the in-memory one of the embedded default) feed, so the rule is the same everywhere.
 */
import type { ClusterId, ClusterLease } from './types.ts';

/** Default skew tolerance between cluster clocks for claims that are judged at all. */
export const DEFAULT_SKEW_TOLERANCE_MS = 30_000;

interface Observation {
  /** The claim as last seen (what a renewal changes). */
  claimedRenewedAt: number;
  durationMs: number;
  /** When this importer saw the claim change, shifted forward by time spent blind since. */
  observedAt: number;
  /** The cluster's published properties as last seen (no bearing on liveness). */
  properties: ClusterLease['properties'];
}

export interface LeaseObserverOptions {
  now: () => number;
  skewToleranceMs?: number;
}

/** The leases of every cluster as one importer observed them. */
export class LeaseObserver {
  private readonly now: () => number;
  private readonly skewToleranceMs: number;
  private readonly seen = new Map<ClusterId, Observation>();
  /** Start of the current blind period, if the broker is out of sight. */
  private blindSince: number | undefined;

  constructor(options: LeaseObserverOptions) {
    this.now = options.now;
    this.skewToleranceMs = options.skewToleranceMs ?? DEFAULT_SKEW_TOLERANCE_MS;
  }

  /**
   * A lease arrived (added, updated or relisted). A changed claim counts as a renewal seen now.
   * Returns whether it counted as a renewal (first sight or a changed claim).
   */
  observe(claim: ClusterLease): boolean {
    const now = this.now();
    const before = this.seen.get(claim.cluster);
    if (before === undefined) {
      this.seen.set(claim.cluster, { claimedRenewedAt: claim.renewedAt, durationMs: claim.durationMs, observedAt: firstSight(claim, now, this.skewToleranceMs), properties: claim.properties });
      return true;
    }
    // Properties follow every sighting; only a changed claim is a renewal.
    before.properties = claim.properties;
    if (before.claimedRenewedAt === claim.renewedAt && before.durationMs === claim.durationMs) return false;
    this.seen.set(claim.cluster, { claimedRenewedAt: claim.renewedAt, durationMs: claim.durationMs, observedAt: now, properties: claim.properties });
    return true;
  }

  forget(cluster: ClusterId): void {
    this.seen.delete(cluster);
  }

  /**
   * The broker went out of sight at `since` (default: now), or came back (`reachable`). On the way
   * back, every lease gets the blind time credited (never beyond now).
   */
  setReachable(reachable: boolean, since?: number): void {
    const now = this.now();
    if (!reachable) {
      this.blindSince ??= since ?? now;
      return;
    }
    if (this.blindSince === undefined) return;
    const from = Math.min(this.blindSince, since ?? this.blindSince);
    this.blindSince = undefined;
    for (const o of this.seen.values()) o.observedAt = creditBlindTime(o.observedAt, from, now);
  }

  /** The lease with `renewedAt` = when it was observed (the only time liveness may use). */
  get(cluster: ClusterId): ClusterLease | undefined {
    const o = this.seen.get(cluster);
    if (o === undefined) return undefined;
    return o.properties === undefined ? { cluster, renewedAt: o.observedAt, durationMs: o.durationMs } : { cluster, renewedAt: o.observedAt, durationMs: o.durationMs, properties: o.properties };
  }

  list(): ClusterLease[] {
    return [...this.seen.keys()].map((c) => this.get(c)!);
  }
}

/** When a lease seen for the first time counts as renewed (see the module comment). */
export function firstSight(claim: ClusterLease, now: number, skewToleranceMs: number): number {
  const claimedExpiry = claim.renewedAt + claim.durationMs;
  if (Number.isFinite(claimedExpiry) && claimedExpiry + skewToleranceMs < now) return claim.renewedAt + skewToleranceMs;
  return now;
}

/** `observedAt` after a blind period [from, to]: time spent blind does not age the lease. */
export function creditBlindTime(observedAt: number, from: number, to: number): number {
  if (to <= from) return observedAt;
  return Math.min(to, observedAt + (to - Math.max(observedAt, from)));
}

export type ClusterLiveness =
  | { state: 'live'; expiresAt: number }
  | { state: 'stale'; reason: string; gcAt: number }
  /** Past the GC grace: the cluster's objects are ignored and imports of it removed. */
  | { state: 'gone'; reason: string }
  /** No lease seen: served as excluded, never garbage-collected (no clock to judge by). */
  | { state: 'unknown'; reason: string };

/** Liveness of one cluster from its OBSERVED lease (LeaseObserver.get), at `now`. */
export function clusterLiveness(cluster: ClusterId, lease: ClusterLease | undefined, now: number, gcGraceMs: number): ClusterLiveness {
  if (lease === undefined) return { state: 'unknown', reason: `no lease from cluster ${cluster} on the broker` };
  const expiresAt = lease.renewedAt + lease.durationMs;
  if (now <= expiresAt) return { state: 'live', expiresAt };
  // Stable text (no "N seconds ago"): it is written into imported objects, which must not change
  // on every reconcile.
  const reason = `lease expired at ${new Date(expiresAt).toISOString()}`;
  const gcAt = expiresAt + gcGraceMs;
  if (now <= gcAt) return { state: 'stale', reason, gcAt };
  return { state: 'gone', reason };
}

/** The earliest time after `now` at which some cluster's liveness changes, if any. */
export function nextLivenessChange(leases: readonly ClusterLease[], now: number, gcGraceMs: number): number | undefined {
  let next: number | undefined;
  for (const lease of leases) {
    const l = clusterLiveness(lease.cluster, lease, now, gcGraceMs);
    const at = l.state === 'live' ? l.expiresAt + 1 : l.state === 'stale' ? l.gcAt + 1 : undefined;
    if (at !== undefined && (next === undefined || at < next)) next = at;
  }
  return next;
}
