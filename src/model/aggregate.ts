/**
 * The aggregated (clusterset-wide) view of one exported service, computed from every cluster's
 * export record with the KEP-1645 conflict rules. Pure and deterministic: every importer that sees
 * the same records computes the same result, so no two clusters race on a shared object.
 */
import {
  ConflictReason,
  type ConflictReasonValue,
  compareExportPrecedence,
  ipFamiliesConflict,
  mergePorts,
  sortConflictReasons,
} from './conflicts.ts';
import { type PolicyName, resolveServicePolicy } from './traffic-policy.ts';
import type { ClusterId, ExportRecord, IPFamily, ImportType, ServicePort, ServiceRef } from './types.ts';

export interface ServiceAggregate extends ServiceRef {
  /** The cluster whose export is oldest (ties: cluster ID ascending). */
  winner: ClusterId;
  type: ImportType;
  sessionAffinity: 'None' | 'ClientIP';
  ipFamilies: IPFamily[];
  /** Union of the ports of every cluster that is not excluded, winner's definitions first. */
  ports: ServicePort[];
  /** Every exporting cluster, sorted by ID (ServiceImport status.clusters). */
  clusters: ClusterId[];
  /** Conflict reasons of the service; every involved export reports all of them. */
  conflicts: ConflictReasonValue[];
  /** Clusters that must not be served because their type differs from the winner's, with why. */
  excluded: ReadonlyMap<ClusterId, string>;
  /** Human-readable conflict details (logs, explain, condition messages). */
  details: string[];
  /** The winner's policy annotation; undefined: the DNS server's --policy applies. */
  policy?: PolicyName;
  /**
   * Clusters whose policy annotation differs from the winner's, with why (PolicyConflict is
   * reported on these exports only; it is not in `conflicts`, which every export reports).
   */
  policyConflicts: ReadonlyMap<ClusterId, string>;
}

/** Aggregates the records of ONE service (all records must share namespace and name). */
export function aggregateService(records: readonly ExportRecord[]): ServiceAggregate | undefined {
  if (records.length === 0) return undefined;
  const ordered = [...records].sort(compareExportPrecedence);
  const winner = ordered[0]!;
  const conflicts = new Set<ConflictReasonValue>();
  const details: string[] = [];
  const excluded = new Map<ClusterId, string>();

  const compatible: ExportRecord[] = [];
  for (const r of ordered) {
    if (r.type !== winner.type) {
      conflicts.add(ConflictReason.TypeConflict);
      const why = `type conflict: exports ${r.type}, service is ${winner.type} (winner ${winner.cluster}, oldest export)`;
      excluded.set(r.cluster, why);
      details.push(`${r.cluster}: ${why}`);
      continue;
    }
    compatible.push(r);
  }

  const portMerge = mergePorts(compatible.map((r) => r.ports));
  if (portMerge.conflicts.length > 0) {
    conflicts.add(ConflictReason.PortConflict);
    for (const c of portMerge.conflicts) details.push(`port conflict: ${c}`);
  }
  for (const r of compatible) {
    if (r.sessionAffinity !== winner.sessionAffinity) {
      conflicts.add(ConflictReason.SessionAffinityConflict);
      details.push(`${r.cluster}: session affinity ${r.sessionAffinity}, service uses ${winner.sessionAffinity}`);
    }
    if (ipFamiliesConflict(r.ipFamilies, winner.ipFamilies)) {
      conflicts.add(ConflictReason.IPFamilyConflict);
      details.push(`${r.cluster}: IP families ${r.ipFamilies.join(',')}, service uses ${winner.ipFamilies.join(',')}`);
    }
  }

  const policy = resolveServicePolicy(winner, compatible.slice(1));

  const aggregate: ServiceAggregate = {
    namespace: winner.namespace,
    name: winner.name,
    winner: winner.cluster,
    type: winner.type,
    sessionAffinity: winner.sessionAffinity,
    ipFamilies: [...winner.ipFamilies],
    ports: portMerge.ports,
    clusters: ordered.map((r) => r.cluster).sort(),
    conflicts: sortConflictReasons(conflicts),
    excluded,
    details,
    policyConflicts: policy.disagreeing,
  };
  if (policy.policy !== undefined) aggregate.policy = policy.policy;
  return aggregate;
}
