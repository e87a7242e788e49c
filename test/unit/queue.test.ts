import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/agent/queue.ts';
import { manualTime } from '../helpers/manual-time.ts';

const fakeTime = () => manualTime(0, 1);

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('WorkQueue coalescing and ordering', () => {
  it('a key added several times while waiting runs once', async () => {
    const t = fakeTime();
    const runs: string[] = [];
    const q = new WorkQueue({ handler: (k) => void runs.push(k), timers: t.timers, now: t.now });
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    await q.whenIdle();
    expect(runs).toEqual(['a', 'b']);
  });

  it('a key added while running runs once more afterwards, never concurrently', async () => {
    const t = fakeTime();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const gate = deferred();
    const q = new WorkQueue({
      concurrency: 4,
      timers: t.timers,
      now: t.now,
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        if (runs === 1) await gate.promise;
        active--;
      },
    });
    q.add('a');
    await t.flush();
    expect(runs).toBe(1);
    q.add('a');
    q.add('a');
    await t.flush();
    expect(runs).toBe(1); // still blocked in the first run: the re-adds wait
    gate.resolve();
    await q.whenIdle();
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
  });

  it('different keys run in parallel up to the concurrency', async () => {
    const t = fakeTime();
    let active = 0;
    let maxActive = 0;
    const gate = deferred();
    const q = new WorkQueue({
      concurrency: 2,
      timers: t.timers,
      now: t.now,
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gate.promise;
        active--;
      },
    });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await t.flush();
    expect(active).toBe(2);
    gate.resolve();
    await q.whenIdle();
    expect(maxActive).toBe(2);
  });
});

describe('WorkQueue retries', () => {
  it('retries failures with exponential backoff up to the cap', async () => {
    const t = fakeTime();
    const attempts: number[] = [];
    const delays: number[] = [];
    const q = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 300,
      random: () => 0.5, // no jitter
      timers: t.timers,
      now: t.now,
      onRetry: (_k, _a, d) => delays.push(d),
      handler: () => {
        attempts.push(t.now());
        if (attempts.length < 5) throw new Error('boom');
      },
    });
    q.add('a');
    await t.flush();
    await t.advance(10_000);
    expect(delays).toEqual([100, 200, 300, 300]);
    expect(attempts).toEqual([0, 100, 300, 600, 900]);
    expect(q.failuresOf('a')).toBe(0);
  });

  it('jitter scales the delay by 1 ± jitter using the injected random source', () => {
    const low = new WorkQueue({ handler: () => undefined, baseDelayMs: 1000, jitter: 0.2, random: () => 0 });
    const high = new WorkQueue({ handler: () => undefined, baseDelayMs: 1000, jitter: 0.2, random: () => 0.999999 });
    expect(low.retryDelay(1)).toBe(800);
    expect(high.retryDelay(1)).toBe(1200);
    expect(low.retryDelay(3)).toBe(3200);
  });

  it('an explicit add during a retry wait runs the key at once', async () => {
    const t = fakeTime();
    let calls = 0;
    const q = new WorkQueue({
      baseDelayMs: 5_000,
      random: () => 0.5,
      timers: t.timers,
      now: t.now,
      handler: () => {
        calls++;
        if (calls === 1) throw new Error('first fails');
      },
    });
    q.add('a');
    await t.flush();
    expect(calls).toBe(1);
    expect(t.pendingCount()).toBe(1);
    q.add('a');
    await q.whenIdle();
    expect(calls).toBe(2);
    expect(t.pendingCount()).toBe(0); // the retry timer was cancelled
  });

  it('addAfter keeps the sooner of two delays', async () => {
    const t = fakeTime();
    const at: number[] = [];
    await t.flush();
    const q = new WorkQueue({ handler: () => void at.push(t.now()), timers: t.timers, now: t.now });
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 2000);
    await t.advance(5000);
    expect(at).toEqual([300]);
  });
});

describe('WorkQueue bounds and stop', () => {
  it('refuses keys beyond maxSize and reports them', async () => {
    const t = fakeTime();
    const overflow: string[] = [];
    const q = new WorkQueue({ handler: () => undefined, maxSize: 2, timers: t.timers, now: t.now, onOverflow: (k) => overflow.push(k) });
    expect([q.add('a'), q.add('b'), q.add('c'), q.add('a')]).toEqual([true, true, false, true]);
    expect(overflow).toEqual(['c']);
    expect(q.depth).toBe(2);
    await q.whenIdle();
  });

  it('stop cancels retry timers, refuses new keys and waits for running handlers', async () => {
    const t = fakeTime();
    const gate = deferred();
    let finished = false;
    const q = new WorkQueue({
      timers: t.timers,
      now: t.now,
      handler: async (k) => {
        if (k === 'fail') throw new Error('x');
        await gate.promise;
        finished = true;
      },
    });
    q.add('fail');
    q.add('slow');
    await t.flush();
    expect(t.pendingCount()).toBe(1);
    const stopping = q.stop();
    expect(t.pendingCount()).toBe(0);
    expect(q.add('new')).toBe(false);
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
  });

  it('reports depth through the hook', async () => {
    const t = fakeTime();
    const depths: number[] = [];
    const q = new WorkQueue({ handler: () => undefined, timers: t.timers, now: t.now, onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('b');
    await q.whenIdle();
    expect(depths.slice(0, 2)).toEqual([1, 2]);
    expect(depths.at(-1)).toBe(0);
  });
});
