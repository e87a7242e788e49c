/**
 * At most `limit` requests in flight to one API server, the limit adapting to the answers
 * (adaptive-limit.ts). Callers beyond it wait in order of arrival; nothing is refused or dropped,
 * and there is no rate limit: a server that answers fast gets requests as fast as it answers.
 */
import { AdaptiveLimit, type AdaptiveLimitOptions, type LimitChange } from './adaptive-limit.ts';

export interface RequestGateOptions extends Partial<AdaptiveLimitOptions> {
  now?: () => number;
  /** Told every change of the limit, with why. */
  onLimit?: (limit: number, why: LimitChange) => void;
}

/** How a finished request is judged: overload (429, 5xx, no answer in time) makes the limit back off. */
export type Overloaded = (err: unknown) => boolean;

/** Defaults: start at 16 in flight, never below 4, never above 64 (one agent's share of a server). */
export const DEFAULT_GATE_LIMITS = { initial: 16, min: 4, max: 64 } as const;

export class RequestGate {
  private readonly limiter: AdaptiveLimit;
  private readonly now: () => number;
  private readonly onLimit: ((limit: number, why: LimitChange) => void) | undefined;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(options: RequestGateOptions = {}) {
    const { now, onLimit, ...limits } = options;
    this.limiter = new AdaptiveLimit({ ...DEFAULT_GATE_LIMITS, ...limits });
    this.now = now ?? (() => performance.now());
    this.onLimit = onLimit;
  }

  get limit(): number {
    return this.limiter.limit;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Runs `request` once a slot is free; its latency and outcome feed the limit. */
  async run<T>(request: () => Promise<T>, overloaded: Overloaded): Promise<T> {
    if (this.active < this.limiter.limit && this.queued === 0) this.active += 1;
    // Otherwise wait: admit() hands the slot over (counted for us) before waking us.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    const started = this.now();
    let failed: unknown;
    let ok = false;
    try {
      const result = await request();
      ok = true;
      return result;
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      this.active -= 1;
      const change = this.limiter.record({ latencyMs: this.now() - started, overloaded: !ok && overloaded(failed), queued: this.queued > 0 }, this.now());
      if (change !== undefined) this.onLimit?.(this.limiter.limit, change);
      this.admit();
    }
  }

  private admit(): void {
    while (this.active < this.limiter.limit && this.head < this.waiting.length) {
      const next = this.waiting[this.head++]!;
      // The slot is taken now, before the waiter's continuation runs, so no newcomer can jump in.
      this.active += 1;
      next();
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
    }
  }
}
