// The harness itself, against the real binaries: control planes start, are isolated from each
// other, serve watches to @kubernetes/client-node, enforce RBAC for TokenRequest and token-file
// identities, and are stopped by PID, including after crashes and with stale state.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
  Watch,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import {
  clusterStatus,
  ensureBinaries,
  kubeConfigForToken,
  serviceAccountToken,
  startClusters,
  stopClustersInDir,
  type Binaries,
} from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { httpGet } from '../harness/net.ts';

const KUBE_VERSION = /^KUBE_VERSION=(\S+)$/m.exec(readFileSync(new URL('../peers/build.sh', import.meta.url), 'utf8'))?.[1];
const MiB = 1048576;

function code(err: unknown): number | undefined {
  return (err as { code?: number })?.code;
}

async function expectStatus(promise: Promise<unknown>, status: number): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(code(err)).toBe(status);
    return;
  }
  throw new Error(`expected HTTP ${status}, the request succeeded`);
}

describe('a broker and two member clusters', () => {
  const clusters = useClusterSet();
  const ns = 'harness-test';

  beforeAll(async () => {
    for (const c of clusters().clusters) {
      await c.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    }
  });

  it('runs one real kube-apiserver per cluster, at the pinned version', async () => {
    const set = clusters();
    expect(set.members.map((c) => c.name)).toEqual(['east', 'west']);
    expect(set.broker?.name).toBe('broker');
    for (const c of set.clusters) {
      expect(c.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(existsSync(c.kubeconfigPath)).toBe(true);
      const version = await c.kubeConfig.makeApiClient(VersionApi).getCode();
      expect(version.gitVersion).toBe(KUBE_VERSION);
      expect(version.major).toBe('1');
    }
    const memory = set.memory();
    for (const c of set.clusters) {
      const rss = memory[`apiserver ${c.name}`];
      expect(rss).toBeGreaterThan(20 * MiB);
      console.log(`apiserver ${c.name}: ${Math.round((rss ?? 0) / MiB)} MiB resident`);
    }
    console.log(`etcd: ${Math.round((memory.etcd ?? 0) / MiB)} MiB resident`);
  });

  it('keeps clusters apart: own etcd prefix, own service CIDR, own credentials', async () => {
    const [east, west] = clusters().members;
    if (east === undefined || west === undefined) throw new Error('members missing');
    const eastCore = east.kubeConfig.makeApiClient(CoreV1Api);
    const westCore = west.kubeConfig.makeApiClient(CoreV1Api);
    await eastCore.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'only-in-east' }, data: { a: 'b' } } });
    await expectStatus(westCore.readNamespacedConfigMap({ namespace: ns, name: 'only-in-east' }), 404);

    const body = { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } };
    const eastSvc = await eastCore.createNamespacedService({ namespace: ns, body });
    const westSvc = await westCore.createNamespacedService({ namespace: ns, body });
    expect(east.serviceCIDR).not.toBe(west.serviceCIDR);
    expect(eastSvc.spec?.clusterIP?.startsWith(east.serviceCIDR.split('.').slice(0, 2).join('.'))).toBe(true);
    expect(westSvc.spec?.clusterIP?.startsWith(west.serviceCIDR.split('.').slice(0, 2).join('.'))).toBe(true);

    // east's admin token means nothing to west.
    const res = await httpGet(`${west.server}/api/v1/namespaces`, { ca: west.caPem, token: east.adminToken });
    expect(res.status).toBe(401);
  });

  it('streams a watch to @kubernetes/client-node for objects created in the apiserver', async () => {
    const east = clusters().get('east');
    const discovery = east.kubeConfig.makeApiClient(DiscoveryV1Api);
    const events: Array<{ phase: string; name: string; addresses: string[] }> = [];
    let notify = () => {};
    const watching = new Watch(east.kubeConfig);
    const controller = await watching.watch(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      { labelSelector: 'kubernetes.io/service-name=watched' },
      (phase, obj: V1EndpointSlice) => {
        events.push({ phase, name: obj.metadata?.name ?? '', addresses: (obj.endpoints ?? []).flatMap((e) => e.addresses) });
        notify();
      },
      () => {},
    );
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 10_000;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`saw ${events.length} watch events, wanted ${count}: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => { notify = resolve; setTimeout(resolve, 200); });
      }
    };
    try {
      const slice = {
        metadata: { name: 'watched-abc', labels: { 'kubernetes.io/service-name': 'watched' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.1'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      };
      await discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice });
      await waitFor(1);
      await discovery.replaceNamespacedEndpointSlice({
        namespace: ns,
        name: 'watched-abc',
        body: { ...slice, endpoints: [{ addresses: ['192.0.2.2'], conditions: { ready: true } }] },
      });
      await waitFor(2);
      await discovery.deleteNamespacedEndpointSlice({ namespace: ns, name: 'watched-abc' });
      await waitFor(3);
      expect(events).toEqual([
        { phase: 'ADDED', name: 'watched-abc', addresses: ['192.0.2.1'] },
        { phase: 'MODIFIED', name: 'watched-abc', addresses: ['192.0.2.2'] },
        { phase: 'DELETED', name: 'watched-abc', addresses: ['192.0.2.2'] },
      ]);
    } finally {
      controller.abort();
    }
  });

  it('enforces RBAC on service-account tokens minted through the TokenRequest API', async () => {
    const west = clusters().get('west');
    const token = await serviceAccountToken(west.kubeConfig, { namespace: ns, name: 'reader' });
    const rbac = west.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'configmap-reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    const core = kubeConfigForToken(west, 'reader', token).makeApiClient(CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    expect(Array.isArray(list.items)).toBe(true);
    await expectStatus(core.listNamespacedSecret({ namespace: ns }), 403);
    await expectStatus(core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'x' } } }), 403);
    await expectStatus(core.listNamespacedConfigMap({ namespace: 'default' }), 403);
  });

  it('serves the MCS CRDs on every cluster and the broker namespace on the broker', async () => {
    for (const c of clusters().clusters) {
      const custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
      const list = await custom.listNamespacedCustomObject({ group: 'multicluster.x-k8s.io', version: 'v1beta1', namespace: ns, plural: 'serviceimports' });
      expect((list as { items: unknown[] }).items).toEqual([]);
    }
    const broker = clusters().broker;
    if (broker === undefined) throw new Error('no broker');
    await broker.kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: 'clusterset-broker' });
    await expectStatus(clusters().get('east').kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: 'clusterset-broker' }), 404);
  });
});

describe('lifecycle: start, crash, stale state, stop', () => {
  let binaries: Binaries;
  const dirs: string[] = [];

  beforeAll(async () => {
    binaries = await ensureBinaries({ log: (l) => process.stderr.write(`${l}\n`) });
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const dir of dirs) {
      await stopClustersInDir(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a cluster well within a minute, with token-file users, and stops every process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'harness-lifecycle-'));
    dirs.push(dir);
    const started = Date.now();
    const set = await startClusters({ names: ['solo'], dir, binaries, tokenUsers: [{ name: 'viewer', groups: ['viewers'] }] });
    const elapsed = Date.now() - started;
    console.log(`one cluster (etcd + apiserver + manifests) ready in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(60_000);

    const solo = set.get('solo');
    const viewerToken = solo.userTokens.viewer;
    if (viewerToken === undefined) throw new Error('no token for viewer');
    const viewer = kubeConfigForToken(solo, 'viewer', viewerToken).makeApiClient(CoreV1Api);
    await expectStatus(viewer.listNamespace(), 403);
    // Bind a role of our own: the built-in view/edit/admin roles are empty here, because their
    // rules are filled in by kube-controller-manager's aggregation controller, which does not run.
    const rbac = solo.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: { metadata: { name: 'configmap-viewer' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'viewers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'configmap-viewer' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'viewers' }],
      },
    });
    // RBAC changes reach the authorizer's cache within moments.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await viewer.listNamespacedConfigMap({ namespace: 'default' });
        break;
      } catch (err) {
        if (code(err) !== 403 || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await expectStatus(viewer.listNamespacedSecret({ namespace: 'default' }), 403);

    const pids = (clusterStatus(dir)?.processes ?? []).map((p) => p.pid);
    expect(pids).toHaveLength(2);
    await set.stop();
    for (const pid of pids) expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '').toBe(false);
    expect(existsSync(dir)).toBe(false);
  }, 120_000);

  it('down copes with a crashed apiserver and never signals a PID that is no longer ours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'harness-stale-'));
    dirs.push(dir);
    await startClusters({ names: ['crashy'], dir, binaries, applyManifests: false });
    const status = clusterStatus(dir);
    const apiserver = status?.processes.find((p) => p.name === 'apiserver crashy');
    if (apiserver === undefined) throw new Error('apiserver missing from status');
    process.kill(apiserver.pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (clusterStatus(dir)?.processes.find((p) => p.name === 'apiserver crashy')?.running === true && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(clusterStatus(dir)?.processes.find((p) => p.name === 'apiserver crashy')?.running).toBe(false);

    // Make the dead apiserver's PID point at an unrelated live process, as after PID reuse.
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    const state = JSON.parse(readFileSync(join(dir, 'harness.json'), 'utf8')) as { processes: Array<{ name: string; pid: number }> };
    for (const p of state.processes) if (p.name === 'apiserver crashy') p.pid = bystander.pid ?? 0;
    writeFileSync(join(dir, 'harness.json'), JSON.stringify(state));

    const results = await stopClustersInDir(dir);
    expect(results.map((r) => [r.name, r.outcome])).toEqual([['apiserver crashy', 'not-running'], ['etcd', 'terminated']]);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.kill('SIGTERM')).toBe(true);
    expect(clusterStatus(dir)).toBeUndefined();
  }, 120_000);
});
