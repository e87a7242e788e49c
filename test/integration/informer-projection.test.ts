/**
 * The informer on a real kube-apiserver keeps only its consumer's projection: every object it
 * lists (across pages) or watches arrives without managedFields and the other metadata nobody
 * reads, while the body and identity stay; a relist after a missed delete still reports it; and
 * the answer to our own write enters the cache at once, its watch event not delivered again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { Informer, objectKey, type InformerEventType } from '../../src/kube/informer.ts';
import { withoutBulkMetadata } from '../../src/kube/projections.ts';
import { createLogger } from '../../src/observability/index.ts';
import { eventually, remove } from './agent-helpers.ts';

const NS = 'default';
const logger = createLogger({ level: 'silent' });
let set: ClusterSet;
let kc: KubeConfig;

function slice(name: string, address: string): KubernetesObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'multicluster.kubernetes.io/service-name': 'web', 'projection-test': 'yes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  } as KubernetesObject;
}

/** Server-side apply: the API server records managedFields for it, as for every agent write. */
async function applySlice(obj: KubernetesObject): Promise<KubernetesObject> {
  return KubernetesObjectApi.makeApiClient(kc).patch(obj, undefined, undefined, 'projection-test', true, PatchStrategy.ServerSideApply);
}

interface Seen {
  type: InformerEventType;
  obj: KubernetesObject;
}

function startInformer(events: Seen[]): Informer {
  const informer = new Informer({
    kubeConfig: kc,
    resource: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', namespace: NS, labelSelector: 'projection-test=yes' },
    project: withoutBulkMetadata,
    // Two objects per page: the three objects below are read over two pages.
    pageSize: 2,
    logger,
    initialBackoffMs: 100,
    maxBackoffMs: 500,
    onEvent: (type, obj) => events.push({ type, obj }),
  });
  informer.start();
  return informer;
}

beforeAll(async () => {
  set = await startClusters({ names: ['solo'], broker: false, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  kc = set.get('solo').kubeConfig;
  for (const [i, name] of ['a', 'b', 'c'].entries()) await applySlice(slice(name, `10.1.0.${i + 1}`));
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await set?.stop();
}, 120_000);

describe('informer projection on a real apiserver', () => {
  it('lists and watches objects shrunk on arrival; relists report missed deletes; own writes are taken in once', async () => {
    const events: Seen[] = [];
    const informer = startInformer(events);
    try {
      await informer.waitForSync(30_000);
      // The API server does send managedFields: the informer is what drops them.
      const raw = (await KubernetesObjectApi.makeApiClient(kc).read({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'a', namespace: NS } })).metadata;
      expect(raw?.managedFields?.length).toBeGreaterThan(0);

      expect(informer.list().map(objectKey).sort()).toEqual([`${NS}/a`, `${NS}/b`, `${NS}/c`]);
      for (const obj of [...informer.list(), ...events.map((e) => e.obj)]) {
        expect(obj.metadata?.managedFields).toBeUndefined();
        expect(obj.metadata?.uid).toMatch(/.+/);
        expect(obj.metadata?.resourceVersion).toMatch(/^\d+$/);
        expect(obj.metadata?.labels?.['multicluster.kubernetes.io/service-name']).toBe('web');
        expect((obj as unknown as { endpoints: unknown[] }).endpoints).toHaveLength(1);
      }

      // A watched change arrives shrunk as well.
      await applySlice(slice('b', '10.1.0.22'));
      const changed = await eventually('watched MODIFIED of b', 20_000, async () => {
        const e = events.find((x) => x.type === 'MODIFIED' && objectKey(x.obj) === `${NS}/b`);
        if (e === undefined) throw new Error('not yet');
        return e;
      });
      expect(changed.obj.metadata?.managedFields).toBeUndefined();
      expect((changed.obj as unknown as { endpoints: { addresses: string[] }[] }).endpoints[0]!.addresses).toEqual(['10.1.0.22']);

      // Own write: its answer is delivered at once; the watch event of that version is not delivered again.
      const answer = await applySlice(slice('c', '10.1.0.33'));
      informer.observeWritten(answer);
      const version = answer.metadata?.resourceVersion;
      expect(informer.get(`${NS}/c`)?.metadata?.resourceVersion).toBe(version);
      expect(informer.get(`${NS}/c`)?.metadata?.managedFields).toBeUndefined();
      // A later change by someone else proves the watch has gone past our write's event.
      await applySlice(slice('a', '10.1.0.11'));
      await eventually('watched MODIFIED of a', 20_000, async () => {
        if (!events.some((x) => x.type === 'MODIFIED' && objectKey(x.obj) === `${NS}/a`)) throw new Error('not yet');
      });
      expect(events.filter((x) => objectKey(x.obj) === `${NS}/c` && x.obj.metadata?.resourceVersion === version)).toHaveLength(1);

      // A delete while not watching is reported by the next relist, with the projection cached.
      informer.stop();
      await remove(kc, slice('b', ''));
      events.length = 0;
      informer.start();
      const deleted = await eventually('relist DELETED of b', 20_000, async () => {
        const e = events.find((x) => x.type === 'DELETED');
        if (e === undefined) throw new Error('not yet');
        return e;
      });
      expect(objectKey(deleted.obj)).toBe(`${NS}/b`);
      expect((deleted.obj as unknown as { endpoints: { addresses: string[] }[] }).endpoints[0]!.addresses).toEqual(['10.1.0.22']);
      expect(informer.list().map(objectKey).sort()).toEqual([`${NS}/a`, `${NS}/c`]);
    } finally {
      informer.stop();
    }
  }, 120_000);
});
