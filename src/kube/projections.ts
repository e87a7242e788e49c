/**
 * Projections for informers (informer-cache.ts): what each consumer keeps of a watched object.
 * Pure, and cheap enough to run on every object of a 60,000-object list.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { identityOf } from './informer-cache.ts';

/** The identity and nothing else: for consumers that keep only what they translated on arrival. */
export function identityOnly(obj: KubernetesObject): KubernetesObject {
  return { metadata: identityOf(obj) };
}

/** Set by `kubectl apply`: a second copy of the whole object, read by no one here. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Metadata = NonNullable<KubernetesObject['metadata']>;

/**
 * The object without the metadata no reader here uses (managedFields, the largest part of every
 * server-side-applied object, owner references, finalizers, kubectl's last-applied copy); the
 * body (spec, status, endpoints, ports, …) is kept as it is. For consumers that compare cached
 * objects with what they would write, or translate them later.
 */
export function withoutBulkMetadata(obj: KubernetesObject): KubernetesObject {
  const { metadata, ...body } = obj as KubernetesObject & Record<string, unknown>;
  const m: Metadata = { ...identityOf(obj) };
  if (metadata?.generation !== undefined) m.generation = metadata.generation;
  if (metadata?.creationTimestamp !== undefined) m.creationTimestamp = metadata.creationTimestamp;
  if (metadata?.deletionTimestamp !== undefined) m.deletionTimestamp = metadata.deletionTimestamp;
  if (metadata?.labels !== undefined) m.labels = metadata.labels;
  if (metadata?.annotations !== undefined) {
    const { [LAST_APPLIED]: _copy, ...annotations } = metadata.annotations;
    m.annotations = annotations;
  }
  return { ...body, metadata: m };
}

/** A ClusterProperty's value and identity (its name is the property's name). */
export function clusterPropertyOnly(obj: KubernetesObject): KubernetesObject {
  const spec = (obj as { spec?: { value?: unknown } }).spec;
  const out: KubernetesObject & { spec?: { value: unknown } } = { metadata: identityOf(obj) };
  if (obj.apiVersion !== undefined) out.apiVersion = obj.apiVersion;
  if (obj.kind !== undefined) out.kind = obj.kind;
  if (spec !== undefined && spec !== null && typeof spec === 'object') out.spec = { value: spec.value };
  return out;
}
