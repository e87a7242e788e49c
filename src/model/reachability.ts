/**
 * Reachability: can traffic from THIS cluster reach another one? Judged from probe rounds (each
 * round probes every target the other cluster announces, model/cluster-properties.ts) with
 * hysteresis, and from Submariner's gateway connection status where present. Pure: the clock is
 * passed in, the IO that probes lives in agent/reachability.ts.
 *
 * - A round fails when every target of the cluster failed (one working path is enough).
 * - `failures` failed rounds in a row mark a reachable cluster unreachable; `successes` good rounds
 *   in a row mark it reachable again. A cluster starts reachable (as it was before probing).
 * - The reason is fixed when the cluster turns unreachable (it is written into imported objects,
 *   which must not change on every round) and names since when probes failed and how.
 * - Fail safe (verdicts()): when every probed remote cluster — at least two — is unreachable at
 *   once, the likelier fault is this cluster's own network; none is excluded, and that is said.
 *   With a single probed cluster there is no second path to compare with: its probes are trusted.
 */
import type { ClusterId } from './types.ts';

export interface ProbeThresholds {
  /** Failed rounds in a row that mark a cluster unreachable. */
  failures: number;
  /** Good rounds in a row that mark it reachable again. */
  successes: number;
}

export const DEFAULT_PROBE_THRESHOLDS: ProbeThresholds = { failures: 3, successes: 2 };

/** One probe of one target. */
export interface ProbeOutcome {
  target: string;
  ok: boolean;
  /** Why it failed (`connection refused`, `timed out after 1s`, `HTTP 503`). */
  error?: string;
  latencyMs: number;
}

export interface ReachabilityState {
  reachable: boolean;
  /** When the current verdict began (for a cluster first seen: when it was first seen). */
  since: number;
  /** Failed rounds in a row, and when the first of them ran. */
  failedRounds: number;
  failingSince?: number;
  /** Good rounds in a row (counts only while unreachable). */
  goodRounds: number;
  /** The last failed round's errors, per target. */
  lastErrors: Array<{ target: string; error: string }>;
  /** Set while unreachable: fixed at the transition. */
  reason?: string;
}

export type Transition = 'unreachable' | 'reachable';

export function initialReachability(now: number): ReachabilityState {
  return { reachable: true, since: now, failedRounds: 0, goodRounds: 0, lastErrors: [] };
}

/** `tcp://10.0.0.5:4500 failed 3 times (connection refused)`, for every target of the round. */
function describeFailures(errors: ReadonlyArray<{ target: string; error: string }>, rounds: number): string {
  const times = rounds === 1 ? 'once' : `${rounds} times`;
  return errors.map((e) => `${e.target} failed ${times} (${e.error})`).join(', ');
}

export function unreachableReason(since: number, errors: ReadonlyArray<{ target: string; error: string }>, rounds: number): string {
  return `unreachable since ${new Date(since).toISOString()}: ${describeFailures(errors, rounds)}`;
}

/** The state after one probe round of a cluster (`outcomes`: one per target, never empty). */
export function afterRound(state: ReachabilityState, outcomes: readonly ProbeOutcome[], now: number, thresholds: ProbeThresholds): { state: ReachabilityState; transition?: Transition } {
  const ok = outcomes.some((o) => o.ok);
  if (!ok) {
    const failedRounds = state.failedRounds + 1;
    const failingSince = state.failingSince ?? now;
    const lastErrors = outcomes.map((o) => ({ target: o.target, error: o.error ?? 'failed' }));
    if (state.reachable && failedRounds >= thresholds.failures) {
      const next: ReachabilityState = { reachable: false, since: now, failedRounds, failingSince, goodRounds: 0, lastErrors, reason: unreachableReason(failingSince, lastErrors, failedRounds) };
      return { state: next, transition: 'unreachable' };
    }
    return { state: { ...state, failedRounds, failingSince, goodRounds: 0, lastErrors } };
  }
  // A good round ends a failure streak; only while unreachable does it count towards recovery.
  if (state.reachable) return { state: { reachable: true, since: state.since, failedRounds: 0, goodRounds: 0, lastErrors: [] } };
  const goodRounds = state.goodRounds + 1;
  if (goodRounds >= thresholds.successes) return { state: { reachable: true, since: now, failedRounds: 0, goodRounds: 0, lastErrors: [] }, transition: 'reachable' };
  // Still unreachable (and its reason unchanged) until the success threshold.
  return { state: { ...state, failedRounds: 0, goodRounds } };
}

/** What one source says about one cluster: undefined = reachable (or no opinion). */
export type SourceVerdict = { reachable: true } | { reachable: false; reason: string };

export interface ReachabilityVerdicts {
  /** Clusters to exclude, with the reason for their imported slices. */
  excluded: Map<ClusterId, string>;
  /** Set when the fail-safe held back every exclusion. */
  failSafe?: string;
  /** With the fail-safe: the clusters it held back, with what they would have been excluded for. */
  heldBack?: Map<ClusterId, string>;
}

/**
 * Which remote clusters to exclude, from every source's verdict on every cluster it has one for
 * (probes: clusters announcing targets; Submariner: clusters with a gateway connection). A cluster
 * is unreachable when any source says so. Then the fail-safe (see the module comment).
 */
export function verdicts(judged: ReadonlyMap<ClusterId, readonly SourceVerdict[]>): ReachabilityVerdicts {
  const excluded = new Map<ClusterId, string>();
  for (const [cluster, list] of [...judged].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const reasons = list.filter((v): v is { reachable: false; reason: string } => !v.reachable).map((v) => v.reason);
    if (reasons.length > 0) excluded.set(cluster, reasons.join('; '));
  }
  if (judged.size >= 2 && excluded.size === judged.size) {
    const names = [...excluded.keys()];
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    return { excluded: new Map(), failSafe: `fail-safe: every probed cluster (${shown}) is unreachable from here, so this cluster's own network is suspected; none is excluded`, heldBack: excluded };
  }
  return { excluded };
}
