/**
 * prom.ts loads prom-client's parts by their `lib/` paths: these must be the very classes the index
 * exports (an upgrade that moves them fails here), and the process metrics must be the series
 * collectDefaultMetrics registers, with the CPU counters counting.
 */
import promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry, aggregateMetrics, collectProcessMetrics, sharedCounter } from '../../src/observability/prom.ts';

describe('prom-client parts', () => {
  it('are the classes prom-client exports', () => {
    expect(Registry).toBe(promClient.Registry);
    expect(Counter).toBe(promClient.Counter);
    expect(Gauge).toBe(promClient.Gauge);
    expect(Histogram).toBe(promClient.Histogram);
  });

  it('the process metrics are the default metrics, name for name and type for type', async () => {
    const ours = new Registry();
    collectProcessMetrics(ours);
    const theirs = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: theirs });
    const shape = async (registry: InstanceType<typeof Registry>) =>
      (await registry.getMetricsAsJSON()).map((metric) => ({ name: metric.name, type: metric.type, help: metric.help })).sort((a, b) => a.name.localeCompare(b.name));
    expect(await shape(ours)).toEqual(await shape(theirs));
  });

  it('the CPU counters grow with CPU spent, user + system = total', async () => {
    const registry = new Registry();
    collectProcessMetrics(registry);
    const read = async () => {
      const all = await registry.getMetricsAsJSON();
      const value = (name: string) => all.find((metric) => metric.name === name)?.values[0]?.value ?? Number.NaN;
      return { user: value('process_cpu_user_seconds_total'), system: value('process_cpu_system_seconds_total'), total: value('process_cpu_seconds_total') };
    };
    const before = await read();
    const until = process.cpuUsage().user + 50_000;
    while (process.cpuUsage().user < until) Math.sqrt(Math.random());
    const after = await read();
    expect(after.user - before.user).toBeGreaterThanOrEqual(0.04);
    expect(after.total).toBeCloseTo(after.user + after.system, 9);
  });

  it('aggregates metric JSON of several processes (counters summed)', async () => {
    const json = async (n: number) => {
      const registry = new Registry();
      new Counter({ name: 'probe_total', help: 'h', registers: [registry] }).inc(n);
      return registry.getMetricsAsJSON();
    };
    const merged = aggregateMetrics([await json(2), await json(3)]);
    expect(await merged.metrics()).toContain('probe_total 5');
  });

  it('a shared counter is registered once per registry and counts from every part that asks for it', async () => {
    const registry = new Registry();
    const config = { name: 'shared_total', help: 'h', labelNames: ['why'] as const };
    const first = sharedCounter(registry, config);
    const second = sharedCounter(registry, config);
    expect(second).toBe(first);
    first.inc({ why: 'a' });
    second.inc({ why: 'a' }, 2);
    expect(await registry.metrics()).toContain('shared_total{why="a"} 3');
    // Another registry gets a counter of its own.
    expect(sharedCounter(new Registry(), config)).not.toBe(first);
  });
});
