// README's metrics table is what operators build dashboards from: it must list exactly the metrics
// the processes register (DNS server, agent, embedded default, build info), no more, no fewer.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../src/observability/agent-metrics.ts';
import { createEmbeddedMetrics, createMetrics, registerBuildInfo } from '../../src/observability/index.ts';
import { memoryReducerCounters } from '../../src/observability/memory-reducer.ts';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

async function registered(): Promise<string[]> {
  const dns = createMetrics({ defaultMetrics: false });
  const agent = createAgentMetrics({ defaultMetrics: false });
  const embedded = new promClient.Registry();
  createEmbeddedMetrics(embedded);
  registerBuildInfo(embedded, '0.0.0', 'test');
  memoryReducerCounters(embedded); // every long-running process starts a memory reducer
  const names = new Set<string>();
  for (const registry of [dns.registry, agent.registry, embedded]) for (const m of await registry.getMetricsAsJSON()) names.add(m.name);
  return [...names].filter((n) => n.startsWith('clusterset_dns_')).sort();
}

describe('README metrics reference', () => {
  it('lists exactly the registered metrics', async () => {
    const table = README.slice(README.indexOf('### Metrics'), README.indexOf('## Performance'));
    const documented = [...new Set([...table.matchAll(/^\| `(clusterset_dns_[a-z_]+)` \|/gm)].map((m) => m[1]!))].sort();
    expect(documented).toEqual(await registered());
  });

  it('the build info says which version runs', async () => {
    const registry = new promClient.Registry();
    registerBuildInfo(registry, '1.2.3', 'serve');
    expect(await registry.metrics()).toContain(`clusterset_dns_build_info{version="1.2.3",node="${process.version}",command="serve"} 1`);
  });
});
