/**
 * Gives memory back to the operating system once a process is idle after a burst of allocation
 * (a first list of 50,000 objects, a whole snapshot received, a 1,000-export burst).
 *
 * Why: V8 grows its heap (and the young generation, up to --max-semi-space-size) for a burst and
 * keeps what it committed for as long as the process lives; Node never runs V8's idle-time memory
 * reducer. Measured on Node 24 with 300,000 small objects alive: 193 MiB RSS after the burst,
 * unchanged 30 s later; 107 MiB after one memory-reducing GC, which took 123 ms. That GC (V8's
 * "last resort": full, compacting, shrinks the young generation) pauses the process, so it runs
 * only when the event loop has been nearly idle for a whole check period, the heap has grown
 * substantially since the last run, and at most once per interval: never under load.
 *
 * The decision is a pure function (`reductionReason`, table-tested); the loop reads the event-loop
 * utilization and V8's heap statistics, and survives a failing collection (logged, counted).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Counter as CounterT, Registry as RegistryT } from 'prom-client';
import type { Logger } from './logger.ts';
import { sharedCounter } from './prom.ts';

const MIB = 1024 * 1024;

export interface ReductionThresholds {
  /** Run only when the event loop was busy less than this fraction of the last check period. */
  idleBelow: number;
  /** Run only when V8's committed heap grew by at least this much since the last run (or start). */
  minGrowthBytes: number;
  /** At most one run per this long (the first run is not held back). */
  minIntervalMs: number;
}

/**
 * 16 MiB of growth: an agent after a 1,000-export burst holds 45-48 MiB of committed heap with
 * 30-33 MiB in use, which at 32 MiB never qualified; a run costs a pause of tens of ms on heaps
 * that size, at most once a minute and only while idle.
 */
export const DEFAULT_REDUCTION_THRESHOLDS: ReductionThresholds = {
  idleBelow: 0.1,
  minGrowthBytes: 16 * MIB,
  minIntervalMs: 60_000,
};

/** What one check sees. */
export interface ReductionInput {
  /** Event-loop utilization over the last check period, 0 to 1. */
  utilization: number;
  /** V8's committed heap now (total_heap_size). */
  heapBytes: number;
  /** V8's committed heap right after the last run, or at start. */
  baselineBytes: number;
  /** Since the last run; null before the first. */
  sinceLastMs: number | null;
}

/** Why a check should run a reduction, or null when it should not. */
export function reductionReason(input: ReductionInput, t: ReductionThresholds = DEFAULT_REDUCTION_THRESHOLDS): string | null {
  if (!(input.utilization < t.idleBelow)) return null;
  const grown = input.heapBytes - input.baselineBytes;
  if (grown < t.minGrowthBytes) return null;
  if (input.sinceLastMs !== null && input.sinceLastMs < t.minIntervalMs) return null;
  return `heap grew by ${Math.round(grown / MIB)} MiB and the event loop is idle`;
}

export interface MemoryReducerOptions {
  logger: Logger;
  /** Registers clusterset_dns_memory_reductions_total and friends here (once per registry). */
  registry?: RegistryT;
  /** How often to check (default 2 s). */
  checkMs?: number;
  thresholds?: ReductionThresholds;
  /** Tests inject these; production reads Node. */
  collect?: () => void;
  heapBytes?: () => number;
  utilization?: () => number;
  rssBytes?: () => number;
  now?: () => number;
}

export interface MemoryReducer {
  /** One check now (the timer calls it); whether a reduction ran. */
  check(): boolean;
  stop(): void;
}

interface ReducerCounters {
  runs: CounterT<string>;
  seconds: CounterT<string>;
  freed: CounterT<string>;
  failures: CounterT<string>;
}

/** Starts checking every `checkMs` (an unref'd timer: it never keeps the process alive). */
export function startMemoryReducer(options: MemoryReducerOptions): MemoryReducer {
  const { logger } = options;
  const thresholds = options.thresholds ?? DEFAULT_REDUCTION_THRESHOLDS;
  const collect = options.collect ?? memoryReducingGc();
  const heapBytes = options.heapBytes ?? (() => v8.getHeapStatistics().total_heap_size);
  const utilization = options.utilization ?? eventLoopUtilizationSinceLastCall();
  const rssBytes = options.rssBytes ?? (() => process.memoryUsage.rss());
  const now = options.now ?? Date.now;
  const counters = options.registry === undefined ? undefined : memoryReducerCounters(options.registry);

  let baselineBytes = heapBytes();
  let lastRunAt: number | null = null;

  const check = (): boolean => {
    const at = now();
    const heapBefore = heapBytes();
    const reason = reductionReason({ utilization: utilization(), heapBytes: heapBefore, baselineBytes, sinceLastMs: lastRunAt === null ? null : at - lastRunAt }, thresholds);
    if (reason === null) return false;
    lastRunAt = at;
    const rssBefore = rssBytes();
    const started = performance.now();
    try {
      collect();
    } catch (err) {
      // Held back for a whole interval like a run, so a collection that keeps failing is not retried every check.
      counters?.failures.inc();
      logger.warn({ err }, 'memory-reducing garbage collection failed; trying again after the interval');
      return false;
    }
    const pauseMs = performance.now() - started;
    const rssAfter = rssBytes();
    baselineBytes = heapBytes();
    counters?.runs.inc();
    counters?.seconds.inc(pauseMs / 1000);
    counters?.freed.inc(Math.max(0, rssBefore - rssAfter));
    logger.info(
      { reason, pauseMs: Math.round(pauseMs), rssBeforeMiB: Math.round(rssBefore / MIB), rssAfterMiB: Math.round(rssAfter / MIB), heapBeforeMiB: Math.round(heapBefore / MIB), heapAfterMiB: Math.round(baselineBytes / MIB) },
      'gave memory back to the system after a burst of allocation',
    );
    return true;
  };

  const timer = setInterval(() => {
    try {
      check();
    } catch (err) {
      logger.warn({ err }, 'memory reducer check failed; checking again next period');
    }
  }, options.checkMs ?? 2_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/**
 * V8's memory-reducing full GC ("last resort": compacts, shrinks the young generation, releases
 * pages), without starting Node with --expose-gc: the flag exposes `gc` to contexts created after
 * it is set, so a fresh vm context hands us the function and the main context stays as it was.
 */
function memoryReducingGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as ((options?: { type: string; execution: string; flavor: string }) => void) | undefined;
  if (typeof gc !== 'function') throw new Error('V8 did not expose gc() to a new context');
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Event-loop utilization of this thread since the previous call (the first call: since start). */
function eventLoopUtilizationSinceLastCall(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const current = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(current, last);
    last = current;
    return delta.utilization;
  };
}

/** The reducer's counters in `registry` (the ones already there, or new ones). */
export function memoryReducerCounters(registry: RegistryT): ReducerCounters {
  const counter = (name: string, help: string): CounterT<string> => sharedCounter(registry, { name, help });
  return {
    runs: counter('clusterset_dns_memory_reductions_total', 'Memory-reducing garbage collections run once the process was idle after its heap grew.'),
    seconds: counter('clusterset_dns_memory_reduction_seconds_total', 'Time the process was paused by memory-reducing garbage collections.'),
    freed: counter('clusterset_dns_memory_reduced_bytes_total', 'Resident memory given back to the system by memory-reducing garbage collections.'),
    failures: counter('clusterset_dns_memory_reduction_failures_total', 'Memory-reducing garbage collections that threw.'),
  };
}
