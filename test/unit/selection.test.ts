/**
 * Health and selection decisions: every exclusion carries a reason, and the policies choose the
 * clusters DESIGN.md describes.
 */
import { describe, expect, it } from 'vitest';
import { summarizeClusters } from '../../src/model/reasons.ts';
import {
  clusterHealth,
  isBackendHealthy,
  selectClusterSetIPs,
  selectExplicitCluster,
  selectHeadless,
  type SelectionOptions,
} from '../../src/model/selection.ts';
import type { ClusterBackend, ServiceEntry } from '../../src/model/snapshot.ts';
import { ep, port } from '../helpers/dns-fixture.ts';

function backend(cluster: string, endpoints: ClusterBackend['endpoints'], excludedReason?: string): ClusterBackend {
  const b: ClusterBackend = { cluster, endpoints, ports: [port('http', 80)] };
  if (excludedReason !== undefined) b.excludedReason = excludedReason;
  return b;
}

function service(type: ServiceEntry['type'], backends: ClusterBackend[]): ServiceEntry {
  return { namespace: 'shop', name: 'web', type, vips: [], ports: [port('http', 80)], backends };
}

const healthyEast = backend('east', [ep(['10.1.0.1'])]);
const healthyNorth = backend('north', [ep(['10.4.0.1'])]);
const staleWest = backend('west', [ep(['10.2.0.1'], false)], 'lease expired 63s ago');
const notReadyEast = backend('east', [ep(['10.1.0.1'], false)]);

describe('clusterHealth', () => {
  it.each([
    ['healthy with one ready endpoint', healthyEast, true, 'healthy (1 of 1 endpoints ready)'],
    ['excluded by the importer, whatever its endpoints say', backend('west', [ep(['10.2.0.1'])], 'lease expired 63s ago'), false, 'lease expired 63s ago'],
    ['no endpoints at all', backend('east', []), false, 'no endpoints imported'],
    ['no ready endpoint', backend('east', [ep(['a'], false), ep(['b'], false)]), false, 'no ready endpoints (0 of 2 ready)'],
    ['ready endpoints without addresses', backend('east', [ep([], true)]), false, 'ready endpoints carry no address'],
    ['one ready of three is enough', backend('east', [ep(['a'], false), ep(['b']), ep(['c'], false)]), true, 'healthy (1 of 3 endpoints ready)'],
  ] as const)('%s', (_name, b, healthy, reason) => {
    expect(clusterHealth(b)).toMatchObject({ healthy, reason });
    // The gauge's quick test decides the same.
    expect(isBackendHealthy(b)).toBe(healthy);
  });
});

const localFirst: SelectionOptions = { policy: 'local-first', panicMode: 'nodata' };

describe('selectClusterSetIPs', () => {
  it('local-first answers only the local cluster when it is healthy, saying why the others are left out', () => {
    const s = selectClusterSetIPs(service('ClusterSetIP', [healthyEast, healthyNorth, staleWest]), 'east', 'IPv4', localFirst);
    expect(s.addresses).toEqual(['10.1.0.1']);
    expect(s.outcome).toBe('selected');
    expect(s.clusters).toEqual([
      { cluster: 'east', healthy: true, included: true, reason: 'local cluster, healthy (local-first)', addresses: ['10.1.0.1'], known: ['10.1.0.1'], weight: 100 },
      { cluster: 'north', healthy: true, included: false, reason: 'not needed: local cluster east is healthy (local-first)', addresses: [], known: ['10.4.0.1'], weight: 100 },
      { cluster: 'west', healthy: false, included: false, reason: 'unhealthy: lease expired 63s ago', addresses: [], known: ['10.2.0.1'], weight: 100 },
    ]);
  });

  it('local-first fails over to every healthy remote when the local cluster is unhealthy, and notes it', () => {
    const s = selectClusterSetIPs(service('ClusterSetIP', [notReadyEast, healthyNorth, staleWest]), 'east', 'IPv4', localFirst);
    expect(s.addresses).toEqual(['10.4.0.1']);
    expect(s.outcome).toBe('failover');
    expect(s.note).toBe('local cluster east unavailable (unhealthy: no ready endpoints (0 of 1 ready)), answering remote clusters');
  });

  it('local-first answers every healthy remote, without a note, when the local cluster does not export', () => {
    const s = selectClusterSetIPs(service('ClusterSetIP', [healthyNorth, backend('south', [ep(['10.5.0.1'])])]), 'east', 'IPv4', localFirst);
    expect(s.addresses).toEqual(['10.4.0.1', '10.5.0.1']);
    expect({ outcome: s.outcome, note: s.note, mode: s.mode }).toEqual({ outcome: 'selected', note: undefined, mode: 'rotate' });
  });

  it('all and round-robin use every healthy cluster; round-robin sends one record per answer', () => {
    const svc = service('ClusterSetIP', [healthyEast, healthyNorth, staleWest]);
    const all = selectClusterSetIPs(svc, 'east', 'IPv4', { policy: 'all', panicMode: 'nodata' });
    const rr = selectClusterSetIPs(svc, 'east', 'IPv4', { policy: 'round-robin', panicMode: 'nodata' });
    expect([all.addresses, all.mode]).toEqual([['10.1.0.1', '10.4.0.1'], 'rotate']);
    expect([rr.addresses, rr.mode]).toEqual([['10.1.0.1', '10.4.0.1'], 'pick-one']);
    expect(rr.clusters.find((c) => c.cluster === 'west')?.reason).toBe('unhealthy: lease expired 63s ago');
  });

  it('panics when every candidate is unhealthy: nodata with every reason, or all addresses marked degraded', () => {
    const svc = service('ClusterSetIP', [notReadyEast, staleWest]);
    const nodata = selectClusterSetIPs(svc, 'east', 'IPv4', localFirst);
    expect(nodata).toMatchObject({
      outcome: 'panic-nodata',
      addresses: [],
      note: 'no healthy cluster: east: no ready endpoints (0 of 1 ready); west: lease expired 63s ago',
    });
    const all = selectClusterSetIPs(svc, 'east', 'IPv4', { policy: 'local-first', panicMode: 'all' });
    expect(all.outcome).toBe('panic-all');
    expect(all.addresses).toEqual(['10.1.0.1', '10.2.0.1']);
    expect(all.clusters.every((c) => c.included && c.reason.startsWith('unhealthy but included (panic mode all)'))).toBe(true);
    expect(all.note).toMatch(/^degraded, no healthy cluster, answering all: east: .*; west: lease expired 63s ago$/);
  });

  it('chooses per address family: an IPv6-only local cluster does not hide IPv4 remotes', () => {
    const v6Local = backend('east', [ep(['fd00::1'])]);
    const svc = service('ClusterSetIP', [v6Local, healthyNorth]);
    const a = selectClusterSetIPs(svc, 'east', 'IPv4', localFirst);
    expect(a.addresses).toEqual(['10.4.0.1']);
    expect(a.clusters[0]).toMatchObject({ cluster: 'east', included: false, reason: 'no IPv4 address' });
    expect(selectClusterSetIPs(svc, 'east', 'IPv6', localFirst).addresses).toEqual(['fd00::1']);
  });

  it('reports no-candidate (plain NODATA) when no cluster has the family or there is no backend', () => {
    const v6 = selectClusterSetIPs(service('ClusterSetIP', [backend('east', [ep(['fd00::1'])])]), 'east', 'IPv4', localFirst);
    expect([v6.outcome, v6.note]).toEqual(['no-candidate', 'shop/web has no IPv4 address']);
    const none = selectClusterSetIPs(service('ClusterSetIP', []), 'east', 'IPv4', localFirst);
    expect([none.outcome, none.note]).toEqual(['no-candidate', 'no cluster has endpoints for shop/web']);
  });
});

describe('selectExplicitCluster', () => {
  it("answers the named cluster's IPs even when unhealthy, as degraded, and marks others not asked for", () => {
    const s = selectExplicitCluster(service('ClusterSetIP', [healthyEast, staleWest]), 'west', 'IPv4');
    expect(s.addresses).toEqual(['10.2.0.1']);
    expect(s.note).toBe('degraded, cluster west is unhealthy (lease expired 63s ago), answered because it was asked for by name');
    expect(s.clusters.map((c) => [c.cluster, c.included, c.reason])).toEqual([
      ['east', false, 'not asked for (cluster-specific name)'],
      ['west', true, 'asked for by name: lease expired 63s ago'],
    ]);
    expect(selectExplicitCluster(service('ClusterSetIP', [healthyEast]), 'east', 'IPv4').note).toBeUndefined();
  });
});

describe('selectHeadless', () => {
  it('serves ready endpoints of healthy clusters and gives every other endpoint its reason', () => {
    const s = selectHeadless(
      service('Headless', [
        backend('east', [ep(['10.1.1.1'], true, 'DB-0'), ep(['10.1.1.2']), ep(['10.1.1.3'], false, 'db-2'), ep([], true, 'empty')]),
        backend('west', [ep(['10.2.1.1'], false, 'db-0')], 'lease expired 63s ago'),
        backend('v6', [ep(['fd00::1:2'])]),
      ]),
    );
    expect(s.served).toBe(3);
    expect(s.endpoints.map((e) => [e.cluster, e.label, e.included, e.reason])).toEqual([
      ['east', 'db-0', true, 'ready'],
      ['east', '10-1-1-2', true, 'ready'],
      ['east', 'db-2', false, 'not ready'],
      ['east', 'empty', false, 'no address'],
      ['west', 'db-0', false, 'cluster excluded: lease expired 63s ago'],
      ['v6', 'fd00--1-2', true, 'ready'],
    ]);
    expect(s.clusters.map((c) => [c.cluster, c.included, c.addresses])).toEqual([
      ['east', true, ['10.1.1.1', '10.1.1.2']],
      ['west', false, []],
      ['v6', true, ['fd00::1:2']],
    ]);
    expect(s.note).toBeUndefined();
  });

  it('explains why nothing is served', () => {
    const s = selectHeadless(service('Headless', [notReadyEast, staleWest]));
    expect(s.served).toBe(0);
    expect(s.note).toBe('no ready endpoint for shop/web: east: no ready endpoints (0 of 1 ready); west: lease expired 63s ago');
  });
});

describe('summarizeClusters', () => {
  it('names at most five clusters so EDE texts stay bounded', () => {
    const items = Array.from({ length: 8 }, (_, i) => ({ cluster: `c${i}`, reason: 'down' }));
    expect(summarizeClusters(items)).toBe('c0: down; c1: down; c2: down; c3: down; c4: down; (+3 more)');
  });
});

describe('traffic policy per service (issue 14)', () => {
  const placed = (cluster: string, ip: string, ready: boolean, region: string, zone: string, weight?: number): ClusterBackend => ({
    ...backend(cluster, [ep([ip], ready)]),
    region,
    zone,
    ...(weight === undefined ? {} : { weight }),
  });
  const opts: SelectionOptions = { policy: 'local-first', panicMode: 'nodata' };
  const nearest = (backends: ClusterBackend[]) => selectClusterSetIPs({ ...service('ClusterSetIP', backends), policy: 'nearest' }, 'east', 'IPv4', opts);

  it('nearest falls through as health changes: local, same zone, same region, every cluster', () => {
    const world = (eastUp: boolean, zoneUp: boolean, regionUp: boolean) => [
      placed('east', '10.1.0.1', eastUp, 'eu', 'eu-a'),
      placed('north', '10.4.0.1', zoneUp, 'eu', 'eu-a'),
      placed('south', '10.5.0.1', regionUp, 'eu', 'eu-b'),
      placed('far', '10.8.0.1', true, 'us', 'us-a'),
    ];
    // The local place comes from the local cluster's own export when no ClusterProperties were read.
    expect(nearest(world(true, true, true)).addresses).toEqual(['10.1.0.1']);
    expect(nearest(world(false, true, true)).addresses).toEqual(['10.4.0.1']);
    expect(nearest(world(false, false, true)).addresses).toEqual(['10.5.0.1']);
    const anywhere = nearest(world(false, false, false));
    expect(anywhere.addresses).toEqual(['10.8.0.1']);
    expect([anywhere.outcome, anywhere.note]).toEqual(['failover', 'local cluster east unavailable (unhealthy: no ready endpoints (0 of 1 ready)), no cluster in the same zone or region: answering every healthy cluster']);
  });

  it('a drained cluster counts as unavailable for every policy step, and weights are reported per cluster', () => {
    const s = nearest([placed('east', '10.1.0.1', true, 'eu', 'eu-a', 0), placed('north', '10.4.0.1', true, 'eu', 'eu-a', 250), placed('south', '10.5.0.1', true, 'eu', 'eu-b')]);
    expect(s.addresses).toEqual(['10.4.0.1']);
    expect(s.clusters.map((c) => [c.cluster, c.weight, c.reason])).toEqual([
      ['east', 0, 'drained (weight 0)'],
      ['north', 250, 'healthy, same zone eu-a as the local cluster (nearest)'],
      ['south', 100, 'not needed: clusters in zone eu-a answer (nearest)'],
    ]);
  });

  it('when every usable cluster is drained they all answer, saying so', () => {
    const s = selectClusterSetIPs(service('ClusterSetIP', [{ ...healthyNorth, weight: 0 }, { ...backend('south', [ep(['10.5.0.1'])]), weight: 0 }]), 'east', 'IPv4', { policy: 'all', panicMode: 'nodata' });
    expect(s.addresses).toEqual(['10.4.0.1', '10.5.0.1']);
    expect(s.clusters.map((c) => c.reason)).toEqual(['healthy; drained (weight 0), answered because every usable cluster is drained', 'healthy; drained (weight 0), answered because every usable cluster is drained']);
    expect(s.note).toBe('every usable cluster is drained (weight 0): answering them anyway');
  });

  it('remote-first answers remotes, and the local cluster only when none is usable', () => {
    const svc = (northReady: boolean) => ({ ...service('ClusterSetIP', [healthyEast, backend('north', [ep(['10.4.0.1'], northReady)])]), policy: 'remote-first' as const });
    expect(selectClusterSetIPs(svc(true), 'east', 'IPv4', opts)).toMatchObject({ addresses: ['10.4.0.1'], outcome: 'selected', policy: 'remote-first', policySource: 'annotation' });
    expect(selectClusterSetIPs(svc(false), 'east', 'IPv4', opts)).toMatchObject({ addresses: ['10.1.0.1'], outcome: 'failover', note: 'no remote cluster available, answering local cluster east' });
  });

  it('the global policy applies to a service without its own', () => {
    expect(selectClusterSetIPs(service('ClusterSetIP', [healthyEast, healthyNorth]), 'east', 'IPv4', { policy: 'remote-first', panicMode: 'nodata' })).toMatchObject({ addresses: ['10.4.0.1'], policySource: 'global' });
  });
});
