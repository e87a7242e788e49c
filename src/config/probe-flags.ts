/**
 * The reachability probe flags, shared by `agent` and `serve` (the embedded default probes with
 * the same code and the same flags). Intervals and timeouts are seconds, fractions allowed.
 */
import { UsageError, type FlagSpec } from './flags.ts';

export const PROBE_FLAGS: readonly FlagSpec[] = [
  { name: 'probe-interval', kind: 'decimal', env: 'CLUSTERSET_DNS_PROBE_INTERVAL', metavar: 'SECONDS', min: 0.1, max: 3600, default: 5, help: 'how often every other cluster\'s announced probe targets are probed (jittered by ±10%)' },
  { name: 'probe-timeout', kind: 'decimal', env: 'CLUSTERSET_DNS_PROBE_TIMEOUT', metavar: 'SECONDS', min: 0.05, max: 600, default: 2, help: 'a probe that has not connected (tcp) or answered (http) by then fails (at most --probe-interval)' },
  { name: 'probe-failures', kind: 'int', env: 'CLUSTERSET_DNS_PROBE_FAILURES', metavar: 'N', min: 1, max: 100, default: 3, help: 'failed rounds in a row (every target of the cluster failed) that mark a cluster unreachable' },
  { name: 'probe-successes', kind: 'int', env: 'CLUSTERSET_DNS_PROBE_SUCCESSES', metavar: 'N', min: 1, max: 100, default: 2, help: 'good rounds in a row that mark an unreachable cluster reachable again' },
  { name: 'probe-concurrency', kind: 'int', env: 'CLUSTERSET_DNS_PROBE_CONCURRENCY', metavar: 'N', min: 1, max: 256, default: 16, help: 'probes in flight at most, over every cluster and target' },
];

export interface ProbeConfig {
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  successes: number;
  concurrency: number;
}

export function probeConfigFrom(values: Record<string, unknown>): ProbeConfig {
  const intervalMs = Math.round((values['probe-interval'] as number) * 1000);
  const timeoutMs = Math.round((values['probe-timeout'] as number) * 1000);
  if (timeoutMs > intervalMs) throw new UsageError(`--probe-timeout (${timeoutMs / 1000}s) must not be longer than --probe-interval (${intervalMs / 1000}s)`);
  return { intervalMs, timeoutMs, failures: values['probe-failures'] as number, successes: values['probe-successes'] as number, concurrency: values['probe-concurrency'] as number };
}
