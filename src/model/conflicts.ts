/**
 * ServiceExport condition vocabulary and the pure per-field conflict rules of KEP-1645.
 * Reason strings are spelled exactly as mcs-api's constants so any MCS tooling understands them.
 */
import type { ExportRecord, IPFamily, ServicePort } from './types.ts';

export const ConditionType = {
  Valid: 'Valid',
  Ready: 'Ready',
  Conflict: 'Conflict',
} as const;
export type ConditionTypeValue = (typeof ConditionType)[keyof typeof ConditionType];

export const ValidReason = {
  Valid: 'Valid',
  NoService: 'NoService',
  InvalidServiceType: 'InvalidServiceType',
  /** The broker owner did not grant this cluster the export's namespace (model/namespace-grants.ts). */
  NamespaceNotGranted: 'NamespaceNotGranted',
  /** The ServiceExport's `clusterset-dns.io/policy` annotation names no known policy. */
  InvalidPolicy: 'InvalidPolicy',
  /** The ServiceExport's `clusterset-dns.io/weight` annotation is not a whole number 0-1000. */
  InvalidWeight: 'InvalidWeight',
} as const;

export const ReadyReason = {
  Exported: 'Exported',
  Pending: 'Pending',
  Failed: 'Failed',
} as const;

export const ConflictReason = {
  PortConflict: 'PortConflict',
  TypeConflict: 'TypeConflict',
  SessionAffinityConflict: 'SessionAffinityConflict',
  IPFamilyConflict: 'IPFamilyConflict',
  /**
   * Ours, not mcs-api's: this export's `clusterset-dns.io/policy` differs from the conflict
   * winner's, whose policy applies. Unlike the others it is reported only on the exports that
   * disagree, since only they are not served as they asked.
   */
  PolicyConflict: 'PolicyConflict',
} as const;
export type ConflictReasonValue = (typeof ConflictReason)[keyof typeof ConflictReason];

/** Reason of `Conflict=False`. */
export const NO_CONFLICTS = 'NoConflicts';

/** Canonical order, so every cluster writes the same comma-joined reason string. */
const REASON_ORDER: readonly ConflictReasonValue[] = [
  ConflictReason.TypeConflict,
  ConflictReason.PortConflict,
  ConflictReason.SessionAffinityConflict,
  ConflictReason.IPFamilyConflict,
  ConflictReason.PolicyConflict,
];

export function sortConflictReasons(reasons: Iterable<ConflictReasonValue>): ConflictReasonValue[] {
  const set = new Set(reasons);
  return REASON_ORDER.filter((r) => set.has(r));
}

/** The Conflict condition's reason: `NoConflicts` or the reasons comma-joined (mcs-api style). */
export function conflictConditionReason(reasons: Iterable<ConflictReasonValue>): string {
  const sorted = sortConflictReasons(reasons);
  return sorted.length === 0 ? NO_CONFLICTS : sorted.join(',');
}

/**
 * KEP-1645 precedence: the oldest ServiceExport wins; equal timestamps fall back to the cluster ID
 * so that every importer, which sees the same records, picks the same winner.
 */
export function compareExportPrecedence(a: ExportRecord, b: ExportRecord): number {
  if (a.exportCreatedAt !== b.exportCreatedAt) return a.exportCreatedAt - b.exportCreatedAt;
  return a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0;
}

export interface PortMergeResult {
  ports: ServicePort[];
  /** One line per port definition that lost against an earlier (higher precedence) one. */
  conflicts: string[];
}

function describePort(p: ServicePort): string {
  return `${p.name === '' ? '(unnamed)' : p.name} ${p.port}/${p.protocol}`;
}

/**
 * Union of ports from clusters given in precedence order. Named ports merge by name, unnamed ports
 * by protocol+port. A port whose name matches an earlier one but not its number/protocol, or whose
 * number/protocol matches an earlier port of another name, is a conflict: the earlier definition
 * is kept, so the winner's ports always survive unchanged.
 */
export function mergePorts(portsInPrecedenceOrder: readonly (readonly ServicePort[])[]): PortMergeResult {
  const merged: ServicePort[] = [];
  const byName = new Map<string, ServicePort>();
  const byNumber = new Map<string, ServicePort>();
  const conflicts: string[] = [];
  for (const ports of portsInPrecedenceOrder) {
    for (const p of ports) {
      const numberKey = `${p.protocol}/${p.port}`;
      const sameName = p.name === '' ? undefined : byName.get(p.name);
      const sameNumber = byNumber.get(numberKey);
      if (sameName !== undefined) {
        if (sameName.port !== p.port || sameName.protocol !== p.protocol) {
          conflicts.push(`${describePort(p)} conflicts with ${describePort(sameName)}`);
        }
        continue;
      }
      if (sameNumber !== undefined) {
        if (sameNumber.name !== p.name) {
          conflicts.push(`${describePort(p)} conflicts with ${describePort(sameNumber)}`);
        }
        continue;
      }
      const copy: ServicePort = { ...p };
      merged.push(copy);
      byNumber.set(numberKey, copy);
      if (p.name !== '') byName.set(p.name, copy);
    }
  }
  return { ports: merged, conflicts };
}

/**
 * IP families conflict when both sides declare families and the sets differ: a client of the
 * missing family would only reach a subset of the backends. An empty list means "not declared"
 * (headless services from files often omit it) and never conflicts.
 */
export function ipFamiliesConflict(a: readonly IPFamily[], b: readonly IPFamily[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return true;
  for (const f of sa) if (!sb.has(f)) return true;
  return false;
}
