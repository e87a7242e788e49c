/**
 * Heartbeat: renews this cluster's Lease on the broker every renewMs. Importers treat a cluster
 * whose lease expired as stale. The lease also carries the cluster's published properties. Pausing (the embedded default's OFFLINE file) simulates a dead
 * agent: the lease is left to expire, not deleted.
 */
import type { Logger } from 'pino';
import type { PublishedProperties } from '../model/cluster-properties.ts';
import type { ClusterId, ClusterLease } from '../model/types.ts';
import type { AgentMetrics, BrokerPublisher } from './stores.ts';
import { type Clock, type Timers, realTimers } from './timers.ts';

export interface LeaseRenewerOptions {
  cluster: ClusterId;
  broker: Pick<BrokerPublisher, 'applyLease'>;
  durationMs: number;
  renewMs: number;
  logger: Logger;
  now?: Clock;
  timers?: Timers;
  metrics?: AgentMetrics;
  /**
   * What this cluster publishes about itself (probe targets, region, zone), read at every
   * renewal: a change reaches the broker with the next renewal, with no write of its own.
   */
  properties?: () => PublishedProperties;
}

export class LeaseRenewer {
  private readonly opts: LeaseRenewerOptions;
  private readonly logger: Logger;
  private readonly now: Clock;
  private readonly timers: Timers;
  private timer: unknown;
  private running = false;
  private paused = false;
  private inFlight: Promise<void> | undefined;
  private failing = false;

  constructor(options: LeaseRenewerOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'lease', cluster: options.cluster });
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
  }

  /** Renews at once (resolves after that first write attempt), then every renewMs. */
  async start(): Promise<void> {
    this.running = true;
    if (!this.paused) await this.tick();
    else this.schedule();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.logger.warn('lease renewals paused: this cluster will turn stale when the lease expires');
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    this.logger.info('lease renewals resumed');
    if (this.running) {
      if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
      await this.tick();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.timers.setTimeout(() => void this.tick(), this.opts.renewMs);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (!this.running) return;
    if (!this.paused) {
      this.inFlight = this.renew();
      await this.inFlight;
      this.inFlight = undefined;
    }
    this.schedule();
  }

  private async renew(): Promise<void> {
    try {
      const lease: ClusterLease = { cluster: this.opts.cluster, renewedAt: this.now(), durationMs: this.opts.durationMs };
      const properties = this.opts.properties?.();
      if (properties !== undefined && (properties.probeTargets.length > 0 || properties.region !== undefined || properties.zone !== undefined)) lease.properties = properties;
      await this.opts.broker.applyLease(lease);
      this.opts.metrics?.leaseRenewal?.('ok');
      if (this.failing) this.logger.info('lease renewal recovered');
      this.failing = false;
    } catch (err) {
      this.opts.metrics?.leaseRenewal?.('error');
      // Logged once per outage at warn, then at debug, so a long outage does not flood the log.
      if (!this.failing) this.logger.warn({ err }, 'lease renewal failed, retrying every renew interval');
      else this.logger.debug({ err }, 'lease renewal still failing');
      this.failing = true;
    }
  }
}
