/**
 * The writer on a real kube-apiserver: objects we own are created with a plain create and changed
 * with a merge patch of our fields only. What a user relies on: what we stop setting goes away
 * (our annotations, keys inside spec), what others set stays (their labels, spec.ips of a VIP
 * allocator), a create that meets an object our cache did not know patches it, an object an older
 * agent wrote by server-side apply is repaired the same way, and nothing is sent when nothing of
 * ours differs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { WriteMeter } from '../harness/request-counts.ts';
import { KubeWriter, resourceOf } from '../../src/kube/writer.ts';
import type { KubeObject } from '../../src/kube/kinds/object-meta.ts';
import { apply, read } from './agent-helpers.ts';

const NS = 'default';
const MCS = 'multicluster.x-k8s.io/v1beta1';
const SLICES = resourceOf('discovery.k8s.io/v1', 'endpointslices');
const IMPORTS = resourceOf(MCS, 'serviceimports');
let set: ClusterSet;
let kc: KubeConfig;
let writer: KubeWriter;
let meter: WriteMeter;

function slice(name: string, address: string, annotations: Record<string, string>): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'clusterset-dns', 'clusterset-dns.io/source-namespace': 'shop' }, annotations },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  };
}

function serviceImport(name: string, sessionAffinity: 'None' | 'ClientIP', port = 80): KubeObject {
  const spec = { type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port }], sessionAffinity, ipFamilies: ['IPv4'] };
  return { apiVersion: MCS, kind: 'ServiceImport', metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'clusterset-dns' } }, spec };
}

/** Writes (create, patch, apply) since the last call, by `verb resource`, from the apiserver's counters. */
async function writesSince(): Promise<Record<string, number>> {
  const delta = await meter.take({ strict: true });
  return Object.fromEntries(delta.get('solo') ?? new Map<string, number>());
}

beforeAll(async () => {
  set = await startClusters({ names: ['solo'], broker: false, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  kc = set.get('solo').kubeConfig;
  writer = new KubeWriter(kc);
  const solo = set.get('solo');
  meter = new WriteMeter([{ name: 'solo', server: solo.server, caPem: solo.caPem, token: solo.adminToken }]);
}, 120_000);

afterAll(async () => {
  await set?.stop();
}, 60_000);

describe('writer: create, then merge patches of our fields (real apiserver)', () => {
  it('creates, changes only what differs, removes our dropped annotation, keeps a label someone else added', async () => {
    await writesSince();
    const created = await writer.write(SLICES, slice('a', '10.0.0.1', { 'clusterset-dns.io/weight': '3' }), undefined);
    expect(created.metadata.uid).toBeDefined();
    // Someone else labels our slice.
    await apply(kc, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'a', namespace: NS, labels: { team: 'payments' } } });
    const cached = await read(kc, 'discovery.k8s.io/v1', 'EndpointSlice', NS, 'a');
    await writer.write(SLICES, slice('a', '10.0.0.2', {}), cached);
    const after = await read(kc, 'discovery.k8s.io/v1', 'EndpointSlice', NS, 'a');
    expect(after?.['endpoints']?.map((e: { addresses: string[] }) => e.addresses)).toEqual([['10.0.0.2']]);
    expect(after?.['metadata']?.annotations?.['clusterset-dns.io/weight']).toBeUndefined();
    expect(after?.['metadata']?.labels).toMatchObject({ team: 'payments', 'app.kubernetes.io/managed-by': 'clusterset-dns' });
    expect(await writesSince()).toEqual({ 'POST endpointslices': 1, 'APPLY endpointslices': 1, 'PATCH endpointslices': 1 });
    // Nothing of ours differs: no request at all.
    await writer.write(SLICES, slice('a', '10.0.0.2', {}), after);
    expect(await writesSince()).toEqual({});
  });

  it('a create that finds the object already there (our cache was behind) patches it', async () => {
    await writer.write(SLICES, slice('b', '10.0.1.1', {}), undefined);
    const written = await writer.write(SLICES, slice('b', '10.0.1.2', { 'clusterset-dns.io/zone': 'z1' }), undefined);
    expect(written.metadata.annotations?.['clusterset-dns.io/zone']).toBe('z1');
    const live = await read(kc, 'discovery.k8s.io/v1', 'EndpointSlice', NS, 'b');
    expect(live?.['endpoints']?.[0]?.addresses).toEqual(['10.0.1.2']);
  });

  it('an object an older agent wrote by server-side apply loses what we no longer set', async () => {
    await apply(kc, slice('c', '10.0.2.1', { 'clusterset-dns.io/rejected-addresses': '192.0.2.1' }));
    const old = await read(kc, 'discovery.k8s.io/v1', 'EndpointSlice', NS, 'c');
    await writer.write(SLICES, slice('c', '10.0.2.1', {}), old);
    const live = await read(kc, 'discovery.k8s.io/v1', 'EndpointSlice', NS, 'c');
    expect(live?.['metadata']?.annotations?.['clusterset-dns.io/rejected-addresses']).toBeUndefined();
  });

  it('ServiceImport: our spec keys change, spec.ips of an allocator stays, status is its own patch', async () => {
    const created = await writer.write(IMPORTS, serviceImport('web', 'ClientIP'), undefined);
    const withStatus = await writer.writeStatus(IMPORTS, { ...serviceImport('web', 'ClientIP'), status: { clusters: [{ cluster: 'east' }] } }, created);
    expect((withStatus as unknown as { status: unknown }).status).toEqual({ clusters: [{ cluster: 'east' }] });
    // A VIP allocator sets spec.ips.
    await apply(kc, { apiVersion: MCS, kind: 'ServiceImport', metadata: { name: 'web', namespace: NS }, spec: { ips: ['10.42.0.7'] } });
    const cached = await read(kc, MCS, 'ServiceImport', NS, 'web');
    await writer.write(IMPORTS, serviceImport('web', 'None', 8080), cached);
    const live = await read(kc, MCS, 'ServiceImport', NS, 'web');
    expect(live?.['spec']?.sessionAffinity).toBe('None');
    expect(live?.['spec']?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(live?.['spec']?.ips).toEqual(['10.42.0.7']);
    expect(live?.['status']).toEqual({ clusters: [{ cluster: 'east' }] });
    // A status patch replaces the list whole.
    await writer.writeStatus(IMPORTS, { ...serviceImport('web', 'None'), status: { clusters: [{ cluster: 'west' }] } }, live);
    expect((await read(kc, MCS, 'ServiceImport', NS, 'web'))?.['status']).toEqual({ clusters: [{ cluster: 'west' }] });
  });
});
