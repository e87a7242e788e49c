import { describe, expect, it } from 'vitest';
import { type ImportConfig, clusterLiveness, computeImports, nextLivenessChange } from '../../src/agent/imports.ts';
import { validateEndpoints, validateLease, validateRecord } from '../../src/model/broker-validation.ts';
import type { ClusterLease, ExportEndpoints, ExportRecord } from '../../src/model/types.ts';

const NOW = Date.parse('2024-05-01T12:00:00Z');

function rec(cluster: string, over: Partial<ExportRecord> = {}): ExportRecord {
  return {
    namespace: 'shop',
    name: 'web',
    cluster,
    type: 'ClusterSetIP',
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    serviceIPs: [`10.0.0.${cluster.length}`],
    ipFamilies: ['IPv4'],
    sessionAffinity: 'None',
    exportCreatedAt: 1000,
    ...over,
  };
}

function eps(cluster: string, ready = true, over: Partial<ExportEndpoints> = {}): ExportEndpoints {
  return { namespace: 'shop', name: 'web', cluster, endpoints: [{ addresses: [`10.0.0.${cluster.length}`], ready }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ...over };
}

function lease(cluster: string, renewedAgoMs: number, durationMs = 10_000): ClusterLease {
  return { cluster, renewedAt: NOW - renewedAgoMs, durationMs };
}

const cfg = (over: Partial<ImportConfig> = {}): ImportConfig => ({
  gcGraceMs: 60_000,
  namespaceExists: () => true,
  vipFor: () => undefined,
  ...over,
});

describe('computeImports', () => {
  it('one slice per source cluster, own exports included, service from the aggregate', () => {
    const r = computeImports([rec('east'), rec('west', { exportCreatedAt: 5 })], [eps('east'), eps('west')], [lease('east', 0), lease('west', 0)], NOW, cfg());
    expect(r.services).toEqual([
      { namespace: 'shop', name: 'web', type: 'ClusterSetIP', ips: [], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], sessionAffinity: 'None', ipFamilies: ['IPv4'], clusters: ['east', 'west'] },
    ]);
    expect(r.slices.map((s) => [s.sourceCluster, s.sliceName, s.excludedReason])).toEqual([
      ['east', 'web-east', undefined],
      ['west', 'web-west', undefined],
    ]);
    expect(r.slices[0]!.endpoints).toEqual([{ addresses: ['10.0.0.4'], ready: true }]);
  });

  it('a not-ready cluster is imported as not ready, without an exclusion reason', () => {
    const r = computeImports([rec('east'), rec('north')], [eps('east'), eps('north', false)], [lease('east', 0), lease('north', 0)], NOW, cfg());
    const north = r.slices.find((s) => s.sourceCluster === 'north')!;
    expect(north.endpoints[0]!.ready).toBe(false);
    expect(north.excludedReason).toBeUndefined();
  });

  it('a stale cluster stays, excluded with the lease expiry time, endpoints not ready', () => {
    const r = computeImports([rec('east'), rec('south')], [eps('east'), eps('south')], [lease('east', 0), lease('south', 15_000)], NOW, cfg());
    const south = r.slices.find((s) => s.sourceCluster === 'south')!;
    expect(south.excludedReason).toBe('lease expired at 2024-05-01T11:59:55.000Z');
    expect(south.endpoints).toEqual([{ addresses: ['10.0.0.5'], ready: false }]);
    expect(r.services[0]!.clusters).toEqual(['east', 'south']);
  });

  it('after the GC grace the stale cluster is gone from the service and its slices', () => {
    const r = computeImports([rec('east'), rec('south')], [eps('east'), eps('south')], [lease('east', 0), lease('south', 71_000)], NOW, cfg());
    expect(r.slices.map((s) => s.sourceCluster)).toEqual(['east']);
    expect(r.services[0]!.clusters).toEqual(['east']);
  });

  it('a service whose only exporter is gone disappears', () => {
    const r = computeImports([rec('south')], [eps('south')], [lease('south', 71_000)], NOW, cfg());
    expect(r).toMatchObject({ services: [], slices: [] });
  });

  it('a cluster without a lease is excluded, not garbage-collected', () => {
    const r = computeImports([rec('east')], [eps('east')], [], NOW, cfg());
    expect(r.slices[0]!.excludedReason).toBe('no lease from cluster east on the broker');
  });

  it('type conflict: the losing cluster is excluded with the reason, the winner is served', () => {
    const r = computeImports(
      [rec('east', { exportCreatedAt: 1 }), rec('north', { type: 'Headless', serviceIPs: [], exportCreatedAt: 2 })],
      [eps('east'), eps('north', true, { endpoints: [{ addresses: ['10.9.0.1'], hostname: 'search-0', ready: true }] })],
      [lease('east', 0), lease('north', 0)],
      NOW,
      cfg(),
    );
    expect(r.services[0]!.type).toBe('ClusterSetIP');
    const north = r.slices.find((s) => s.sourceCluster === 'north')!;
    expect(north.excludedReason).toBe('type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)');
    expect(north.endpoints.every((e) => !e.ready)).toBe(true);
    expect(r.slices.find((s) => s.sourceCluster === 'east')!.excludedReason).toBeUndefined();
  });

  it('stale and type-conflicting: both reasons', () => {
    const r = computeImports(
      [rec('east', { exportCreatedAt: 1 }), rec('north', { type: 'Headless', exportCreatedAt: 2 })],
      [],
      [lease('east', 0), lease('north', 20_000)],
      NOW,
      cfg(),
    );
    expect(r.slices.find((s) => s.sourceCluster === 'north')!.excludedReason).toBe(
      'lease expired at 2024-05-01T11:59:50.000Z; type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)',
    );
  });

  it('nothing is imported into a namespace that does not exist locally', () => {
    const r = computeImports([rec('east'), rec('west', { namespace: 'analytics' })], [], [lease('east', 0), lease('west', 0)], NOW, cfg({ namespaceExists: (ns) => ns === 'shop' }));
    expect(r.services.map((s) => s.namespace)).toEqual(['shop']);
    expect(r.slices.map((s) => s.namespace)).toEqual(['shop']);
  });

  it('a user-provided VIP is copied into a ClusterSetIP service, never into a headless one', () => {
    const vipFor = () => ['10.255.0.1'];
    expect(computeImports([rec('east')], [], [lease('east', 0)], NOW, cfg({ vipFor })).services[0]!.ips).toEqual(['10.255.0.1']);
    expect(computeImports([rec('east', { type: 'Headless' })], [], [lease('east', 0)], NOW, cfg({ vipFor })).services[0]!.ips).toEqual([]);
  });

  it('a record without endpoints yet gives an empty slice with the record ports', () => {
    const r = computeImports([rec('east')], [], [lease('east', 0)], NOW, cfg());
    expect(r.slices[0]).toMatchObject({ endpoints: [], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] });
  });

  it('endpoints without a record are ignored', () => {
    const r = computeImports([], [eps('east')], [lease('east', 0)], NOW, cfg());
    expect(r).toMatchObject({ services: [], slices: [] });
  });

  it('is deterministic whatever the input order', () => {
    const records = [rec('west', { exportCreatedAt: 2 }), rec('east', { exportCreatedAt: 2, ports: [{ name: 'http', protocol: 'TCP', port: 81 }] }), rec('north')];
    const a = computeImports(records, [eps('north'), eps('east')], [lease('east', 0), lease('west', 0), lease('north', 0)], NOW, cfg());
    const b = computeImports([...records].reverse(), [eps('east'), eps('north')], [lease('north', 0), lease('west', 0), lease('east', 0)], NOW, cfg());
    expect(b).toEqual(a);
  });

  it('reports when the result changes next by time alone', () => {
    const r = computeImports([rec('east')], [], [lease('east', 1000), lease('south', 15_000)], NOW, cfg());
    // east expires in 9 s; south (expired 5 s ago) is collected 55 s from now.
    expect(r.nextChangeAt).toBe(NOW + 9_000 + 1);
  });
});

describe('cluster liveness', () => {
  const table: { ago: number; state: string }[] = [
    { ago: 0, state: 'live' },
    { ago: 10_000, state: 'live' },
    { ago: 10_001, state: 'stale' },
    { ago: 70_000, state: 'stale' },
    { ago: 70_001, state: 'gone' },
  ];
  for (const row of table) {
    it(`renewed ${row.ago} ms ago → ${row.state}`, () => {
      expect(clusterLiveness('x', lease('x', row.ago), NOW, 60_000).state).toBe(row.state);
    });
  }
  it('no leases, no deadline', () => {
    expect(nextLivenessChange([], NOW, 1)).toBeUndefined();
  });
});

describe('broker object validation', () => {
  it('accepts what the exporter writes', () => {
    expect(validateRecord(rec('east'))).toEqual([]);
    expect(validateEndpoints(eps('east'))).toEqual([]);
    expect(validateLease(lease('east', 0))).toEqual([]);
  });

  const bad: { name: string; problems: string[]; expected: string }[] = [
    { name: 'bad namespace', problems: validateRecord(rec('east', { namespace: 'Shop!' })), expected: 'namespace "Shop!" is not a DNS label' },
    { name: 'three-label cluster ID', problems: validateRecord(rec('a.b.c')), expected: 'cluster "a.b.c" is not a valid cluster ID' },
    { name: 'unknown type', problems: validateRecord(rec('east', { type: 'LoadBalancer' as 'Headless' })), expected: 'type "LoadBalancer" is unknown' },
    { name: 'port out of range', problems: validateRecord(rec('east', { ports: [{ name: 'x', protocol: 'TCP', port: 0 }] })), expected: 'ports[0].port 0 is not 1-65535' },
    { name: 'service IP that is not an IP', problems: validateRecord(rec('east', { serviceIPs: ['evil.example.com'] })), expected: 'serviceIPs must be at most 2 IP addresses' },
    {
      name: 'too many endpoints',
      problems: validateEndpoints(eps('east', true, { endpoints: Array.from({ length: 10_001 }, () => ({ addresses: ['10.0.0.1'], ready: true })) })),
      expected: '10001 endpoints (at most 10000)',
    },
    { name: 'endpoint address that is not an IP', problems: validateEndpoints(eps('east', true, { endpoints: [{ addresses: ['x'], ready: true }] })), expected: 'endpoints[0] has an address that is not an IP' },
    { name: 'hostname with a dot', problems: validateEndpoints(eps('east', true, { endpoints: [{ addresses: ['10.0.0.1'], hostname: 'a.b', ready: true }] })), expected: 'endpoints[0].hostname is not a DNS label' },
    { name: 'lease of absurd duration', problems: validateLease({ cluster: 'east', renewedAt: 1, durationMs: 1e12 }), expected: 'durationMs must be 1-3600000' },
  ];
  for (const c of bad) {
    it(`rejects: ${c.name}`, () => {
      expect(c.problems).toContain(c.expected);
    });
  }
});
