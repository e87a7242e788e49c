/**
 * What the exporter and importer share: one work queue of service keys, subscriptions that only
 * queue keys, an optional periodic full resync, and a reconcile wrapper that counts outcomes and
 * remembers which keys are being written (so the echo of our own write is not queued again).
 * Subclasses say which keys to queue and how to reconcile one.
 */
import { parseServiceKey } from '../model/service-key.ts';
import type { Logger } from 'pino';
import { type AddressPolicy, DEFAULT_ADDRESS_POLICY, type RejectedAddress, summarizeRejections } from '../model/address-policy.ts';
import { DEFAULT_SKEW_TOLERANCE_MS } from '../model/liveness.ts';
import type { ClusterId, ServiceRef } from '../model/types.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';
import { type AgentMetrics, type BrokerChange, type BrokerView, type LocalChange, type LocalChanges } from './stores.ts';
import { type Clock, type Timers, realTimers } from './timers.ts';

/** `Local` and `Broker`: the roles of the two stores this reconciler uses (agent/stores.ts). */
export interface ReconcilerOptions<Local extends LocalChanges, Broker extends BrokerView> {
  cluster: ClusterId;
  local: Local;
  broker: Broker;
  logger: Logger;
  /** Clusters past this grace after their lease expired no longer count. */
  gcGraceMs: number;
  now?: Clock;
  timers?: Timers;
  random?: () => number;
  metrics?: AgentMetrics;
  /** Retry tuning of the work queue. */
  queue?: Pick<WorkQueueOptions, 'baseDelayMs' | 'maxDelayMs' | 'jitter' | 'concurrency' | 'maxSize'>;
  /** Periodic full resync (0 = off): a safety net for missed events on real watches. */
  resyncMs?: number;
  /** Which addresses may be exported or imported (default: every address not in a forbidden range). */
  addressPolicy?: AddressPolicy;
  /** Clock skew tolerated for times other clusters claim (export times). */
  skewToleranceMs?: number;
}

export type ReconcilerRole = 'exporter' | 'importer';

/** Bound on the objects remembered as logged (beyond it, a refusal may be logged twice). */
const MAX_REFUSALS_REMEMBERED = 10_000;

export abstract class KeyedReconciler<Local extends LocalChanges, Broker extends BrokerView> {
  protected readonly cluster: ClusterId;
  protected readonly local: Local;
  protected readonly broker: Broker;
  protected readonly logger: Logger;
  protected readonly gcGraceMs: number;
  protected readonly now: Clock;
  protected readonly timers: Timers;
  protected readonly metrics: AgentMetrics;
  protected readonly queue: WorkQueue;
  protected readonly addressPolicy: AddressPolicy;
  protected readonly skewToleranceMs: number;
  /**
   * Keys whose reconcile is writing right now: the echo of our own write (synchronous with
   * in-memory stores) needs no second pass. Echoes that arrive later just find nothing to do.
   */
  protected readonly writing = new Set<string>();
  protected stopped = false;
  private readonly role: ReconcilerRole;
  private readonly resyncMs: number;
  private resyncTimer: unknown;
  private unsubscribers: (() => void)[] = [];
  /** Objects whose addresses are (partly) refused, with the summary last logged. */
  private readonly refusedAddresses = new Map<string, string>();

  protected constructor(role: ReconcilerRole, options: ReconcilerOptions<Local, Broker>) {
    this.role = role;
    this.cluster = options.cluster;
    this.local = options.local;
    this.broker = options.broker;
    this.logger = options.logger.child({ component: role, cluster: options.cluster });
    this.gcGraceMs = options.gcGraceMs;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.metrics = options.metrics ?? {};
    this.resyncMs = options.resyncMs ?? 0;
    this.addressPolicy = options.addressPolicy ?? DEFAULT_ADDRESS_POLICY;
    this.skewToleranceMs = options.skewToleranceMs ?? DEFAULT_SKEW_TOLERANCE_MS;
    const verb = role === 'exporter' ? 'export' : 'import';
    this.queue = new WorkQueue({
      ...options.queue,
      handler: (key) => this.reconcile(key),
      timers: this.timers,
      now: this.now,
      ...(options.random === undefined ? {} : { random: options.random }),
      onDepth: (depth) => this.metrics.queueDepth?.(role, depth),
      onRetry: (key, attempt, delayMs, error) => {
        this.metrics.retried?.(role);
        this.logger.warn({ key, attempt, delayMs, err: error }, `${verb} failed, retrying with backoff`);
      },
      onOverflow: (key) => this.logger.error({ key }, `${verb} queue full, key dropped until the next resync`),
    });
  }

  /**
   * Counts and logs (once per object and distinct refusal) addresses the address policy refused;
   * an object whose addresses are all fine again is forgotten, so a later refusal is reported anew.
   */
  protected noteRefusedAddresses(object: string, cluster: ClusterId, ref: ServiceRef, rejected: readonly RejectedAddress[]): void {
    if (rejected.length === 0) {
      this.refusedAddresses.delete(object);
      return;
    }
    const summary = summarizeRejections(rejected);
    if (this.refusedAddresses.get(object) === summary) return;
    if (this.refusedAddresses.size >= MAX_REFUSALS_REMEMBERED) this.refusedAddresses.clear();
    this.refusedAddresses.set(object, summary);
    this.metrics.addressesRejected?.(this.role === 'exporter' ? 'export' : 'import');
    this.logger.error({ sourceCluster: cluster, namespace: ref.namespace, name: ref.name, object, refused: summary }, 'refused addresses: they are never served');
  }

  start(): void {
    this.unsubscribers.push(this.local.subscribe((c) => this.onLocalChange(c)));
    this.unsubscribers.push(this.broker.subscribe((c) => this.onBrokerChange(c)));
    this.beforeFirstResync();
    this.resyncAll();
    this.scheduleResync();
  }

  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    if (this.resyncTimer !== undefined) this.timers.clearTimeout(this.resyncTimer);
    this.onStop();
    await this.queue.stop();
  }

  async reconcile(key: string): Promise<void> {
    this.writing.add(key);
    try {
      await this.reconcileRef(parseServiceKey(key));
      this.metrics.reconciled?.(this.role, 'ok');
    } catch (err) {
      this.metrics.reconciled?.(this.role, 'error');
      throw err;
    } finally {
      this.writing.delete(key);
    }
  }

  /** Queues every key this side is responsible for (start, resync, reconnect). */
  abstract resyncAll(): void;
  protected abstract onLocalChange(change: LocalChange): void;
  protected abstract onBrokerChange(change: BrokerChange): void;
  protected abstract reconcileRef(ref: ServiceRef): Promise<void>;
  /** Hook: runs after subscribing, before the first resync. */
  protected beforeFirstResync(): void {}
  /** Hook: release subclass timers. */
  protected onStop(): void {}

  private scheduleResync(): void {
    if (this.resyncMs <= 0) return;
    this.resyncTimer = this.timers.setTimeout(() => {
      this.resyncAll();
      this.scheduleResync();
    }, this.resyncMs);
  }
}
