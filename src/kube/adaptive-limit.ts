/**
 * Pure: how many requests one client may have in flight at one API server, adapted to what the
 * server's answers say (AIMD, like TCP congestion control, with a throughput check).
 *
 * Below its capacity, an API server answers more requests per second when more are in flight;
 * at capacity, more in flight only queue there (latency grows, answers per second do not), and
 * past it the server says so outright with 429 (priority and fairness), 5xx or no answer in time.
 * So, per window of completed requests:
 * - overload seen: halve the limit at once (multiplicative decrease);
 * - callers had to wait for a slot (the limit, not the demand, bounded the requests): raise it by
 *   `increase` (additive increase), unless the last raise bought nothing: latency rose but the
 *   answers per second did not (by `minGain`), then step back (the server is at its knee);
 * - nobody waited: leave the limit alone, so an idle client does not drift to the maximum and
 *   flood the server when a burst comes.
 * Latency alone never lowers the limit: on a shared machine it also grows when other processes
 * take the CPU, and a lower limit would then only lose throughput. The limit stays within
 * [min, max]. No clock of its own: `now` is passed in.
 */

export interface AdaptiveLimitOptions {
  /** Requests in flight before anything was observed. */
  initial: number;
  min: number;
  max: number;
  /** Length of one observation window (ms). Default 250. */
  windowMs?: number;
  /** Samples a window needs before it is judged (fewer: it goes on). Default 4. */
  minSamples?: number;
  /** Additive increase per window. Default 2. */
  increase?: number;
  /** Relative gain in answers per second a raise must bring to be kept. Default 0.05. */
  minGain?: number;
}

/** One completed request: how long it took and what the answer said. */
export interface RequestSample {
  latencyMs: number;
  /** 429, 5xx or no answer in time: the server (or the path to it) is overloaded. */
  overloaded: boolean;
  /** Callers were waiting for a slot when this request finished. */
  queued: boolean;
}

/** Why the limit last changed, for metrics and logs (a bounded set). */
export type LimitChange = 'overload' | 'no-gain' | 'increase';

interface WindowStats {
  limit: number;
  perSecond: number;
  meanMs: number;
}

export class AdaptiveLimit {
  private readonly opts: Required<AdaptiveLimitOptions>;
  private current: number;
  private windowStart: number | undefined;
  private samples = 0;
  private latencySum = 0;
  private overloaded = false;
  private queued = false;
  /** The previous window, when the limit was raised at its end (what the raise is judged against). */
  private beforeRaise: WindowStats | undefined;

  constructor(options: AdaptiveLimitOptions) {
    const opts = { windowMs: 250, minSamples: 4, increase: 2, minGain: 0.05, ...options };
    if (!(Number.isInteger(opts.min) && opts.min >= 1)) throw new Error(`adaptive limit: min must be a whole number >= 1, not ${opts.min}`);
    if (!(Number.isInteger(opts.max) && opts.max >= opts.min)) throw new Error(`adaptive limit: max must be a whole number >= min (${opts.min}), not ${opts.max}`);
    if (!(Number.isInteger(opts.increase) && opts.increase >= 1)) throw new Error(`adaptive limit: increase must be a whole number >= 1, not ${opts.increase}`);
    this.opts = opts;
    this.current = clamp(Math.round(opts.initial), opts.min, opts.max);
  }

  /** Requests that may be in flight now. */
  get limit(): number {
    return this.current;
  }

  /** Takes one completed request into the current window; returns the change it led to, if any. */
  record(sample: RequestSample, now: number): LimitChange | undefined {
    if (this.windowStart === undefined) this.windowStart = now;
    this.samples += 1;
    this.latencySum += Math.max(0, sample.latencyMs);
    this.overloaded ||= sample.overloaded;
    this.queued ||= sample.queued;
    // Overload does not wait for the window to fill: the server said so, back off at once.
    if (this.overloaded) return this.closeWindow(now);
    if (now - this.windowStart < this.opts.windowMs || this.samples < this.opts.minSamples) return undefined;
    return this.closeWindow(now);
  }

  private closeWindow(now: number): LimitChange | undefined {
    const stats: WindowStats = { limit: this.current, perSecond: (this.samples * 1000) / Math.max(1, now - (this.windowStart ?? now)), meanMs: this.latencySum / this.samples };
    const { overloaded, queued } = this;
    const raised = this.beforeRaise;
    this.windowStart = now;
    this.samples = 0;
    this.latencySum = 0;
    this.overloaded = false;
    this.queued = false;
    this.beforeRaise = undefined;
    if (overloaded) return this.set(Math.floor(this.current / 2), 'overload');
    if (!queued) return undefined;
    const gain = this.opts.minGain;
    if (raised !== undefined && stats.limit > raised.limit && stats.perSecond < raised.perSecond * (1 + gain) && stats.meanMs > raised.meanMs * (1 + gain)) {
      return this.set(raised.limit, 'no-gain');
    }
    const change = this.set(this.current + this.opts.increase, 'increase');
    if (change !== undefined) this.beforeRaise = stats;
    return change;
  }

  private set(next: number, why: LimitChange): LimitChange | undefined {
    const bounded = clamp(next, this.opts.min, this.opts.max);
    if (bounded === this.current) return undefined;
    this.current = bounded;
    return why;
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
