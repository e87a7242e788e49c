/**
 * Per-key work queue (client-go workqueue semantics, small):
 * - coalescing: a key added while it waits runs once; added while it runs, it runs once more after;
 * - a key is never processed concurrently with itself;
 * - failures retry with exponential backoff (capped, with jitter from an injected random source);
 *   an explicit add() during a retry wait runs the key at once, since new input may fix it;
 * - bounded: beyond maxSize distinct keys, adds are refused and reported (the owner resyncs);
 * - stoppable: stop() cancels timers and waits for running handlers.
 */
import { type Timers, realTimers } from './timers.ts';

export interface WorkQueueOptions {
  handler: (key: string) => Promise<void> | void;
  /** Keys processed in parallel (different keys only). Default 1. */
  concurrency?: number;
  /** First retry delay. Default 100 ms. */
  baseDelayMs?: number;
  /** Retry delay cap. Default 30 s. */
  maxDelayMs?: number;
  /** Relative jitter: the delay is scaled by 1 ± jitter. Default 0.2. */
  jitter?: number;
  /** Random source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Maximum distinct queued keys. Default 1,000,000. */
  maxSize?: number;
  timers?: Timers;
  /** Clock for delayed adds (keeps the sooner of two delays). Default Date.now. */
  now?: () => number;
  onDepth?: (depth: number) => void;
  onRetry?: (key: string, attempt: number, delayMs: number, error: unknown) => void;
  onOverflow?: (key: string) => void;
}

export class WorkQueue {
  private readonly opts: Required<Omit<WorkQueueOptions, 'onDepth' | 'onRetry' | 'onOverflow'>> &
    Pick<WorkQueueOptions, 'onDepth' | 'onRetry' | 'onOverflow'>;
  /** Waiting keys; `fifo[head..]` holds their order (taking from a Set's front is slow after many deletes). */
  private readonly pending = new Set<string>();
  private fifo: string[] = [];
  private head = 0;
  private readonly running = new Set<string>();
  /** Keys added while running: run once more afterwards. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { handle: unknown; due: number }>();
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  private stopped = false;

  constructor(options: WorkQueueOptions) {
    this.opts = {
      concurrency: 1,
      baseDelayMs: 100,
      maxDelayMs: 30_000,
      jitter: 0.2,
      random: Math.random,
      maxSize: 1_000_000,
      timers: realTimers,
      now: Date.now,
      ...options,
    };
  }

  /** Queues a key; returns false when stopped or full. */
  add(key: string): boolean {
    if (this.stopped) return false;
    const timer = this.delayed.get(key);
    if (timer !== undefined) {
      this.opts.timers.clearTimeout(timer.handle);
      this.delayed.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return true;
    }
    if (this.pending.has(key)) return true;
    if (this.pending.size + this.dirty.size >= this.opts.maxSize) {
      this.opts.onOverflow?.(key);
      return false;
    }
    this.pending.add(key);
    this.fifo.push(key);
    this.reportDepth();
    this.schedulePump();
    return true;
  }

  /** Queues a key after a delay; when the key already waits on a timer, the sooner one is kept. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = this.opts.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      this.opts.timers.clearTimeout(existing.handle);
    }
    const handle = this.opts.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { handle, due });
  }

  /** Waiting + re-run keys (not the ones running or waiting for a retry timer). */
  get depth(): number {
    return this.pending.size + this.dirty.size;
  }

  /** Consecutive failures of a key (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves once nothing is queued or running (keys waiting for a retry timer do not count). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const d of this.delayed.values()) this.opts.timers.clearTimeout(d.handle);
    this.delayed.clear();
    this.pending.clear();
    this.fifo = [];
    this.head = 0;
    this.dirty.clear();
    await Promise.allSettled([...this.inFlight]);
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.pending.size === 0 && this.running.size === 0 && this.dirty.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private reportDepth(): void {
    this.opts.onDepth?.(this.depth);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Deferred so that event handlers calling add() never run reconcilers re-entrantly.
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.opts.concurrency && this.pending.size > 0) {
      const key = this.takeNext();
      if (key === undefined) break;
      this.running.add(key);
      const p = this.run(key);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
    this.reportDepth();
    this.notifyIdle();
  }

  private takeNext(): string | undefined {
    while (this.head < this.fifo.length) {
      const key = this.fifo[this.head++]!;
      if (this.pending.delete(key)) {
        if (this.head > 1024 && this.head * 2 > this.fifo.length) {
          this.fifo = this.fifo.slice(this.head);
          this.head = 0;
        }
        return key;
      }
    }
    return undefined;
  }

  private async run(key: string): Promise<void> {
    try {
      await this.opts.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      const delay = this.retryDelay(attempt);
      this.opts.onRetry?.(key, attempt, delay, err);
      if (!this.dirty.has(key)) this.addAfter(key, delay);
    } finally {
      this.running.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  /** base·2^(attempt-1), capped, scaled by 1 ± jitter. */
  retryDelay(attempt: number): number {
    const exp = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    const scale = 1 + this.opts.jitter * (2 * this.opts.random() - 1);
    return Math.max(1, Math.round(exp * scale));
  }
}
