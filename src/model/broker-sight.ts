/**
 * What one agent sees of the broker: whether it reaches it, and every cluster's lease as it
 * observed it. The rule of the health model (DESIGN.md): a source cluster turns stale only while
 * the importer itself reaches the broker. Both broker stores (the Kube one and the in-memory one
 * of the embedded default) feed this one module, so both judge liveness alike.
 *
 * Three inputs decide reachability:
 * - the transport's verdict (the Kube store: every broker watch synced and healthy; the in-memory
 *   store: the connection not cut), passed to update();
 * - the own-lease canary: a broker can look reachable while it is not (a terminating or overloaded
 *   API server keeps watches open but delivers nothing). Every renewal of this agent's own lease
 *   must come back through the watch; when a renewal is outstanding and the own lease was last seen
 *   longer than the canary timeout ago, the whole view is frozen, and the broker counts as
 *   unreachable before any other lease could look expired in that frozen view. Renewals that
 *   stopped (the embedded default's OFFLINE cluster) expect nothing back, so they never trip it;
 * - the leases themselves (LeaseObserver in liveness.ts: judged by when they were seen to change).
 *
 * Blind time is credited back when the broker comes back: from when it went out of sight, or from
 * the last own renewal seen if that is earlier (a frozen watch is noticed only after the canary
 * timeout, but it froze right after the last renewal it delivered).
 *
 * Pure: the clock is injected and there are no timers. The IO code calls update() on every input
 * and, if it has a clock of its own, once more at nextCheckAt().
 */
import { LeaseObserver } from './liveness.ts';
import type { ClusterId, ClusterLease } from './types.ts';

export interface BrokerConnectivity {
  reachable: boolean;
  /** Epoch ms of the last reachability change. */
  since: number;
  /** Why it is unreachable. */
  reason?: string;
}

/** A change of reachability, for the IO code to log, count and announce. */
export type ReachabilityChange =
  | {
      reachable: true;
      /** How long the broker was out of sight; undefined on the first sight after start. */
      downMs: number | undefined;
    }
  | { reachable: false; reason: string };

export interface BrokerSightOptions {
  /**
   * This agent's cluster: its own lease is the canary and dates the start of an outage. Unset: a
   * view with no lease of its own (outages are dated from when they were noticed).
   */
  cluster?: ClusterId;
  now: () => number;
  /** Clock skew tolerated between clusters for claimed times (liveness.ts). */
  skewToleranceMs?: number;
  /** The own-lease canary's timeout (canaryTimeoutMs()); unset: no canary. */
  canaryTimeoutMs?: number;
}

export const NOT_SYNCED_YET = 'broker not synced yet';

/**
 * The canary timeout for a lease duration and renew interval: our own renewals must show up in
 * the watch well before anyone else's lease could look expired (shorter than duration - renew,
 * with 2 s to spare), yet never shorter than one renew interval plus a little.
 */
export function canaryTimeoutMs(leaseDurationMs: number, leaseRenewMs: number): number {
  return Math.max(leaseRenewMs + 500, leaseDurationMs - leaseRenewMs - 2_000);
}

export class BrokerSight {
  private readonly cluster: ClusterId | undefined;
  private readonly now: () => number;
  private readonly timeoutMs: number | undefined;
  private readonly observed: LeaseObserver;
  private state: BrokerConnectivity;
  private everReachable = false;
  /** Start of the current run of own renewals (the canary's grace starts there). */
  private runStartedAt: number | undefined;
  private lastAttemptAt: number | undefined;
  /** When the own lease was last seen renewed through the watch. */
  private lastEchoAt: number | undefined;

  constructor(options: BrokerSightOptions) {
    this.cluster = options.cluster;
    this.now = options.now;
    this.timeoutMs = options.canaryTimeoutMs;
    this.observed = new LeaseObserver({ now: options.now, ...(options.skewToleranceMs === undefined ? {} : { skewToleranceMs: options.skewToleranceMs }) });
    this.state = { reachable: false, since: options.now(), reason: NOT_SYNCED_YET };
  }

  // ---- inputs -----------------------------------------------------------------------------------

  /** A lease arrived through the watch (added, updated or relisted). */
  leaseSeen(claim: ClusterLease): void {
    const renewed = this.observed.observe(claim);
    if (renewed && claim.cluster === this.cluster) this.lastEchoAt = this.now();
  }

  /** A lease was deleted. */
  leaseGone(cluster: ClusterId): void {
    this.observed.forget(cluster);
  }

  /** This agent is about to write a renewal of its own lease (whether or not the write succeeds). */
  ownRenewalAttempted(): void {
    const now = this.now();
    // Nothing outstanding, yet the own lease already looks older than the timeout: renewals were
    // paused, so it is old because nobody renewed it, not because the watch froze. A fresh run.
    const paused = !this.renewalOutstanding() && this.timeoutMs !== undefined && now - this.canaryBase() > this.timeoutMs;
    if (this.runStartedAt === undefined || paused) this.runStartedAt = now;
    this.lastAttemptAt = now;
  }

  /**
   * Re-judges reachability with the transport's verdict: undefined when every watch is healthy,
   * otherwise why not. Returns the change, if reachability changed.
   */
  update(transportProblem: string | undefined): ReachabilityChange | undefined {
    const now = this.now();
    const frozen = transportProblem === undefined ? this.frozenView(now) : undefined;
    const reachable = transportProblem === undefined && frozen === undefined;
    if (reachable === this.state.reachable) return undefined;
    if (reachable) {
      let downMs: number | undefined;
      if (this.everReachable) {
        this.observed.setReachable(true);
        downMs = now - this.state.since;
      }
      this.everReachable = true;
      this.state = { reachable: true, since: now };
      return { reachable: true, downMs };
    }
    const reason = transportProblem ?? `broker view frozen: ${frozen}`;
    this.state = { reachable: false, since: now, reason };
    // Blind since the last own renewal seen, if that is earlier (read now: the echo that ends the
    // outage will move it). Before the first sight there is no view to age: nothing to credit.
    const ownSeen = this.ownLease()?.renewedAt;
    if (this.everReachable) this.observed.setReachable(false, ownSeen === undefined ? now : Math.min(now, ownSeen));
    return { reachable: false, reason };
  }

  // ---- outputs ----------------------------------------------------------------------------------

  connectivity(): BrokerConnectivity {
    return this.state;
  }

  /**
   * When update() could next change its verdict with no other input (the canary tripping), if
   * ever: the IO code arms one timer for it instead of polling.
   */
  nextCheckAt(): number | undefined {
    if (this.timeoutMs === undefined || !this.state.reachable || !this.renewalOutstanding()) return undefined;
    return this.canaryBase() + this.timeoutMs + 1;
  }

  /** A cluster's lease with `renewedAt` = when this agent observed it (what liveness may use). */
  lease(cluster: ClusterId): ClusterLease | undefined {
    return this.observed.get(cluster);
  }

  leases(): ClusterLease[] {
    return this.observed.list();
  }

  // ---- the canary ---------------------------------------------------------------------------------

  private ownLease(): ClusterLease | undefined {
    return this.cluster === undefined ? undefined : this.observed.get(this.cluster);
  }

  private renewalOutstanding(): boolean {
    return this.lastAttemptAt !== undefined && (this.lastEchoAt === undefined || this.lastEchoAt < this.lastAttemptAt);
  }

  /** Since when the own lease should have come back: its last sighting, or the run's start. */
  private canaryBase(): number {
    const ownSeen = this.ownLease()?.renewedAt ?? Number.NEGATIVE_INFINITY;
    return Math.max(ownSeen, this.runStartedAt ?? Number.NEGATIVE_INFINITY);
  }

  /** Why our view of the broker is frozen although the transport looks healthy, if it is. */
  private frozenView(now: number): string | undefined {
    if (this.timeoutMs === undefined || !this.renewalOutstanding()) return undefined;
    const age = now - this.canaryBase();
    if (age <= this.timeoutMs) return undefined;
    return `own lease renewals not seen through the watch for ${Math.round(age / 1000)}s`;
  }
}
