/**
 * The hysteresis of reachability, on a manual clock: how many failed rounds mark a cluster
 * unreachable, how many good ones bring it back, what the reason says (and that it stays fixed),
 * and the fail-safe that refuses to exclude every probed cluster at once.
 */
import { describe, expect, it } from 'vitest';
import { afterRound, initialReachability, verdicts, type ProbeOutcome, type ReachabilityState, type Transition } from '../../src/model/reachability.ts';

const T0 = Date.parse('2024-05-01T12:00:00Z');
const A = 'tcp://10.0.0.5:4500';
const B = 'http://10.0.0.6:8080/healthz';

const ok = (target = A): ProbeOutcome => ({ target, ok: true, latencyMs: 2 });
const refused = (target = A): ProbeOutcome => ({ target, ok: false, error: 'connection refused', latencyMs: 1 });
const timedOut = (target = B): ProbeOutcome => ({ target, ok: false, error: 'timed out after 1s', latencyMs: 1000 });

/** Runs rounds 5 s apart from T0; returns every state and transition. */
function run(rounds: ProbeOutcome[][], thresholds = { failures: 3, successes: 2 }): Array<{ at: number; reachable: boolean; transition?: Transition; reason?: string }> {
  let state: ReachabilityState = initialReachability(T0);
  return rounds.map((outcomes, i) => {
    const at = T0 + (i + 1) * 5_000;
    const r = afterRound(state, outcomes, at, thresholds);
    state = r.state;
    return { at, reachable: state.reachable, ...(r.transition ? { transition: r.transition } : {}), ...(state.reason ? { reason: state.reason } : {}) };
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('reachability hysteresis', () => {
  const table: Array<{ name: string; rounds: ProbeOutcome[][]; thresholds?: { failures: number; successes: number }; reachable: boolean[]; transitions: Array<[number, Transition]> }> = [
    { name: 'good rounds keep it reachable', rounds: [[ok()], [ok()], [ok()]], reachable: [true, true, true], transitions: [] },
    { name: 'two failures are not enough (threshold 3)', rounds: [[refused()], [refused()], [ok()], [refused()], [refused()]], reachable: [true, true, true, true, true], transitions: [] },
    { name: 'three failures in a row mark it unreachable', rounds: [[refused()], [refused()], [refused()]], reachable: [true, true, false], transitions: [[2, 'unreachable']] },
    {
      name: 'one good round is not enough to come back (threshold 2); a failure in between starts over',
      rounds: [[refused()], [refused()], [refused()], [ok()], [refused()], [ok()], [ok()]],
      reachable: [true, true, false, false, false, false, true],
      transitions: [[2, 'unreachable'], [6, 'reachable']],
    },
    { name: 'one working target of two is enough', rounds: [[refused(A), ok(B)], [refused(A), ok(B)], [refused(A), ok(B)]], reachable: [true, true, true], transitions: [] },
    { name: 'thresholds of one flip at once', rounds: [[refused()], [ok()]], thresholds: { failures: 1, successes: 1 }, reachable: [false, true], transitions: [[0, 'unreachable'], [1, 'reachable']] },
  ];
  for (const row of table) {
    it(row.name, () => {
      const states = run(row.rounds, row.thresholds);
      expect(states.map((s) => s.reachable)).toEqual(row.reachable);
      expect(states.flatMap((s, i) => (s.transition ? [[i, s.transition]] : []))).toEqual(row.transitions);
    });
  }

  it('the reason says since when (the first failed round) and how every target failed, and stays fixed while unreachable', () => {
    const states = run([[ok()], [refused(A), timedOut(B)], [refused(A), timedOut(B)], [refused(A), timedOut(B)], [refused(A), timedOut(B)], [ok()]]);
    const reason = `unreachable since ${iso(T0 + 10_000)}: ${A} failed 3 times (connection refused), ${B} failed 3 times (timed out after 1s)`;
    expect(states[3]!.reason).toBe(reason);
    expect(states[4]!.reason).toBe(reason);
    expect(states[5]!.reason).toBe(reason);
  });

  it('after coming back, a new outage has a new since', () => {
    const states = run([[refused()], [ok()], [ok()], [refused()], [refused()], [refused()]], { failures: 1, successes: 2 });
    expect(states[0]!.reason).toBe(`unreachable since ${iso(T0 + 5_000)}: ${A} failed once (connection refused)`);
    expect(states[2]!.reachable).toBe(true);
    expect(states[3]!.reason).toBe(`unreachable since ${iso(T0 + 20_000)}: ${A} failed once (connection refused)`);
  });
});

describe('verdicts and the fail-safe', () => {
  const down = (reason: string) => ({ reachable: false as const, reason });
  const up = { reachable: true as const };

  it('excludes an unreachable cluster while another probed cluster is reachable', () => {
    expect(verdicts(new Map([['west', [down('w down')]], ['north', [up]]]))).toEqual({ excluded: new Map([['west', 'w down']]) });
  });

  it('any source saying unreachable is enough; both reasons are named', () => {
    expect(verdicts(new Map([['west', [up, down('gateway error')]], ['north', [up]]])).excluded).toEqual(new Map([['west', 'gateway error']]));
    expect(verdicts(new Map([['west', [down('probe'), down('gateway')]], ['north', [up]]])).excluded).toEqual(new Map([['west', 'probe; gateway']]));
  });

  it('every probed cluster unreachable at once (two or more): none is excluded, and it says why', () => {
    expect(verdicts(new Map([['west', [down('a')]], ['north', [down('b')]]]))).toEqual({
      excluded: new Map(),
      failSafe: "fail-safe: every probed cluster (north, west) is unreachable from here, so this cluster's own network is suspected; none is excluded",
      heldBack: new Map([['north', 'b'], ['west', 'a']]),
    });
  });

  it('a single probed cluster is trusted (no second path to compare with)', () => {
    expect(verdicts(new Map([['west', [down('a')]]]))).toEqual({ excluded: new Map([['west', 'a']]) });
  });

  it('no probed cluster: nothing to exclude', () => {
    expect(verdicts(new Map())).toEqual({ excluded: new Map() });
  });
});
