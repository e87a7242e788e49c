/**
 * The encoded-answer cache: keyed by snapshot version (a new snapshot never serves old bytes),
 * by EDNS presence, qtype and class, and case-insensitively by name; bounded in size.
 */
import { describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import { cacheKey, MIN_CACHE_BYTES } from '../../src/server/answer-cache.ts';
import { Responder, TRANSPORT_TCP, TRANSPORT_UDP } from '../../src/server/responder.ts';
import { ep, fixtureSnapshot, fixtureState, imported, OPTIONS, port } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply, type QuerySpec } from '../e2e/server-helpers.ts';

const logger = createLogger({ level: 'silent' });

function setup(cacheMaxBytes?: number) {
  const stats = new QueryStats();
  const responder = new Responder(cacheMaxBytes === undefined ? { dns: OPTIONS, stats, logger } : { dns: OPTIONS, stats, logger, cacheMaxBytes });
  const ask = (spec: QuerySpec) => decodeReply(responder.respond(buildQuery(spec), TRANSPORT_UDP)!);
  return { stats, responder, ask };
}

describe('answer cache', () => {
  it('serves a repeated question from the cache, whatever its case', () => {
    const { stats, responder, ask } = setup();
    responder.setSnapshot(fixtureSnapshot());
    ask({ name: 'api.shop.svc.clusterset.local', qtype: 1 });
    const again = ask({ name: 'API.Shop.svc.clusterset.local', qtype: 1, id: 77 });
    expect([stats.cacheMisses, stats.cacheHits]).toEqual([1, 1]);
    expect([again.id, again.packet.answers[0]!.name, again.packet.answers[0]!.address]).toEqual([77, 'API.Shop.svc.clusterset.local', '242.0.0.1']);
  });

  it('keeps separate entries with and without EDNS, and per qtype', () => {
    const { stats, responder, ask } = setup();
    responder.setSnapshot(fixtureSnapshot());
    const name = 'api.shop.svc.clusterset.local';
    const plain = ask({ name, qtype: 1 });
    const edns = ask({ name, qtype: 1, edns: {} });
    const aaaa = ask({ name, qtype: 28 });
    expect(stats.cacheMisses).toBe(3);
    expect([plain.packet.additionals.length, edns.packet.additionals.length]).toEqual([0, 1]);
    expect(aaaa.packet.answers.map((a) => a.address)).toEqual(['fd00:242::1']);
  });

  it('a new snapshot version is answered from the new state, not old bytes', () => {
    const { responder, ask } = setup();
    responder.setSnapshot(fixtureSnapshot({}, 1));
    expect(ask({ name: 'pay.billing.svc.clusterset.local', qtype: 1 }).rcode).toBe(0);
    const state = fixtureState();
    const withoutPay = { services: state.services.filter((s) => s.name !== 'pay'), slices: state.slices.filter((s) => s.name !== 'pay') };
    responder.setSnapshot(fixtureSnapshot(withoutPay, 2));
    expect(ask({ name: 'pay.billing.svc.clusterset.local', qtype: 1 }).rcode).toBe(3);
  });

  it('a repeated version number (a restarted source) drops cached bytes', () => {
    const { responder, ask } = setup();
    responder.setSnapshot(fixtureSnapshot({}, 5));
    expect(ask({ name: 'pay.billing.svc.clusterset.local', qtype: 1 }).rcode).toBe(0);
    const state = fixtureState();
    responder.setSnapshot(fixtureSnapshot({ services: state.services.filter((s) => s.name !== 'pay') }, 5));
    expect(ask({ name: 'pay.billing.svc.clusterset.local', qtype: 1 }).rcode).toBe(3);
  });

  it('key parts are all significant', () => {
    const base = { version: 1, edns: false, qtype: 1, qclass: 1, nameKey: '\u0001a\u0000' };
    const keys = new Set([
      cacheKey(base),
      cacheKey({ ...base, version: 2 }),
      cacheKey({ ...base, edns: true }),
      cacheKey({ ...base, qtype: 28 }),
      cacheKey({ ...base, qclass: 3 }),
      cacheKey({ ...base, nameKey: '\u0001b\u0000' }),
    ]);
    expect(keys.size).toBe(6);
  });

  it('names that cannot exist go to the small negative cache, bounded by entry count', () => {
    const stats = new QueryStats();
    const responder = new Responder({ dns: OPTIONS, stats, logger, cacheMaxBytes: 64 * 1024 * 1024, negativeCacheEntries: 100 });
    const ask = (spec: QuerySpec) => decodeReply(responder.respond(buildQuery(spec), TRANSPORT_UDP)!);
    responder.setSnapshot(fixtureSnapshot());
    for (let i = 0; i < 500; i++) {
      ask({ name: `n${i}.shop.svc.clusterset.local`, qtype: 1 }); // unknown service
      ask({ name: `x.ns${i}.svc.clusterset.local`, qtype: 1 }); // unknown namespace
      ask({ name: `host${i}.example.org`, qtype: 1 }); // outside every zone
    }
    expect(responder.cacheUsage()).toMatchObject({ entries: 0, negativeEntries: 100 });
    // Which names stay once it is full: see the next test (a flood of new names does not evict them).
  });

  it('a full negative cache admits only questions asked before: a flood of unique junk names does not churn it', () => {
    const stats = new QueryStats();
    const responder = new Responder({ dns: OPTIONS, stats, logger, negativeCacheEntries: 1000 });
    const ask = (spec: QuerySpec) => decodeReply(responder.respond(buildQuery(spec), TRANSPORT_UDP)!);
    responder.setSnapshot(fixtureSnapshot());
    const junk = (i: number) => ({ name: `junk${i}.shop.svc.clusterset.local`, qtype: 1 });
    // While there is room, every negative answer is kept.
    for (let i = 0; i < 1000; i++) ask(junk(i));
    expect(responder.cacheUsage().negativeEntries).toBe(1000);
    // 4,000 more unique names: the cache is full, so they stay out (a few false admissions of the
    // filter aside, about 5 % at most, each evicting one of the oldest).
    for (let i = 1000; i < 5000; i++) expect(ask(junk(i)).rcode).toBe(Rcode.NXDOMAIN);
    let misses = stats.cacheMisses;
    for (let i = 900; i < 1000; i++) ask(junk(i));
    expect(stats.cacheMisses).toBe(misses); // the names cached before the flood are still cached
    // A name asked again is admitted even into the full cache.
    const name = 'missing.shop.svc.clusterset.local';
    ask({ name, qtype: 1 });
    ask({ name, qtype: 1 });
    misses = stats.cacheMisses;
    const third = ask({ name, qtype: 1 });
    expect(stats.cacheMisses).toBe(misses);
    expect(third.rcode).toBe(Rcode.NXDOMAIN);
  });

  it('a junk name the full negative cache does not keep gets the same reply bytes a cached answer gives', () => {
    // Two responders: one whose negative cache has room (every answer is cached and patched per
    // query), one whose cache is full of other names (answers are encoded for the query alone).
    const withRoom = new Responder({ dns: { ...OPTIONS, ede: true }, stats: new QueryStats(), logger, negativeCacheEntries: 10_000 });
    const full = new Responder({ dns: { ...OPTIONS, ede: true }, stats: new QueryStats(), logger, negativeCacheEntries: 1 });
    withRoom.setSnapshot(fixtureSnapshot());
    full.setSnapshot(fixtureSnapshot());
    full.respond(buildQuery({ name: 'filler.shop.svc.clusterset.local', qtype: 1 }), TRANSPORT_UDP);
    const specs: QuerySpec[] = [];
    const names = [
      'Junk.Shop.svc.ClusterSet.local', // 0x20 case, echoed
      'x.nowhere.svc.clusterset.local', // unknown namespace
      'no-such-cluster.web.shop.svc.clusterset.local', // a cluster that does not export it
      'ns.dns.clusterset.local', // SOA names the question holds: compression must point alike
      'a.hostmaster.clusterset.local',
      'host.example.org', // outside every zone: REFUSED
      `${'l'.repeat(63)}.${'m'.repeat(63)}.${'n'.repeat(60)}.shop.svc.clusterset.local`, // long, with a long EDE
    ];
    let id = 1;
    for (const name of names) {
      for (const edns of [null, {}, { payloadSize: 512, dnssecOk: true }]) {
        for (const qtype of [1, 28, 33, 255]) specs.push({ id: id++, name, qtype, edns, cd: id % 2 === 0, rd: id % 3 !== 0 });
      }
    }
    for (const spec of specs) {
      for (const transport of [TRANSPORT_UDP, TRANSPORT_TCP] as const) {
        const expected = withRoom.respond(buildQuery(spec), transport)!;
        const got = full.respond(buildQuery(spec), transport)!;
        expect(got.toString('hex'), `${spec.name} ${spec.qtype} ${JSON.stringify(spec.edns)} ${transport}`).toBe(expected.toString('hex'));
      }
    }
    expect(full.cacheUsage().negativeEntries).toBe(1); // none of them was kept
    expect(withRoom.cacheUsage().negativeEntries).toBeGreaterThan(names.length);
  });

  it('stays within its byte budget under many distinct answers', () => {
    const count = 10_000;
    const services = Array.from({ length: count }, (_, i) => imported('load', `s${i}`, 'ClusterSetIP', [port('http', 80)], { east: { endpoints: [ep([`10.7.${i >> 8}.${i & 255}`])] } }));
    const snapshot = buildSnapshot({ synced: true, services: services.map((p) => p.service), slices: services.flatMap((p) => p.slices) }, 'east', 1, 0);
    const budget = MIN_CACHE_BYTES;
    const { stats, responder, ask } = setup(budget);
    responder.setSnapshot(snapshot);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < count; i++) ask({ name: `s${i}.load.svc.clusterset.local`, qtype: 1, edns: { payloadSize: 1232 + round } });
    }
    const usage = responder.cacheUsage();
    expect(usage.bytes).toBeLessThanOrEqual(budget);
    expect(usage.entries).toBeGreaterThan(1000);
    expect(usage.entries).toBeLessThan(count);
    // A scan larger than the budget evicts in LRU order: the second round misses too.
    expect(stats.cacheMisses).toBe(2 * count);
  });

  it('caches an answer over 100,000 addresses once per snapshot, even at the smallest budget', () => {
    const endpoints = Array.from({ length: 1000 }, (_, i) => ep(Array.from({ length: 100 }, (_, j) => `10.${(i >> 8) + 20}.${i & 255}.${j + 1}`)));
    const parts = imported('big', 'flood', 'Headless', [port('http', 80)], { east: { endpoints } });
    const snapshot = buildSnapshot({ synced: true, services: [parts.service], slices: parts.slices }, 'east', 1, 0);
    const { stats, responder, ask } = setup(MIN_CACHE_BYTES);
    responder.setSnapshot(snapshot);
    for (let i = 0; i < 40; i++) ask({ name: 'flood.big.svc.clusterset.local', qtype: 1, edns: { payloadSize: 1232 } });
    expect([stats.cacheMisses, stats.cacheHits, responder.cacheUsage().refused]).toEqual([1, 39, 0]);
  });
});
