/**
 * Reachability monitor: every interval (jittered), probes every target each OTHER cluster
 * announces on its lease (model/cluster-properties.ts), with bounded concurrency, and feeds the
 * rounds to the hysteresis of model/reachability.ts. A second source (Submariner's gateway
 * connections, kube/submariner-gateways.ts) may add its own verdicts. What the importer reads is
 * the result after the fail-safe: which clusters to exclude and why, and whether the fail-safe
 * holds exclusions back.
 *
 * This is this cluster's own knowledge: nothing is written to the broker. A round that throws is
 * logged and counted, and the next one runs as scheduled (the loop never stops by itself).
 */
import type { Logger } from 'pino';
import type { ProbeTarget } from '../model/cluster-properties.ts';
import { afterRound, initialReachability, verdicts, type ProbeOutcome, type ProbeThresholds, type ReachabilityState, type SourceVerdict, type Transition } from '../model/reachability.ts';
import type { ClusterId } from '../model/types.ts';
import { probeTarget, type Probe } from './probe-transport.ts';
import type { BrokerView } from './stores.ts';
import { type Clock, type Timers, realTimers } from './timers.ts';

export interface ProbeSettings extends ProbeThresholds {
  intervalMs: number;
  timeoutMs: number;
  /** Probes in flight at most (over every cluster and target). */
  concurrency: number;
}

export const DEFAULT_PROBE_SETTINGS: ProbeSettings = { intervalMs: 5_000, timeoutMs: 2_000, failures: 3, successes: 2, concurrency: 16 };

/** Bounded by the number of clusters: a cluster's series go when it stops being probed. */
export interface ReachabilityMetrics {
  clusterReachable?(cluster: ClusterId, reachable: boolean): void;
  probeLatency?(cluster: ClusterId, seconds: number, outcome: 'ok' | 'error'): void;
  transition?(cluster: ClusterId, to: Transition): void;
  failSafe?(active: boolean): void;
  forgetCluster?(cluster: ClusterId): void;
  roundFailed?(): void;
}

/** Another source of verdicts (Submariner): cluster → what it says. */
export interface ReachabilitySource {
  verdicts(): ReadonlyMap<ClusterId, SourceVerdict>;
  subscribe(listener: () => void): () => void;
}

/** What the importer (and status pages) read. */
export interface ReachabilityView {
  /** Why this cluster must be left out of service-wide answers, if it must. */
  excludedReason(cluster: ClusterId): string | undefined;
  /** Set while the fail-safe holds every exclusion back. */
  failSafe(): string | undefined;
  /** For a cluster the fail-safe holds back: the note its imported slices carry (explain shows it). */
  note(cluster: ClusterId): string | undefined;
  /** `changed`: clusters whose excludedReason changed (every probed one when the fail-safe flips). */
  subscribe(listener: (changed: ReadonlySet<ClusterId>) => void): () => void;
}

export interface ReachabilityMonitorOptions {
  /** This cluster: never probed. */
  cluster: ClusterId;
  broker: Pick<BrokerView, 'listLeases' | 'subscribe'>;
  settings: ProbeSettings;
  logger: Logger;
  probe?: Probe;
  secondSource?: ReachabilitySource;
  metrics?: ReachabilityMetrics;
  now?: Clock;
  timers?: Timers;
  random?: () => number;
}

interface Probed {
  targets: ProbeTarget[];
  state: ReachabilityState;
}

/** Runs `tasks` with at most `limit` in flight. */
async function pooled<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

export class ReachabilityMonitor implements ReachabilityView {
  private readonly opts: ReachabilityMonitorOptions;
  private readonly logger: Logger;
  private readonly now: Clock;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly probe: Probe;
  private readonly probed = new Map<ClusterId, Probed>();
  private excluded = new Map<ClusterId, string>();
  private failSafeReason: string | undefined;
  private heldBack = new Map<ClusterId, string>();
  private readonly listeners = new Set<(changed: ReadonlySet<ClusterId>) => void>();
  private unsubscribers: Array<() => void> = [];
  private timer: unknown;
  private running = false;
  private round: Promise<void> | undefined;

  constructor(options: ReachabilityMonitorOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'reachability', cluster: options.cluster });
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.probe = options.probe ?? probeTarget;
  }

  /** Starts probing (the first round at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribers = [
      // A cluster that stops announcing targets is reachable again at once (as without probing).
      this.opts.broker.subscribe((c) => {
        if (c.kind === 'Lease') this.syncTargets();
      }),
      ...(this.opts.secondSource ? [this.opts.secondSource.subscribe(() => this.judge())] : []),
    ];
    this.syncTargets();
    void this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    await this.round;
    this.listeners.clear();
  }

  excludedReason(cluster: ClusterId): string | undefined {
    return this.excluded.get(cluster);
  }

  failSafe(): string | undefined {
    return this.failSafeReason;
  }

  note(cluster: ClusterId): string | undefined {
    const reason = this.heldBack.get(cluster);
    return reason === undefined ? undefined : `${this.failSafeReason}; held back: ${reason}`;
  }

  subscribe(listener: (changed: ReadonlySet<ClusterId>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every probed cluster's state (status pages, tests). */
  states(): ReadonlyMap<ClusterId, ReachabilityState> {
    return new Map([...this.probed].map(([c, p]) => [c, p.state]));
  }

  /** Probe targets from the leases: new clusters start reachable, clusters without targets are dropped. */
  private syncTargets(): void {
    const now = this.now();
    const seen = new Set<ClusterId>();
    for (const lease of this.opts.broker.listLeases()) {
      const targets = lease.properties?.probeTargets ?? [];
      if (lease.cluster === this.opts.cluster || targets.length === 0) continue;
      seen.add(lease.cluster);
      const known = this.probed.get(lease.cluster);
      if (known === undefined) {
        this.probed.set(lease.cluster, { targets, state: initialReachability(now) });
        this.opts.metrics?.clusterReachable?.(lease.cluster, true);
        this.logger.info({ sourceCluster: lease.cluster, targets: targets.map((t) => t.text) }, 'probing a cluster');
      } else if (known.targets.map((t) => t.text).join(',') !== targets.map((t) => t.text).join(',')) {
        known.targets = targets;
        this.logger.info({ sourceCluster: lease.cluster, targets: targets.map((t) => t.text) }, 'probe targets changed');
      }
    }
    for (const cluster of [...this.probed.keys()]) {
      if (seen.has(cluster)) continue;
      this.probed.delete(cluster);
      this.opts.metrics?.forgetCluster?.(cluster);
      this.logger.info({ sourceCluster: cluster }, 'cluster announces no probe targets any more: counted reachable');
    }
    this.judge();
  }

  /**
   * Rounds start every interval (±10 % so that the agents of a clusterset do not probe in
   * lockstep), counted from the start of the last one: a round of timeouts does not stretch the
   * cadence, so a cut path is noticed within interval × failures (plus one interval).
   */
  private schedule(startedAt: number): void {
    if (!this.running) return;
    const delay = this.opts.settings.intervalMs * (0.9 + 0.2 * this.random()) - (this.now() - startedAt);
    this.timer = this.timers.setTimeout(() => void this.tick(), Math.max(0, delay));
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (!this.running) return;
    const startedAt = this.now();
    this.round = this.runRound().catch((err: unknown) => {
      this.opts.metrics?.roundFailed?.();
      this.logger.error({ err }, 'probe round failed; the next one runs as scheduled');
    });
    await this.round;
    this.round = undefined;
    this.schedule(startedAt);
  }

  private async runRound(): Promise<void> {
    const { timeoutMs, concurrency } = this.opts.settings;
    const plan = [...this.probed].map(([cluster, p]) => ({ cluster, targets: p.targets }));
    const tasks = plan.flatMap(({ cluster, targets }) =>
      targets.map((t) => async (): Promise<{ cluster: ClusterId; outcome: ProbeOutcome }> => {
        const outcome = await this.probe(t, timeoutMs).catch((err: unknown): ProbeOutcome => ({ target: t.text, ok: false, error: err instanceof Error ? err.message : String(err), latencyMs: 0 }));
        this.opts.metrics?.probeLatency?.(cluster, outcome.latencyMs / 1000, outcome.ok ? 'ok' : 'error');
        return { cluster, outcome };
      }),
    );
    const results = await pooled(tasks, Math.max(1, concurrency));
    if (!this.running) return;
    const now = this.now();
    const byCluster = new Map<ClusterId, ProbeOutcome[]>();
    for (const r of results) {
      let list = byCluster.get(r.cluster);
      if (list === undefined) byCluster.set(r.cluster, (list = []));
      list.push(r.outcome);
    }
    for (const [cluster, outcomes] of byCluster) {
      const p = this.probed.get(cluster);
      // Dropped while the round ran (it stopped announcing targets).
      if (p === undefined) continue;
      const { state, transition } = afterRound(p.state, outcomes, now, this.opts.settings);
      p.state = state;
      if (transition === undefined) continue;
      this.opts.metrics?.transition?.(cluster, transition);
      this.opts.metrics?.clusterReachable?.(cluster, transition === 'reachable');
      if (transition === 'unreachable') this.logger.warn({ sourceCluster: cluster, reason: state.reason }, 'cluster unreachable from here');
      else this.logger.info({ sourceCluster: cluster }, 'cluster reachable again');
    }
    this.judge();
  }

  /** Combines the sources, applies the fail-safe and announces what changed. */
  private judge(): void {
    const judged = new Map<ClusterId, SourceVerdict[]>();
    for (const [cluster, p] of this.probed) judged.set(cluster, [p.state.reachable ? { reachable: true } : { reachable: false, reason: p.state.reason ?? 'unreachable' }]);
    for (const [cluster, v] of this.opts.secondSource?.verdicts() ?? []) {
      if (cluster === this.opts.cluster) continue;
      let list = judged.get(cluster);
      if (list === undefined) judged.set(cluster, (list = []));
      list.push(v);
    }
    const next = verdicts(judged);
    const changed = new Set<ClusterId>();
    for (const [c, r] of next.excluded) if (this.excluded.get(c) !== r) changed.add(c);
    for (const c of this.excluded.keys()) if (!next.excluded.has(c)) changed.add(c);
    const heldBack = next.heldBack ?? new Map<ClusterId, string>();
    for (const [c, r] of heldBack) if (this.heldBack.get(c) !== r) changed.add(c);
    for (const c of this.heldBack.keys()) if (!heldBack.has(c)) changed.add(c);
    if (next.failSafe !== this.failSafeReason) {
      if (next.failSafe !== undefined) this.logger.error({ reason: next.failSafe }, 'every probed cluster is unreachable: fail-safe, none is excluded');
      else if (this.failSafeReason !== undefined) this.logger.info('fail-safe over: probed clusters are judged one by one again');
      this.opts.metrics?.failSafe?.(next.failSafe !== undefined);
    }
    this.heldBack = heldBack;
    this.excluded = next.excluded;
    this.failSafeReason = next.failSafe;
    if (changed.size === 0) return;
    for (const l of this.listeners) {
      try {
        l(changed);
      } catch (err) {
        this.logger.error({ err }, 'reachability listener threw');
      }
    }
  }
}
