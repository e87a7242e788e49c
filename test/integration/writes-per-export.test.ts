/**
 * Writes per export, counted by the API servers themselves (apiserver_request_total through the
 * harness's WriteMeter): one ClusterIP export from east into a clusterset of east, west and north
 * makes exactly the number README states (3 × clusters + 2), and agents restarted over that state
 * (a full re-sync) make none. Objects an older agent left on the broker do not break the import.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { WriteMeter } from '../harness/request-counts.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { createLogger } from '../../src/observability/index.ts';
import { BROKER_NAMESPACE, agentBrokerConfig, agentLocalConfig, apply, eventually, list, read } from './agent-helpers.ts';

const CLUSTERS = ['east', 'west', 'north'] as const;
const MCS = 'multicluster.x-k8s.io/v1beta1';
const logger = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });

/** The objects an export makes the agents write; leases (heartbeats) and the apiservers' own bookkeeping are not per export. */
const EXPORT_RESOURCES = new Set(['serviceexports/status', 'endpointslices', 'serviceimports', 'serviceimports/status']);

let set: ClusterSet;
let meter: WriteMeter;
const agents = new Map<string, RunningAgent>();

async function runAgent(name: (typeof CLUSTERS)[number]): Promise<RunningAgent> {
  const agent = startAgent({
    clusterId: name,
    local: await agentLocalConfig(set.get(name)),
    broker: await agentBrokerConfig(set.broker!, name),
    brokerNamespace: BROKER_NAMESPACE,
    leaseDurationMs: 30_000,
    leaseRenewMs: 5_000,
    gcGraceMs: 600_000,
    resyncMs: 0,
    concurrency: 4,
    logger: logger.child({ agent: name }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
    retryBaseMs: 200,
  });
  await agent.started;
  return agent;
}

/** Export writes since the last call: per apiserver, `verb resource` → count, only EXPORT_RESOURCES. */
async function exportWrites(): Promise<{ total: number; by: Record<string, number> }> {
  const delta = await meter.take({ strict: true });
  const by: Record<string, number> = {};
  let total = 0;
  for (const [server, counts] of delta) {
    for (const [key, n] of counts) {
      if (!EXPORT_RESOURCES.has(key.slice(key.indexOf(' ') + 1))) continue;
      by[`${server} ${key}`] = (by[`${server} ${key}`] ?? 0) + n;
      total += n;
    }
  }
  return { total, by };
}

/** Every agent idle twice, a second apart (a watch echo arriving late would queue work again). */
async function settle(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const a of agents.values()) await a.whenIdle();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

beforeAll(async () => {
  set = await startClusters({ names: [...CLUSTERS], broker: true, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  meter = new WriteMeter(set.clusters.map((c) => ({ name: c.name, server: c.server, caPem: readFileSync(c.caFile, 'utf8'), token: c.adminToken })));
  for (const name of CLUSTERS) await apply(set.get(name).kubeConfig, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  // The service and its backends exist before the export: only the export itself starts the agents' work.
  await apply(
    set.get('east').kubeConfig,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  );
  for (const name of CLUSTERS) agents.set(name, await runAgent(name));
  await settle();
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const a of agents.values()) await a.stop();
  await set?.stop();
}, 120_000);

describe('writes per export (real apiservers, their own request counters)', () => {
  it('one export with 3 clusters: 3 × 3 + 2 = 11 writes, then a re-sync of every agent writes nothing', async () => {
    await exportWrites();
    await apply(set.get('east').kubeConfig, { apiVersion: MCS, kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop' } });
    await eventually('every cluster imported web', 30_000, async () => {
      for (const name of CLUSTERS) {
        const si = await read(set.get(name).kubeConfig, MCS, 'ServiceImport', 'shop', 'web');
        expect(si?.['status']?.clusters).toEqual([{ cluster: 'east' }]);
        expect(await list(set.get(name).kubeConfig, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'multicluster.kubernetes.io/service-name=web')).toHaveLength(1);
      }
      const se = await read(set.get('east').kubeConfig, MCS, 'ServiceExport', 'shop', 'web');
      expect(se?.['status']?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status).toBe('True');
    });
    await settle();
    const { total, by } = await exportWrites();
    // The user's own ServiceExport create is not the agents' (no status subresource). Objects the
    // agents own are created plainly and their status merge-patched; the user's ServiceExport status
    // is a server-side apply (its other conditions are not ours).
    expect(by).toEqual({
      'east APPLY serviceexports/status': 1,
      'broker POST endpointslices': 1,
      'east POST serviceimports': 1,
      'east PATCH serviceimports/status': 1,
      'east POST endpointslices': 1,
      'west POST serviceimports': 1,
      'west PATCH serviceimports/status': 1,
      'west POST endpointslices': 1,
      'north POST serviceimports': 1,
      'north PATCH serviceimports/status': 1,
      'north POST endpointslices': 1,
    });
    expect(total).toBe(3 * CLUSTERS.length + 2);
    // The broker holds the export as one object kind: its slice, no separate record.
    expect(await list(set.broker!.kubeConfig, MCS, 'ServiceImport', BROKER_NAMESPACE)).toEqual([]);

    // A full re-sync: every agent restarted over the settled state lists, compares, writes nothing.
    for (const [name, a] of agents) {
      await a.stop();
      agents.delete(name);
    }
    for (const name of CLUSTERS) agents.set(name, await runAgent(name));
    await settle();
    expect(await exportWrites()).toEqual({ total: 0, by: {} });
  }, 120_000);

  it('objects of an older agent on the broker: its record (kind ServiceImport) is removed by its upgraded agent, its record-less slice is not imported', async () => {
    const broker = set.broker!.kubeConfig;
    const labels = {
      'app.kubernetes.io/managed-by': 'clusterset-dns',
      'multicluster.kubernetes.io/service-name': 'legacy',
      'multicluster.kubernetes.io/source-cluster': 'west',
      'clusterset-dns.io/source-namespace': 'shop',
    };
    await apply(
      broker,
      {
        apiVersion: MCS,
        kind: 'ServiceImport',
        metadata: { name: 'legacy.shop.west', namespace: BROKER_NAMESPACE, labels, annotations: { 'clusterset-dns.io/export-created-at': '2024-05-01T10:00:00.000Z' } },
        spec: { type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ips: ['10.2.0.9'] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'legacy.shop.west.ipv4', namespace: BROKER_NAMESPACE, labels: { ...labels, 'endpointslice.kubernetes.io/managed-by': 'clusterset-dns' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.2.0.9'], conditions: { ready: true } }],
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      },
    );
    // West's agent is upgraded (restarted): its own old record goes; nobody imports "legacy".
    await agents.get('west')!.stop();
    agents.set('west', await runAgent('west'));
    await eventually("west's old broker record is removed", 20_000, async () => {
      expect(await list(broker, MCS, 'ServiceImport', BROKER_NAMESPACE)).toEqual([]);
    });
    await settle();
    for (const name of CLUSTERS) {
      expect(await read(set.get(name).kubeConfig, MCS, 'ServiceImport', 'shop', 'legacy')).toBeUndefined();
      // What was exported before still is.
      expect((await read(set.get(name).kubeConfig, MCS, 'ServiceImport', 'shop', 'web'))?.['status']?.clusters).toEqual([{ cluster: 'east' }]);
    }
  }, 120_000);
});
