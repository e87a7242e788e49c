/**
 * Pure: the ServiceExport conditions (Valid / Ready / Conflict) for one export, and the merge with
 * the conditions already written, so status is written only when something really changed.
 */
import {
  ConditionType,
  type ConflictReasonValue,
  NO_CONFLICTS,
  ReadyReason,
  ValidReason,
  conflictConditionReason,
} from '../model/conflicts.ts';
import type { ExportBuild } from './export-build.ts';
import type { ExportCondition } from './stores.ts';

export type DesiredCondition = Omit<ExportCondition, 'lastTransitionTime'>;

export interface ConditionInput {
  build: ExportBuild;
  /** Outcome of the last broker write for a `ready` build. */
  publish: { ok: true } | { ok: false; message: string };
  /** Conflict reasons of the aggregated service (reported on every involved export). */
  conflicts: readonly ConflictReasonValue[];
  conflictDetails: readonly string[];
}

const MAX_MESSAGE = 1024;

function clip(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 3)}...`;
}

export function computeConditions(input: ConditionInput): DesiredCondition[] {
  const { build } = input;
  if (build.status === 'invalid') {
    return [
      { type: ConditionType.Valid, status: 'False', reason: build.reason, message: build.message },
      { type: ConditionType.Ready, status: 'False', reason: ReadyReason.Failed, message: `not exported: ${build.message}` },
      { type: ConditionType.Conflict, status: 'False', reason: NO_CONFLICTS, message: '' },
    ];
  }
  const valid: DesiredCondition = { type: ConditionType.Valid, status: 'True', reason: ValidReason.Valid, message: 'the Service can be exported' };
  if (build.status === 'pending') {
    return [
      valid,
      { type: ConditionType.Ready, status: 'False', reason: ReadyReason.Pending, message: build.message },
      { type: ConditionType.Conflict, status: 'False', reason: NO_CONFLICTS, message: '' },
    ];
  }
  const ready: DesiredCondition = input.publish.ok
    ? { type: ConditionType.Ready, status: 'True', reason: ReadyReason.Exported, message: 'exported to the broker' }
    : { type: ConditionType.Ready, status: 'False', reason: ReadyReason.Failed, message: clip(`broker write failed: ${input.publish.message}`) };
  const conflict: DesiredCondition =
    input.conflicts.length === 0
      ? { type: ConditionType.Conflict, status: 'False', reason: NO_CONFLICTS, message: '' }
      : {
          type: ConditionType.Conflict,
          status: 'True',
          reason: conflictConditionReason(input.conflicts),
          message: clip(input.conflictDetails.join('; ')),
        };
  return [valid, ready, conflict];
}

/**
 * Merges desired conditions into the current ones. lastTransitionTime moves only when a
 * condition's status changes (metav1.Condition semantics); `changed` is false when the written
 * status already says exactly this, so nothing is rewritten. Conditions of other types are kept.
 */
export function mergeConditions(
  current: readonly ExportCondition[] | undefined,
  desired: readonly DesiredCondition[],
  now: number,
): { conditions: ExportCondition[]; changed: boolean } {
  const old = current ?? [];
  let changed = false;
  const merged: ExportCondition[] = desired.map((d) => {
    const prev = old.find((c) => c.type === d.type);
    if (prev === undefined) {
      changed = true;
      return { ...d, lastTransitionTime: now };
    }
    if (prev.status !== d.status) {
      changed = true;
      return { ...d, lastTransitionTime: now };
    }
    if (prev.reason !== d.reason || prev.message !== d.message) changed = true;
    return { ...d, lastTransitionTime: prev.lastTransitionTime };
  });
  const desiredTypes = new Set(desired.map((d) => d.type));
  for (const c of old) if (!desiredTypes.has(c.type)) merged.push({ ...c });
  return { conditions: merged, changed };
}
