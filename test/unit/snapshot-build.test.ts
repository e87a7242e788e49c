/** buildSnapshot: merging imported slices into the DNS read model. */
import { describe, expect, it } from 'vitest';
import type { ImportedState } from '../../src/model/imported-state.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import { ep, imported, port } from '../helpers/dns-fixture.ts';

function state(parts: ReturnType<typeof imported>[], extra: Partial<ImportedState> = {}): ImportedState {
  return { synced: true, services: parts.map((p) => p.service), slices: parts.flatMap((p) => p.slices), ...extra };
}

describe('buildSnapshot', () => {
  it('merges every slice of one cluster into one backend: endpoints concatenated, ports unioned', () => {
    const web = imported('shop', 'web', 'Headless', [port('http', 80)], { east: { endpoints: [ep(['10.0.0.1'])] } });
    const second = { ...web.slices[0]!, sliceName: 'web-east-2', endpoints: [ep(['fd00::1'])], ports: [port('http', 80), port('admin', 81)] };
    const snap = buildSnapshot(state([{ service: web.service, slices: [...web.slices, second] }]), 'east', 3, 1000);
    const entry = snap.services.get('shop/web');
    expect(entry?.backends).toEqual([
      { cluster: 'east', endpoints: [ep(['10.0.0.1']), ep(['fd00::1'])], ports: [port('http', 80), port('admin', 81)] },
    ]);
    expect({ version: snap.version, builtAt: snap.builtAt, localCluster: snap.localCluster, synced: snap.synced }).toEqual({
      version: 3,
      builtAt: 1000,
      localCluster: 'east',
      synced: true,
    });
  });

  it('excludes a cluster when any of its slices carries a reason, joining distinct reasons', () => {
    const web = imported('shop', 'web', 'ClusterSetIP', [port('http', 80)], {
      west: { endpoints: [ep(['10.0.0.2'])], excludedReason: 'lease expired' },
    });
    const clean = { ...web.slices[0]!, sliceName: 'b' };
    delete clean.excludedReason;
    const other = { ...web.slices[0]!, sliceName: 'c', excludedReason: 'TypeConflict' };
    const snap = buildSnapshot(state([{ service: web.service, slices: [clean, ...web.slices, other] }]), 'east', 1, 0);
    expect(snap.services.get('shop/web')?.backends[0]?.excludedReason).toBe('lease expired; TypeConflict');
  });

  it('ignores slices of services without a ServiceImport, and lists namespaces that hold a service', () => {
    const web = imported('shop', 'web', 'ClusterSetIP', [port('http', 80)], { east: { endpoints: [ep(['10.0.0.1'])] } });
    const orphan = imported('ghost', 'gone', 'ClusterSetIP', [port('http', 80)], { east: { endpoints: [ep(['10.0.0.9'])] } });
    const snap = buildSnapshot(state([web], { slices: [...web.slices, ...orphan.slices] }), 'east', 1, 0);
    expect([...snap.services.keys()]).toEqual(['shop/web']);
    expect([...snap.namespaces]).toEqual(['shop']);
  });

  it('sorts backends by cluster ID and keeps status.clusters without slices as empty backends', () => {
    const web = imported('shop', 'web', 'ClusterSetIP', [port('http', 80)], {
      west: { endpoints: [ep(['10.0.0.2'])] },
      'eu.prod': { endpoints: [ep(['10.0.0.3'])] },
      east: { endpoints: [ep(['10.0.0.1'])] },
    });
    web.service.clusters = [...web.service.clusters, 'north'];
    const snap = buildSnapshot(state([web]), 'east', 1, 0);
    const backends = snap.services.get('shop/web')?.backends ?? [];
    expect(backends.map((b) => b.cluster)).toEqual(['east', 'eu.prod', 'north', 'west']);
    expect(backends.find((b) => b.cluster === 'north')?.endpoints).toEqual([]);
  });

  it('copies sync state and the stale-source marker', () => {
    const snap = buildSnapshot(state([], { synced: false, staleSource: { reason: 'broker unreachable', since: 5 } }), 'east', 1, 0);
    expect(snap.synced).toBe(false);
    expect(snap.staleSource).toEqual({ reason: 'broker unreachable', since: 5 });
    expect(buildSnapshot(state([]), 'east', 1, 0).staleSource).toBeUndefined();
  });
});

describe('buildSnapshot: the DNS feed applies the address policy before any answer', () => {
  it('refuses metadata, loopback, multicast and broadcast addresses and VIPs, keeps the rest, and says why', async () => {
    const { explain, formatExplain } = await import('../../src/dns/explain.ts');
    const { OPTIONS } = await import('../helpers/dns-fixture.ts');
    const { addressPolicyFrom, checkAddress } = await import('../../src/model/address-policy.ts');
    const web = imported('shop', 'web', 'Headless', [port('http', 80)], {
      // Another MCS implementation (or a hand-made object) wrote these into the local cluster.
      west: { endpoints: [ep(['169.254.169.254']), ep(['127.0.0.1']), ep(['224.0.0.1']), ep(['255.255.255.255']), ep(['10.2.0.7']), ep(['2001:DB8::7'])] },
    });
    const service = { ...web.service, type: 'ClusterSetIP' as const, ips: ['0.0.0.0', '10.255.0.1'] };
    const refusals: Array<{ service: string; cluster: string; reason: string }> = [];
    const snap = buildSnapshot(state([{ service, slices: web.slices }]), 'east', 1, 0, (a) => checkAddress(a), refusals);
    const entry = snap.services.get('shop/web')!;
    expect(entry.vips).toEqual(['10.255.0.1']);
    expect(entry.backends[0]?.endpoints.map((e) => e.addresses)).toEqual([['10.2.0.7'], ['2001:db8::7']]);
    expect(refusals.map((r) => `${r.cluster} ${r.reason}`)).toEqual([
      '(clusterset VIP) 0.0.0.0: unspecified address',
      'west 169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here)',
      'west 127.0.0.1: loopback address',
      'west 224.0.0.1: multicast address',
      'west 255.255.255.255: broadcast address',
    ]);
    const report = explain(snap, 'web.shop.svc.clusterset.local', 'A', OPTIONS);
    expect(report.service?.clusters[0]?.refusedAddresses).toContain('169.254.169.254: link-local address');
    expect(formatExplain(report)).toContain('refused addresses (never served): 169.254.169.254: link-local address');

    // --allowed-cidrs: outside every allowed range is refused too.
    const policy = addressPolicyFrom(['10.2.0.0/16']);
    const narrow = buildSnapshot(state([web]), 'east', 2, 0, (a) => checkAddress(a, policy));
    expect(narrow.services.get('shop/web')?.backends[0]?.endpoints.map((e) => e.addresses)).toEqual([['10.2.0.7']]);
  });
});
