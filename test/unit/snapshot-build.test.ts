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
