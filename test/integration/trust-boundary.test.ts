/**
 * The trust boundary on real kube-apiservers (issue 10): a broker deployed from
 * manifests/overlays/broker as shipped (ownership and grants policies, quota, member identities),
 * members east and west with the member overlay's agent policy, agents on least-privilege
 * credentials (their broker kubeconfigs from `broker join-config`, expiring tokens), and west's
 * DNS server answering real `dig` queries. A third member, north, added the way the README says
 * (members/east.yaml copied, "east" replaced), plays the compromised cluster: no agent, it writes
 * to the broker with its own token whatever it likes.
 *
 * A private cluster set: the shipped policies bind to every labelled broker namespace, and the
 * shared harness broker serves other tests that write unlabelled objects as members.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKustomization, manifestsDir, startClusters, type ClusterSet } from '../harness/index.ts';
import { loadKubeConfigFile } from '../harness/kubeconfig.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { startDns, type RunningDns } from '../../src/runtime/dns.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import { buildJoinConfig } from '../../src/kube/join-config.ts';
import { buildBrokerSlices } from '../../src/kube/kinds/broker-slice.ts';
import { buildLease } from '../../src/kube/kinds/lease.ts';
import type { ExportRecord } from '../../src/model/types.ts';
import { createLogger } from '../../src/observability/index.ts';
import { BROKER_NAMESPACE, agentLocalConfig, apply, ask, attempt, dnsServerConfig, eventually, expectAnswer, read } from './agent-helpers.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are plain data here */
type Obj = KubernetesObject & Record<string, any> & { metadata: { name: string; namespace?: string; [key: string]: any } };

const logger = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });
const LEASE_MS = 6_000;
const Z = 'svc.clusterset.local';
const MCS = 'multicluster.x-k8s.io/v1beta1';

let set: ClusterSet;
let dir: string;
let brokerAdmin: KubeConfig;
let eastBroker: KubernetesObjectApi;
/** The compromised member's own broker credentials. */
let north: KubernetesObjectApi;
let eastAgent: RunningAgent | undefined;
let westAgent: RunningAgent | undefined;
let westDns: RunningDns | undefined;
let eastAgentLocal: KubeConfig;
const eastKubeconfigFile = (): string => join(dir, 'east-broker.kubeconfig');

/** The broker overlay as `kustomize build` renders it with `namespace: <ns>` set. */
function brokerOverlayIn(namespace: string): Obj[] {
  const objects = structuredClone(loadKustomization(join(manifestsDir, 'overlays/broker')) as Obj[]);
  for (const o of objects) {
    if (o.kind === 'Namespace') o.metadata.name = namespace;
    else if (o.metadata.namespace !== undefined) o.metadata.namespace = namespace;
    for (const s of o.subjects ?? []) if (s.namespace !== undefined) s.namespace = namespace;
  }
  return objects;
}

/**
 * No controller-manager runs here, so nobody computes a ResourceQuota's status, and the quota
 * admission refuses every create until it exists: set it as the quota controller would.
 */
async function initQuotaStatus(namespace: string): Promise<void> {
  const core = brokerAdmin.makeApiClient(CoreV1Api);
  const quota = await core.readNamespacedResourceQuota({ namespace, name: 'clusterset-dns-broker' });
  const hard = quota.spec?.hard ?? {};
  await core.replaceNamespacedResourceQuotaStatus({
    namespace,
    name: 'clusterset-dns-broker',
    body: { ...quota, status: { hard, used: Object.fromEntries(Object.keys(hard).map((k) => [k, '0'])) } },
  });
}

/** A member added as the overlay's kustomization says: members/east.yaml with "east" replaced. */
function memberFile(cluster: string): Obj[] {
  const text = readFileSync(join(manifestsDir, 'overlays/broker/members/east.yaml'), 'utf8').replaceAll('east', cluster);
  return (loadAllYaml(text) as Obj[]).filter((o) => o !== null);
}

function clientFor(kubeconfigYaml: string): KubernetesObjectApi {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml);
  return KubernetesObjectApi.makeApiClient(kc);
}

function record(namespace: string, name: string, over: Partial<ExportRecord> = {}): ExportRecord {
  return { namespace, name, cluster: 'north', type: 'Headless', ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }], serviceIPs: [], ipFamilies: ['IPv4'], sessionAffinity: 'None', exportCreatedAt: Date.now() - 60_000, ...over };
}

/**
 * What a member writes to the broker with its own credentials, bypassing any agent. `serviceIps`
 * replaces the annotation a ClusterSetIP cluster's slice carries its service IPs in: the API server
 * validates EndpointSlice addresses (no loopback, link-local, unspecified), but not annotations,
 * nor any other broker an implementation might use.
 */
function memberExport(client: KubernetesObjectApi, brokerNs: string, r: ExportRecord, addresses: string[], serviceIps?: string): Promise<unknown[]> {
  const endpoints = r.type === 'Headless' ? addresses.map((a) => ({ addresses: [a], ready: true })) : [{ addresses, ready: true }];
  const slices = buildBrokerSlices(r, { namespace: r.namespace, name: r.name, cluster: r.cluster, endpoints, ports: r.ports }, brokerNs) as Obj[];
  if (serviceIps !== undefined) for (const s of slices) s.metadata.annotations = { ...s.metadata.annotations, 'clusterset-dns.io/service-ips': serviceIps };
  return Promise.all(slices.map((o) => client.create(o as KubernetesObject)));
}

/** The broker object of an export with no endpoints (its one slice, carrying the record). */
function brokerExport(r: ExportRecord, brokerNs: string): KubernetesObject {
  return buildBrokerSlices(r, { namespace: r.namespace, name: r.name, cluster: r.cluster, endpoints: [], ports: r.ports }, brokerNs)[0] as KubernetesObject;
}

function ns(name: string): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

beforeAll(async () => {
  set = await startClusters({ names: ['east', 'west'], broker: true, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'clusterset-dns-trust-'));
  brokerAdmin = set.broker!.kubeConfig;
  // The broker exactly as shipped (the harness already applied manifests/crds and manifests/broker).
  await apply(brokerAdmin, ...brokerOverlayIn(BROKER_NAMESPACE), ...memberFile('north'));
  await initQuotaStatus(BROKER_NAMESPACE);
  // The member overlay's agent policy in both members (RBAC from manifests/rbac is in place).
  const agentPolicy = loadKustomization(join(manifestsDir, 'overlays/member')).filter((o) => o.metadata?.name === 'clusterset-dns-agent-scope');
  expect(agentPolicy.map((o) => o.kind).sort()).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  for (const name of ['east', 'west']) {
    await apply(set.get(name).kubeConfig, ...agentPolicy, ns('shop'), ns('payments'));
  }

  // East's broker credentials, as the broker owner hands them out: a bound token that expires.
  const join1 = await buildJoinConfig(brokerAdmin, { cluster: 'east', namespace: BROKER_NAMESPACE, expirationSeconds: 600 });
  expect(join1.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(600_000 + 5_000);
  expect(join1.expiresAt.getTime() - Date.now()).toBeGreaterThan(500_000);
  eastBroker = clientFor(join1.kubeconfig);
  north = clientFor((await buildJoinConfig(brokerAdmin, { cluster: 'north', namespace: BROKER_NAMESPACE, expirationSeconds: 600 })).kubeconfig);
  const westJoin = await buildJoinConfig(brokerAdmin, { cluster: 'west', namespace: BROKER_NAMESPACE, expirationSeconds: 600 });
  writeFileSync(join(dir, 'west-broker.kubeconfig'), westJoin.kubeconfig, { mode: 0o600 });
  // East's agent starts from a file holding a token the broker does not accept; the renewed file
  // is written in the first test, and the agent must take it up without a restart.
  writeFileSync(eastKubeconfigFile(), join1.kubeconfig.replace(/token: .*/, 'token: not-a-valid-token'), { mode: 0o600 });

  // The API server loads policies asynchronously: wait (bounded) until the ownership rule bites.
  await eventually('the broker ownership policy is enforced', 60_000, async () => {
    const probe = await attempt(() => north.create(brokerExport(record('shop', 'probe', { cluster: 'west' }), BROKER_NAMESPACE), undefined, 'All'));
    if (probe.ok || !/may only write/.test(probe.message ?? '')) throw new Error(JSON.stringify(probe));
  }, 250);

  eastAgentLocal = await agentLocalConfig(set.get('east'));
  const agentOptions = {
    brokerNamespace: BROKER_NAMESPACE,
    leaseDurationMs: LEASE_MS,
    leaseRenewMs: 1_500,
    gcGraceMs: 600_000,
    resyncMs: 0,
    concurrency: 4,
    initialBackoffMs: 200,
    maxBackoffMs: 1_000,
    retryBaseMs: 200,
    credentialsPollMs: 300,
  };
  westAgent = startAgent({
    ...agentOptions,
    clusterId: 'west',
    local: await agentLocalConfig(set.get('west')),
    broker: loadKubeConfigFile(join(dir, 'west-broker.kubeconfig')),
    brokerKubeconfigPath: join(dir, 'west-broker.kubeconfig'),
    logger: logger.child({ agent: 'west' }),
  });
  eastAgent = startAgent({
    ...agentOptions,
    clusterId: 'east',
    local: eastAgentLocal,
    broker: loadKubeConfigFile(eastKubeconfigFile()),
    brokerKubeconfigPath: eastKubeconfigFile(),
    logger: logger.child({ agent: 'east' }),
  });
  westDns = await startDns({
    clusterId: 'west',
    kubeConfig: await dnsServerConfig(set.get('west')),
    server: { dns: DEFAULT_DNS_OPTIONS, listen: { host: '127.0.0.1', port: 0 }, httpListen: { host: '127.0.0.1', port: 0 }, workers: 0, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 64, logLevel: 'silent' },
    logger: logger.child({ dns: 'west' }),
    initialBackoffMs: 200,
    maxBackoffMs: 1_000,
  });
  await westAgent.started;
  // North is alive as far as anyone can tell: its heartbeat, with a long duration.
  await north.create(buildLease({ cluster: 'north', renewedAt: Date.now(), durationMs: 600_000 }, BROKER_NAMESPACE) as KubernetesObject);
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([eastAgent?.stop(), westAgent?.stop(), westDns?.stop()]);
  await set?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('trust boundary on real apiservers: no member can hijack, poison or outlive its welcome', () => {
  it('expiring credentials: the agent takes a renewed broker kubeconfig from disk without a restart', async () => {
    // Broker unreachable with the bad token...
    await new Promise((r) => setTimeout(r, 1_500));
    expect(eastAgent!.notReady()).not.toBeNull();
    // ...until the owner's renewed join-config lands in the file (as a Secret update would).
    const renewed = await buildJoinConfig(brokerAdmin, { cluster: 'east', namespace: BROKER_NAMESPACE, expirationSeconds: 600 });
    writeFileSync(eastKubeconfigFile(), renewed.kubeconfig, { mode: 0o600 });
    await eventually('east agent synced with the renewed token', 30_000, async () => {
      if (eastAgent!.notReady() !== null) throw new Error(eastAgent!.notReady()!);
    });
    await eastAgent!.started;
  });

  it("a member cannot make west's DNS answer a metadata, loopback, multicast or broadcast address", async () => {
    const port = westDns!.dnsPort;
    const clusterSetIP = (name: string) => record('shop', name, { type: 'ClusterSetIP', serviceIPs: ['10.96.6.6'] });
    // The metadata address, and loopback, through the service-IP annotation the API does not check.
    await memberExport(north, BROKER_NAMESPACE, clusterSetIP('api'), ['10.96.6.6'], '169.254.169.254,10.96.6.6');
    await memberExport(north, BROKER_NAMESPACE, clusterSetIP('lo'), ['10.96.6.6'], '127.0.0.1,::1');
    // Multicast and broadcast pass the API server's EndpointSlice validation.
    await memberExport(north, BROKER_NAMESPACE, record('shop', 'db'), ['224.0.1.1', '255.255.255.255', '10.96.5.5']);
    await expectAnswer(port, `api.shop.${Z}`, 'A', ['10.96.6.6'], 30_000);
    await expectAnswer(port, `db.shop.${Z}`, 'A', ['10.96.5.5'], 30_000);
    await eventually('lo.shop answers no address', 10_000, async () => {
      const lo = await ask(port, `lo.shop.${Z}`, 'A');
      expect(lo.data).toEqual([]);
      expect((await ask(port, `lo.shop.${Z}`, 'AAAA')).data).toEqual([]);
      expect(lo.status).not.toBe('SERVFAIL');
    });
    // The refusal is on west's imported slices (for explain) and nothing else is ever answered.
    const imported = async (name: string) =>
      eventually(`refusal recorded on the imported slice of ${name}`, 10_000, async () => {
        const s = await read(set.get('west').kubeConfig, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', `${name}.north.ipv4`);
        if (s?.['metadata'].annotations?.['clusterset-dns.io/rejected-addresses'] === undefined) throw new Error('no refusal yet');
        return s;
      });
    expect((await imported('api'))['metadata'].annotations['clusterset-dns.io/rejected-addresses']).toBe('169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here)');
    const db = await imported('db');
    expect(db['metadata'].annotations['clusterset-dns.io/rejected-addresses']).toBe('224.0.1.1: multicast address; 255.255.255.255: broadcast address');
    expect(db['endpoints'].map((e: any) => e.addresses[0])).toEqual(['10.96.5.5']);
    const explained = await fetch(`http://127.0.0.1:${westDns!.httpPort}/debug/explain?name=lo.shop.${Z}&type=A`).then((r) => r.json() as Promise<any>);
    expect(explained.service.clusters[0].refusedAddresses).toBe('127.0.0.1: loopback address; ::1: loopback address');
  });

  it('a cluster not granted a namespace cannot export into it: refused by the API, Valid=False, ignored by importers', async () => {
    // The broker owner keeps namespace payments to west.
    await apply(brokerAdmin, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'clusterset-dns-grants', namespace: BROKER_NAMESPACE }, data: { east: 'shop', north: 'shop', west: '*' } });
    await eventually('the grants policy refuses north in payments', 30_000, async () => {
      const r = await attempt(() => north.create(brokerExport(record('payments', 'probe'), BROKER_NAMESPACE), undefined, 'All'));
      if (r.ok || r.code !== 403) throw new Error(JSON.stringify(r));
      expect(r.message).toContain('cluster north is not granted namespace payments on the broker');
    }, 250);
    // In a granted namespace the same write is allowed (the refusal is the grant, nothing else).
    expect(await attempt(() => north.create(brokerExport(record('shop', 'probe'), BROKER_NAMESPACE), undefined, 'All'))).toEqual({ ok: true });

    // East's agent refuses the export itself and says why on the ServiceExport.
    const east = set.get('east').kubeConfig;
    await apply(east,
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ledger', namespace: 'payments' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'ledger-1', namespace: 'payments', labels: { 'kubernetes.io/service-name': 'ledger' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.96.7.7'] }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
      { apiVersion: MCS, kind: 'ServiceExport', metadata: { name: 'ledger', namespace: 'payments' } });
    await eventually('ServiceExport payments/ledger Valid=False/NamespaceNotGranted', 20_000, async () => {
      const se = await read(east, MCS, 'ServiceExport', 'payments', 'ledger');
      const valid = (se?.['status']?.conditions ?? []).find((c: any) => c.type === 'Valid');
      expect(valid).toMatchObject({ status: 'False', reason: 'NamespaceNotGranted' });
      expect(valid.message).toContain('cluster east is not granted namespace payments');
    });

    // Written around the policy (by an admin identity the policy does not match), even with the
    // oldest export time: importers ignore it, while a granted export written at the same time is
    // imported (so the absence is not lag).
    const admin = KubernetesObjectApi.makeApiClient(brokerAdmin);
    await memberExport(admin, BROKER_NAMESPACE, record('payments', 'vault', { exportCreatedAt: Date.parse('1970-01-02T00:00:00Z') }), ['10.96.8.8']);
    await memberExport(admin, BROKER_NAMESPACE, record('shop', 'cache'), ['10.96.9.9']);
    await expectAnswer(westDns!.dnsPort, `cache.shop.${Z}`, 'A', ['10.96.9.9'], 30_000);
    await westAgent!.whenIdle();
    expect((await ask(westDns!.dnsPort, `vault.payments.${Z}`, 'A')).status).toBe('NXDOMAIN');
    expect(await read(set.get('west').kubeConfig, MCS, 'ServiceImport', 'payments', 'vault')).toBeUndefined();
  });

  it("the agent's token cannot delete or edit a slice it does not manage (kube-dns's), nor create one", async () => {
    const east = set.get('east').kubeConfig;
    const kubeDns: Obj = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kube-dns-abcde', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.96.0.10'] }],
      ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
    };
    await apply(east, ns('kube-system'), kubeDns);
    const agent = KubernetesObjectApi.makeApiClient(eastAgentLocal);
    const current = (await agent.read(kubeDns)) as Obj;
    // RBAC allows all of this; the member overlay's policy does not.
    const del = await attempt(() => agent.delete(current));
    expect(del).toMatchObject({ ok: false, code: 403 });
    expect(del.message).toContain('may only change or delete endpointslices it manages');
    const edited = structuredClone(current);
    edited.endpoints = [{ addresses: ['10.66.6.6'] }];
    expect(await attempt(() => agent.replace(edited))).toMatchObject({ ok: false, code: 403 });
    const adopted = structuredClone(current);
    adopted.metadata.labels = { ...adopted.metadata.labels, 'endpointslice.kubernetes.io/managed-by': 'clusterset-dns', 'app.kubernetes.io/managed-by': 'clusterset-dns' };
    expect(await attempt(() => agent.replace(adopted))).toMatchObject({ ok: false, code: 403 });
    const rogue = structuredClone(kubeDns);
    rogue.metadata = { name: 'rogue', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } };
    expect(await attempt(() => agent.create(rogue))).toMatchObject({ ok: false, code: 403 });
    expect(((await agent.read(kubeDns)) as Obj).endpoints.map((e: any) => e.addresses)).toEqual([['10.96.0.10']]);
    // What it manages it still writes: east's agent imported north's db under this policy...
    await eventually('east imported db (ServiceImport and slice) under the agent policy', 20_000, async () => {
      expect((await read(east, MCS, 'ServiceImport', 'shop', 'db'))?.['status']?.clusters).toEqual([{ cluster: 'north' }]);
      expect(await read(east, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'db.north.ipv4')).toBeDefined();
    });
    // ...and may create and delete a slice labelled as its own.
    const managed = structuredClone(rogue);
    managed.metadata = { name: 'managed', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'clusterset-dns', 'app.kubernetes.io/managed-by': 'clusterset-dns' } };
    expect(await attempt(() => agent.create(managed))).toEqual({ ok: true });
    expect(await attempt(() => agent.delete(managed))).toEqual({ ok: true });
  });

  it('after a broker namespace change the policies still hold: east cannot write a west-labelled object there', async () => {
    const moved = `broker-${Date.now().toString(36)}`;
    await apply(brokerAdmin, ...brokerOverlayIn(moved).filter((o) => o.kind !== 'CustomResourceDefinition'));
    await initQuotaStatus(moved);
    const eastMoved = clientFor((await buildJoinConfig(brokerAdmin, { cluster: 'east', namespace: moved, expirationSeconds: 600 })).kubeconfig);
    await eventually(`the ownership policy is enforced in ${moved}`, 30_000, async () => {
      const r = await attempt(() => eastMoved.create(brokerExport(record('shop', 'web', { cluster: 'west' }), moved)));
      if (r.ok) throw new Error('east wrote a west-labelled record');
      expect(r).toMatchObject({ code: 403 });
      expect(r.message).toContain('cluster east may only write broker objects labelled multicluster.kubernetes.io/source-cluster=east');
    }, 250);
    // Its own objects it may write there (the refusal above is the policy, not a missing grant).
    expect(await attempt(() => eastMoved.create(brokerExport(record('shop', 'web', { cluster: 'east' }), moved)))).toEqual({ ok: true });
    // The shipped quota bites there too: once a member's budget is used up, creates are refused.
    const core = brokerAdmin.makeApiClient(CoreV1Api);
    const quota = await core.readNamespacedResourceQuota({ namespace: moved, name: 'clusterset-dns-broker' });
    await core.replaceNamespacedResourceQuotaStatus({ namespace: moved, name: 'clusterset-dns-broker', body: { ...quota, status: { hard: quota.status!.hard!, used: { ...quota.status!.used, 'count/endpointslices.discovery.k8s.io': quota.spec!.hard!['count/endpointslices.discovery.k8s.io']! } } } });
    const full = await attempt(() => eastMoved.create(brokerExport(record('shop', 'more', { cluster: 'east' }), moved)));
    expect(full).toMatchObject({ ok: false, code: 403 });
    expect(full.message).toContain('exceeded quota: clusterset-dns-broker');
    // join-config refuses to hand out credentials for a namespace the policies do not cover.
    await apply(brokerAdmin, ns('unprotected'));
    await expect(buildJoinConfig(brokerAdmin, { cluster: 'east', namespace: 'unprotected', expirationSeconds: 600 })).rejects.toThrow('is not labelled clusterset-dns.io/broker=true');
  });

  it('a lease claiming 2099 goes stale after its duration, like any other', async () => {
    // North claims, with its own (allowed) credentials, that it renewed in 2099.
    const written = Date.now();
    const lease = buildLease({ cluster: 'north', renewedAt: Date.parse('2099-01-01T00:00:00Z'), durationMs: LEASE_MS }, BROKER_NAMESPACE);
    const current = (await north.read(lease as Obj)) as Obj;
    await north.replace({ ...current, spec: { ...current.spec, ...(lease as Obj).spec } });
    const excluded = await eventually('west excludes north', LEASE_MS + 15_000, async () => {
      const s = await read(set.get('west').kubeConfig, 'discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'db.north.ipv4');
      const reason = s?.['metadata'].annotations?.['clusterset-dns.io/excluded-reason'];
      if (reason === undefined) throw new Error('north still live');
      return reason as string;
    }, 250);
    expect(excluded).toMatch(/^lease expired at /);
    // Judged from when west saw the change, not from the claim (and not before the duration).
    expect(Date.now() - written).toBeGreaterThanOrEqual(LEASE_MS - 1_000);
    // West's DNS server follows its API server through its own watch and snapshot debounce (a few
    // hundred ms at most): the answer is awaited within a tight bound, not read in the same instant.
    await eventually('west answers NXDOMAIN for db', 3_000, async () => {
      expect((await ask(westDns!.dnsPort, `db.shop.${Z}`, 'A')).status).toBe('NXDOMAIN');
    }, 100);
  });
});
