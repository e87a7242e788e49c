// manifests/ against real apiservers: the CRDs, RBAC and broker objects apply with server-side
// apply, the API server accepts valid MCS objects and rejects invalid ones (schema validation runs
// in the apiserver, not in our code), and the RBAC grants exactly the least privilege promised.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  RbacAuthorizationV1Api,
  V1MicroTime,
  loadYaml,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  applyObjects,
  describeError,
  kubeConfigForToken,
  loadKustomization,
  manifestPart,
  serviceAccountToken,
  type Cluster,
} from '../harness/index.ts';
import { httpGet } from '../harness/net.ts';
import { useClusterSet } from '../harness/vitest.ts';

const GROUP = 'multicluster.x-k8s.io';
const VERSIONS = ['v1alpha1', 'v1beta1'] as const;
const NS = 'manifests-test';

interface Rejection {
  status: number;
  message: string;
}

/** Runs `request`; resolves to the API error (status + message) or undefined when it succeeded. */
async function rejection(request: Promise<unknown>): Promise<Rejection | undefined> {
  try {
    await request;
    return undefined;
  } catch (err) {
    const status = (err as { code?: number }).code;
    if (typeof status !== 'number') throw err;
    return { status, message: describeError(err) };
  }
}

function serviceImport(name: string, spec: Record<string, unknown>, version: string) {
  return { apiVersion: `${GROUP}/${version}`, kind: 'ServiceImport', metadata: { name }, spec };
}

async function create(kc: KubeConfig, version: string, plural: string, body: object, namespace = NS, dryRun = false) {
  return kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP, version, namespace, plural, body, ...(dryRun ? { dryRun: 'All' } : {}),
  });
}

// The broker may be shared with other test files (globalSetup): everything written into its
// clusterset-broker namespace here is a server-side dry run, which still runs authentication,
// RBAC, admission and schema validation, but stores nothing another test could trip over.
const BROKER_NS = 'clusterset-broker';

async function can(kc: KubeConfig, verb: string, group: string, resource: string, namespace?: string, subresource?: string): Promise<boolean> {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}), ...(subresource ? { subresource } : {}) } } },
  });
  return review.status?.allowed === true;
}

describe('manifest layout', () => {
  it('lists every manifest file in its kustomization, and only files that exist', () => {
    for (const part of ['crds', 'rbac', 'broker'] as const) {
      const dir = manifestPart(part);
      const yamlFiles = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      const objects = loadKustomization(dir);
      expect(objects.length).toBeGreaterThanOrEqual(yamlFiles.length);
      const listed = loadYaml<{ resources: string[] }>(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')).resources.sort();
      expect(listed).toEqual(yamlFiles.sort());
    }
  });
});

describe('manifests on real apiservers', () => {
  const clusters = useClusterSet();
  let east: Cluster;
  let broker: Cluster;

  beforeAll(async () => {
    east = clusters().get('east');
    const b = clusters().broker;
    if (b === undefined) throw new Error('the manifests tests need the broker');
    broker = b;
    for (const c of [east, broker]) {
      await c.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    }
  });

  afterAll(async () => {
    // Leave nothing behind for other files sharing these clusters (namespaces cannot be deleted:
    // no namespace controller runs, so delete the objects).
    const custom = east.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const plural of ['serviceimports', 'serviceexports']) {
      await custom.deleteCollectionNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: NS, plural });
    }
    await east.kubeConfig.makeApiClient(DiscoveryV1Api).deleteCollectionNamespacedEndpointSlice({ namespace: NS });
  });

  it('re-applies with server-side apply without changing anything', async () => {
    const ext = east.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const before = await ext.readCustomResourceDefinition({ name: `serviceimports.${GROUP}` });
    await applyObjects(east.kubeConfig, [...loadKustomization(manifestPart('crds')), ...loadKustomization(manifestPart('rbac'))]);
    await applyObjects(broker.kubeConfig, [...loadKustomization(manifestPart('crds')), ...loadKustomization(manifestPart('broker'))]);
    const after = await ext.readCustomResourceDefinition({ name: `serviceimports.${GROUP}` });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.metadata?.managedFields?.map((f) => f.manager)).toContain('clusterset-dns-harness');
  });

  it('serves v1alpha1 and v1beta1, stores v1beta1, with status subresources, short names and categories', async () => {
    const ext = east.kubeConfig.makeApiClient(ApiextensionsV1Api);
    for (const name of ['serviceexports', 'serviceimports']) {
      const crd = await ext.readCustomResourceDefinition({ name: `${name}.${GROUP}` });
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, false], ['v1beta1', true, true]]);
      expect(crd.status?.storedVersions).toEqual(['v1beta1']);
    }
    for (const version of VERSIONS) {
      const res = await httpGet(`${east.server}/apis/${GROUP}/${version}`, { ca: east.caPem, token: east.adminToken });
      expect(res.status).toBe(200);
      const resources = (JSON.parse(res.body) as { resources: Array<{ name: string; shortNames?: string[]; categories?: string[] }> }).resources;
      const byName = new Map(resources.map((r) => [r.name, r]));
      expect(byName.get('serviceexports')?.shortNames).toEqual(['svcex', 'svcexport']);
      expect(byName.get('serviceimports')?.shortNames).toEqual(['svcim', 'svcimport']);
      expect(byName.get('serviceimports')?.categories).toEqual(['multicluster']);
      expect(byName.has('serviceexports/status')).toBe(true);
      expect(byName.has('serviceimports/status')).toBe(true);
    }
  });

  it('accepts valid ServiceExports and ServiceImports in both versions', async () => {
    for (const version of VERSIONS) {
      await create(east.kubeConfig, version, 'serviceexports', {
        apiVersion: `${GROUP}/${version}`, kind: 'ServiceExport', metadata: { name: `web-${version}` },
      });
      await create(east.kubeConfig, version, 'serviceexports', {
        apiVersion: `${GROUP}/${version}`, kind: 'ServiceExport', metadata: { name: `labelled-${version}` },
        spec: { exportedLabels: { tier: 'front' }, exportedAnnotations: { note: 'x' } },
      });
      const valid: Array<[string, Record<string, unknown>]> = [
        ['vip', { type: 'ClusterSetIP', ips: ['192.0.2.7'], ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }] }],
        ['dual', { type: 'ClusterSetIP', ips: ['192.0.2.8', '2001:db8::8'], ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 53, protocol: 'UDP' }] }],
        ['headless', { type: 'Headless', ports: [] }],
        ['affinity', { type: 'ClusterSetIP', ports: [{ port: 443 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }],
      ];
      for (const [name, spec] of valid) {
        const outcome = await rejection(create(east.kubeConfig, version, 'serviceimports', serviceImport(`${name}-${version}`, spec, version)));
        expect(outcome, `${version} ${name}`).toBeUndefined();
      }
    }
    // v1beta1 additions, and the broker holds per-cluster records of the same kind.
    await create(east.kubeConfig, 'v1beta1', 'serviceimports', serviceImport('traffic', {
      type: 'ClusterSetIP', ports: [{ port: 80 }], internalTrafficPolicy: 'Local', trafficDistribution: 'PreferClose',
    }, 'v1beta1'));
    await create(broker.kubeConfig, 'v1beta1', 'serviceimports', {
      ...serviceImport('web-demo-east', { type: 'ClusterSetIP', ips: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, 'v1beta1'),
      metadata: { name: 'web-demo-east', labels: { 'multicluster.kubernetes.io/service-name': 'web', 'multicluster.kubernetes.io/source-cluster': 'east' } },
    }, BROKER_NS, true);
  });

  it('rejects invalid ServiceImports in the API server', async () => {
    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
      ['bad-type', { type: 'LoadBalancer', ports: [{ port: 80 }] }, /spec\.type: Unsupported value: "LoadBalancer"/],
      ['three-ips', { type: 'ClusterSetIP', ips: ['192.0.2.1', '192.0.2.2', '192.0.2.3'], ports: [{ port: 80 }] }, /spec\.ips: Too many: 3: must have at most 2 items/],
      ['no-ports', { type: 'ClusterSetIP' }, /spec\.ports: Required value/],
      ['no-type', { ports: [{ port: 80 }] }, /spec\.type: Required value/],
      ['not-an-ip', { type: 'ClusterSetIP', ips: ['web.example'], ports: [{ port: 80 }] }, /spec\.ips\[0\].*must be an IPv4 or IPv6 address/],
      ['port-zero', { type: 'ClusterSetIP', ports: [{ port: 0 }] }, /spec\.ports\[0\]\.port: Invalid value: 0/],
      ['no-port', { type: 'ClusterSetIP', ports: [{ name: 'http' }] }, /spec\.ports\[0\]\.port: Required value/],
      ['bad-protocol', { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'ICMP' }] }, /spec\.ports\[0\]\.protocol: Unsupported value: "ICMP"/],
      ['bad-affinity', { type: 'ClusterSetIP', ports: [{ port: 80 }], sessionAffinity: 'Sticky' }, /spec\.sessionAffinity: Unsupported value/],
    ];
    for (const version of VERSIONS) {
      for (const [name, spec, message] of invalid) {
        const outcome = await rejection(create(east.kubeConfig, version, 'serviceimports', serviceImport(`${name}-${version}`, spec, version)));
        expect(outcome?.status, `${version} ${name}`).toBe(422);
        expect(outcome?.message, `${version} ${name}`).toMatch(message);
      }
      const missingSpec = await rejection(create(east.kubeConfig, version, 'serviceimports', {
        apiVersion: `${GROUP}/${version}`, kind: 'ServiceImport', metadata: { name: `no-spec-${version}` },
      }));
      // Without a spec there is nothing to require fields in: accepted, like upstream mcs-api.
      expect(missingSpec).toBeUndefined();
    }
  });

  it('writes ServiceExport status only through the status subresource, and validates conditions', async () => {
    const custom = east.kubeConfig.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: 'v1beta1', namespace: NS, plural: 'serviceexports', name: 'status-test' };
    await create(east.kubeConfig, 'v1beta1', 'serviceexports', { apiVersion: `${GROUP}/v1beta1`, kind: 'ServiceExport', metadata: { name: 'status-test' } });
    const condition = (status: string, reason = 'Exported') => ({ type: 'Ready', status, reason, message: '', lastTransitionTime: '2025-01-01T00:00:00Z' });

    const current = await custom.getNamespacedCustomObject(ref) as { metadata: { resourceVersion: string } };
    await custom.replaceNamespacedCustomObject({ ...ref, body: { apiVersion: `${GROUP}/v1beta1`, kind: 'ServiceExport', metadata: { name: 'status-test', resourceVersion: current.metadata.resourceVersion }, status: { conditions: [condition('True')] } } });
    const afterMain = await custom.getNamespacedCustomObject(ref) as { status?: unknown };
    expect(afterMain.status).toBeUndefined();

    const fresh = await custom.getNamespacedCustomObject(ref) as { metadata: { resourceVersion: string } };
    await custom.replaceNamespacedCustomObjectStatus({ ...ref, body: { apiVersion: `${GROUP}/v1beta1`, kind: 'ServiceExport', metadata: { name: 'status-test', resourceVersion: fresh.metadata.resourceVersion }, status: { conditions: [condition('True')] } } });
    const afterStatus = await custom.getNamespacedCustomObject(ref) as { status?: { conditions?: Array<{ type: string; status: string }> } };
    expect(afterStatus.status?.conditions?.map((c) => [c.type, c.status])).toEqual([['Ready', 'True']]);

    const latest = await custom.getNamespacedCustomObject(ref) as { metadata: { resourceVersion: string } };
    const bad = await rejection(custom.replaceNamespacedCustomObjectStatus({ ...ref, body: { apiVersion: `${GROUP}/v1beta1`, kind: 'ServiceExport', metadata: { name: 'status-test', resourceVersion: latest.metadata.resourceVersion }, status: { conditions: [condition('Maybe', 'not a reason!')] } } }));
    expect(bad?.status).toBe(422);
    expect(bad?.message).toMatch(/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
    expect(bad?.message).toMatch(/status\.conditions\[0\]\.reason: Invalid value/);
  });

  it('prints the ServiceImport columns Type, IP and Age', async () => {
    const res = await httpGet(`${east.server}/apis/${GROUP}/v1beta1/namespaces/${NS}/serviceimports/vip-v1beta1`, {
      ca: east.caPem,
      token: east.adminToken,
      headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    });
    expect(res.status).toBe(200);
    const table = JSON.parse(res.body) as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Type', 'IP', 'Age']);
    expect(table.rows[0]?.cells.slice(0, 3)).toEqual(['vip-v1beta1', 'ClusterSetIP', '["192.0.2.7"]']);
  });

  it('gives the agent and the DNS server least privilege in a member cluster', async () => {
    const ns = 'clusterset-dns-system';
    const agent = kubeConfigForToken(east, 'agent', await serviceAccountToken(east.kubeConfig, { namespace: ns, name: 'clusterset-dns-agent', create: false }));
    const dns = kubeConfigForToken(east, 'dns', await serviceAccountToken(east.kubeConfig, { namespace: ns, name: 'clusterset-dns-server', create: false }));
    const matrix: Array<[string, string, string, string | undefined, boolean, boolean]> = [
      // verb, group, resource, subresource, agent allowed, dns server allowed
      ['list', '', 'services', undefined, true, false],
      ['watch', '', 'namespaces', undefined, true, false],
      ['list', 'discovery.k8s.io', 'endpointslices', undefined, true, true],
      ['create', 'discovery.k8s.io', 'endpointslices', undefined, true, false],
      ['delete', 'discovery.k8s.io', 'endpointslices', undefined, true, false],
      ['watch', GROUP, 'serviceexports', undefined, true, false],
      ['update', GROUP, 'serviceexports', 'status', true, false],
      ['update', GROUP, 'serviceexports', undefined, false, false],
      ['delete', GROUP, 'serviceexports', undefined, false, false],
      ['watch', GROUP, 'serviceimports', undefined, true, true],
      ['create', GROUP, 'serviceimports', undefined, true, false],
      ['patch', GROUP, 'serviceimports', 'status', true, false],
      ['list', '', 'secrets', undefined, false, false],
      ['list', '', 'pods', undefined, false, false],
      ['create', '', 'services', undefined, false, false],
      ['create', 'coordination.k8s.io', 'leases', undefined, false, false],
    ];
    for (const [verb, group, resource, sub, agentAllowed, dnsAllowed] of matrix) {
      const what = `${verb} ${group || 'core'}/${resource}${sub ? `/${sub}` : ''}`;
      expect(await can(agent, verb, group, resource, NS, sub), `agent: ${what}`).toBe(agentAllowed);
      expect(await can(dns, verb, group, resource, NS, sub), `dns server: ${what}`).toBe(dnsAllowed);
    }
    // And real requests, not only reviews.
    const dnsCustom = dns.makeApiClient(CustomObjectsApi);
    await dnsCustom.listNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: NS, plural: 'serviceimports' });
    expect((await rejection(create(dns, 'v1beta1', 'serviceimports', serviceImport('by-dns', { type: 'Headless', ports: [] }, 'v1beta1'))))?.status).toBe(403);
    expect((await rejection(dns.makeApiClient(CoreV1Api).listNamespacedService({ namespace: NS })))?.status).toBe(403);
    await agent.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: NS,
      body: { metadata: { name: 'by-agent', labels: { 'endpointslice.kubernetes.io/managed-by': 'clusterset-dns' } }, addressType: 'IPv4', endpoints: [] },
    });
    expect((await rejection(agent.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: NS })))?.status).toBe(403);
  });

  it('lets a member agent write only in the broker namespace on the broker', async () => {
    const ns = BROKER_NS;
    const token = await serviceAccountToken(broker.kubeConfig, { namespace: ns, name: 'manifests-test-member' });
    await broker.kubeConfig.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'manifests-test-member' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'clusterset-dns:broker-member' },
        subjects: [{ kind: 'ServiceAccount', name: 'manifests-test-member', namespace: ns }],
      },
    });
    const member = kubeConfigForToken(broker, 'manifests-test-member', token, ns);
    // ServiceImports on the broker are older agents' export records: listed and deleted, never written.
    const allowed: Array<[string, string, string]> = [
      ['list', GROUP, 'serviceimports'], ['delete', GROUP, 'serviceimports'],
      ['create', 'discovery.k8s.io', 'endpointslices'],
      ['update', 'discovery.k8s.io', 'endpointslices'], ['list', 'discovery.k8s.io', 'endpointslices'],
      ['update', 'coordination.k8s.io', 'leases'], ['watch', 'coordination.k8s.io', 'leases'],
    ];
    for (const [verb, group, resource] of allowed) {
      expect(await can(member, verb, group, resource, ns), `${verb} ${resource} in ${ns}`).toBe(true);
      expect(await can(member, verb, group, resource, NS), `${verb} ${resource} in ${NS}`).toBe(false);
    }
    for (const [verb, group, resource] of [['list', '', 'secrets'], ['create', GROUP, 'serviceexports'], ['create', '', 'services'], ['delete', '', 'namespaces'], ['create', GROUP, 'serviceimports'], ['update', GROUP, 'serviceimports']] as const) {
      expect(await can(member, verb, group, resource, ns), `${verb} ${resource}`).toBe(false);
    }
    // Real (dry-run) requests: a heartbeat Lease and an export (its EndpointSlice). Lease times are MicroTime:
    // a plain Date serialises with milliseconds and the apiserver rejects it with 400.
    await member.makeApiClient(CoordinationV1Api).createNamespacedLease({
      namespace: ns,
      dryRun: 'All',
      body: { metadata: { name: 'east' }, spec: { holderIdentity: 'east', leaseDurationSeconds: 30, renewTime: new V1MicroTime() } },
    });
    await member.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'db.demo.east.ipv4' }, addressType: 'IPv4', endpoints: [] } });
    expect((await rejection(member.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({ namespace: NS, dryRun: 'All', body: { metadata: { name: 'elsewhere' }, addressType: 'IPv4', endpoints: [] } })))?.status).toBe(403);
    expect((await rejection(create(member, 'v1beta1', 'serviceimports', serviceImport('db-demo-east', { type: 'Headless', ports: [{ port: 5432 }] }, 'v1beta1'), ns, true)))?.status).toBe(403);
  });
});
