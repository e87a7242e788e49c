/**
 * The informer's cache, without IO: each object is kept only as its consumer's projection (the
 * fields the consumer reads back later) plus the identity the cache itself needs (namespace, name,
 * uid, resourceVersion), so that no whole Kubernetes object outlives its event. CoreDNS shrinks its
 * watched objects the same way on arrival (plugin/kubernetes/object); at 60,000 objects the
 * difference is hundreds of MB (mostly metadata.managedFields, which nobody here reads).
 *
 * It also keeps what diffing and own-write judgement need: a relist is compared with the cache so
 * that deletions missed while disconnected are delivered, and the answers to our own writes enter
 * the cache before their watch events (own-writes.ts).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { judgeWatchEvent, revisionOf, writeIsNewer } from './own-writes.ts';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Shrinks an arriving object to what the consumer needs; the cache adds the identity itself. */
export type Projection<T extends KubernetesObject> = (obj: KubernetesObject) => T;

export type Emit<T> = (type: InformerEventType, obj: T) => void;

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

/** The metadata the cache needs of every object, whatever the consumer's projection keeps. */
export function identityOf(obj: KubernetesObject): NonNullable<KubernetesObject['metadata']> {
  const m = obj.metadata ?? {};
  const out: NonNullable<KubernetesObject['metadata']> = {};
  if (m.name !== undefined) out.name = m.name;
  if (m.namespace !== undefined) out.namespace = m.namespace;
  if (m.uid !== undefined) out.uid = m.uid;
  if (m.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  return out;
}

export class ProjectedCache<T extends KubernetesObject> {
  private readonly items = new Map<string, T>();
  /**
   * Objects we deleted ourselves (deleted()) whose DELETED watch event has not arrived yet:
   * key → the resourceVersion we deleted. Watch events of that version or older are stale.
   */
  private readonly deleting = new Map<string, bigint>();

  private readonly project: Projection<T>;
  /** A projection threw: the object is left out (as if it did not exist), reported here. */
  private readonly onProjectionError: (key: string, err: unknown) => void;

  constructor(project: Projection<T>, onProjectionError: (key: string, err: unknown) => void) {
    this.project = project;
    this.onProjectionError = onProjectionError;
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** The projection of `obj` with its identity, or undefined when the projection threw. */
  shrink(obj: KubernetesObject): T | undefined {
    let slim: T;
    try {
      slim = this.project(obj);
    } catch (err) {
      this.onProjectionError(objectKey(obj), err);
      return undefined;
    }
    // A fresh metadata object: the projection may have handed back the arriving one.
    return { ...slim, metadata: { ...slim.metadata, ...identityOf(obj) } };
  }

  /**
   * A complete list (already shrunk, keyed by objectKey) replaces the cache; the difference is
   * emitted, deletions first, so a consumer sees exactly what changed while it was not watching.
   */
  replaceAll(fresh: ReadonlyMap<string, T>, emit: Emit<T>): void {
    // The list is newer than any of our own deletes still waiting for their watch event.
    this.deleting.clear();
    for (const [key, old] of this.items) {
      if (!fresh.has(key)) {
        this.items.delete(key);
        emit('DELETED', old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.items.get(key);
      this.items.set(key, obj);
      if (old === undefined) emit('ADDED', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) emit('MODIFIED', obj);
    }
  }

  /** One watch event (ADDED, MODIFIED or DELETED) as it arrived. */
  applyWatchEvent(type: InformerEventType, obj: KubernetesObject, emit: Emit<T>): void {
    const key = objectKey(obj);
    const cached = this.items.get(key);
    const verdict = judgeWatchEvent(type, obj, cached, this.deleting.get(key));
    if (type === 'DELETED' || verdict !== 'stale') this.deleting.delete(key);
    if (verdict === 'stale' || verdict === 'own-delete-seen') return;
    if (type === 'DELETED') {
      this.items.delete(key);
      // What the consumer knew of it (its projection), else what the event carries.
      const gone = cached ?? this.shrink(obj);
      if (gone !== undefined) emit('DELETED', gone);
      return;
    }
    const slim = this.shrink(obj);
    if (slim === undefined) {
      // Not representable for the consumer: as if it were gone.
      if (this.items.delete(key) && cached !== undefined) emit('DELETED', cached);
      return;
    }
    this.items.set(key, slim);
    emit(cached === undefined ? 'ADDED' : 'MODIFIED', slim);
  }

  /**
   * The API server's answer to our own write: taken in at once when newer than what is cached,
   * delivered like a watch event; that version's watch event is then recognised as stale.
   */
  written(obj: KubernetesObject, emit: Emit<T>): void {
    const key = objectKey(obj);
    const cached = this.items.get(key);
    if (!writeIsNewer(cached, obj, this.deleting.get(key))) return;
    // A plain copy first, so later changes by the writer's caller cannot reach the cache; without
    // managedFields (about half of a written object, and no projection keeps them).
    const { managedFields: _bulk, ...metadata } = obj.metadata ?? {};
    const slim = this.shrink(JSON.parse(JSON.stringify({ ...obj, metadata })) as KubernetesObject);
    if (slim === undefined) return;
    this.deleting.delete(key);
    this.items.set(key, slim);
    emit(cached === undefined ? 'ADDED' : 'MODIFIED', slim);
  }

  /** Our own delete of `key` succeeded: dropped now, delivered like a DELETED event. */
  deleted(key: string, emit: Emit<T>): void {
    const cached = this.items.get(key);
    const version = revisionOf(cached);
    if (cached === undefined || version === undefined) return;
    this.items.delete(key);
    this.deleting.set(key, version);
    emit('DELETED', cached);
  }
}
