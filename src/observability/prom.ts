/**
 * The parts of prom-client this project uses, loaded one module each instead of through its index.
 *
 * Why: prom-client's index loads every default metric, and its process-CPU metric loads
 * `@opentelemetry/api` (for exemplars we never enable): measured on Node 24 in an otherwise empty
 * process, `require('prom-client')` adds ~21 MiB RSS, these parts ~3 MiB. In a running agent,
 * whose heap grows in chunks anyway, the saving measured ~2 MiB. The types still come from prom-client's own declarations (type-only imports load
 * nothing); the module paths are prom-client 15's `lib/` layout, which `test/unit/prom.test.ts`
 * checks against the index so an upgrade that moves them fails loudly.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;

/**
 * The counter `name` in `registry`: the one already there, or a new one registered there. Several
 * parts of one process register the same counter in a shared registry (the embedded default runs
 * the DNS server's and the agent's metrics in one; each long-running loop registers its own), and
 * prom-client throws on a second registration of a name.
 */
export function sharedCounter<L extends string>(registry: PromClient.Registry, config: { name: string; help: string; labelNames?: readonly L[] }): PromClient.Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing !== undefined) return existing as PromClient.Counter<L>;
  return new Counter<L>({ ...config, registers: [registry] });
}

/** prom-client's static metric-JSON merge of several processes, loaded when first used. */
export function aggregateMetrics(metrics: Parameters<typeof PromClient.AggregatorRegistry.aggregate>[0]): PromClient.Registry {
  const aggregator = require('prom-client/lib/cluster') as typeof PromClient.AggregatorRegistry;
  return aggregator.aggregate(metrics);
}

type DefaultMetric = (registry: PromClient.Registry, config: Record<string, unknown>) => void;

/** prom-client's default metrics except its CPU counters (they load OpenTelemetry; see registerProcessCpu). */
const DEFAULT_METRIC_MODULES = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

/**
 * The same series as prom-client's collectDefaultMetrics (same names, help and values), registered
 * into `registry`.
 */
export function collectProcessMetrics(registry: PromClient.Registry): void {
  registerProcessCpu(registry);
  for (const name of DEFAULT_METRIC_MODULES) {
    // prom-client registers processResources only where Node has getActiveResourcesInfo.
    if (name === 'processResources' && typeof process.getActiveResourcesInfo !== 'function') continue;
    const register = require(`prom-client/lib/metrics/${name}`) as DefaultMetric;
    register(registry, { eventLoopMonitoringPrecision: 10 });
  }
}

/**
 * process_cpu_{user,system,}seconds_total, read from process.cpuUsage() on every scrape. The user
 * counter's collect sets all three from one reading; a registry collects in registration order, so
 * it is registered first and the other two are read after it ran.
 */
function registerProcessCpu(registry: PromClient.Registry): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      const userSeconds = (now.user - last.user) / 1e6;
      const systemSeconds = (now.system - last.system) / 1e6;
      last = now;
      user.inc(userSeconds);
      system.inc(systemSeconds);
      total.inc(userSeconds + systemSeconds);
    },
  });
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}
