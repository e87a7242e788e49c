/**
 * Large answers across snapshot updates (issue 9): a rebuild keeps the entry objects of unchanged
 * services, workers receive only what changed, and a large service's answers are computed ahead of
 * queries once per change of that service, not once per update anywhere.
 */
import { describe, expect, it } from 'vitest';
import type { ImportedState } from '../../src/model/imported-state.ts';
import { sameServiceEntry } from '../../src/model/service-entry-equal.ts';
import { buildSnapshot, changedServiceKeys } from '../../src/model/snapshot-build.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { Responder, TRANSPORT_TCP, TRANSPORT_UDP } from '../../src/server/responder.ts';
import { applySnapshotDelta, snapshotDeltaToWire, snapshotFromWire, snapshotToWire } from '../../src/server/snapshot-wire.ts';
import { ep, imported, OPTIONS, port } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply } from '../e2e/server-helpers.ts';

const logger = createLogger({ level: 'silent' });
const ZONE = 'clusterset.local';
const BIG = `big.shop.svc.${ZONE}`;
const WEB = `web.shop.svc.${ZONE}`;

/** 600 endpoints: more A records than one UDP message holds, so its answers are "large". */
function bigService(extra: string[] = []) {
  const endpoints = Array.from({ length: 600 }, (_, i) => ep([`10.20.${i >> 8}.${i & 255}`], true, `pod-${i}`));
  for (const [i, address] of extra.entries()) endpoints.push(ep([address], true, `extra-${i}`));
  return imported('shop', 'big', 'Headless', [port('http', 80)], { east: { endpoints } });
}

function webService(address: string) {
  return imported('shop', 'web', 'ClusterSetIP', [port('http', 80)], { east: { endpoints: [ep([address])] } });
}

function state(parts: ReturnType<typeof imported>[], extra: Partial<ImportedState> = {}): ImportedState {
  return { synced: true, services: parts.map((p) => p.service), slices: parts.flatMap((p) => p.slices), ...extra };
}

/** What a worker holds after receiving `base` whole and `next` as a delta (both through JSON, as over IPC). */
function throughIpc(base: Snapshot, next: Snapshot) {
  const held = snapshotFromWire(JSON.parse(JSON.stringify(snapshotToWire(base))));
  const delta = JSON.parse(JSON.stringify(snapshotDeltaToWire(base, next)));
  const snapshot = applySnapshotDelta(held, delta);
  return { held, snapshot, changed: changedServiceKeys(held, snapshot) };
}

function setup() {
  const stats = new QueryStats();
  const responder = new Responder({ dns: OPTIONS, stats, logger });
  const warm = () => new Promise<void>((resolve) => responder.whenWarm(resolve));
  const ask = (name: string, qtype: number, transport: 0 | 1 = TRANSPORT_UDP) => {
    const reply = responder.respond(buildQuery({ id: 7, name, qtype, edns: { payloadSize: 1232 } }), transport);
    return decodeReply(reply!);
  };
  return { stats, responder, warm, ask };
}

describe('buildSnapshot with the previous snapshot', () => {
  it('keeps the entry object of every unchanged service and lists the changed, added and removed ones', () => {
    const big = bigService();
    const v1 = buildSnapshot(state([big, webService('10.1.0.1')]), 'east', 1, 0);
    const v2 = buildSnapshot(state([bigService(), webService('10.1.0.2')]), 'east', 2, 0, undefined, undefined, v1);
    expect(v2.services.get('shop/big')).toBe(v1.services.get('shop/big'));
    expect(v2.services.get('shop/web')).not.toBe(v1.services.get('shop/web'));
    expect(v2.services.get('shop/web')?.backends[0]?.endpoints[0]?.addresses).toEqual(['10.1.0.2']);
    expect(changedServiceKeys(v1, v2)).toEqual(['shop/web']);

    const other = imported('shop', 'new', 'ClusterSetIP', [port('http', 80)], { east: { endpoints: [ep(['10.1.0.9'])] } });
    const v3 = buildSnapshot(state([bigService(['10.30.0.1']), other]), 'east', 3, 0, undefined, undefined, v2);
    expect(changedServiceKeys(v2, v3).sort()).toEqual(['shop/big', 'shop/new', 'shop/web']);
  });

  it('treats an exclusion, a readiness flip or a field it does not know by name as a change', () => {
    const v1 = buildSnapshot(state([webService('10.1.0.1')]), 'east', 1, 0);
    const entry = v1.services.get('shop/web')!;
    const excluded = { ...entry, backends: [{ ...entry.backends[0]!, excludedReason: 'lease expired' }] };
    const notReady = { ...entry, backends: [{ ...entry.backends[0]!, endpoints: [ep(['10.1.0.1'], false)] }] };
    const withNewField = { ...entry, backends: [{ ...entry.backends[0]!, weight: 5 }] };
    expect(sameServiceEntry(entry, structuredClone(entry))).toBe(true);
    expect(sameServiceEntry(entry, excluded)).toBe(false);
    expect(sameServiceEntry(entry, notReady)).toBe(false);
    expect(sameServiceEntry(entry, withNewField)).toBe(false);
    expect(sameServiceEntry(withNewField, entry)).toBe(false);
  });
});

describe('snapshot deltas to DNS workers', () => {
  it('carry only what changed, and the result equals the whole new snapshot', () => {
    const v1 = buildSnapshot(state([bigService(), webService('10.1.0.1')]), 'east', 1, 0);
    const v2 = buildSnapshot(state([bigService(), webService('10.1.0.2')]), 'east', 2, 5, undefined, undefined, v1);
    const delta = snapshotDeltaToWire(v1, v2);
    expect(delta.upserts.map((e) => e.name)).toEqual(['web']);
    expect(delta.removals).toEqual([]);
    const { held, snapshot, changed } = throughIpc(v1, v2);
    expect(changed).toEqual(['shop/web']);
    // The worker's unchanged entry is still its own object (what it memoised for it stays valid).
    expect(snapshot.services.get('shop/big')).toBe(held.services.get('shop/big'));
    expect(snapshotToWire(snapshot)).toEqual(JSON.parse(JSON.stringify(snapshotToWire(v2))));
  });

  it('carry every snapshot-wide field, such as the stale marker', () => {
    const v1 = buildSnapshot(state([webService('10.1.0.1')]), 'east', 1, 0);
    const v2 = buildSnapshot(state([webService('10.1.0.1')], { staleSource: { reason: 'API unreachable', since: 9 } }), 'east', 2, 0, undefined, undefined, v1);
    const { snapshot, changed } = throughIpc(v1, v2);
    expect(changed).toEqual([]);
    expect(snapshot.staleSource).toEqual({ reason: 'API unreachable', since: 9 });
    expect(snapshot.version).toBe(2);
  });

  it('remove services that are gone', () => {
    const v1 = buildSnapshot(state([bigService(), webService('10.1.0.1')]), 'east', 1, 0);
    const v2 = buildSnapshot(state([webService('10.1.0.1')]), 'east', 2, 0, undefined, undefined, v1);
    const { snapshot, changed } = throughIpc(v1, v2);
    expect(changed).toEqual(['shop/big']);
    expect([...snapshot.services.keys()]).toEqual(['shop/web']);
  });
});

describe('large answers in the responder', () => {
  it('are computed ahead when a large service arrives, so its first queries are cache hits', async () => {
    const { stats, responder, warm, ask } = setup();
    responder.setSnapshot(buildSnapshot(state([bigService(), webService('10.1.0.1')]), 'east', 1, 0));
    await warm();
    const misses = stats.cacheMisses;
    const a = ask(BIG, 1);
    const srv = ask(`_http._tcp.${BIG}`, 33);
    const any = ask(BIG, 255);
    expect(stats.cacheMisses).toBe(misses);
    expect(a.packet.answers.length).toBeGreaterThan(0);
    expect(a.packet.answers.every((r) => r.type === 1)).toBe(true);
    expect(srv.packet.answers.every((r) => r.type === 33)).toBe(true);
    expect(any.packet.answers.length).toBeGreaterThan(0);
    // Small services are not computed ahead.
    ask(WEB, 1);
    expect(stats.cacheMisses).toBe(misses + 1);
  });

  it('stay cached across an update of another service, and are recomputed when their own service changes', async () => {
    const { stats, responder, warm, ask } = setup();
    const v1 = buildSnapshot(state([bigService(), webService('10.1.0.1')]), 'east', 1, 0);
    responder.setSnapshot(v1);
    await warm();
    const tcpBefore = ask(BIG, 1, TRANSPORT_TCP);
    expect(tcpBefore.packet.answers.length).toBe(600);

    const v2 = buildSnapshot(state([bigService(), webService('10.1.0.2')]), 'east', 2, 0, undefined, undefined, v1);
    responder.setSnapshot(v2);
    await warm();
    const misses = stats.cacheMisses;
    expect(ask(BIG, 1, TRANSPORT_TCP).packet.answers.length).toBe(600);
    expect(ask(BIG, 1).packet.answers.length).toBeGreaterThan(0);
    expect(stats.cacheMisses).toBe(misses);
    // The other service's answer is the new one.
    expect(ask(WEB, 1).packet.answers.map((r) => r.address)).toEqual(['10.1.0.2']);

    // The large service itself changes: its answers follow at once, never the old cached bytes.
    const v3 = buildSnapshot(state([bigService(['10.30.0.1']), webService('10.1.0.2')]), 'east', 3, 0, undefined, undefined, v2);
    responder.setSnapshot(v3);
    const tcpAfter = ask(BIG, 1, TRANSPORT_TCP);
    expect(tcpAfter.packet.answers.length).toBe(601);
    expect(tcpAfter.packet.answers.map((r) => r.address)).toContain('10.30.0.1');
  });

  it('are not carried over when the source turns stale: the stale marker is part of every answer', async () => {
    const { responder, warm, ask } = setup();
    const v1 = buildSnapshot(state([bigService()]), 'east', 1, 0);
    responder.setSnapshot(v1);
    await warm();
    const v2 = buildSnapshot(state([bigService()], { staleSource: { reason: 'API unreachable', since: 1000 } }), 'east', 2, 0, undefined, undefined, v1);
    expect(changedServiceKeys(v1, v2)).toEqual([]);
    responder.setSnapshot(v2);
    await warm();
    // The EDE text travels in the OPT record (EDNS was on).
    expect(ask(BIG, 1).raw.toString('latin1')).toContain('stale: API unreachable');
  });

  it('compute ahead at most half the cache budget; the rest is computed on first query', async () => {
    const stats = new QueryStats();
    const cacheMaxBytes = 2 * 1024 * 1024;
    const responder = new Responder({ dns: OPTIONS, stats, logger, cacheMaxBytes });
    const many = Array.from({ length: 12 }, (_, n) => {
      const endpoints = Array.from({ length: 600 }, (_, i) => ep([`10.${40 + n}.${i >> 8}.${i & 255}`]));
      return imported('shop', `big-${n}`, 'Headless', [port('http', 80)], { east: { endpoints } });
    });
    responder.setSnapshot(buildSnapshot(state(many), 'east', 1, 0));
    await new Promise<void>((resolve) => responder.whenWarm(resolve));
    expect(responder.cacheUsage().bytes).toBeLessThanOrEqual(cacheMaxBytes / 2 + 512 * 1024);
    const misses = stats.cacheMisses;
    const reply = decodeReply(responder.respond(buildQuery({ id: 1, name: `big-11.shop.svc.${ZONE}`, qtype: 1, edns: { payloadSize: 1232 } }), TRANSPORT_UDP)!);
    expect(stats.cacheMisses).toBe(misses + 1);
    expect(reply.packet.answers.length).toBeGreaterThan(0);
  });
});
