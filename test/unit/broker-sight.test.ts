/**
 * The broker-sight rule (model/broker-sight.ts): when an agent reaches the broker, the own-lease
 * canary, and blind time credited after an outage. Table tests on a manual clock, plus the same
 * rule observed through the in-memory broker of the embedded default.
 */
import { describe, expect, it } from 'vitest';
import { BrokerSight, canaryTimeoutMs } from '../../src/model/broker-sight.ts';
import { clusterLiveness } from '../../src/model/liveness.ts';
import type { ClusterLease } from '../../src/model/types.ts';
import { MemoryBroker } from '../../src/standalone/memory-broker.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const OWN = 'east';
const DURATION = 30_000;
const TIMEOUT = 18_000;
const GC = 600_000;
const s = (seconds: number): number => T0 + seconds * 1000;
const lease = (cluster: string, renewedAt: number): ClusterLease => ({ cluster, renewedAt, durationMs: DURATION });

/**
 * One input at a time, as the IO code feeds them; after each input the IO code calls update()
 * with the transport's current verdict, so every step below is followed by one.
 */
type Step =
  | { at: number; transport: string | undefined }
  /** This agent writes a renewal of its own lease... */
  | { at: number; attempt: true }
  /** ...and sees it come back through the watch (a changed claim). */
  | { at: number; echo: true }
  | { at: number; lease: string };

interface Run {
  sight: BrokerSight;
  clock: { t: number };
  /** Re-judges at `at` with no new input (what the IO code's timer does). */
  judgeAt(at: number): void;
}

function run(steps: readonly Step[], options: { canary?: boolean } = {}): Run {
  const clock = { t: T0 };
  const sight = new BrokerSight({ cluster: OWN, now: () => clock.t, ...(options.canary === false ? {} : { canaryTimeoutMs: TIMEOUT }) });
  let transport: string | undefined = 'not synced';
  let ownClaims = 0;
  for (const step of steps) {
    clock.t = step.at;
    if ('transport' in step) transport = step.transport;
    else if ('attempt' in step) sight.ownRenewalAttempted();
    else if ('echo' in step) sight.leaseSeen(lease(OWN, T0 + ++ownClaims));
    else sight.leaseSeen(lease(step.lease, step.at));
    sight.update(transport);
  }
  return {
    sight,
    clock,
    judgeAt: (at) => {
      clock.t = at;
      sight.update(transport);
    },
  };
}

/** Renewals every 5 s from `from` to `to` (inclusive), each echoed at once when `echoed`. */
function renewals(from: number, to: number, echoed: boolean): Step[] {
  const out: Step[] = [];
  for (let t = from; t <= to; t += 5) {
    out.push({ at: s(t), attempt: true });
    if (echoed) out.push({ at: s(t), echo: true });
  }
  return out;
}

const UP: Step = { at: T0, transport: undefined };

describe('reachability: the transport, then the own-lease canary', () => {
  it.each<[string, Step[], { at: number; reachable: boolean; reason?: RegExp }]>([
    ['not reachable before the watches synced', [], { at: s(0), reachable: false, reason: /^broker not synced yet$/ }],
    ['reachable once the transport is healthy', [UP], { at: s(1), reachable: true }],
    ['a failing watch: unreachable, with its reason', [UP, { at: s(3), transport: 'broker leases: connection refused' }], { at: s(4), reachable: false, reason: /^broker leases: connection refused$/ }],
    ['renewals echoed: never frozen', [UP, ...renewals(0, 60, true)], { at: s(61), reachable: true }],
    ['renewals not echoed: still reachable at the timeout', [UP, ...renewals(0, 15, false)], { at: s(18), reachable: true }],
    ['renewals not echoed: frozen just after the timeout', [UP, ...renewals(0, 15, false)], { at: s(18) + 1, reachable: false, reason: /^broker view frozen: own lease renewals not seen through the watch for 18s$/ }],
    ['echoes stop after 20 s: still reachable 18 s after the last one seen', [UP, ...renewals(0, 20, true), ...renewals(25, 35, false)], { at: s(38), reachable: true }],
    ['echoes stop after 20 s: frozen just after that (not 18 s after the next renewal)', [UP, ...renewals(0, 20, true), ...renewals(25, 35, false)], { at: s(38) + 1, reachable: false, reason: /view frozen/ }],
    ['a frozen view thaws when an echo comes back', [UP, ...renewals(0, 25, false), { at: s(26), echo: true }], { at: s(26), reachable: true }],
    ['a write that hangs (no further renewal) keeps the canary armed', [UP, { at: s(0), attempt: true }], { at: s(18) + 1, reachable: false, reason: /view frozen/ }],
    ['renewals paused (the last one echoed): nothing is expected back', [UP, ...renewals(0, 10, true)], { at: s(300), reachable: true }],
    ['renewals resumed after a pause: a fresh window, no flap before the echo', [UP, ...renewals(0, 10, true), { at: s(300), attempt: true }], { at: s(300), reachable: true }],
    ['canary off: renewals never echoed do not matter', [UP, ...renewals(0, 60, false)], { at: s(61), reachable: true }],
    ['a failing transport is the reason even when the view is also frozen', [UP, ...renewals(0, 10, false), { at: s(10), transport: 'broker records: 503' }], { at: s(21), reachable: false, reason: /^broker records: 503$/ }],
  ])('%s', (what, steps, expected) => {
    const { sight, judgeAt } = run(steps, { canary: !what.startsWith('canary off') });
    judgeAt(expected.at);
    const c = sight.connectivity();
    expect(c.reachable).toBe(expected.reachable);
    if (expected.reason !== undefined) expect(c.reason).toMatch(expected.reason);
  });
});

describe('nextCheckAt: the one moment the IO code must re-judge without any input', () => {
  it.each<[string, Step[], number | undefined]>([
    ['no renewal outstanding: no timer', [UP, ...renewals(0, 10, true)], undefined],
    ['a renewal outstanding: the canary deadline after the last own lease seen', [UP, ...renewals(0, 10, true), { at: s(15), attempt: true }], s(10 + 18) + 1],
    ['outstanding since the start: the deadline after the first renewal', [UP, { at: s(2), attempt: true }], s(2 + 18) + 1],
    ['canary off: no timer', [UP, { at: s(2), attempt: true }], undefined],
    ['already unreachable: no timer (only an input can change it)', [{ at: s(2), attempt: true }], undefined],
  ])('%s', (what, steps, expected) => {
    expect(run(steps, { canary: !what.startsWith('canary off') }).sight.nextCheckAt()).toBe(expected);
  });
});

describe('stale only while this agent reaches the broker: blind time is credited back', () => {
  it.each<[string, Step[], { westRenewedAt: number }]>([
    [
      'an outage noticed at once is credited from its start',
      [UP, { at: s(0), lease: 'west' }, { at: s(20), transport: 'broker leases: reset' }, { at: s(140), transport: undefined }],
      { westRenewedAt: s(120) },
    ],
    [
      'an outage is credited from the last own renewal seen when that is earlier',
      [UP, { at: s(0), lease: 'west' }, { at: s(5), attempt: true }, { at: s(5), echo: true }, { at: s(20), transport: 'broker leases: reset' }, { at: s(140), transport: undefined }],
      { westRenewedAt: s(135) },
    ],
    [
      'a frozen view is credited from the last own renewal it delivered',
      [UP, { at: s(0), lease: 'west' }, ...renewals(0, 10, true), ...renewals(15, 60, false), { at: s(61), echo: true }],
      // Frozen right after the echo at 10 s, back at 61 s: 51 s credited to a lease seen at 0 s.
      { westRenewedAt: s(51) },
    ],
    ['no outage: nothing credited', [UP, { at: s(0), lease: 'west' }, ...renewals(0, 60, true)], { westRenewedAt: s(0) }],
  ])('%s', (_what, steps, expected) => {
    const { sight } = run(steps);
    expect(sight.connectivity().reachable).toBe(true);
    expect(sight.lease('west')?.renewedAt).toBe(expected.westRenewedAt);
  });

  it('a cluster whose lease stopped changing turns stale only after a full duration in sight', () => {
    const { sight, clock } = run([UP, { at: s(0), lease: 'west' }, { at: s(20), transport: 'broker leases: reset' }, { at: s(140), transport: undefined }]);
    clock.t = s(150);
    expect(clusterLiveness('west', sight.lease('west'), clock.t, GC).state).toBe('live');
    clock.t = s(150) + 1;
    expect(clusterLiveness('west', sight.lease('west'), clock.t, GC).state).toBe('stale');
  });

  it('the first sight after start credits nothing (there was no view to age)', () => {
    const { sight } = run([{ at: s(0), lease: 'west' }, { at: s(100), transport: undefined }]);
    expect(sight.lease('west')?.renewedAt).toBe(s(0));
  });
});

describe('canaryTimeoutMs: own renewals must be back before any other lease could look expired', () => {
  it.each([
    [30_000, 5_000, 23_000],
    [40_000, 10_000, 28_000],
    [10_000, 4_000, 4_500],
  ])('lease %i ms renewed every %i ms: %i ms', (duration, renew, expected) => {
    expect(canaryTimeoutMs(duration, renew)).toBe(expected);
  });
});

describe('the in-memory broker (embedded default) applies the same rule', () => {
  it('an outage of one connection is credited from its own last renewal, like the Kube store', async () => {
    const clock = { t: T0 };
    const broker = new MemoryBroker(() => clock.t);
    const writer = broker.connect({ cluster: OWN, canaryTimeoutMs: TIMEOUT });
    const importer = broker.connect({ cluster: OWN, canaryTimeoutMs: TIMEOUT });
    broker.putLease(lease('west', T0));
    clock.t = s(5);
    await writer.applyLease(lease(OWN, clock.t));
    clock.t = s(20);
    importer.setReachable(false, 'test cut');
    expect(importer.connectivity()).toMatchObject({ reachable: false, reason: 'test cut' });
    clock.t = s(140);
    importer.setReachable(true);
    expect(importer.connectivity().reachable).toBe(true);
    // Blind from 5 s (the own renewal last seen) to 140 s: west, seen at 0 s, counts as seen at 135 s.
    expect(importer.getLease('west')?.renewedAt).toBe(s(135));
    // The connection that stayed up credits nothing.
    expect(writer.getLease('west')?.renewedAt).toBe(s(0));
    writer.close();
    importer.close();
  });

  it('an OFFLINE cluster (renewals paused) does not trip its own canary', async () => {
    const clock = { t: T0 };
    const broker = new MemoryBroker(() => clock.t);
    const member = broker.connect({ cluster: OWN, canaryTimeoutMs: TIMEOUT });
    await member.applyLease(lease(OWN, clock.t));
    clock.t = s(300);
    broker.putLease(lease('west', clock.t)); // any input re-judges
    expect(member.connectivity().reachable).toBe(true);
    member.close();
  });

  it('a renewal refused while cut does not freeze the view once the connection is back', async () => {
    const clock = { t: T0 };
    const broker = new MemoryBroker(() => clock.t);
    const member = broker.connect({ cluster: OWN, canaryTimeoutMs: TIMEOUT });
    await member.applyLease(lease(OWN, clock.t));
    member.setReachable(false, 'test cut');
    clock.t = s(5);
    await expect(member.applyLease(lease(OWN, clock.t))).rejects.toThrow(/broker unreachable: test cut/);
    member.setReachable(true);
    // Credited: the own lease counts as seen when the connection came back.
    expect(member.connectivity().reachable).toBe(true);
    await member.applyLease(lease(OWN, clock.t));
    expect(member.connectivity().reachable).toBe(true);
    member.close();
  });
});
