/**
 * An informer keeps each watched object only as its consumer's projection plus its identity, and
 * still does what it did with whole objects: a relist reports deletions missed while away, and
 * the answers to our own writes enter the cache at once without their watch events (or older
 * ones) being delivered again.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ProjectedCache, objectKey, type InformerEventType } from '../../src/kube/informer-cache.ts';
import { shrinkImport, shrinkSlice } from '../../src/kube/imported-source.ts';
import { identityOnly, withoutBulkMetadata } from '../../src/kube/projections.ts';
import { sameContent } from '../../src/kube/same-content.ts';

const MANAGED_FIELDS = [{ manager: 'clusterset-dns', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:ports': {} } } }];

/** A full object as the API server sends it, with the metadata no one here reads. */
function slice(name: string, resourceVersion: string, address = '10.1.0.1'): KubernetesObject & Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      resourceVersion,
      generation: 1,
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      labels: { 'multicluster.kubernetes.io/service-name': 'web', 'multicluster.kubernetes.io/source-cluster': 'west' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":"copy"}', 'clusterset-dns.io/source-cluster': 'west' },
      managedFields: MANAGED_FIELDS as never,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'u' }],
      finalizers: ['x'],
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  };
}

interface Seen {
  type: InformerEventType;
  key: string;
  obj: KubernetesObject;
}

function recorder(): { events: Seen[]; emit: (type: InformerEventType, obj: KubernetesObject) => void } {
  const events: Seen[] = [];
  return { events, emit: (type, obj) => events.push({ type, key: objectKey(obj), obj }) };
}

function freshList(cache: ProjectedCache<KubernetesObject>, objects: KubernetesObject[]): Map<string, KubernetesObject> {
  return new Map(objects.map((o) => [objectKey(o), cache.shrink(o)!]));
}

/** Every key path of a value, e.g. `metadata.labels`, `endpoints.0.addresses`. */
function paths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || value instanceof Date) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => paths(v, prefix === '' ? k : `${prefix}.${k}`));
}

describe('projection: the cache keeps no field the consumer does not need', () => {
  it('identityOnly keeps namespace, name, uid and resourceVersion, nothing else', () => {
    const cache = new ProjectedCache(identityOnly, () => {});
    const kept = cache.shrink(slice('a', '5'))!;
    expect(paths(kept).sort()).toEqual(['metadata.name', 'metadata.namespace', 'metadata.resourceVersion', 'metadata.uid']);
  });

  it('the identity survives a projection that drops it (diffs and own writes need it)', () => {
    const cache = new ProjectedCache(() => ({ kind: 'X' }), () => {});
    expect(cache.shrink(slice('a', '5'))).toEqual({ kind: 'X', metadata: { name: 'a', namespace: 'ns', uid: 'uid-a', resourceVersion: '5' } });
  });

  it('withoutBulkMetadata drops managedFields, owner references, finalizers and the last-applied copy, keeps the body', () => {
    const kept = withoutBulkMetadata(slice('a', '5')) as Record<string, unknown>;
    const meta = kept['metadata'] as Record<string, unknown>;
    expect(Object.keys(meta).sort()).toEqual(['annotations', 'creationTimestamp', 'generation', 'labels', 'name', 'namespace', 'resourceVersion', 'uid']);
    expect(meta['annotations']).toEqual({ 'clusterset-dns.io/source-cluster': 'west' });
    expect(kept['endpoints']).toEqual(slice('a', '5')['endpoints']);
    expect(kept['ports']).toEqual(slice('a', '5')['ports']);
  });

  it('withoutBulkMetadata keeps what the no-rewrite check compares: same verdict as on the whole object', () => {
    const desired = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'a', namespace: 'ns', labels: { 'multicluster.kubernetes.io/service-name': 'web' }, annotations: { 'clusterset-dns.io/source-cluster': 'west' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    };
    for (const current of [slice('a', '5'), slice('a', '6', '10.1.0.2')]) {
      expect(sameContent(desired, withoutBulkMetadata(current))).toBe(sameContent(desired, current));
    }
    expect(sameContent(desired, withoutBulkMetadata(slice('a', '5')))).toBe(true);
  });

  it("the DNS source's projections keep the identity and the parsed model value only", () => {
    const cache = new ProjectedCache(shrinkSlice, () => {});
    const kept = cache.shrink(slice('web-west', '7'))!;
    expect(Object.keys(kept).sort()).toEqual(['metadata', 'parsed']);
    expect(Object.keys(kept.metadata!).sort()).toEqual(['name', 'namespace', 'resourceVersion', 'uid']);
    expect(kept.parsed).toEqual({
      ok: true,
      value: { namespace: 'ns', name: 'web', sourceCluster: 'west', sliceName: 'web-west', endpoints: [{ addresses: ['10.1.0.1'], ready: true }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
    });
    const bad = new ProjectedCache(shrinkImport, () => {}).shrink({ metadata: { name: 'x', namespace: 'ns', resourceVersion: '1' }, spec: { type: 'Nonsense' } } as KubernetesObject)!;
    expect(bad.parsed.ok).toBe(false);
  });

  it('a projection that throws leaves that object out and reports it; the others are kept', () => {
    const failures: string[] = [];
    const cache = new ProjectedCache(
      (o) => {
        if (o.metadata?.name === 'bad') throw new Error('boom');
        return identityOnly(o);
      },
      (key) => failures.push(key),
    );
    const { events, emit } = recorder();
    cache.applyWatchEvent('ADDED', slice('bad', '3'), emit);
    cache.applyWatchEvent('ADDED', slice('good', '4'), emit);
    expect(failures).toEqual(['ns/bad']);
    expect(events.map((e) => e.key)).toEqual(['ns/good']);
    expect(cache.get('ns/bad')).toBeUndefined();
  });
});

describe('relist: the difference is delivered as events', () => {
  it('reports deletions missed while away (with what was cached), additions, and changes by resourceVersion only', () => {
    const cache = new ProjectedCache(withoutBulkMetadata, () => {});
    const first = recorder();
    cache.replaceAll(freshList(cache, [slice('a', '1'), slice('b', '2'), slice('c', '3')]), first.emit);
    expect(first.events.map((e) => `${e.type} ${e.key}`)).toEqual(['ADDED ns/a', 'ADDED ns/b', 'ADDED ns/c']);

    const second = recorder();
    cache.replaceAll(freshList(cache, [slice('a', '1'), slice('c', '9', '10.1.0.9'), slice('d', '10')]), second.emit);
    expect(second.events.map((e) => `${e.type} ${e.key}`)).toEqual(['DELETED ns/b', 'MODIFIED ns/c', 'ADDED ns/d']);
    // The deletion carries the projection the consumer saw, so it can find what to withdraw.
    expect((second.events[0]!.obj as Record<string, unknown>)['endpoints']).toEqual([{ addresses: ['10.1.0.1'], conditions: { ready: true } }]);
    expect(cache.size).toBe(3);
    expect(cache.get('ns/b')).toBeUndefined();
  });

  it('a watch DELETED event for an object not cached (projection failed earlier) is still delivered', () => {
    const cache = new ProjectedCache(identityOnly, () => {});
    const { events, emit } = recorder();
    cache.applyWatchEvent('DELETED', slice('a', '4'), emit);
    expect(events.map((e) => `${e.type} ${e.key}`)).toEqual(['DELETED ns/a']);
    expect(paths(events[0]!.obj)).not.toContain('metadata.managedFields');
  });
});

describe('own writes: taken in at once, their watch events not delivered twice', () => {
  it('a write answer newer than the cache is delivered once; its own watch event and older ones are dropped', () => {
    const cache = new ProjectedCache(withoutBulkMetadata, () => {});
    const { events, emit } = recorder();
    cache.applyWatchEvent('ADDED', slice('a', '10'), emit);
    cache.written(slice('a', '11', '10.1.0.2'), emit);
    cache.applyWatchEvent('MODIFIED', slice('a', '11', '10.1.0.2'), emit);
    cache.applyWatchEvent('MODIFIED', slice('a', '10'), emit);
    expect(events.map((e) => `${e.type} ${e.obj.metadata?.resourceVersion}`)).toEqual(['ADDED 10', 'MODIFIED 11']);
    expect(paths(cache.get('ns/a'))).not.toContain('metadata.managedFields.0.manager');
    // Someone else's later change still comes through.
    cache.applyWatchEvent('MODIFIED', slice('a', '12', '10.1.0.3'), emit);
    expect(events.at(-1)).toMatchObject({ type: 'MODIFIED', obj: { metadata: { resourceVersion: '12' } } });
  });

  it('a write answer is copied: later changes by the caller do not reach the cache', () => {
    const cache = new ProjectedCache(withoutBulkMetadata, () => {});
    const answer = slice('a', '11');
    cache.written(answer, () => {});
    (answer['endpoints'] as { addresses: string[] }[])[0]!.addresses[0] = '10.9.9.9';
    expect((cache.get('ns/a') as Record<string, unknown>)['endpoints']).toEqual([{ addresses: ['10.1.0.1'], conditions: { ready: true } }]);
  });

  it('our own delete is delivered at once; its DELETED event and older events are dropped; a re-creation is not', () => {
    const cache = new ProjectedCache(identityOnly, () => {});
    const { events, emit } = recorder();
    cache.applyWatchEvent('ADDED', slice('a', '20'), emit);
    cache.deleted('ns/a', emit);
    cache.applyWatchEvent('MODIFIED', slice('a', '20'), emit);
    cache.applyWatchEvent('DELETED', slice('a', '21'), emit);
    expect(events.map((e) => `${e.type} ${e.obj.metadata?.resourceVersion}`)).toEqual(['ADDED 20', 'DELETED 20']);
    cache.applyWatchEvent('ADDED', slice('a', '30'), emit);
    expect(events.at(-1)).toMatchObject({ type: 'ADDED', obj: { metadata: { resourceVersion: '30' } } });
  });

  it('a write answer older than what we deleted does not resurrect the object', () => {
    const cache = new ProjectedCache(identityOnly, () => {});
    const { events, emit } = recorder();
    cache.applyWatchEvent('ADDED', slice('a', '40'), emit);
    cache.deleted('ns/a', emit);
    cache.written(slice('a', '39'), emit);
    expect(cache.get('ns/a')).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
  });
});
