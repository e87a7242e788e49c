/**
 * Traffic policy per service (issue 14): the annotation values users write, the policy winner
 * among disagreeing exports, the ServiceExport translation, and the weighted rotation the server
 * applies to cached answers (through the real Responder and wire encoding).
 */
import { describe, expect, it } from 'vitest';
import { translateObject } from '../../src/kube/translate.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import { parsePolicy, parseWeight, placeFromProperties, resolveServicePolicy } from '../../src/model/traffic-policy.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { Responder, TRANSPORT_UDP } from '../../src/server/responder.ts';
import { snapshotFromWire, snapshotToWire } from '../../src/server/snapshot-wire.ts';
import { WeightedCursor, variantWeights } from '../../src/server/weighted-cursor.ts';
import { ep, fixtureSnapshot, imported, OPTIONS, port } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply } from '../e2e/server-helpers.ts';

describe('annotation values', () => {
  it.each(['local-first', 'all', 'round-robin', 'remote-first', 'nearest'])('policy %s is accepted', (text) => {
    expect(parsePolicy(text)).toEqual({ ok: true, value: text });
  });

  it.each(['', 'Local-First', ' all', 'closest', 'x'.repeat(200)])('policy %j is refused with the list of policies', (text) => {
    const p = parsePolicy(text);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.message).toMatch(/is not one of local-first, all, round-robin, remote-first, nearest$/);
    // A huge value is not echoed whole into a condition message.
    expect(!p.ok && p.message.length).toBeLessThan(200);
  });

  it.each([
    ['0', 0],
    ['100', 100],
    ['1000', 1000],
    ['007', 7],
  ])('weight %j is %i', (text, value) => {
    expect(parseWeight(text)).toEqual({ ok: true, value });
  });

  it.each(['', '-1', '1001', '1e2', '+5', ' 7', '0x10', '2.5', '10000'])('weight %j is refused', (text) => {
    expect(parseWeight(text)).toEqual({ ok: false, message: `weight ${JSON.stringify(text)} is not a whole number from 0 to 1000` });
  });
});

describe('the conflict winner\'s policy applies', () => {
  it.each([
    ['both silent: the global policy, no conflict', undefined, [undefined], undefined, []],
    ['the winner names one: it applies; a silent loser defers', 'all', [undefined], 'all', []],
    ['a loser agreeing is no conflict', 'all', ['all'], 'all', []],
    ['a loser naming another is told', 'all', ['nearest'], 'all', ['b']],
    ['a silent winner: the global policy; a loser naming one is told', undefined, ['nearest'], undefined, ['b']],
  ] as const)('%s', (_name, winnerPolicy, loserPolicies, applies, disagreeing) => {
    const winner = winnerPolicy === undefined ? { cluster: 'a' } : { cluster: 'a', policy: winnerPolicy };
    const others = loserPolicies.map((p) => (p === undefined ? { cluster: 'b' } : { cluster: 'b', policy: p }));
    const r = resolveServicePolicy(winner, others);
    expect(r.policy).toBe(applies);
    expect([...r.disagreeing.keys()]).toEqual(disagreeing);
  });
});

describe('ServiceExport translation keeps the annotations as written (the exporter judges them)', () => {
  const exportWith = (annotations: Record<string, unknown>) =>
    translateObject(
      { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2024-05-01T10:00:00Z', annotations } },
      { defaultCreatedAt: () => 0 },
    );

  it('an unknown value still translates, so the export can say Valid=False', () => {
    const t = exportWith({ 'clusterset-dns.io/policy': 'closest', 'clusterset-dns.io/weight': '250' });
    expect(t.status === 'ok' && t.object.kind === 'ServiceExport' && t.object.serviceExport).toMatchObject({ policyText: 'closest', weightText: '250' });
  });

  it('a value that is not a string is refused as the API server refuses it', () => {
    const t = exportWith({ 'clusterset-dns.io/weight': 250 });
    expect(t.status === 'invalid' && t.errors).toEqual([{ path: 'metadata.annotations[clusterset-dns.io/weight]', message: 'must be a string, got 250' }]);
  });
});

describe('this cluster\'s place from its ClusterProperties', () => {
  it('takes valid region and zone values and leaves bad ones unknown', () => {
    expect(placeFromProperties(new Map([['region.topology.clusterset-dns.io', 'eu-west'], ['zone.topology.clusterset-dns.io', 'eu-west-1a']]))).toEqual({ region: 'eu-west', zone: 'eu-west-1a' });
    expect(placeFromProperties(new Map([['zone.topology.clusterset-dns.io', 'not a zone']]))).toEqual({});
  });
});

describe('weighted rotation', () => {
  /** How often each variant comes first over `queries` queries. */
  function firsts(cursor: WeightedCursor, variants: number, queries: number): number[] {
    const counts = new Array<number>(variants).fill(0);
    for (let i = 0; i < queries; i++) counts[cursor.next()]!++;
    return counts;
  }

  it.each([
    [[300, 100]],
    [[50, 50]],
    [[1, 999]],
    [[10, 20, 30, 40]],
    [[1000, 1, 1]],
  ])('weights %j: shares of first positions over 10,000 queries match the weights', (weights) => {
    const counts = firsts(new WeightedCursor(weights), weights.length, 10_000);
    const total = weights.reduce((a, b) => a + b, 0);
    // Exact to 0.1 points over every whole period of ~1,000 queries.
    for (let i = 0; i < weights.length; i++) expect(Math.abs(counts[i]! / 10_000 - weights[i]! / total)).toBeLessThanOrEqual(0.002);
  });

  it('spreads a heavy variant\'s turns instead of answering a long run with it', () => {
    const cursor = new WeightedCursor([300, 100]);
    const order = Array.from({ length: 40 }, () => cursor.next());
    // 3:1 and never more than a few in a row.
    expect(order.filter((v) => v === 1).length).toBe(10);
    expect(order.join('')).not.toMatch(/0{6}/);
  });

  it('a variant of weight 0 never comes first', () => {
    expect(firsts(new WeightedCursor([0, 5, 0, 5]), 4, 1000)).toEqual([0, 500, 0, 500]);
  });

  it('more records than variants: each variant weighs its segment of records', () => {
    expect(variantWeights([1, 1, 1, 1, 4, 4], 3)).toEqual([2, 2, 8]);
    expect(variantWeights([300, 100], 2)).toEqual([300, 100]);
  });

  it('through the responder: the first record of a cached answer follows the weights', () => {
    const split = imported('shop', 'web', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.0.1'])], weight: 300 },
      north: { endpoints: [ep(['10.4.0.1'])] },
      south: { endpoints: [ep(['10.5.0.1'])], weight: 0 },
    }, [], 'all');
    const responder = new Responder({ dns: OPTIONS, stats: new QueryStats(), logger: createLogger({ level: 'silent' }) });
    responder.setSnapshot(buildSnapshot({ synced: true, services: [split.service], slices: split.slices }, 'east', 1, 0));
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const reply = decodeReply(responder.respond(buildQuery({ name: 'web.shop.svc.clusterset.local', qtype: 1, id: i }), TRANSPORT_UDP)!);
      expect(reply.packet.answers.map((a) => a.address).sort()).toEqual(['10.1.0.1', '10.4.0.1']);
      const first = reply.packet.answers[0]!.address as string;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ '10.1.0.1': 3000, '10.4.0.1': 1000 });
  });
});

describe('DNS workers get everything the policy needs', () => {
  it('the snapshot, with policies, weights, places and the local place, survives the trip to a worker', () => {
    const snapshot = fixtureSnapshot();
    expect(snapshot.localPlace).toEqual({ region: 'eu-west', zone: 'eu-west-1a' });
    // IPC serializes as JSON.
    const shipped = snapshotFromWire(JSON.parse(JSON.stringify(snapshotToWire(snapshot))));
    expect(shipped).toEqual(snapshot);
  });
});
