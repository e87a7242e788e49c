/** The status report and the healthy gauge read the selection code, so they agree with explain. */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/dns/explain.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import type { ClusterBackend, ServiceEntry, Snapshot } from '../../src/model/snapshot.ts';
import { buildStatusReport, clusterHealthByCluster } from '../../src/model/status-report.ts';
import { ep, port } from '../helpers/dns-fixture.ts';

function backend(cluster: string, endpoints: ClusterBackend['endpoints'], excludedReason?: string): ClusterBackend {
  const b: ClusterBackend = { cluster, endpoints, ports: [port('http', 80)] };
  if (excludedReason !== undefined) b.excludedReason = excludedReason;
  return b;
}

function snapshot(services: ServiceEntry[]): Snapshot {
  return {
    version: 1,
    synced: true,
    localCluster: 'east',
    services: new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])),
    namespaces: new Set(services.map((s) => s.namespace)),
    builtAt: 0,
  };
}

const web: ServiceEntry = {
  namespace: 'shop',
  name: 'web',
  type: 'ClusterSetIP',
  vips: [],
  ports: [port('http', 80)],
  // north is not excluded by the importer but has no ready endpoint: explain calls it unhealthy.
  backends: [backend('east', [ep(['10.1.0.1'], false)]), backend('north', [ep(['10.4.0.1'], false)]), backend('west', [ep(['10.2.0.1'])], 'lease expired 63s ago'), backend('south', [ep(['10.3.0.1'])])],
};

describe('clusterset_dns_cluster_healthy follows explain', () => {
  it('a cluster whose backends are all unhealthy by the selection rule is 0, excluded or not', () => {
    const s = snapshot([web]);
    const health = clusterHealthByCluster(s);
    const report = explain(s, 'web.shop.svc.clusterset.local', 'A', DEFAULT_DNS_OPTIONS);
    for (const c of report.service!.clusters) expect(health.get(c.cluster)).toBe(c.healthy);
    expect(Object.fromEntries(health)).toEqual({ east: false, north: false, west: false, south: true });
  });
});

describe('buildStatusReport', () => {
  const inputs = {
    snapshot: snapshot([web]),
    selection: { policy: 'local-first' as const, panicMode: 'nodata' as const },
    clusters: [
      { id: 'east', state: 'fresh' as const, exports: 1, renewedAt: 9_000, leaseDurationMs: 10_000 },
      { id: 'west', state: 'stale' as const, reason: 'lease expired at 1970-01-01T00:00:00.000Z', exports: 1 },
    ],
    conflicts: [{ namespace: 'shop', name: 'web', winner: 'west', reasons: ['PortConflict'], details: ['port conflict: http 8080/TCP conflicts with http 80/TCP'] }],
    localExports: [{ namespace: 'shop', name: 'web', conditions: [{ type: 'Ready', status: 'False', reason: 'Pending', message: 'no cluster IP' }] }],
    problems: [],
    source: 'serve' as const,
    now: 10_000,
  };

  it('says per cluster whether it serves and why, with the conflict, conditions and what is not ready', () => {
    const r = buildStatusReport(inputs);
    const s = r.services[0]!;
    expect(s.clusters.map((c) => [c.id, c.serving, c.reason])).toEqual([
      ['east', false, 'unhealthy: no ready endpoints (0 of 1 ready)'],
      ['north', false, 'unhealthy: no ready endpoints (0 of 1 ready)'],
      ['west', false, 'unhealthy: lease expired 63s ago'],
      ['south', true, 'healthy remote; local cluster east is unavailable (local-first)'],
    ]);
    expect(s.conflicts).toEqual([{ reason: 'PortConflict', winner: 'west', details: ['port conflict: http 8080/TCP conflicts with http 80/TCP'] }]);
    expect(s.exportConditions).toEqual(inputs.localExports[0]!.conditions);
    expect(r.clusters[0]).toMatchObject({ id: 'east', leaseAgeSeconds: 1, leaseDurationSeconds: 10 });
    expect(r.ready).toBe(false);
    expect(r.notReady).toEqual(['ServiceExport shop/web: Ready=False (Pending)', 'cluster west: stale (lease expired at 1970-01-01T00:00:00.000Z)']);
  });

  it('filters by namespace and service; clusters not involved do not count', () => {
    const r = buildStatusReport(inputs, { namespace: 'other' });
    expect(r.services).toEqual([]);
    expect(r.exports).toEqual([]);
    expect(r.ready).toBe(true);
  });
});

describe('status shows the traffic policy (issue 14)', () => {
  const split: ServiceEntry = {
    namespace: 'shop',
    name: 'split',
    type: 'ClusterSetIP',
    vips: [],
    ports: [port('http', 80)],
    policy: 'nearest',
    backends: [
      { ...backend('east', [ep(['10.1.0.1'], false)]), region: 'eu-west', zone: 'eu-west-1a' },
      { ...backend('north', [ep(['10.4.0.1'])]), weight: 300, region: 'eu-west', zone: 'eu-west-1a' },
      { ...backend('south', [ep(['10.3.0.1'])]), weight: 0 },
    ],
  };

  it('per service the policy and its source; per cluster its weight, place and the topology decision', () => {
    const s = { ...snapshot([split, web]), localPlace: { region: 'eu-west', zone: 'eu-west-1a' } };
    const r = buildStatusReport({ snapshot: s, selection: { policy: 'local-first', panicMode: 'nodata' }, clusters: [], conflicts: [], localExports: [], problems: [], source: 'serve', now: 0 });
    const [first, second] = r.services;
    expect([first?.name, first?.policy, first?.policySource, second?.name, second?.policy, second?.policySource]).toEqual(['split', 'nearest', 'annotation', 'web', 'local-first', 'global']);
    expect(first?.clusters.map((c) => [c.id, c.serving, c.weight, c.zone, c.reason])).toEqual([
      ['east', false, 100, 'eu-west-1a', 'unhealthy: no ready endpoints (0 of 1 ready)'],
      ['north', true, 300, 'eu-west-1a', 'healthy, same zone eu-west-1a as the local cluster (nearest)'],
      ['south', false, 0, undefined, 'drained (weight 0)'],
    ]);
  });
});
