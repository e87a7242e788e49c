/**
 * What every kind we write shares: the loose object shape, reading untrusted metadata, our
 * managed-by label, the source-cluster identity (label, plus an annotation when the ID does not
 * fit a label value), bounded object names and the API's time formats.
 */
import { createHash } from 'node:crypto';
import { isValidClusterId } from '../../model/names.ts';
import type { ClusterId } from '../../model/types.ts';
import { LABEL_MANAGED_BY, LABEL_MCS_SOURCE_CLUSTER, MANAGED_BY_VALUE } from '../labels.ts';
import { MCS_GROUP } from '../objects.ts';

/** A plain Kubernetes object as sent to / received from the API. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** A parser's verdict: the model value, or every problem found (for the rejection log). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Prefix of every annotation this project writes (same-content.ts compares all of them). */
export const OWN_ANNOTATION_PREFIX = 'clusterset-dns.io/';

/**
 * Annotation carrying the full source cluster ID when it does not fit a label value (cluster IDs
 * may be two DNS labels, up to 127 characters; label values stop at 63). The label then holds a
 * truncated, hashed form; readers take the annotation first.
 */
export const ANNOTATION_SOURCE_CLUSTER = 'clusterset-dns.io/source-cluster';

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface Meta {
  name: string;
  namespace: string;
  labels: Obj;
  annotations: Obj;
  generation: number;
}

export function meta(obj: unknown): Meta {
  const m = asObj(asObj(obj)?.['metadata']) ?? {};
  const generation = m['generation'];
  return {
    name: str(m['name']) ?? '',
    namespace: str(m['namespace']) ?? '',
    labels: asObj(m['labels']) ?? {},
    annotations: asObj(m['annotations']) ?? {},
    generation: typeof generation === 'number' && Number.isInteger(generation) ? generation : 0,
  };
}

export function mcsApiVersion(version: string): string {
  return `${MCS_GROUP}/${version}`;
}

/** Whether an object carries our managed-by label (only such objects are ever updated or deleted). */
export function isManagedByUs(obj: unknown): boolean {
  return meta(obj).labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE;
}

export function checkManaged(m: Meta, out: string[]): void {
  if (m.labels[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) out.push(`label ${LABEL_MANAGED_BY} is not ${MANAGED_BY_VALUE}`);
}

// ---- names ----------------------------------------------------------------------------------
// Parts are joined with '.': service names and namespaces are DNS labels (no dots) and a cluster
// ID has at most one dot, so a name maps back to exactly one (service, namespace, cluster). Names
// past the 253-character limit are truncated and end in a hash of the full name (still unique).

const MAX_NAME = 253;
const MAX_LABEL_VALUE = 63;

function hashOf(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** `full` when it is a valid length; otherwise a truncated prefix plus `.<16 hex of sha256(full)>`. */
export function boundedName(full: string): string {
  if (full.length <= MAX_NAME) return full;
  const prefix = full.slice(0, MAX_NAME - 17).replace(/[.-]+$/, '');
  return `${prefix}.${hashOf(full, 16)}`;
}

/** A label value for a cluster ID: the ID itself when it fits (≤ 63), else a truncated ID plus a hash. */
export function clusterLabelValue(cluster: ClusterId): string {
  if (cluster.length <= MAX_LABEL_VALUE) return cluster;
  const prefix = cluster.slice(0, MAX_LABEL_VALUE - 9).replace(/[.-]+$/, '');
  return `${prefix}-${hashOf(cluster, 8)}`;
}

// ---- source cluster -------------------------------------------------------------------------

/** The source-cluster label (and the full-ID annotation when the ID does not fit a label). */
export function clusterMeta(cluster: ClusterId): { labels: Record<string, string>; annotations: Record<string, string> } {
  const value = clusterLabelValue(cluster);
  return { labels: { [LABEL_MCS_SOURCE_CLUSTER]: value }, annotations: value === cluster ? {} : { [ANNOTATION_SOURCE_CLUSTER]: cluster } };
}

/** The source cluster of an object: the full-ID annotation if present, else the label; checked against each other. */
export function sourceCluster(m: Meta, out: string[]): ClusterId | undefined {
  const label = str(m.labels[LABEL_MCS_SOURCE_CLUSTER]);
  const annotated = str(m.annotations[ANNOTATION_SOURCE_CLUSTER]);
  const cluster = annotated ?? label;
  if (cluster === undefined) {
    out.push(`label ${LABEL_MCS_SOURCE_CLUSTER} is missing`);
    return undefined;
  }
  if (!isValidClusterId(cluster)) {
    out.push(`source cluster ${JSON.stringify(cluster)} is not one or two DNS labels`);
    return undefined;
  }
  if (label !== clusterLabelValue(cluster)) out.push(`label ${LABEL_MCS_SOURCE_CLUSTER} ${JSON.stringify(label)} does not match cluster ${cluster}`);
  return cluster;
}

// ---- times ----------------------------------------------------------------------------------

/** RFC 3339 with milliseconds (annotations): exact round trip of epoch ms. */
export function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** metav1.Time has second precision. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime wants exactly six fractional digits. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}
