/**
 * Export side of the agent: for every ServiceExport of this cluster, publish its record and
 * endpoints on the broker (or remove them), and keep the export's Valid/Ready/Conflict conditions
 * up to date. Event handlers only queue keys; all work happens in reconcile(), retried on error.
 */
import type { Logger } from 'pino';
import { aggregateService } from '../model/aggregate.ts';
import type { ConflictReasonValue } from '../model/conflicts.ts';
import { deepEqual } from '../model/equal.ts';
import type { ClusterId, ServiceRef } from '../model/types.ts';
import { computeConditions } from './conditions.ts';
import { mergeConditions } from './conditions.ts';
import { type ExportBuild, buildExport } from './export-build.ts';
import { clusterLiveness } from './imports.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';
import {
  type AgentMetrics,
  type BrokerChange,
  type BrokerStore,
  type LocalChange,
  type LocalClusterStore,
  parseRefKey,
  refKey,
} from './stores.ts';
import { type Clock, type Timers, realTimers } from './timers.ts';
import { validateRecord } from './validate-broker.ts';

export interface ExporterOptions {
  cluster: ClusterId;
  local: LocalClusterStore;
  broker: BrokerStore;
  logger: Logger;
  /** Clusters past this grace after their lease expired no longer count for conflicts. */
  gcGraceMs: number;
  now?: Clock;
  timers?: Timers;
  random?: () => number;
  metrics?: AgentMetrics;
  /** Retry tuning of the work queue. */
  queue?: Pick<WorkQueueOptions, 'baseDelayMs' | 'maxDelayMs' | 'jitter' | 'concurrency' | 'maxSize'>;
  /** Periodic full resync (0 = off): a safety net for missed events on real watches. */
  resyncMs?: number;
}

export class Exporter {
  private readonly cluster: ClusterId;
  private readonly local: LocalClusterStore;
  private readonly broker: BrokerStore;
  private readonly logger: Logger;
  private readonly gcGraceMs: number;
  private readonly now: Clock;
  private readonly timers: Timers;
  private readonly metrics: AgentMetrics;
  private readonly resyncMs: number;
  private readonly queue: WorkQueue;
  private unsubscribers: (() => void)[] = [];
  /**
   * Keys whose reconcile is writing right now: the echo of our own write (synchronous with
   * in-memory stores) needs no second pass. Echoes that arrive later just find nothing to do.
   */
  private readonly writing = new Set<string>();
  private resyncTimer: unknown;

  constructor(options: ExporterOptions) {
    this.cluster = options.cluster;
    this.local = options.local;
    this.broker = options.broker;
    this.logger = options.logger.child({ component: 'exporter', cluster: options.cluster });
    this.gcGraceMs = options.gcGraceMs;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.metrics = options.metrics ?? {};
    this.resyncMs = options.resyncMs ?? 0;
    this.queue = new WorkQueue({
      ...options.queue,
      handler: (key) => this.reconcile(key),
      timers: this.timers,
      now: this.now,
      ...(options.random === undefined ? {} : { random: options.random }),
      onDepth: (depth) => this.metrics.queueDepth?.('exporter', depth),
      onRetry: (key, attempt, delayMs, error) => {
        this.metrics.retried?.('exporter');
        this.logger.warn({ key, attempt, delayMs, err: error }, 'export failed, retrying with backoff');
      },
      onOverflow: (key) => this.logger.error({ key }, 'export queue full, key dropped until the next resync'),
    });
  }

  start(): void {
    this.unsubscribers.push(this.local.subscribe((c) => this.onLocalChange(c)));
    this.unsubscribers.push(this.broker.subscribe((c) => this.onBrokerChange(c)));
    this.resyncAll();
    this.scheduleResync();
  }

  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    if (this.resyncTimer !== undefined) this.timers.clearTimeout(this.resyncTimer);
    await this.queue.stop();
  }

  /** Queues every local export and every record this cluster still has on the broker. */
  resyncAll(): void {
    for (const e of this.local.listServiceExports()) this.queue.add(refKey(e));
    // Records whose export disappeared while this agent was down get removed (converge after restart).
    for (const r of this.broker.listRecords()) if (r.cluster === this.cluster) this.queue.add(refKey(r));
  }

  private scheduleResync(): void {
    if (this.resyncMs <= 0) return;
    this.resyncTimer = this.timers.setTimeout(() => {
      this.resyncAll();
      this.scheduleResync();
    }, this.resyncMs);
  }

  private onLocalChange(change: LocalChange): void {
    if (change.kind === 'Service' || change.kind === 'EndpointSlice' || change.kind === 'ServiceExport') {
      this.queue.add(refKey(change));
    }
  }

  private onBrokerChange(change: BrokerChange): void {
    if (change.kind === 'ExportRecord' || change.kind === 'ExportEndpoints') {
      const key = refKey(change);
      if (change.cluster === this.cluster) {
        // Our own object changed: repair it unless this is the echo of our own write.
        if (!this.writing.has(key)) this.queue.add(key);
      } else if (change.kind === 'ExportRecord' && this.local.getServiceExport(change) !== undefined) {
        // Another cluster's record can change this export's Conflict condition.
        this.queue.add(key);
      }
    } else if (change.kind === 'Connectivity' && this.broker.connectivity().reachable) {
      this.resyncAll();
    }
  }

  async reconcile(key: string): Promise<void> {
    const ref = parseRefKey(key);
    this.writing.add(key);
    try {
      await this.reconcileRef(ref);
      this.metrics.reconciled?.('exporter', 'ok');
    } catch (err) {
      this.metrics.reconciled?.('exporter', 'error');
      throw err;
    } finally {
      this.writing.delete(key);
    }
  }

  private async reconcileRef(ref: ServiceRef): Promise<void> {
    const serviceExport = this.local.getServiceExport(ref);
    if (serviceExport === undefined) {
      await this.unpublish(ref);
      return;
    }
    const build = buildExport(this.cluster, serviceExport, this.local.getService(ref), this.local.listEndpointSlices(ref));
    let publishError: unknown;
    try {
      if (build.status === 'ready') await this.publish(build);
      else await this.unpublish(ref);
    } catch (err) {
      publishError = err;
    }
    const { conflicts, details } = this.conflictsOf(build);
    const desired = computeConditions({
      build,
      publish: publishError === undefined ? { ok: true } : { ok: false, message: errorMessage(publishError) },
      conflicts,
      conflictDetails: details,
    });
    const merged = mergeConditions(this.local.getExportConditions(ref), desired, this.now());
    if (merged.changed) await this.local.writeExportConditions(ref, merged.conditions);
    if (publishError !== undefined) throw publishError;
  }

  private conflictsOf(build: ExportBuild): { conflicts: readonly ConflictReasonValue[]; details: readonly string[] } {
    if (build.status !== 'ready') return { conflicts: [], details: [] };
    const now = this.now();
    const others = this.broker
      .listRecordsFor(build.record)
      .filter(
        (r) =>
          r.cluster !== this.cluster &&
          validateRecord(r).length === 0 &&
          clusterLiveness(r.cluster, this.broker.getLease(r.cluster), now, this.gcGraceMs).state !== 'gone',
      );
    const aggregate = aggregateService([...others, build.record]);
    return aggregate === undefined ? { conflicts: [], details: [] } : { conflicts: aggregate.conflicts, details: aggregate.details };
  }

  private async publish(build: Extract<ExportBuild, { status: 'ready' }>): Promise<void> {
    // Endpoints before the record: importers ignore endpoints without a record, so a new export
    // appears with its endpoints instead of briefly empty.
    if (!deepEqual(this.broker.getEndpoints(this.cluster, build.record), build.endpoints)) {
      await this.broker.applyEndpoints(build.endpoints);
    }
    if (!deepEqual(this.broker.getRecord(this.cluster, build.record), build.record)) {
      await this.broker.applyRecord(build.record);
    }
  }

  private async unpublish(ref: ServiceRef): Promise<void> {
    if (this.broker.getRecord(this.cluster, ref) !== undefined) {
      await this.broker.deleteRecord(this.cluster, ref);
      this.logger.info({ namespace: ref.namespace, name: ref.name }, 'export withdrawn from the broker');
    }
    if (this.broker.getEndpoints(this.cluster, ref) !== undefined) await this.broker.deleteEndpoints(this.cluster, ref);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
