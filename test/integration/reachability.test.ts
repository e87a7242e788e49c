/**
 * Reachability on real kube-apiservers: a broker and members east, west and north, each with its
 * agent (least-privilege credentials from manifests/); east also runs its DNS server. West's and
 * north's data paths are network namespaces this test creates (veth pairs, a TCP probe responder
 * inside), announced through the `probe.clusterset-dns.io` ClusterProperty. Cutting a path
 * (`ip link set … down`) leaves every lease fresh, yet west leaves east's answers and comes back;
 * with every path cut the fail-safe excludes no one. Submariner's Gateway status (the real CRD
 * schema, test/fixtures/submariner) is a second source; the cluster ID is read from the standard
 * ClusterProperty. Namespaces, links and processes are removed afterwards, also on failure.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { clusterIdAtStart } from '../../src/runtime/cluster-id.ts';
import { startDns, type RunningDns } from '../../src/runtime/dns.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import { createAgentMetrics, type AgentMetricsRegistry } from '../../src/observability/agent-metrics.ts';
import { createLogger } from '../../src/observability/index.ts';
import { applyObjects, loadManifestFile, startClusters, type ClusterSet } from '../harness/index.ts';
import { createDataPath, netnsUnavailable, removeStaleDataPaths, type DataPath } from '../helpers/netns.ts';
import { BROKER_NAMESPACE, agentBrokerConfig, agentLocalConfig, apply, ask, dnsServerConfig, eventually, expectAnswer, list, read, serviceIP } from './agent-helpers.ts';

const CLUSTERS = ['east', 'west', 'north'] as const;
type Name = (typeof CLUSTERS)[number];
const PROBE = { intervalMs: 500, timeoutMs: 300, failures: 3, successes: 2, concurrency: 8 };
/**
 * interval × failures + one interval, plus what a loaded machine (four API servers, three agents
 * on two shared cores) adds to reconcile and serve. The tight bound is the e2e test's
 * (test/e2e/reachability.test.ts); here the times are printed.
 */
const LEAVE_BOUND_MS = PROBE.intervalMs * (PROBE.failures + 1) + 5_000;
const RETURN_BOUND_MS = PROBE.intervalMs * (PROBE.successes + 1) + 5_000;
const WEB = 'web.shop.svc.clusterset.local';
const GATEWAY_CRD = resolve(import.meta.dirname, '../fixtures/submariner/gateways.submariner.io.yaml');
const logger = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });

let set: ClusterSet | undefined;
const admin = {} as Record<Name, KubeConfig>;
const agents: Partial<Record<Name, RunningAgent>> = {};
const paths: Partial<Record<'west' | 'north', DataPath>> = {};
const ips = {} as Record<'west' | 'north', string>;
let eastMetrics: AgentMetricsRegistry;
let dns: RunningDns | undefined;

function property(name: string, value: string) {
  return { apiVersion: 'about.k8s.io/v1alpha1', kind: 'ClusterProperty', metadata: { name }, spec: { value } };
}

function gateway(connections: Array<{ cluster: string; status: string }>) {
  const endpoint = (cluster: string) => ({ backend: 'libreswan', cable_name: `submariner-cable-${cluster}`, cluster_id: cluster, hostname: `${cluster}-gw`, nat_enabled: false, subnets: ['10.0.0.0/16'] });
  return {
    apiVersion: 'submariner.io/v1',
    kind: 'Gateway',
    metadata: { name: 'east-gw', namespace: 'submariner-operator' },
    status: {
      haStatus: 'active',
      localEndpoint: endpoint('east'),
      statusFailure: '',
      version: 'v0.20.0',
      connections: connections.map((c) => ({ endpoint: endpoint(c.cluster), status: c.status, statusMessage: c.status === 'connected' ? 'Connected to 10.254.1.2:4500' : 'Failed to connect' })),
    },
  };
}

async function excludedReason(cluster: 'west' | 'north'): Promise<string | undefined> {
  const slices = await list(admin.east, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', `multicluster.kubernetes.io/source-cluster=${cluster},multicluster.kubernetes.io/service-name=web`);
  return slices[0]?.['metadata']?.annotations?.['clusterset-dns.io/excluded-reason'];
}

async function note(cluster: 'west' | 'north'): Promise<string | undefined> {
  const slices = await list(admin.east, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', `multicluster.kubernetes.io/source-cluster=${cluster},multicluster.kubernetes.io/service-name=web`);
  return slices[0]?.['metadata']?.annotations?.['clusterset-dns.io/reachability-note'];
}

/** Every member's lease renewed within the last lease duration (the control plane sees no fault). */
async function leasesFresh(): Promise<void> {
  const leases = await list(set!.broker!.kubeConfig, 'coordination.k8s.io/v1', 'Lease', BROKER_NAMESPACE);
  for (const name of CLUSTERS) {
    const lease = leases.find((l) => l['spec']?.holderIdentity === name);
    expect(lease, `lease of ${name}`).toBeDefined();
    expect(Date.now() - Date.parse(lease!['spec'].renewTime)).toBeLessThan(8_000);
  }
}

beforeAll(async () => {
  const why = netnsUnavailable();
  if (why !== undefined) throw new Error(`cannot build data paths: ${why}`);
  removeStaleDataPaths();
  paths.west = await createDataPath(1);
  paths.north = await createDataPath(2);
  set = await startClusters({ names: [...CLUSTERS], broker: true, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  for (const name of CLUSTERS) {
    admin[name] = set.get(name).kubeConfig;
    await apply(admin[name], { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  }
  // Submariner is installed in east: its Gateway CRD exists before east's agent starts.
  await applyObjects(admin.east, loadManifestFile(GATEWAY_CRD));
  await apply(admin.east, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'submariner-operator' } });
  await eventually('the Gateway CRD served', 30_000, async () => {
    await list(admin.east, 'submariner.io/v1', 'Gateway', 'submariner-operator');
  });
  for (const [name, backend] of [['west', '10.2.0.1'], ['north', '10.3.0.1']] as const) {
    await apply(
      admin[name],
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [backend], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      { apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop' } },
      property('probe.clusterset-dns.io', paths[name]!.target),
      property('region.topology.clusterset-dns.io', `${name}-region`),
    );
    ips[name] = await serviceIP(admin[name], 'shop', 'web');
  }
  eastMetrics = createAgentMetrics({ defaultMetrics: false });
  for (const name of CLUSTERS) {
    const member = set.get(name);
    agents[name] = startAgent({
      clusterId: name,
      local: await agentLocalConfig(member),
      broker: await agentBrokerConfig(set.broker!, name),
      brokerNamespace: BROKER_NAMESPACE,
      leaseDurationMs: 15_000,
      leaseRenewMs: 1_000,
      gcGraceMs: 600_000,
      resyncMs: 0,
      concurrency: 4,
      logger: logger.child({ agent: name }),
      initialBackoffMs: 200,
      maxBackoffMs: 2_000,
      retryBaseMs: 200,
      probe: PROBE,
      ...(name === 'east' ? { metrics: eastMetrics } : {}),
    });
  }
  await Promise.all(CLUSTERS.map((n) => agents[n]!.started));
  dns = await startDns({
    clusterId: 'east',
    kubeConfig: await dnsServerConfig(set.get('east')),
    server: { dns: DEFAULT_DNS_OPTIONS, listen: { host: '127.0.0.1', port: 0 }, httpListen: { host: '127.0.0.1', port: 0 }, workers: 0, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 64, logLevel: 'silent' },
    logger: logger.child({ dns: 'east' }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
  });
  await expectAnswer(dns.dnsPort, WEB, 'A', [ips.west, ips.north], 60_000);
});

afterAll(async () => {
  // Everything the test created goes, whatever failed before.
  try {
    await dns?.stop();
    await Promise.allSettled(Object.values(agents).map((a) => a?.stop()));
  } finally {
    await Promise.allSettled(Object.values(paths).map((p) => p?.close()));
    removeStaleDataPaths();
    await set?.stop();
  }
});

describe('announcing probe targets', () => {
  it('each agent publishes its cluster\'s ClusterProperties on its own broker lease', async () => {
    const leases = await list(set!.broker!.kubeConfig, 'coordination.k8s.io/v1', 'Lease', BROKER_NAMESPACE);
    const annotations = (c: Name) => leases.find((l) => l['spec']?.holderIdentity === c)?.['metadata']?.annotations ?? {};
    expect(annotations('west')).toMatchObject({ 'clusterset-dns.io/probe-targets': paths.west!.target, 'clusterset-dns.io/region': 'west-region' });
    expect(annotations('north')).toMatchObject({ 'clusterset-dns.io/probe-targets': paths.north!.target });
    expect(annotations('east')['clusterset-dns.io/probe-targets']).toBeUndefined();
  });

  it('a changed property reaches the lease with the next renewal', async () => {
    await apply(admin.west, property('region.topology.clusterset-dns.io', 'west-region-2'));
    const changedAt = Date.now();
    await eventually('the new region on west\'s lease', 5_000, async () => {
      const leases = await list(set!.broker!.kubeConfig, 'coordination.k8s.io/v1', 'Lease', BROKER_NAMESPACE);
      expect(leases.find((l) => l['spec']?.holderIdentity === 'west')?.['metadata']?.annotations?.['clusterset-dns.io/region']).toBe('west-region-2');
    }, 100);
    // Renewals every second: the watch, the renewal and the read fit well within a few seconds.
    expect(Date.now() - changedAt).toBeLessThan(5_000);
  });

  it('the cluster ID comes from cluster.clusterset.k8s.io (agent credentials), and a mismatch refuses the start', async () => {
    const eastAgentKc = await agentLocalConfig(set!.get('east'));
    await apply(admin.east, property('cluster.clusterset.k8s.io', 'east'));
    expect(await clusterIdAtStart(eastAgentKc, undefined, logger)).toBe('east');
    await expect(clusterIdAtStart(eastAgentKc, 'west', logger)).rejects.toThrow('cluster ID mismatch: --cluster-id is west but ClusterProperty cluster.clusterset.k8s.io is east; refusing to start (make them agree)');
    await apply(admin.east, property('id.k8s.io', 'east-old'));
    await expect(clusterIdAtStart(eastAgentKc, undefined, logger)).rejects.toThrow('cluster ID mismatch: ClusterProperty cluster.clusterset.k8s.io is east but ClusterProperty id.k8s.io is east-old');
  });
});

describe('a cut data path', () => {
  it('west leaves east\'s answers while its lease stays fresh, keeps its own name, and comes back', async () => {
    paths.west!.cut();
    const cutAt = Date.now();
    await expectAnswer(dns!.dnsPort, WEB, 'A', [ips.north], LEAVE_BOUND_MS);
    const took = Date.now() - cutAt;
    console.log(`west left east's answer ${took} ms after its path was cut (interval × failures + interval = ${PROBE.intervalMs * (PROBE.failures + 1)} ms)`);
    await leasesFresh();
    expect((await ask(dns!.dnsPort, `west.${WEB}`)).data).toEqual([ips.west]);
    expect(await excludedReason('west')).toMatch(new RegExp(`^unreachable since \\S+Z: tcp://10\\.254\\.1\\.2:4500 failed ${PROBE.failures} times \\(timed out after 0\\.3s\\)$`));
    expect(await excludedReason('north')).toBeUndefined();
    const metrics = (await eastMetrics.render()).body;
    expect(metrics).toContain('clusterset_dns_agent_cluster_reachable{cluster="west"} 0');
    expect(metrics).toContain('clusterset_dns_agent_cluster_reachable{cluster="north"} 1');
    expect(metrics).toContain('clusterset_dns_agent_reachability_transitions_total{cluster="west",to="unreachable"} 1');

    paths.west!.restore();
    const restoredAt = Date.now();
    await expectAnswer(dns!.dnsPort, WEB, 'A', [ips.west, ips.north], RETURN_BOUND_MS);
    console.log(`west back in east's answer ${Date.now() - restoredAt} ms after its path was restored`);
    expect(await excludedReason('west')).toBeUndefined();
  });

  it('fail-safe: with every path cut no one is excluded, and east says why', async () => {
    paths.west!.cut();
    paths.north!.cut();
    try {
      await eventually('the fail-safe on', LEAVE_BOUND_MS, async () => {
        expect((await eastMetrics.render()).body).toContain('clusterset_dns_agent_reachability_fail_safe 1');
      });
      // Several more rounds: still nobody excluded.
      await new Promise((r) => setTimeout(r, PROBE.intervalMs * 3));
      expect((await ask(dns!.dnsPort, WEB)).data).toEqual([ips.west, ips.north].sort());
      for (const c of ['west', 'north'] as const) {
        // The importer writes the note right after the verdict.
        await eventually(`the fail-safe note on ${c}'s slice`, 5_000, async () => {
          expect(await note(c)).toMatch(/^fail-safe: every probed cluster \(north, west\) is unreachable from here, so this cluster's own network is suspected; none is excluded; held back: unreachable since /);
        });
        expect(await excludedReason(c)).toBeUndefined();
      }
      await leasesFresh();
    } finally {
      paths.west!.restore();
      paths.north!.restore();
    }
    await eventually('the fail-safe off and both clusters reachable again', 10_000, async () => {
      expect((await eastMetrics.render()).body).toContain('clusterset_dns_agent_reachability_fail_safe 0');
      for (const c of ['west', 'north'] as const) {
        expect(await note(c)).toBeUndefined();
        expect(await excludedReason(c)).toBeUndefined();
      }
    });
    await expectAnswer(dns!.dnsPort, WEB, 'A', [ips.west, ips.north], 10_000);
  });
});

describe('Submariner interop', () => {
  it('the active Gateway\'s connection status excludes a cluster its probes still reach, and lets it back', async () => {
    await apply(admin.east, gateway([{ cluster: 'west', status: 'error' }, { cluster: 'north', status: 'connected' }]));
    const stored = await read(admin.east, 'submariner.io/v1', 'Gateway', 'submariner-operator', 'east-gw');
    expect(stored?.['status']?.connections?.[0]?.endpoint?.cluster_id).toBe('west');
    await expectAnswer(dns!.dnsPort, WEB, 'A', [ips.north], 10_000);
    expect(await excludedReason('west')).toBe('Submariner gateway east-gw: connection to west is error');
    await apply(admin.east, gateway([{ cluster: 'west', status: 'connected' }, { cluster: 'north', status: 'connected' }]));
    await expectAnswer(dns!.dnsPort, WEB, 'A', [ips.west, ips.north], 10_000);
  });
});
