/**
 * Export side of the agent: for every ServiceExport of this cluster, publish its record and
 * endpoints on the broker (or remove them), and keep the export's Valid/Ready/Conflict conditions
 * up to date. Event handlers only queue keys; all work happens in reconcile(), retried on error.
 */
import { serviceKey } from '../model/service-key.ts';
import { aggregateService } from '../model/aggregate.ts';
import { ConflictReason, type ConflictReasonValue } from '../model/conflicts.ts';
import { deepEqual } from '../model/equal.ts';
import { isGranted, notGrantedReason } from '../model/namespace-grants.ts';
import type { ServiceRef } from '../model/types.ts';
import { computeConditions } from './conditions.ts';
import { mergeConditions } from './conditions.ts';
import { type ExportBuild, buildExport } from './export-build.ts';
import { clusterLiveness } from './imports.ts';
import { KeyedReconciler, type ReconcilerOptions } from './keyed-reconciler.ts';
import { type BrokerChange, type BrokerStore, type ExportSource, type LocalChange } from './stores.ts';
import { claimProblems } from '../model/broker-validation.ts';

/** Reads the local exports, reads the broker (its own objects, others' records for conflicts) and publishes there. */
export type ExporterOptions = ReconcilerOptions<ExportSource, BrokerStore>;

export class Exporter extends KeyedReconciler<ExportSource, BrokerStore> {
  constructor(options: ExporterOptions) {
    super('exporter', options);
  }

  /** Queues every local export and every record this cluster still has on the broker. */
  resyncAll(): void {
    for (const e of this.local.listServiceExports()) this.queue.add(serviceKey(e));
    // Records whose export disappeared while this agent was down get removed (converge after restart).
    for (const r of this.broker.listRecords()) if (r.cluster === this.cluster) this.queue.add(serviceKey(r));
  }

  protected onLocalChange(change: LocalChange): void {
    if (change.kind === 'Service' || change.kind === 'EndpointSlice' || change.kind === 'ServiceExport') {
      this.queue.add(serviceKey(change));
    }
  }

  protected onBrokerChange(change: BrokerChange): void {
    if (change.kind === 'Export') {
      const key = serviceKey(change);
      if (change.cluster === this.cluster) {
        // Our own object changed: repair it unless this is the echo of our own write.
        if (!this.writing.has(key)) this.queue.add(key);
      } else if (this.local.getServiceExport(change) !== undefined) {
        // Another cluster's record can change this export's Conflict condition.
        this.queue.add(key);
      }
    } else if ((change.kind === 'Connectivity' && this.broker.connectivity().reachable) || change.kind === 'Grants') {
      this.resyncAll();
    }
  }

  protected async reconcileRef(ref: ServiceRef): Promise<void> {
    const serviceExport = this.local.getServiceExport(ref);
    if (serviceExport === undefined) {
      await this.unpublish(ref);
      return;
    }
    // The broker owner's grants come first: an export into a namespace this cluster is not granted
    // is refused here (Valid=False), before the broker's admission policy would refuse the write.
    const build: ExportBuild = isGranted(this.broker.namespaceGrants(), this.cluster, ref.namespace)
      ? buildExport(this.cluster, serviceExport, this.local.getService(ref), this.local.listEndpointSlices(ref), this.addressPolicy)
      : { status: 'invalid', reason: 'NamespaceNotGranted', message: notGrantedReason(this.cluster, ref.namespace) };
    this.noteRefusedAddresses(`export/${serviceKey(ref)}`, this.cluster, ref, build.status === 'ready' ? build.rejected : []);
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
          isGranted(this.broker.namespaceGrants(), r.cluster, r.namespace) &&
          claimProblems(r, { now, skewToleranceMs: this.skewToleranceMs }).length === 0 &&
          clusterLiveness(r.cluster, this.broker.getLease(r.cluster), now, this.gcGraceMs).state !== 'gone',
      );
    const aggregate = aggregateService([...others, build.record]);
    if (aggregate === undefined) return { conflicts: [], details: [] };
    // The winner's policy applies; only an export that asked for another one is told so.
    const policyConflict = aggregate.policyConflicts.get(this.cluster);
    if (policyConflict === undefined) return { conflicts: aggregate.conflicts, details: aggregate.details };
    return { conflicts: [...aggregate.conflicts, ConflictReason.PolicyConflict], details: [...aggregate.details, policyConflict] };
  }

  private async publish(build: Extract<ExportBuild, { status: 'ready' }>): Promise<void> {
    // Record and endpoints are one object on the broker: one write when either changed.
    const same = deepEqual(this.broker.getRecord(this.cluster, build.record), build.record) && deepEqual(this.broker.getEndpoints(this.cluster, build.record), build.endpoints);
    if (!same) await this.broker.publishExport(build.record, build.endpoints);
  }

  private async unpublish(ref: ServiceRef): Promise<void> {
    if (await this.broker.withdrawExport(this.cluster, ref)) this.logger.info({ namespace: ref.namespace, name: ref.name }, 'export withdrawn from the broker');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
