import { describe, expect, it } from 'vitest';
import { LeaseObserver, clusterLiveness, creditBlindTime, firstSight } from '../../src/model/liveness.ts';
import type { ClusterLease } from '../../src/model/types.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const DURATION = 30_000;
const SKEW = 30_000;
const GC = 600_000;
const claim = (renewedAt: number, cluster = 'west'): ClusterLease => ({ cluster, renewedAt, durationMs: DURATION });

function observer(): { obs: LeaseObserver; clock: { t: number } } {
  const clock = { t: T0 };
  return { obs: new LeaseObserver({ now: () => clock.t, skewToleranceMs: SKEW }), clock };
}

describe('first sight of a lease: a claim can make it older, never younger', () => {
  it.each([
    ['renewed just now', T0, T0],
    ['claims 2099', Date.parse('2099-01-01T00:00:00Z'), T0],
    ['10 s ago (within duration)', T0 - 10_000, T0],
    ['clock 50 s behind, still within duration + skew', T0 - 50_000, T0],
    ['expired an hour ago (beyond duration + skew)', T0 - 3_600_000, T0 - 3_600_000 + SKEW],
  ])('%s', (_what, renewedAt, observedAt) => {
    expect(firstSight(claim(renewedAt), T0, SKEW)).toBe(observedAt);
  });
});

describe('blind time is credited back (stale only while the importer sees the broker)', () => {
  it.each([
    ['observed before the outage', T0, T0 + 10_000, T0 + 70_000, T0 + 60_000],
    ['observed during the outage', T0 + 20_000, T0 + 10_000, T0 + 70_000, T0 + 70_000],
    ['empty outage', T0, T0 + 10_000, T0 + 10_000, T0],
  ])('%s', (_what, observedAt, from, to, after) => {
    expect(creditBlindTime(observedAt, from, to)).toBe(after);
  });
});

describe('LeaseObserver: liveness is judged by when this importer saw the lease change', () => {
  it('a lease claiming 2099 goes stale one duration after it stopped changing, then gone after the GC grace', () => {
    const { obs, clock } = observer();
    obs.observe(claim(Date.parse('2099-01-01T00:00:00Z')));
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('live');
    clock.t += DURATION + 1;
    // The same claim seen again (a relist, a resync) is not a renewal.
    obs.observe(claim(Date.parse('2099-01-01T00:00:00Z')));
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC)).toMatchObject({ state: 'stale', reason: `lease expired at ${new Date(T0 + DURATION).toISOString()}` });
    clock.t += GC;
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('gone');
  });

  it('every change of the claim is a renewal seen now, whatever time it claims', () => {
    const { obs, clock } = observer();
    obs.observe(claim(T0 - 5_000));
    clock.t += 25_000;
    // A member whose clock is 10 minutes behind still renews: skew does not matter.
    obs.observe(claim(T0 - 600_000));
    clock.t += 25_000;
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('live');
    expect(obs.get('west')!.renewedAt).toBe(T0 + 25_000);
  });

  it('an outage of the importer does not age other leases', () => {
    const { obs, clock } = observer();
    obs.observe(claim(T0));
    clock.t += 20_000;
    obs.setReachable(false);
    clock.t += 120_000;
    obs.setReachable(true);
    // 20 s seen, 120 s blind: still 10 s of life left.
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('live');
    clock.t += 10_001;
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('stale');
  });

  it('a blind period that started earlier than noticed is credited from its start', () => {
    const { obs, clock } = observer();
    obs.observe(claim(T0));
    clock.t += 25_000;
    obs.setReachable(false);
    clock.t += 60_000;
    // The watch froze at T0 + 5 s (the own-lease canary noticed only later).
    obs.setReachable(true, T0 + 5_000);
    expect(obs.get('west')!.renewedAt).toBe(T0 + 80_000);
  });

  it('a deleted lease is forgotten: the cluster has no lease (unknown), not a live one', () => {
    const { obs, clock } = observer();
    obs.observe(claim(T0));
    obs.forget('west');
    expect(clusterLiveness('west', obs.get('west'), clock.t, GC).state).toBe('unknown');
    expect(obs.list()).toEqual([]);
  });
});

describe('the in-memory broker (embedded default) judges leases by the same rule', () => {
  it('a lease claiming 2099 is reported as observed, and a cut connection credits its blind time', async () => {
    const { MemoryBroker } = await import('../../src/standalone/memory-broker.ts');
    const clock = { t: T0 };
    const broker = new MemoryBroker(() => clock.t);
    const conn = broker.connect();
    broker.putLease(claim(Date.parse('2099-01-01T00:00:00Z')));
    clock.t += DURATION + 1;
    expect(clusterLiveness('west', conn.getLease('west'), clock.t, GC).state).toBe('stale');

    broker.putLease(claim(T0 + 5)); // a renewal
    expect(conn.getLease('west')!.renewedAt).toBe(clock.t);
    conn.setReachable(false);
    clock.t += 120_000;
    conn.setReachable(true);
    expect(clusterLiveness('west', conn.getLease('west'), clock.t, GC).state).toBe('live');
    conn.close();
  });
});
