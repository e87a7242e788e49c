/**
 * The production path on real kube-apiservers: a broker and member clusters east, west and north,
 * each with `clusterset-dns agent` (least-privilege credentials from manifests/) and
 * `clusterset-dns dns`, answering real `dig` queries. The scenarios run in order on one cluster
 * set; each leaves the clusterset healthy for the next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { startDns, type RunningDns } from '../../src/runtime/dns.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import { buildImportedSlices } from '../../src/kube/kinds/mcs-endpoint-slice.ts';
import { createLogger } from '../../src/observability/index.ts';
import {
  BROKER_NAMESPACE,
  RestartableApiserver,
  agentBrokerConfig,
  agentLocalConfig,
  apply,
  ask,
  dnsServerConfig,
  eventually,
  expectAnswer,
  list,
  read,
  serviceIP,
} from './agent-helpers.ts';

const CLUSTERS = ['east', 'west', 'north'] as const;
type Name = (typeof CLUSTERS)[number];
const LEASE_MS = 8_000;
const Z = 'svc.clusterset.local';
const logger = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });

interface Member {
  admin: KubeConfig;
  agentLocal: KubeConfig;
  agentBroker: KubeConfig;
  dnsKube: KubeConfig;
  agent?: RunningAgent;
  dns?: RunningDns;
}

let set: ClusterSet;
let brokerApiserver: RestartableApiserver;
const members = {} as Record<Name, Member>;
const ips = {} as Record<string, string>;

function runAgent(name: Name): RunningAgent {
  const m = members[name];
  return startAgent({
    clusterId: name,
    local: m.agentLocal,
    broker: m.agentBroker,
    brokerNamespace: BROKER_NAMESPACE,
    leaseDurationMs: LEASE_MS,
    leaseRenewMs: 2_000,
    gcGraceMs: 600_000,
    resyncMs: 0,
    concurrency: 4,
    logger: logger.child({ agent: name }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
    retryBaseMs: 200,
  });
}

async function runDnsServer(name: Name, port = 0): Promise<RunningDns> {
  return startDns({
    clusterId: name,
    kubeConfig: members[name].dnsKube,
    server: {
      dns: DEFAULT_DNS_OPTIONS,
      listen: { host: '127.0.0.1', port },
      httpListen: { host: '127.0.0.1', port: 0 },
      workers: 0,
      tcpIdleTimeoutMs: 10_000,
      tcpMaxConnections: 64,
      logLevel: 'silent',
    },
    logger: logger.child({ dns: name }),
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
  });
}

const dnsPort = (name: Name): number => members[name].dns!.dnsPort;

function namespace(name: string) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}
function clusterIPService(ns: string, name: string, port: number, portName = 'http') {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: portName, port, protocol: 'TCP' }] } };
}
function headlessService(ns: string, name: string, port: number, portName: string) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { clusterIP: 'None', ports: [{ name: portName, port, protocol: 'TCP' }] } };
}
function slice(ns: string, service: string, sliceName: string, endpoints: Array<{ ip: string; ready: boolean; hostname?: string }>, port: number, portName: string) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready }, ...(e.hostname ? { hostname: e.hostname } : {}) })),
    ports: [{ name: portName, port, protocol: 'TCP' }],
  };
}
function serviceExport(ns: string, name: string, version = 'v1beta1', annotations?: Record<string, string>) {
  return { apiVersion: `multicluster.x-k8s.io/${version}`, kind: 'ServiceExport', metadata: { name, namespace: ns, ...(annotations === undefined ? {} : { annotations }) } };
}

function clusterProperty(name: string, value: string) {
  return { apiVersion: 'about.k8s.io/v1alpha1', kind: 'ClusterProperty', metadata: { name }, spec: { value } };
}

async function conditionsOf(name: Name, ns: string, svc: string): Promise<Record<string, { status: string; reason: string; observedGeneration?: number }>> {
  const se = await read(members[name].admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceExport', ns, svc);
  const out: Record<string, { status: string; reason: string; observedGeneration?: number }> = {};
  for (const c of se?.['status']?.conditions ?? []) out[c.type] = { status: c.status, reason: c.reason, observedGeneration: c.observedGeneration };
  return out;
}

/** uid and resourceVersion of every object the agents wrote (imports in members, records/slices on the broker). */
async function writtenObjects(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const add = (where: string, items: Array<Record<string, any>>) => {
    for (const o of items) out.set(`${where}/${o['kind'] ?? ''}/${o['metadata'].namespace}/${o['metadata'].name}`, `${o['metadata'].uid}@${o['metadata'].resourceVersion}`);
  };
  for (const name of CLUSTERS) {
    const admin = members[name].admin;
    add(name, (await list(admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', undefined)).map((o) => ({ kind: 'ServiceImport', ...o })));
    add(name, (await list(admin, 'discovery.k8s.io/v1', 'EndpointSlice', undefined, 'endpointslice.kubernetes.io/managed-by=clusterset-dns')).map((o) => ({ kind: 'EndpointSlice', ...o })));
    add(name, (await list(admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceExport', undefined)).map((o) => ({ kind: 'ServiceExport', ...o })));
  }
  const broker = set.broker!.kubeConfig;
  add('broker', (await list(broker, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', BROKER_NAMESPACE)).map((o) => ({ kind: 'ServiceImport', ...o })));
  add('broker', (await list(broker, 'discovery.k8s.io/v1', 'EndpointSlice', BROKER_NAMESPACE)).map((o) => ({ kind: 'EndpointSlice', ...o })));
  return out;
}

/**
 * The written objects once nothing moves any more: every agent idle and two reads a second apart
 * equal. A fixed sleep is not enough on a loaded machine, where an earlier test's echoes can still
 * be in flight; bounded at 30 s.
 */
async function settledObjects(): Promise<Map<string, string>> {
  let previous = await writtenObjects();
  for (let i = 0; i < 30; i++) {
    for (const name of CLUSTERS) await members[name].agent?.whenIdle();
    await new Promise((r) => setTimeout(r, 1_000));
    const current = await writtenObjects();
    if (current.size === previous.size && [...current].every(([k, v]) => previous.get(k) === v)) return current;
    previous = current;
  }
  throw new Error('written objects still changing after 30 s');
}

/**
 * Queries each expected name in its own loop until stopped (a restarting DNS server only slows its
 * own loop); collects every answer that differs from the expected one.
 */
function watchAnswers(
  expected: Array<{ from: Name; name: string; type: string; data: string[] }>,
  /** A DNS server that is starting answers SERVFAIL until its first sync (by design, never NXDOMAIN): not a flip. */
  syncing: (from: Name) => boolean = () => false,
): { stop(): Promise<string[]>; minRounds(): number } {
  const problems: string[] = [];
  let running = true;
  const started = Date.now();
  const rounds = expected.map(() => 0);
  const loops = expected.map(async (e, i) => {
    const want = [...e.data].sort();
    while (running) {
      try {
        const got = await ask(dnsPort(e.from), e.name, e.type);
        const startingUp = got.status === 'SERVFAIL' && syncing(e.from);
        if (!startingUp && (got.status !== 'NOERROR' || JSON.stringify(got.data) !== JSON.stringify(want))) {
          problems.push(`+${Date.now() - started}ms ${e.from} ${e.type} ${e.name}: ${got.status} ${got.data.join(',')} (want ${want.join(',')})`);
        }
      } catch (err) {
        // No reply at all (a DNS server being restarted) is not a wrong answer; a wrong one is.
        if (!/timed out|no servers could be reached|connection refused/i.test(String(err))) problems.push(`${e.from} ${e.name}: ${String(err).split('\n')[0]}`);
      }
      rounds[i]!++;
      await new Promise((r) => setTimeout(r, 150));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return problems;
    },
    minRounds: () => Math.min(...rounds),
  };
}

beforeAll(async () => {
  set = await startClusters({ names: [...CLUSTERS], broker: true, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  brokerApiserver = new RestartableApiserver(set.dir, set.broker!);
  for (const name of CLUSTERS) {
    const member = set.get(name);
    members[name] = {
      admin: member.kubeConfig,
      agentLocal: await agentLocalConfig(member),
      agentBroker: await agentBrokerConfig(set.broker!, name),
      dnsKube: await dnsServerConfig(member),
    };
    await apply(member.kubeConfig, namespace('shop'));
  }
  // web: ClusterIP in east (exported with v1alpha1) and west (v1beta1). db: headless in north.
  for (const [name, backend, version] of [['east', '10.1.0.1', 'v1alpha1'], ['west', '10.2.0.1', 'v1beta1']] as const) {
    const admin = members[name].admin;
    await apply(admin, clusterIPService('shop', 'web', 80), slice('shop', 'web', 'web-1', [{ ip: backend, ready: true }], 8080, 'http'), serviceExport('shop', 'web', version));
    ips[`web.${name}`] = await serviceIP(admin, 'shop', 'web');
  }
  await apply(
    members.north.admin,
    headlessService('shop', 'db', 5432, 'sql'),
    slice('shop', 'db', 'db-1', [{ ip: '10.3.0.1', ready: true, hostname: 'db-0' }, { ip: '10.3.0.2', ready: true, hostname: 'db-1' }], 5432, 'sql'),
    serviceExport('shop', 'db'),
  );
  for (const name of CLUSTERS) {
    members[name].agent = runAgent(name);
    members[name].dns = await runDnsServer(name);
  }
  await Promise.all(CLUSTERS.map((n) => members[n].agent!.started));
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const name of CLUSTERS) {
    await members[name]?.agent?.stop();
    await members[name]?.dns?.stop();
  }
  if (brokerApiserver?.running) await brokerApiserver.stop();
  await set?.stop();
}, 120_000);

describe('agent + dns on real apiservers', () => {
  it('answers per DESIGN.md from every cluster: local-first, per-cluster names, headless hosts, SRV', async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    await expectAnswer(dnsPort('east'), `web.shop.${Z}`, 'A', [east]);
    await expectAnswer(dnsPort('west'), `web.shop.${Z}`, 'A', [west]);
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east, west]);
    await expectAnswer(dnsPort('east'), `west.web.shop.${Z}`, 'A', [west]);
    await expectAnswer(dnsPort('north'), `east.web.shop.${Z}`, 'A', [east]);
    for (const from of CLUSTERS) {
      await expectAnswer(dnsPort(from), `db.shop.${Z}`, 'A', ['10.3.0.1', '10.3.0.2']);
      await expectAnswer(dnsPort(from), `db-1.north.db.shop.${Z}`, 'A', ['10.3.0.2']);
    }
    await expectAnswer(dnsPort('east'), `_sql._tcp.db.shop.${Z}`, 'SRV', [`0 100 5432 db-0.north.db.shop.${Z}.`, `0 100 5432 db-1.north.db.shop.${Z}.`]);
    await expectAnswer(dnsPort('west'), `_http._tcp.web.shop.${Z}`, 'SRV', [`0 100 80 web.shop.${Z}.`]);
    expect((await ask(dnsPort('east'), `nope.shop.${Z}`)).status).toBe('NXDOMAIN');
    expect((await ask(dnsPort('east'), `north.web.shop.${Z}`)).status).toBe('NXDOMAIN');

    // Both MCS versions are watched, and conditions carry observedGeneration.
    for (const name of ['east', 'west'] as const) {
      expect(await conditionsOf(name, 'shop', 'web')).toEqual({
        Valid: { status: 'True', reason: 'Valid', observedGeneration: 1 },
        Ready: { status: 'True', reason: 'Exported', observedGeneration: 1 },
        Conflict: { status: 'False', reason: 'NoConflicts', observedGeneration: 1 },
      });
    }
    // The imported ServiceImport lists both clusters; north (no export of web) imports it too.
    const si = await read(members.north.admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', 'shop', 'web');
    expect(si?.['spec']).toMatchObject({ type: 'ClusterSetIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    expect(si?.['status']?.clusters).toEqual([{ cluster: 'east' }, { cluster: 'west' }]);
    const mcsSlices = await list(members.north.admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'multicluster.kubernetes.io/service-name=web');
    expect(mcsSlices.map((s) => [s['metadata'].labels['multicluster.kubernetes.io/source-cluster'], s['metadata'].labels['endpointslice.kubernetes.io/managed-by']]).sort()).toEqual([
      ['east', 'clusterset-dns'],
      ['west', 'clusterset-dns'],
    ]);
  });

  it('validates exports: no Service, ExternalName; an export made before its Service starts working', async () => {
    const admin = members.east.admin;
    await apply(admin, serviceExport('shop', 'early'));
    await eventually('early: Valid=False/NoService', 20_000, async () => {
      expect(await conditionsOf('east', 'shop', 'early')).toMatchObject({ Valid: { status: 'False', reason: 'NoService' }, Ready: { status: 'False', reason: 'Failed' } });
    });
    await apply(admin, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'example.com' } }, serviceExport('shop', 'ext'));
    await eventually('ext: Valid=False/InvalidServiceType', 20_000, async () => {
      expect((await conditionsOf('east', 'shop', 'ext'))['Valid']).toMatchObject({ status: 'False', reason: 'InvalidServiceType' });
    });
    await apply(admin, clusterIPService('shop', 'early', 80), slice('shop', 'early', 'early-1', [{ ip: '10.1.0.9', ready: true }], 80, 'http'));
    const ip = await serviceIP(admin, 'shop', 'early');
    await expectAnswer(dnsPort('west'), `early.shop.${Z}`, 'A', [ip]);
    expect(await conditionsOf('east', 'shop', 'early')).toMatchObject({ Valid: { status: 'True' }, Ready: { status: 'True', reason: 'Exported' } });
  });

  it('conflicts: type and port conflicts set Conflict=True with the reasons on every export; the oldest wins', async () => {
    // west's export is the oldest (creation timestamps have one-second resolution).
    await apply(members.west.admin, clusterIPService('shop', 'api', 80), slice('shop', 'api', 'api-1', [{ ip: '10.2.0.7', ready: true }], 80, 'http'), serviceExport('shop', 'api'));
    await eventually('west api exported', 20_000, async () => expect((await conditionsOf('west', 'shop', 'api'))['Ready']?.status).toBe('True'));
    await new Promise((r) => setTimeout(r, 1_100));
    await apply(members.east.admin, headlessService('shop', 'api', 80, 'http'), slice('shop', 'api', 'api-1', [{ ip: '10.1.0.7', ready: true, hostname: 'api-0' }], 80, 'http'), serviceExport('shop', 'api'));
    await apply(members.north.admin, clusterIPService('shop', 'api', 8080), slice('shop', 'api', 'api-1', [{ ip: '10.3.0.7', ready: true }], 8080, 'http'), serviceExport('shop', 'api'));
    for (const name of CLUSTERS) {
      await eventually(`${name} api Conflict=True`, 30_000, async () => {
        expect((await conditionsOf(name, 'shop', 'api'))['Conflict']).toMatchObject({ status: 'True', reason: 'TypeConflict,PortConflict' });
      });
    }
    // The winner (west, oldest) defines the type and the port; east's headless export is excluded.
    const si = await read(members.east.admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', 'shop', 'api');
    expect(si?.['spec']).toMatchObject({ type: 'ClusterSetIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    const westApi = await serviceIP(members.west.admin, 'shop', 'api');
    const northApi = await serviceIP(members.north.admin, 'shop', 'api');
    await expectAnswer(dnsPort('east'), `api.shop.${Z}`, 'A', [northApi, westApi]);
    const excluded = await list(members.east.admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'multicluster.kubernetes.io/service-name=api,multicluster.kubernetes.io/source-cluster=east');
    expect(excluded[0]?.['metadata'].annotations?.['clusterset-dns.io/excluded-reason']).toMatch(/Headless|type/i);
  });

  it('traffic policy: annotations travel through the broker; the winner\'s policy applies, the other export is told; weights and places reach every member', async () => {
    // west's export is the oldest: its remote-first applies; east asks for `all` and is told.
    await apply(members.west.admin, clusterIPService('shop', 'pay', 80), slice('shop', 'pay', 'pay-1', [{ ip: '10.2.0.8', ready: true }], 80, 'http'),
      serviceExport('shop', 'pay', 'v1beta1', { 'clusterset-dns.io/policy': 'remote-first', 'clusterset-dns.io/weight': '300' }),
      clusterProperty('region.topology.clusterset-dns.io', 'eu-west'), clusterProperty('zone.topology.clusterset-dns.io', 'eu-west-1b'));
    await eventually('west pay exported', 20_000, async () => expect((await conditionsOf('west', 'shop', 'pay'))['Ready']?.status).toBe('True'));
    await new Promise((r) => setTimeout(r, 1_100));
    await apply(members.east.admin, clusterIPService('shop', 'pay', 80), slice('shop', 'pay', 'pay-1', [{ ip: '10.1.0.8', ready: true }], 80, 'http'),
      serviceExport('shop', 'pay', 'v1beta1', { 'clusterset-dns.io/policy': 'all' }));
    await eventually('east pay: Conflict=True/PolicyConflict', 30_000, async () => {
      expect((await conditionsOf('east', 'shop', 'pay'))['Conflict']).toMatchObject({ status: 'True', reason: 'PolicyConflict' });
    });
    expect((await conditionsOf('west', 'shop', 'pay'))['Conflict']).toMatchObject({ status: 'False', reason: 'NoConflicts' });

    // What north (which does not export pay) imported: the policy on its ServiceImport, west's
    // weight and place on west's MCS slice.
    await eventually('north imported pay with its policy, weight and place', 30_000, async () => {
      const si = await read(members.north.admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', 'shop', 'pay');
      expect(si?.['metadata'].annotations?.['clusterset-dns.io/policy']).toBe('remote-first');
      const [fromWest] = await list(members.north.admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'multicluster.kubernetes.io/service-name=pay,multicluster.kubernetes.io/source-cluster=west');
      expect(fromWest?.['metadata'].annotations).toMatchObject({ 'clusterset-dns.io/weight': '300', 'clusterset-dns.io/region': 'eu-west', 'clusterset-dns.io/zone': 'eu-west-1b' });
    });
    // remote-first from east: west only, though east itself is healthy; from north: both remotes.
    const [eastPay, westPay] = [await serviceIP(members.east.admin, 'shop', 'pay'), await serviceIP(members.west.admin, 'shop', 'pay')];
    await expectAnswer(dnsPort('east'), `pay.shop.${Z}`, 'A', [westPay]);
    await expectAnswer(dnsPort('north'), `pay.shop.${Z}`, 'A', [eastPay, westPay]);
    await expectAnswer(dnsPort('north'), `_http._tcp.west.pay.shop.${Z}`, 'SRV', [`0 300 80 west.pay.shop.${Z}.`]);

    // An unknown policy refuses north's export with a clear reason; nothing of it is published.
    await apply(members.north.admin, clusterIPService('shop', 'pay', 80), slice('shop', 'pay', 'pay-1', [{ ip: '10.3.0.8', ready: true }], 80, 'http'),
      serviceExport('shop', 'pay', 'v1beta1', { 'clusterset-dns.io/policy': 'closest' }));
    await eventually('north pay: Valid=False/InvalidPolicy', 20_000, async () => {
      expect((await conditionsOf('north', 'shop', 'pay'))['Valid']).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
    });
    const si = await read(members.east.admin, 'multicluster.x-k8s.io/v1beta1', 'ServiceImport', 'shop', 'pay');
    expect(si?.['status']?.clusters).toEqual([{ cluster: 'east' }, { cluster: 'west' }]);
  });

  it('health: a cluster whose backends are all not ready drops out of the service answer', async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    await apply(members.west.admin, slice('shop', 'web', 'web-1', [{ ip: '10.2.0.1', ready: false }], 8080, 'http'));
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east]);
    // West itself now answers with east (local-first needs a ready local backend); explicit names still work.
    await expectAnswer(dnsPort('west'), `web.shop.${Z}`, 'A', [east]);
    await expectAnswer(dnsPort('north'), `west.web.shop.${Z}`, 'A', [west]);
    await apply(members.west.admin, slice('shop', 'web', 'web-1', [{ ip: '10.2.0.1', ready: true }], 8080, 'http'));
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east, west]);
  });

  it('restarts: an agent and a DNS server restart mid-run; no answer flips, no object is recreated or rewritten', async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    // Let every echo settle, then take the reference.
    const before = await settledObjects();
    // From its stop until its restarted informers synced, north's DNS server may answer SERVFAIL.
    let northSyncing = false;
    const watcher = watchAnswers([
      { from: 'north', name: `web.shop.${Z}`, type: 'A', data: [east, west] },
      { from: 'east', name: `web.shop.${Z}`, type: 'A', data: [east] },
      { from: 'west', name: `db.shop.${Z}`, type: 'A', data: ['10.3.0.1', '10.3.0.2'] },
    ], (from) => from === 'north' && northSyncing);
    await members.east.agent!.stop();
    const port = dnsPort('north');
    northSyncing = true;
    await members.north.dns!.stop();
    members.north.dns = await runDnsServer('north', port);
    // Synced and serving: its first synced snapshot answers (the watcher keeps checking it after).
    await expectAnswer(port, `web.shop.${Z}`, 'A', [east, west]);
    northSyncing = false;
    members.east.agent = runAgent('east');
    await members.east.agent.started;
    await members.east.agent.whenIdle();
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east, west]);
    await new Promise((r) => setTimeout(r, 3_000));
    const problems = await watcher.stop();
    // Every name was asked several times while the restarts happened (fewer rounds on a loaded machine).
    expect(watcher.minRounds()).toBeGreaterThan(2);
    expect(problems).toEqual([]);
    const after = await writtenObjects();
    const changed = [...before].filter(([k, v]) => after.get(k) !== v).map(([k, v]) => `${k}: ${v} -> ${after.get(k) ?? 'deleted'}`);
    expect(changed).toEqual([]);
  });

  it('on start, an agent removes only what is provably ours and orphaned', async () => {
    const admin = members.east.admin;
    await members.east.agent!.stop();
    // Left behind by a crash: an MCS slice of ours for a service nothing exports any more...
    const orphan = buildImportedSlices({ namespace: 'shop', name: 'ghost', sourceCluster: 'west', sliceName: 'ghost-west', endpoints: [{ addresses: ['10.9.9.9'], ready: true }], ports: [] })[0]!;
    // ...and another MCS implementation's slice, which is not ours to judge.
    const foreign = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'ghost-other', namespace: 'shop', labels: { 'multicluster.kubernetes.io/service-name': 'ghost', 'multicluster.kubernetes.io/source-cluster': 'west', 'endpointslice.kubernetes.io/managed-by': 'other-controller' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.9.9.8'] }],
    };
    await apply(admin, orphan, foreign);
    members.east.agent = runAgent('east');
    await members.east.agent.started;
    await eventually('orphan removed', 20_000, async () => expect(await read(admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', orphan.metadata.name)).toBeUndefined());
    await members.east.agent.whenIdle();
    expect(await read(admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'ghost-other')).toBeDefined();
  });

  it("an agent that stops: after its lease expires, its cluster drops out; explicit names still answer", async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    await members.west.agent!.stop();
    const stoppedAt = Date.now();
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east], LEASE_MS + 20_000);
    // Not before the lease could have expired (renewed at most 2 s before the stop).
    expect(Date.now() - stoppedAt).toBeGreaterThan(LEASE_MS - 2_500);
    await expectAnswer(dnsPort('north'), `west.web.shop.${Z}`, 'A', [west]);
    const mcs = await list(members.north.admin, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'multicluster.kubernetes.io/service-name=web,multicluster.kubernetes.io/source-cluster=west');
    expect(mcs[0]?.['metadata'].annotations?.['clusterset-dns.io/excluded-reason']).toMatch(/lease expired/);
    members.west.agent = runAgent('west');
    await members.west.agent.started;
    await expectAnswer(dnsPort('north'), `web.shop.${Z}`, 'A', [east, west]);
  });

  it('broker down: every DNS server keeps answering as before; back up, a change made meanwhile propagates', async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    const expected = [
      { from: 'north' as const, name: `web.shop.${Z}`, type: 'A', data: [east, west] },
      { from: 'east' as const, name: `web.shop.${Z}`, type: 'A', data: [east] },
      { from: 'west' as const, name: `web.shop.${Z}`, type: 'A', data: [west] },
      { from: 'east' as const, name: `db.shop.${Z}`, type: 'A', data: ['10.3.0.1', '10.3.0.2'] },
    ];
    const watcher = watchAnswers(expected);
    const t0 = Date.now();
    await brokerApiserver.stop();
    process.stderr.write(`broker stopped +${Date.now() - t0}ms\n`);
    await eventually('agents see the broker down', 20_000, async () => {
      for (const name of CLUSTERS) expect(members[name].agent!.broker.connectivity().reachable).toBe(false);
    });
    // Longer than a lease: nobody can renew, yet nobody may turn stale.
    await new Promise((r) => setTimeout(r, LEASE_MS + 2_000));
    // A change made while the broker is down: east exports a new service.
    await apply(members.east.admin, clusterIPService('shop', 'cache', 6379, 'redis'), slice('shop', 'cache', 'cache-1', [{ ip: '10.1.0.5', ready: true }], 6379, 'redis'), serviceExport('shop', 'cache'));
    const cacheIP = await serviceIP(members.east.admin, 'shop', 'cache');
    expect((await ask(dnsPort('west'), `cache.shop.${Z}`)).status).toBe('NXDOMAIN');
    process.stderr.write(`broker starting +${Date.now() - t0}ms\n`);
    await brokerApiserver.start();
    process.stderr.write(`broker started +${Date.now() - t0}ms\n`);
    await expectAnswer(dnsPort('west'), `cache.shop.${Z}`, 'A', [cacheIP], 60_000);
    await expectAnswer(dnsPort('north'), `cache.shop.${Z}`, 'A', [cacheIP]);
    // And across reconnection nothing flapped: no cluster went stale for the time it was unwatched.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await watcher.stop()).toEqual([]);
  });

  it('broker frozen (watches open, nothing delivered): the own-lease canary calls it unreachable before any lease could expire; thawed, nobody turned stale', async () => {
    const [east, west] = [ips['web.east']!, ips['web.west']!];
    const watcher = watchAnswers([
      { from: 'north' as const, name: `web.shop.${Z}`, type: 'A', data: [east, west] },
      { from: 'east' as const, name: `db.shop.${Z}`, type: 'A', data: ['10.3.0.1', '10.3.0.2'] },
    ]);
    const frozenAt = Date.now();
    brokerApiserver.freeze();
    try {
      await eventually('every agent judges its view of the broker frozen', LEASE_MS, async () => {
        for (const name of CLUSTERS) {
          expect(members[name].agent!.broker.connectivity()).toMatchObject({ reachable: false, reason: expect.stringMatching(/^broker view frozen: own lease renewals not seen/) });
        }
      });
      // Frozen views see no renewal from anyone: without the canary, every other cluster's lease
      // would look expired LEASE_MS after its last delivered renewal.
      expect(Date.now() - frozenAt).toBeLessThan(LEASE_MS);
      await new Promise((r) => setTimeout(r, LEASE_MS + 2_000));
    } finally {
      brokerApiserver.thaw();
    }
    await eventually('every agent sees the broker again', 30_000, async () => {
      for (const name of CLUSTERS) expect(members[name].agent!.broker.connectivity().reachable).toBe(true);
    });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await watcher.stop()).toEqual([]);
  });
});
