/**
 * mergePatchFor: the patch touches only our fields (the same ones sameContent compares), removes
 * what of ours we no longer set, and is empty exactly when sameContent finds nothing to write.
 */
import { describe, expect, it } from 'vitest';
import { mergePatchFor } from '../../src/kube/merge-patch.ts';
import { sameContent } from '../../src/kube/same-content.ts';
import type { KubeObject } from '../../src/kube/kinds/object-meta.ts';

function slice(annotations: Record<string, string>, address = '10.0.0.1'): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 's', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'clusterset-dns' }, annotations },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  };
}

describe('mergePatchFor', () => {
  it('is the whole object when there is nothing yet, without apiVersion or kind', () => {
    const desired = slice({ 'clusterset-dns.io/weight': '2' });
    expect(mergePatchFor(desired, undefined)).toEqual({
      metadata: { labels: desired.metadata.labels, annotations: desired.metadata.annotations },
      addressType: 'IPv4',
      endpoints: desired['endpoints'],
      ports: desired['ports'],
    });
  });

  it('sends only what differs; lists are replaced whole', () => {
    const current = { ...slice({}), metadata: { ...slice({}).metadata, uid: 'u1', resourceVersion: '7' } };
    expect(mergePatchFor(slice({}, '10.0.0.2'), current)).toEqual({ endpoints: [{ addresses: ['10.0.0.2'], conditions: { ready: true } }] });
  });

  it('removes our annotations and labels we no longer set, never anyone else\'s', () => {
    const current = slice({ 'clusterset-dns.io/weight': '2', 'example.com/note': 'theirs' });
    (current.metadata.labels as Record<string, string>)['clusterset-dns.io/old'] = 'x';
    (current.metadata.labels as Record<string, string>)['team'] = 'payments';
    expect(mergePatchFor(slice({}), current)).toEqual({
      metadata: { labels: { 'clusterset-dns.io/old': null }, annotations: { 'clusterset-dns.io/weight': null } },
    });
  });

  it('in spec, writes the keys we set and leaves the others (spec.ips of a VIP allocator)', () => {
    const desired: KubeObject = { apiVersion: 'x/v1', kind: 'ServiceImport', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'ClusterSetIP', sessionAffinity: 'None' } };
    const current = { ...desired, spec: { type: 'Headless', sessionAffinity: 'None', ips: ['10.42.0.7'] } };
    expect(mergePatchFor(desired, current, false)).toEqual({ spec: { type: 'ClusterSetIP' } });
  });

  it('below a key we set, the value is replaced whole: keys we dropped there are removed', () => {
    const desired: KubeObject = { apiVersion: 'x/v1', kind: 'K', metadata: { name: 'a' }, spec: { config: { a: 1 } } };
    const current = { ...desired, spec: { config: { a: 1, b: { c: 2 } } } };
    expect(mergePatchFor(desired, current, false)).toEqual({ spec: { config: { b: null } } });
  });

  it('a status write sets no metadata', () => {
    const desired: KubeObject = { apiVersion: 'x/v1', kind: 'K', metadata: { name: 'a', labels: { l: 'v' } }, status: { clusters: [{ cluster: 'east' }] } };
    expect(mergePatchFor(desired, { metadata: { name: 'a' } }, false)).toEqual({ status: { clusters: [{ cluster: 'east' }] } });
  });

  it('is undefined exactly when sameContent finds the object up to date', () => {
    const cases: Array<[KubeObject, unknown]> = [
      [slice({}), slice({})],
      [slice({ 'clusterset-dns.io/zone': 'z' }), slice({})],
      [slice({}), slice({ 'clusterset-dns.io/zone': 'z' })],
      [slice({}, '10.0.0.9'), slice({})],
      [slice({}), { ...slice({}), metadata: { ...slice({}).metadata, labels: { ...slice({}).metadata.labels, team: 'x' } } }],
    ];
    for (const [desired, current] of cases) {
      expect({ desired, patch: mergePatchFor(desired, current) === undefined }).toEqual({ desired, patch: sameContent(desired, current) });
    }
  });
});
