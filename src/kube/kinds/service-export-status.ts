/**
 * A ServiceExport's status as this project writes it (Valid/Ready/Conflict conditions, through
 * the status subresource) and reads it back, with the generation the conditions were written for.
 */
import type { ExportCondition } from '../../agent/stores.ts';
import { ConditionType, type ConditionTypeValue } from '../../model/conflicts.ts';
import type { ServiceRef } from '../../model/types.ts';
import { KIND_SERVICE_EXPORT } from '../objects.ts';
import { asObj, isoSeconds, mcsApiVersion, meta, str, type KubeObject } from './object-meta.ts';

const CONDITION_TYPES = new Set<string>(Object.values(ConditionType));

/** The conditions as a status-subresource apply body. */
export function buildExportStatus(ref: ServiceRef, conditions: readonly ExportCondition[], generation: number, mcsVersion: string): KubeObject {
  return {
    apiVersion: mcsApiVersion(mcsVersion),
    kind: KIND_SERVICE_EXPORT,
    metadata: { name: ref.name, namespace: ref.namespace },
    status: {
      conditions: conditions.map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: isoSeconds(c.lastTransitionTime),
        observedGeneration: generation,
      })),
    },
  };
}

/** Our conditions of a ServiceExport (others' are skipped), with the generation they were written for. */
export function readExportConditions(obj: unknown): { conditions: ExportCondition[]; observedGeneration: number | undefined; generation: number } | undefined {
  const m = meta(obj);
  const raw = asObj(asObj(obj)?.['status'])?.['conditions'];
  if (!Array.isArray(raw)) return undefined;
  const conditions: ExportCondition[] = [];
  let observed: number | undefined;
  for (const c of raw) {
    const o = asObj(c);
    const type = str(o?.['type']);
    if (o === undefined || type === undefined || !CONDITION_TYPES.has(type)) continue;
    const status = o['status'];
    const time = Date.parse(str(o['lastTransitionTime']) ?? '');
    conditions.push({
      type: type as ConditionTypeValue,
      status: status === 'True' || status === 'False' ? status : 'Unknown',
      reason: str(o['reason']) ?? '',
      message: str(o['message']) ?? '',
      lastTransitionTime: Number.isFinite(time) ? time : 0,
    });
    const og = o['observedGeneration'];
    if (typeof og === 'number') observed = observed === undefined ? og : Math.min(observed, og);
  }
  if (conditions.length === 0) return undefined;
  return { conditions, observedGeneration: observed, generation: m.generation };
}
