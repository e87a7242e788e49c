/**
 * Lists longer than one page, on real kube-apiservers at the default page size (500): 1,200
 * exports from east, so that every kind an informer lists holds more than two pages when the
 * processes start — east's Services, EndpointSlices and ServiceExports, the broker's export
 * slices (each carrying its record), west's ServiceImports and MCS EndpointSlices. Proves that nothing past the first page is
 * lost on a start, an agent restart or a forced relist after etcd compaction: every name answers,
 * nothing is written or deleted (the apiservers' own request counters), no answer flips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { compactEtcd } from '../harness/etcd.ts';
import { httpGet } from '../harness/net.ts';
import { requestCounts } from '../harness/request-counts.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { runDigBatch } from '../helpers/dig.ts';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { startDns, type RunningDns } from '../../src/runtime/dns.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import { makeRawGet } from '../../src/kube/client.ts';
import { makePooledApiClient } from '../harness/pooled-api.ts';
import { Informer } from '../../src/kube/informer.ts';
import { identityOnly } from '../../src/kube/projections.ts';
import { listAllPages, type ListPage } from '../../src/kube/list-pages.ts';
import { createLogger } from '../../src/observability/index.ts';
import {
  BROKER_NAMESPACE,
  RestartableApiserver,
  agentBrokerConfig,
  agentLocalConfig,
  ask,
  dnsServerConfig,
  eventually,
  list,
} from './agent-helpers.ts';

const COUNT = 1_200;
const NAMESPACES = 12;
const Z = 'svc.clusterset.local';
const MCS = 'multicluster.x-k8s.io/v1beta1';
const logger = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });

interface Export {
  namespace: string;
  name: string;
  fqdn: string;
  ip: string;
}

let set: ClusterSet;
let east: KubeConfig;
let west: KubeConfig;
let broker: KubeConfig;
const agents: Partial<Record<'east' | 'west', RunningAgent>> = {};
const agentConfigs = {} as Record<'east' | 'west', { local: KubeConfig; broker: KubeConfig }>;
let dnsKube: KubeConfig;
let dns: RunningDns | undefined;
const exports: Export[] = [];

function runAgent(name: 'east' | 'west'): RunningAgent {
  return startAgent({
    clusterId: name,
    local: agentConfigs[name].local,
    broker: agentConfigs[name].broker,
    brokerNamespace: BROKER_NAMESPACE,
    // Long enough that no restart below can make a lease expire: staleness is not under test.
    leaseDurationMs: 120_000,
    leaseRenewMs: 5_000,
    gcGraceMs: 600_000,
    resyncMs: 0,
    concurrency: 16,
    logger: logger.child({ agent: name }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
    retryBaseMs: 200,
  });
}

async function runDnsServer(): Promise<RunningDns> {
  const running = await startDns({
    clusterId: 'west',
    kubeConfig: dnsKube,
    server: {
      dns: DEFAULT_DNS_OPTIONS,
      listen: { host: '127.0.0.1', port: 0 },
      httpListen: { host: '127.0.0.1', port: 0 },
      workers: 0,
      tcpIdleTimeoutMs: 10_000,
      tcpMaxConnections: 64,
      logLevel: 'silent',
    },
    logger: logger.child({ dns: 'west' }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
  });
  await eventually('dns /readyz 200', 60_000, async () => {
    const res = await httpGet(`http://127.0.0.1:${running.httpPort}/readyz`);
    if (res.status !== 200) throw new Error(`readyz ${res.status}: ${res.body}`);
  }, 250);
  return running;
}

/** Creates every object, `concurrency` requests at a time (plain creates: the fastest write). */
async function createAll(kc: KubeConfig, objects: KubernetesObject[], concurrency = 32): Promise<KubernetesObject[]> {
  const api = makePooledApiClient(kc, KubernetesObjectApi);
  const created: KubernetesObject[] = new Array(objects.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < objects.length) {
        const i = next++;
        created[i] = await api.create(objects[i]!);
      }
    }),
  );
  return created;
}

/** Every name answers NOERROR with its one expected address (all names in one dig run). */
async function unansweredNames(port: number): Promise<string[]> {
  const results = await runDigBatch(port, exports.map((e) => e.fqdn), 'A');
  const wrong: string[] = [];
  for (const e of exports) {
    const r = results.get(e.fqdn)!;
    const data = r.answer.filter((a) => a.type === 'A').map((a) => a.data);
    if (r.status !== 'NOERROR' || data.length !== 1 || data[0] !== e.ip) wrong.push(`${e.fqdn}: ${r.status} ${data.join(',')}`);
  }
  return wrong;
}

/** uid@resourceVersion of every object the agents own or write, by cluster/kind/namespace/name. */
async function agentObjects(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const add = (where: string, kind: string, items: Array<Record<string, any>>) => {
    for (const o of items) out.set(`${where}/${kind}/${o['metadata'].namespace}/${o['metadata'].name}`, `${o['metadata'].uid}@${o['metadata'].resourceVersion}`);
  };
  add('east', 'ServiceExport', await list(east, MCS, 'ServiceExport', undefined));
  add('west', 'ServiceImport', await list(west, MCS, 'ServiceImport', undefined));
  add('west', 'EndpointSlice', await list(west, 'discovery.k8s.io/v1', 'EndpointSlice', undefined, 'endpointslice.kubernetes.io/managed-by=clusterset-dns'));
  // On the broker the agents write only EndpointSlices (each export's record lives on them).
  add('broker', 'EndpointSlice', await list(broker, 'discovery.k8s.io/v1', 'EndpointSlice', BROKER_NAMESPACE));
  return out;
}

/** Changed or missing entries between two agentObjects() maps. */
function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const out = [...before].filter(([k, v]) => after.get(k) !== v).map(([k, v]) => `${k}: ${v} -> ${after.get(k) ?? 'deleted'}`);
  for (const k of after.keys()) if (!before.has(k)) out.push(`${k}: new`);
  return out;
}

/** The agent's own object kinds: any create, update, patch, apply or delete of these is a write. */
const AGENT_WRITTEN = /^(?!GET |LIST |WATCH )\S+ (serviceimports|serviceexports|endpointslices|services)(\/|$)/;

/** Writes of the agents' kinds counted by each apiserver between two readings (leases excluded: heartbeats). */
function writesBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!AGENT_WRITTEN.test(key)) continue;
    const n = value - (before.get(key) ?? 0);
    if (n !== 0) out[key] = n;
  }
  return out;
}

/** A kind each restarted agent lists on every apiserver: east's exports, west's imports, the broker's export slices. */
const LISTED_ON_START = { east: 'LIST serviceexports', west: 'LIST serviceimports', broker: 'LIST endpointslices' } as const;

async function countsOf(name: string): Promise<Map<string, number>> {
  const c = set.get(name);
  return requestCounts(c.server, c.caPem, c.adminToken);
}

/** A sample of names queried in a loop through a restart; every answer that is not the expected one. */
function watchSample(port: () => number): { stop(): Promise<string[]>; rounds(): number } {
  const sample = exports.filter((_, i) => i % 50 === 0 || i === exports.length - 1);
  const problems: string[] = [];
  let running = true;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      for (const e of sample) {
        try {
          const got = await ask(port(), e.fqdn);
          if (got.status !== 'NOERROR' || got.data.join() !== e.ip) problems.push(`${e.fqdn}: ${got.status} ${got.data.join(',')}`);
        } catch (err) {
          problems.push(`${e.fqdn}: no answer (${String(err).split('\n')[0]})`);
        }
      }
      rounds += 1;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return problems;
    },
    rounds: () => rounds,
  };
}

/** One handle per apiserver: a handle knows the process it restarted last. */
const apiservers = new Map<string, RestartableApiserver>();
function apiserver(name: string): RestartableApiserver {
  let handle = apiservers.get(name);
  if (handle === undefined) apiservers.set(name, (handle = new RestartableApiserver(set.dir, set.get(name))));
  return handle;
}

async function agentsHealthy(): Promise<void> {
  await eventually('agents reach broker and local API again', 90_000, async () => {
    for (const name of ['east', 'west'] as const) {
      const a = agents[name]!;
      if (!a.broker.connectivity().reachable) throw new Error(`${name}: broker unreachable`);
      if (!a.local.healthy()) throw new Error(`${name}: local informers failing`);
    }
  }, 250);
  for (const name of ['east', 'west'] as const) await agents[name]!.whenIdle();
}

beforeAll(async () => {
  set = await startClusters({ names: ['east', 'west'], broker: true, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  east = set.get('east').kubeConfig;
  west = set.get('west').kubeConfig;
  broker = set.broker!.kubeConfig;
  for (const name of ['east', 'west'] as const) {
    agentConfigs[name] = { local: await agentLocalConfig(set.get(name)), broker: await agentBrokerConfig(set.broker!, name) };
  }
  dnsKube = await dnsServerConfig(set.get('west'));

  // 1,200 ClusterIP services in 12 namespaces, each with one ready endpoint, all exported; created
  // before any agent runs, so every first list of the agents is longer than two pages.
  const nsNames = Array.from({ length: NAMESPACES }, (_, i) => `page${i}`);
  await createAll(east, nsNames.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  await createAll(west, nsNames.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  const refs = Array.from({ length: COUNT }, (_, i) => ({ namespace: nsNames[i % NAMESPACES]!, name: `svc-${String(i).padStart(4, '0')}`, i }));
  const services = await createAll(
    east,
    refs.map((r) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: r.name, namespace: r.namespace }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }) as KubernetesObject),
  );
  await createAll(
    east,
    refs.map(
      (r) =>
        ({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${r.name}-1`, namespace: r.namespace, labels: { 'kubernetes.io/service-name': r.name } },
          addressType: 'IPv4',
          endpoints: [{ addresses: [`10.50.${Math.floor(r.i / 250)}.${(r.i % 250) + 1}`], conditions: { ready: true } }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        }) as KubernetesObject,
    ),
  );
  await createAll(east, refs.map((r) => ({ apiVersion: MCS, kind: 'ServiceExport', metadata: { name: r.name, namespace: r.namespace } })));
  refs.forEach((r, i) => {
    const ip = (services[i] as { spec?: { clusterIP?: string } }).spec?.clusterIP;
    if (ip === undefined) throw new Error(`service ${r.namespace}/${r.name} has no cluster IP`);
    exports.push({ namespace: r.namespace, name: r.name, fqdn: `${r.name}.${r.namespace}.${Z}`, ip });
  });

  agents.east = runAgent('east');
  agents.west = runAgent('west');
  await Promise.all([agents.east.started, agents.west.started]);
  // Everything propagated: west imports every export (status.clusters set) with its slice.
  await eventually(`west imports all ${COUNT} exports`, 300_000, async () => {
    const imports = (await list(west, MCS, 'ServiceImport', undefined)).filter((si) => si['status']?.clusters?.[0]?.cluster === 'east');
    const slices = await list(west, 'discovery.k8s.io/v1', 'EndpointSlice', undefined, 'endpointslice.kubernetes.io/managed-by=clusterset-dns');
    if (imports.length !== COUNT || slices.length !== COUNT) throw new Error(`${imports.length} imports, ${slices.length} slices`);
  }, 2_000);
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await dns?.stop();
  for (const a of Object.values(agents)) await a?.stop();
  // Restarted apiservers are not the processes the harness recorded: stop them by their handles.
  for (const handle of apiservers.values()) if (handle.running) await handle.stop();
  await set?.stop();
}, 120_000);

describe('lists longer than one page (1,200 objects of every kind, page size 500)', () => {
  it('holds more than two pages of every kind the informers list', async () => {
    const counts = {
      'east Services': (await list(east, 'v1', 'Service', undefined)).filter((s) => s['metadata'].namespace.startsWith('page')).length,
      'east EndpointSlices': (await list(east, 'discovery.k8s.io/v1', 'EndpointSlice', undefined)).length,
      'east ServiceExports': (await list(east, MCS, 'ServiceExport', undefined)).length,
      'broker records (on the slices)': (await list(broker, 'discovery.k8s.io/v1', 'EndpointSlice', BROKER_NAMESPACE)).filter((s) => s['metadata'].annotations?.['clusterset-dns.io/export'] !== undefined).length,
      'broker slices': (await list(broker, 'discovery.k8s.io/v1', 'EndpointSlice', BROKER_NAMESPACE)).length,
      'west ServiceImports': (await list(west, MCS, 'ServiceImport', undefined)).length,
      'west MCS EndpointSlices': (await list(west, 'discovery.k8s.io/v1', 'EndpointSlice', undefined, 'multicluster.kubernetes.io/service-name')).length,
    };
    for (const [what, n] of Object.entries(counts)) expect(n, what).toBeGreaterThanOrEqual(COUNT);
  });

  it('an informer reads every page of a custom and a built-in kind, at a tiny page size too', async () => {
    for (const pageSize of [7, 500]) {
      const seen: Record<string, number> = {};
      const informers = [
        { apiVersion: MCS, kind: 'ServiceImport', plural: 'serviceimports' },
        { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', labelSelector: 'multicluster.kubernetes.io/service-name' },
      ].map((resource) => {
        seen[resource.kind] = 0;
        return new Informer({ kubeConfig: west, resource, pageSize, logger, project: identityOnly, onEvent: (type) => (seen[resource.kind]! += type === 'ADDED' ? 1 : 0) });
      });
      try {
        for (const i of informers) i.start();
        for (const i of informers) await i.waitForSync(60_000);
        expect(seen, `page size ${pageSize}`).toEqual({ ServiceImport: COUNT, EndpointSlice: COUNT });
        for (const i of informers) expect(i.list()).toHaveLength(COUNT);
      } finally {
        for (const i of informers) i.stop();
      }
    }
  });

  it('a continue token that expires mid-list (etcd compacted) restarts the list from page one; the list is complete', async () => {
    // A continued page is served from the apiserver's watch-cache snapshot while it has one; an
    // apiserver restarted mid-list (failover, upgrade) has none and asks etcd, which answers 410
    // for a revision compacted away. So: two pages, compaction, a restart, then the third page.
    const westApi = apiserver('west');
    const get = makeRawGet(west);
    let restarts = 0;
    let continued = 0;
    const list = await listAllPages<KubernetesObject>(
      async (token) => {
        if (token !== undefined && ++continued === 2) {
          // A write first, so the compaction revision is above the token's (a compaction at the
          // token's own revision leaves it readable).
          await createAll(west, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-the-first-pages', namespace: 'default' } }]);
          await compactEtcd(set.etcdEndpoint);
          await westApi.stop();
          await westApi.start();
        }
        return (await get(`/apis/${MCS}/serviceimports`, { limit: 100, continue: token }, 30_000)) as ListPage<KubernetesObject>;
      },
      { onRestart: () => (restarts += 1) },
    );
    expect(restarts).toBe(1);
    const names = new Set(list.items.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`));
    expect(names.size).toBe(COUNT);
    for (const e of exports) expect(names.has(`${e.namespace}/${e.name}`)).toBe(true);
    await agentsHealthy();
  });

  it('clusterset-dns dns, started over 1,200 ServiceImports and 1,200 MCS EndpointSlices, answers every name', async () => {
    dns = await runDnsServer();
    expect(await unansweredNames(dns.dnsPort)).toEqual([]);
  });

  it('agents restarted with 1,200 exports in place write and delete nothing; no answer flips', async () => {
    for (const name of ['east', 'west'] as const) await agents[name]!.whenIdle();
    // The reference once nothing moves: two readings 2 s apart that agree.
    let before = await agentObjects();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      const again = await agentObjects();
      if (differences(before, again).length === 0) break;
      before = again;
    }
    const countsBefore = { east: await countsOf('east'), west: await countsOf('west'), broker: await countsOf('broker') };
    const watcher = watchSample(() => dns!.dnsPort);
    await agents.east!.stop();
    await agents.west!.stop();
    agents.east = runAgent('east');
    agents.west = runAgent('west');
    await Promise.all([agents.east.started, agents.west.started]);
    await agentsHealthy();
    await new Promise((r) => setTimeout(r, 3_000));
    for (const name of ['east', 'west'] as const) await agents[name]!.whenIdle();
    const problems = await watcher.stop();

    const countsAfter = { east: await countsOf('east'), west: await countsOf('west'), broker: await countsOf('broker') };
    for (const name of ['east', 'west', 'broker'] as const) {
      expect(writesBetween(countsBefore[name], countsAfter[name]), `writes on ${name}`).toEqual({});
      // The restarted agents really listed (and so paged) again: 1,200 objects are 3 pages.
      const key = LISTED_ON_START[name];
      expect((countsAfter[name].get(key) ?? 0) - (countsBefore[name].get(key) ?? 0), `${key} on ${name}`).toBeGreaterThanOrEqual(3);
    }
    expect(differences(before, await agentObjects())).toEqual([]);
    expect(watcher.rounds()).toBeGreaterThan(1);
    expect(problems).toEqual([]);
    expect(await unansweredNames(dns!.dnsPort)).toEqual([]);
  });

  it('a forced relist (etcd compacted, broker and member apiservers restarted) deletes nothing that still exists', async () => {
    const before = await agentObjects();
    const watcher = watchSample(() => dns!.dnsPort);
    const brokerApi = apiserver('broker');
    const westApi = apiserver('west');
    const eastCountsBefore = await countsOf('east');
    await compactEtcd(set.etcdEndpoint);
    // Both down at once: every watch of the broker's and west's kinds breaks; the restarted
    // apiservers start with empty watch caches above the compacted revision.
    await Promise.all([brokerApi.stop(), westApi.stop()]);
    await new Promise((r) => setTimeout(r, 2_000));
    await Promise.all([brokerApi.start(), westApi.start()]);
    await agentsHealthy();
    await eventually('dns back on a fresh list', 60_000, async () => {
      if (dns!.source.current().staleSource !== undefined) throw new Error(dns!.source.current().staleSource!.reason);
    }, 250);
    await new Promise((r) => setTimeout(r, 3_000));
    for (const name of ['east', 'west'] as const) await agents[name]!.whenIdle();
    const problems = await watcher.stop();

    // The restarted apiservers count from zero: everything they counted came after the restart.
    const empty = new Map<string, number>();
    const westCounts = await countsOf('west');
    const brokerCounts = await countsOf('broker');
    expect(writesBetween(empty, brokerCounts), 'writes on the broker').toEqual({});
    expect(writesBetween(empty, westCounts), 'writes on west').toEqual({});
    expect(writesBetween(eastCountsBefore, await countsOf('east')), 'writes on east').toEqual({});
    // Relists of more than one page happened: the agent's importer and the DNS server each listed
    // west's ServiceImports (3 pages each), the agents listed the broker's export slices (which
    // carry the records).
    expect(westCounts.get('LIST serviceimports') ?? 0).toBeGreaterThanOrEqual(6);
    expect(brokerCounts.get('LIST endpointslices') ?? 0).toBeGreaterThanOrEqual(6);
    expect(differences(before, await agentObjects())).toEqual([]);
    expect(problems).toEqual([]);
    expect(await unansweredNames(dns!.dnsPort)).toEqual([]);
  });
});
