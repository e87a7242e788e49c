import { describe, expect, it } from 'vitest';
import { AdaptiveLimit, type AdaptiveLimitOptions, type LimitChange } from '../../src/kube/adaptive-limit.ts';
import { RequestGate } from '../../src/kube/request-gate.ts';

const BASE: AdaptiveLimitOptions = { initial: 16, min: 4, max: 64, windowMs: 100, minSamples: 4, increase: 2, minGain: 0.05 };

interface Window {
  /** Requests completed in the window (100 ms): its answers per second ÷ 10. */
  answers: number;
  latencyMs: number;
  queued?: boolean;
  overloaded?: boolean;
}

/** Feeds windows of 100 ms back to back; returns the limit after each and the changes made. */
function play(windows: Window[], options: Partial<AdaptiveLimitOptions> = {}): { limits: number[]; changes: LimitChange[] } {
  const limit = new AdaptiveLimit({ ...BASE, ...options });
  const limits: number[] = [];
  const changes: LimitChange[] = [];
  windows.forEach((w, k) => {
    for (let i = 0; i < w.answers; i++) {
      // Spread over [100·k, 100·(k+1)]: the last answer closes the window.
      const at = 100 * k + (100 * i) / (w.answers - 1);
      const change = limit.record({ latencyMs: w.latencyMs, overloaded: w.overloaded ?? false, queued: w.queued ?? true }, at);
      if (change !== undefined) changes.push(change);
    }
    limits.push(limit.limit);
  });
  return { limits, changes };
}

describe('AdaptiveLimit', () => {
  it.each([
    {
      what: 'callers waited and each raise brought more answers: additive increase',
      windows: [{ answers: 10, latencyMs: 10 }, { answers: 12, latencyMs: 10 }, { answers: 14, latencyMs: 10 }],
      limits: [18, 20, 22],
    },
    {
      what: 'a raise that only added latency (answers per second flat) is taken back',
      windows: [{ answers: 10, latencyMs: 10 }, { answers: 10, latencyMs: 12 }, { answers: 10, latencyMs: 12 }],
      limits: [18, 16, 18],
    },
    {
      what: 'latency rising with more answers is not queueing: keep raising',
      windows: [{ answers: 10, latencyMs: 10 }, { answers: 12, latencyMs: 15 }, { answers: 14, latencyMs: 20 }],
      limits: [18, 20, 22],
    },
    {
      what: 'latency alone (the CPU taken by others) never lowers the limit',
      windows: [{ answers: 10, latencyMs: 10 }, { answers: 12, latencyMs: 10 }, { answers: 8, latencyMs: 200 }, { answers: 8, latencyMs: 200 }],
      limits: [18, 20, 18, 20],
    },
    {
      what: 'nobody waited: unchanged (an idle client does not drift to the maximum)',
      windows: [{ answers: 10, latencyMs: 10, queued: false }, { answers: 10, latencyMs: 10, queued: false }],
      limits: [16, 16],
    },
    {
      what: 'answers that all say overload take the limit down to min',
      windows: [{ answers: 10, latencyMs: 10 }, { answers: 10, latencyMs: 10, overloaded: true }],
      limits: [18, 4],
    },
  ])('$what', ({ windows, limits }) => {
    expect(play(windows).limits).toEqual(limits);
  });

  it('overload halves the limit at once, without waiting for the window, and never below min', () => {
    const limit = new AdaptiveLimit(BASE);
    expect(limit.record({ latencyMs: 3, overloaded: true, queued: true }, 1)).toBe('overload');
    expect(limit.limit).toBe(8);
    expect(limit.record({ latencyMs: 3, overloaded: true, queued: true }, 2)).toBe('overload');
    expect(limit.limit).toBe(4);
    expect(limit.record({ latencyMs: 3, overloaded: true, queued: true }, 3)).toBeUndefined(); // at min already
    expect(limit.limit).toBe(4);
  });

  it('never rises above max', () => {
    const { limits } = play(Array.from({ length: 10 }, (_, k) => ({ answers: 10 + 2 * k, latencyMs: 10 })), { initial: 60 });
    expect(limits.at(-1)).toBe(64);
  });

  it('a window is judged only once it spans windowMs and holds minSamples', () => {
    const limit = new AdaptiveLimit(BASE);
    for (let i = 0; i < 10; i++) expect(limit.record({ latencyMs: 10, overloaded: false, queued: true }, i)).toBeUndefined(); // < 100 ms
    expect(limit.record({ latencyMs: 10, overloaded: false, queued: true }, 100)).toBe('increase');
    const sparse = new AdaptiveLimit(BASE);
    expect(sparse.record({ latencyMs: 10, overloaded: false, queued: true }, 0)).toBeUndefined();
    expect(sparse.record({ latencyMs: 10, overloaded: false, queued: true }, 500)).toBeUndefined(); // 2 samples < 4
  });

  it('under a steady server it settles at the knee: raises stop paying, the limit swings by one step', () => {
    // A server that completes at most 20 answers per 100 ms: below 20 in flight more in flight
    // means more answers; above, only more latency (Little's law, 100 ms per answer unqueued).
    const limit = new AdaptiveLimit({ ...BASE, initial: 8 });
    const seen: number[] = [];
    for (let k = 0; k < 30; k++) {
      const inFlight = limit.limit;
      const answers = Math.min(inFlight, 20);
      const latencyMs = (100 * inFlight) / answers;
      for (let i = 0; i < answers; i++) limit.record({ latencyMs, overloaded: false, queued: true }, 100 * k + (100 * i) / (answers - 1));
      seen.push(limit.limit);
    }
    expect(Math.min(...seen.slice(-10))).toBeGreaterThanOrEqual(20);
    expect(Math.max(...seen.slice(-10))).toBeLessThanOrEqual(24);
  });

  it('refuses nonsense bounds with a clear message', () => {
    expect(() => new AdaptiveLimit({ ...BASE, min: 0 })).toThrow(/min must be a whole number >= 1/);
    expect(() => new AdaptiveLimit({ ...BASE, max: 2 })).toThrow(/max must be a whole number >= min/);
    expect(() => new AdaptiveLimit({ ...BASE, increase: 0 })).toThrow(/increase must be a whole number >= 1/);
  });

  it('starts within bounds whatever the initial value', () => {
    expect(new AdaptiveLimit({ ...BASE, initial: 1000 }).limit).toBe(64);
    expect(new AdaptiveLimit({ ...BASE, initial: 0 }).limit).toBe(4);
  });
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('RequestGate', () => {
  it('lets at most the limit run, the rest wait in order of arrival; all finish', async () => {
    let now = 0;
    const gate = new RequestGate({ initial: 2, min: 2, max: 2, now: () => now });
    const pending = Array.from({ length: 5 }, () => deferred<number>());
    const started: number[] = [];
    const runs = pending.map((d, i) => gate.run(() => (started.push(i), d.promise), () => false));
    await flush();
    expect(started).toEqual([0, 1]);
    expect(gate.inFlight).toBe(2);
    expect(gate.queued).toBe(3);
    now = 5;
    pending[1]!.resolve(1);
    await flush();
    expect(started).toEqual([0, 1, 2]);
    for (const [i, d] of pending.entries()) d.resolve(i);
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(gate.inFlight).toBe(0);
  });

  it('a freed slot goes to one waiter only, and no newcomer takes it meanwhile', async () => {
    const gate = new RequestGate({ initial: 1, min: 1, max: 1 });
    const first = deferred();
    let active = 0;
    let peak = 0;
    const track = async (p: Promise<void>) => {
      active += 1;
      peak = Math.max(peak, active);
      await p;
      await flush();
      active -= 1;
    };
    const a = gate.run(() => track(first.promise), () => false);
    const waiters = [gate.run(() => track(Promise.resolve()), () => false), gate.run(() => track(Promise.resolve()), () => false)];
    await flush();
    expect(gate.queued).toBe(2);
    first.resolve();
    const late = a.then(() => gate.run(() => track(Promise.resolve()), () => false)); // arrives as a waiter is admitted
    await Promise.all([a, ...waiters, late]);
    expect(peak).toBe(1);
  });

  it('failures are passed through; overload answers lower the limit and say why', async () => {
    const changes: string[] = [];
    const gate = new RequestGate({ initial: 16, min: 4, max: 64, onLimit: (limit, why) => changes.push(`${why} ${limit}`) });
    const overloaded = (err: unknown) => (err as { code?: number }).code === 429;
    await expect(gate.run(() => Promise.reject(Object.assign(new Error('slow down'), { code: 429 })), overloaded)).rejects.toThrow('slow down');
    await expect(gate.run(() => Promise.reject(Object.assign(new Error('conflict'), { code: 409 })), overloaded)).rejects.toThrow('conflict');
    expect(changes).toEqual(['overload 8']);
    expect(gate.limit).toBe(8);
    expect(gate.inFlight).toBe(0);
  });
});
