// A manual clock for the agent's Timers seam: timers fire only when a test advances time, so
// queue and reconciler tests never sleep and never race the wall clock.
import type { Timers } from '../../src/agent/timers.ts';

export interface ManualTime {
  timers: Timers;
  now: () => number;
  pendingCount: () => number;
  /** Lets pending promise chains and setImmediate callbacks run. */
  flush: () => Promise<void>;
  /** Fires every timer due within `ms`, in order, flushing after each; then sets the clock. */
  advance: (ms: number) => Promise<void>;
}

/**
 * `flushRounds`: how many setImmediate turns one flush waits; reconcilers chain several awaits
 * (store write → event → queue) per step, a bare queue needs one.
 */
export function manualTime(start = 0, flushRounds = 1): ManualTime {
  let now = start;
  let nextId = 1;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    setTimeout(fn, ms) {
      const id = nextId++;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      pending.delete(h as number);
    },
  };
  const flush = async (): Promise<void> => {
    for (let i = 0; i < flushRounds; i++) await new Promise<void>((r) => setImmediate(r));
  };
  return {
    timers,
    now: () => now,
    pendingCount: () => pending.size,
    flush,
    async advance(ms: number) {
      const target = now + ms;
      await flush();
      for (;;) {
        let best: [number, { at: number; fn: () => void }] | undefined;
        for (const e of pending) if (e[1].at <= target && (best === undefined || e[1].at < best[1].at)) best = e;
        if (best === undefined) break;
        pending.delete(best[0]);
        now = best[1].at;
        best[1].fn();
        await flush();
      }
      now = target;
      await flush();
    },
  };
}
