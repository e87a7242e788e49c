/**
 * The memory reducer: when it runs (pure rule, table cases), that its loop counts and logs runs and
 * survives a failing collection, and that the real collection gives a burst's heap back on this
 * Node.
 */
import v8 from 'node:v8';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDUCTION_THRESHOLDS, reductionReason, startMemoryReducer, type ReductionInput } from '../../src/observability/memory-reducer.ts';
import { Registry } from '../../src/observability/prom.ts';

const MIB = 1024 * 1024;
const quiet = pino({ level: 'silent' });

describe('reductionReason', () => {
  const base: ReductionInput = { utilization: 0.01, heapBytes: 200 * MIB, baselineBytes: 100 * MIB, sinceLastMs: null };
  const cases: [string, Partial<ReductionInput>, boolean][] = [
    ['idle, grown, never ran', {}, true],
    ['idle, grown, interval passed', { sinceLastMs: 60_000 }, true],
    ['idle, grown, ran too recently', { sinceLastMs: 59_999 }, false],
    ['busy (at the idle bound)', { utilization: 0.1 }, false],
    ['busy', { utilization: 0.9 }, false],
    ['utilization unknown (NaN)', { utilization: Number.NaN }, false],
    ['grown by exactly the minimum', { heapBytes: 116 * MIB }, true],
    ['grown by less than the minimum', { heapBytes: 115 * MIB }, false],
    ['heap shrank', { heapBytes: 50 * MIB }, false],
  ];
  for (const [what, change, expected] of cases) {
    it(what, () => {
      const reason = reductionReason({ ...base, ...change }, DEFAULT_REDUCTION_THRESHOLDS);
      expect(reason !== null).toBe(expected);
    });
  }

  it('says how much the heap grew', () => {
    expect(reductionReason(base)).toBe('heap grew by 100 MiB and the event loop is idle');
  });
});

describe('startMemoryReducer', () => {
  /** A reducer over a fake heap and clock; `collect` shrinks the fake heap to `after`. */
  function fake(options: { collect?: () => void } = {}) {
    const state = { heap: 100 * MIB, rss: 300 * MIB, utilization: 0.01, now: 0, collected: 0 };
    const registry = new Registry();
    const reducer = startMemoryReducer({
      logger: quiet,
      registry,
      checkMs: 3_600_000, // checks are driven by the test
      heapBytes: () => state.heap,
      rssBytes: () => state.rss,
      utilization: () => state.utilization,
      now: () => state.now,
      collect:
        options.collect ??
        (() => {
          state.collected++;
          state.heap = 110 * MIB;
          state.rss = 200 * MIB;
        }),
    });
    const counter = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
    return { state, reducer, counter };
  }

  it('runs once the heap grew and the loop is idle, then waits for the interval and new growth', async () => {
    const { state, reducer, counter } = fake();
    try {
      expect(reducer.check()).toBe(false); // nothing grew since start
      state.heap = 180 * MIB;
      state.utilization = 0.8;
      expect(reducer.check()).toBe(false); // busy: never pause a loaded process
      state.utilization = 0.02;
      expect(reducer.check()).toBe(true);
      expect(state.collected).toBe(1);
      expect(await counter('clusterset_dns_memory_reductions_total')).toBe(1);
      expect(await counter('clusterset_dns_memory_reduced_bytes_total')).toBe(100 * MIB);

      state.heap = 200 * MIB; // grown again from the new baseline (110 MiB)
      state.now = 30_000;
      expect(reducer.check()).toBe(false); // within the interval
      state.now = 61_000;
      expect(reducer.check()).toBe(true);
      expect(state.collected).toBe(2);

      state.now = 200_000;
      state.heap = 120 * MIB; // only 10 MiB above the baseline
      expect(reducer.check()).toBe(false);
    } finally {
      reducer.stop();
    }
  });

  it('survives a collection that throws, counts it, and retries only after the interval', async () => {
    let calls = 0;
    const { state, reducer, counter } = fake({
      collect: () => {
        calls++;
        throw new Error('boom');
      },
    });
    try {
      state.heap = 200 * MIB;
      expect(reducer.check()).toBe(false);
      expect(calls).toBe(1);
      expect(await counter('clusterset_dns_memory_reduction_failures_total')).toBe(1);
      state.now = 1_000;
      reducer.check();
      expect(calls).toBe(1);
      state.now = 61_000;
      reducer.check();
      expect(calls).toBe(2);
    } finally {
      reducer.stop();
    }
  });

  it('registers its counters once per registry (the embedded default shares one)', () => {
    const registry = new Registry();
    const a = startMemoryReducer({ logger: quiet, registry, collect: () => {} });
    const b = startMemoryReducer({ logger: quiet, registry, collect: () => {} });
    a.stop();
    b.stop();
    expect(registry.getMetricsAsArray().filter((m) => m.name === 'clusterset_dns_memory_reductions_total')).toHaveLength(1);
  });

  it('with the real collection, gives a burst of garbage back: the committed heap shrinks', () => {
    let kept: unknown[] = [];
    // A burst like a big list page: many small objects, most of them dropped again.
    for (let i = 0; i < 400_000; i++) kept.push({ address: `10.0.${i >> 8}.${i & 255}`, hostname: `pod-${i}`, ready: true });
    kept = kept.slice(0, 1_000);
    const before = v8.getHeapStatistics().total_heap_size;
    const reducer = startMemoryReducer({
      logger: quiet,
      checkMs: 3_600_000,
      thresholds: { idleBelow: 1.01, minGrowthBytes: Number.NEGATIVE_INFINITY, minIntervalMs: 0 },
      heapBytes: () => v8.getHeapStatistics().total_heap_size,
    });
    try {
      expect(reducer.check()).toBe(true);
    } finally {
      reducer.stop();
    }
    const after = v8.getHeapStatistics().total_heap_size;
    expect(kept).toHaveLength(1_000);
    expect(after).toBeLessThan(before - 16 * MIB);
  });
});
