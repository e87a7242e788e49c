/** explain: the report shows the decisions DNS made, from the same resolve(), as plain JSON. */
import { describe, expect, it } from 'vitest';
import { answer } from '../../src/dns/answer.ts';
import { explain, ExplainInputError, formatExplain, parseDottedName, parseQType } from '../../src/dns/explain.ts';
import { QClass, QType } from '../../src/dns/types.ts';
import { OPTIONS, STALE_WEST, fixtureSnapshot, fixtureState } from '../helpers/dns-fixture.ts';

const snap = fixtureSnapshot();

describe('explain', () => {
  it('reports every candidate cluster with its decision and the exact answer DNS gives', () => {
    const report = explain(snap, 'WEB.shop.svc.clusterset.local.', 'a', OPTIONS);
    expect(report.name).toBe('web.shop.svc.clusterset.local');
    expect(report.zone).toBe('clusterset.local');
    expect(report.shape).toMatchObject({ kind: 'service', description: 'service shop/web' });
    expect(report.service).toMatchObject({ type: 'ClusterSetIP', vips: [], ports: [{ name: 'http' }, { name: 'metrics' }] });
    expect(report.selections).toHaveLength(1);
    expect(report.selections[0]?.clusters.map((c) => [c.cluster, c.included, c.reason])).toEqual([
      ['east', true, 'local cluster, healthy (local-first)'],
      ['eu.prod', false, 'not needed: local cluster east is healthy (local-first)'],
      ['west', false, `unhealthy: ${STALE_WEST}`],
    ]);
    const dns = answer(snap, { labels: report.name.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(report.result).toMatchObject({ rcode: 'NOERROR', authoritative: true, answer: dns.answer, authority: dns.authority, ede: dns.ede });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('shows a reachability note the fail-safe left on a cluster it did not exclude', () => {
    const note = "fail-safe: every probed cluster (eu.prod, west) is unreachable from here, so this cluster's own network is suspected; none is excluded; held back: unreachable since 2026-01-01T00:04:00.000Z: tcp://10.0.0.5:4500 failed 3 times (connection refused)";
    const state = fixtureSnapshot();
    const withNote = fixtureSnapshot({
      slices: fixtureState().slices.map((s) => (s.name === 'web' && s.sourceCluster === 'eu.prod' ? { ...s, reachabilityNote: note } : s)),
    });
    const report = explain(withNote, 'web.shop.svc.clusterset.local', 'A', OPTIONS);
    expect(report.service?.clusters.find((c) => c.cluster === 'eu.prod')).toMatchObject({ healthy: true, reachabilityNote: note });
    expect(report.service?.clusters.find((c) => c.cluster === 'east')?.reachabilityNote).toBeUndefined();
    expect(formatExplain(report)).toContain(`              reachability: ${note}`);
    // Without the note, nothing is said.
    expect(formatExplain(explain(state, 'web.shop.svc.clusterset.local', 'A', OPTIONS))).not.toContain('reachability:');
  });

  it('lists every headless endpoint, included or excluded, with the reason', () => {
    const report = explain(snap, 'db.shop.svc.clusterset.local', 'AAAA', OPTIONS);
    expect(report.headless?.endpoints.map((e) => `${e.label}.${e.cluster} ${e.included ? '+' : '-'} ${e.reason}`)).toEqual([
      'db-0.east + ready',
      '10-1-1-2.east + ready',
      'db-2.east - not ready',
      'db-5.eu.prod + ready',
      `db-0.west - cluster excluded: ${STALE_WEST}`,
    ]);
    expect(report.result.answer).toEqual([{ name: 'db.shop.svc.clusterset.local', ttl: 5, type: 'AAAA', address: 'fd00:3::1' }]);
  });

  it('explains negative answers even with EDE off on the wire', () => {
    const report = explain(snap, 'down.shop.svc.clusterset.local', QType.A, { ...OPTIONS, ede: false });
    expect(report.result).toMatchObject({ rcode: 'NOERROR', answer: [], ede: [] });
    expect(report.notes[0]?.text).toMatch(/^no healthy cluster: east: no ready endpoints/);
    expect(report.selections[0]?.outcome).toBe('panic-nodata');
    const text = formatExplain(report);
    expect(text).toContain('selection IPv4 (policy local-first from global, outcome panic-nodata)');
    expect(text).toContain('(not sent: EDE off)');
  });

  it('explains names outside the zones and unknown services', () => {
    expect(explain(snap, 'example.com', 'A', OPTIONS)).toMatchObject({ zone: null, shape: null, result: { rcode: 'REFUSED', authoritative: false } });
    const nx = explain(snap, 'nope.shop.svc.clusterset.local', 'A', OPTIONS);
    expect(nx.shape).toEqual({ kind: 'nxdomain', description: 'does not exist: service shop/nope is not exported by any cluster' });
    expect(nx.result.rcode).toBe('NXDOMAIN');
  });

  it('renders a readable text report with decisions, records and EDE', () => {
    const text = formatExplain(explain(snap, '_postgres._tcp.db.shop.svc.clusterset.local', 'SRV', OPTIONS));
    expect(text.split('\n')[0]).toBe('_postgres._tcp.db.shop.svc.clusterset.local. SRV');
    expect(text).toContain('name:      SRV name for port postgres/TCP of shop/db');
    expect(text).toMatch(/- db-2\.east\s+10\.1\.1\.3\s+excluded: not ready/);
    expect(text).toContain('_postgres._tcp.db.shop.svc.clusterset.local.\t5\tIN\tSRV\t0 100 15432 db-0.east.db.shop.svc.clusterset.local.');
    expect(text).toContain('additional:');
  });
});

describe('explain shows the traffic policy (issue 14)', () => {
  it('the policy and where it came from, each cluster\'s weight and share of first positions, the drain', () => {
    const report = explain(snap, 'split.traffic.svc.clusterset.local', 'A', OPTIONS);
    expect(report.service).toMatchObject({ policy: 'all', policySource: 'annotation' });
    expect(report.service?.clusters.map((c) => [c.cluster, c.weight])).toEqual([['east', 300], ['eu.prod', 0], ['north', 100]]);
    const s = report.selections[0]!;
    expect([s.policy, s.policySource]).toEqual(['all', 'annotation']);
    expect(s.firstShares).toEqual({ east: 75, north: 25 });
    expect(s.clusters.find((c) => c.cluster === 'eu.prod')).toMatchObject({ included: false, reason: 'drained (weight 0)' });
    const text = formatExplain(report);
    expect(text).toContain('policy:    all (from its clusterset-dns.io/policy annotation)');
    expect(text).toMatch(/\+ east\s+10\.1\.7\.1\s+included: healthy \[weight 300, first 75%\]/);
    expect(text).toMatch(/- eu\.prod\s+10\.3\.7\.1\s+excluded: drained \(weight 0\) \[weight 0\]/);
  });

  it('the local place and each topology decision of nearest', () => {
    const report = explain(snap, 'near.traffic.svc.clusterset.local', 'A', OPTIONS);
    expect(report.snapshot.localPlace).toEqual({ region: 'eu-west', zone: 'eu-west-1a' });
    expect(report.service).toMatchObject({ policy: 'nearest', policySource: 'annotation' });
    expect(report.selections[0]?.clusters.map((c) => [c.cluster, c.included, c.reason])).toEqual([
      ['east', false, 'unhealthy: no ready endpoints (0 of 1 ready)'],
      ['far', false, 'not needed: clusters in zone eu-west-1a answer (nearest)'],
      ['north', true, 'healthy, same zone eu-west-1a as the local cluster (nearest)'],
      ['south', false, 'not needed: clusters in zone eu-west-1a answer (nearest)'],
    ]);
    expect(formatExplain(report)).toContain('local at:  region eu-west, zone eu-west-1a');
  });

  it('a service without its own policy follows the global one', () => {
    expect(explain(snap, 'web.shop.svc.clusterset.local', 'A', OPTIONS).service).toMatchObject({ policy: 'local-first', policySource: 'global' });
  });
});

describe('explain input parsing', () => {
  it.each([
    ['A', 1],
    ['aaaa', 28],
    ['SRV', 33],
    ['TYPE65', 65],
    ['99', 99],
  ])('query type %s → %i', (input, code) => {
    expect(parseQType(input)).toBe(code);
  });
  it('rejects unknown types and malformed names with a clear error', () => {
    expect(() => parseQType('BOGUS')).toThrow(ExplainInputError);
    expect(() => parseQType(70000)).toThrow(/0\.\.65535/);
    expect(() => parseDottedName('a..b')).toThrow(/empty label/);
    expect(parseDottedName('Web.Shop.')).toEqual(['web', 'shop']);
    expect(parseDottedName('.')).toEqual([]);
  });
});
