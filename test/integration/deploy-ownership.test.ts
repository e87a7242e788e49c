// The broker's per-cluster ownership rule (manifests/overlays/broker/ownership-policy.yaml), enforced
// by a real kube-apiserver: with its own least-privilege token (members/east.yaml), cluster east can
// write broker objects labelled source-cluster=east and nothing labelled for another cluster.
//
// The shared harness broker also serves other tests, some of which write unlabelled objects as
// `member-east`; so the policy is applied as shipped, but bound to a namespace of this test's own
// (a copy of the shipped binding with only its namespace changed), and east's and west's identities
// are the shipped ones moved into that namespace.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigForToken, loadKustomization, manifestsDir, serviceAccountToken } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { leaseName } from '../../src/kube/kinds/lease.ts';
import { LABEL_MCS_SOURCE_CLUSTER } from '../../src/kube/labels.ts';
import { attempt } from './agent-helpers.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are plain YAML data */
type Obj = KubernetesObject & Record<string, any> & { metadata: { name: string; namespace?: string; [key: string]: any } };

const rendered = loadKustomization(join(manifestsDir, 'overlays/broker')) as Obj[];
const NS = `ownership-${randomBytes(3).toString('hex')}`;

function ours(kind: string, name: string): Obj {
  const found = rendered.find((o) => o.kind === kind && o.metadata?.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in manifests/overlays/broker`);
  return structuredClone(found);
}

/** A shipped member file's objects (no token Secret: no controller fills it here), moved into NS. */
function memberIdentity(cluster: string): Obj[] {
  const objects = [ours('ServiceAccount', `member-${cluster}`), ours('Role', `clusterset-dns:member-${cluster}`), ours('RoleBinding', `clusterset-dns:member-${cluster}`)];
  for (const o of objects) o.metadata!.namespace = NS;
  for (const s of objects[2]!.subjects) s.namespace = NS;
  return objects;
}

/** An export on the broker: an EndpointSlice carrying the export record in its annotation. */
function record(name: string, source: string | undefined): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: NS,
      labels: source === undefined ? {} : { [LABEL_MCS_SOURCE_CLUSTER]: source },
      annotations: { 'clusterset-dns.io/export': JSON.stringify({ type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP' }], slices: 1 }) },
    },
    addressType: 'IPv4',
    endpoints: [],
    ports: [{ port: 80, protocol: 'TCP' }],
  };
}

function slice(name: string, source: string | undefined): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: source === undefined ? {} : { [LABEL_MCS_SOURCE_CLUSTER]: source } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.2.3'] }],
  };
}

function lease(cluster: string, source: string): Obj {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: leaseName(cluster), namespace: NS, labels: { [LABEL_MCS_SOURCE_CLUSTER]: source } },
    spec: { holderIdentity: cluster, leaseDurationSeconds: 30 },
  };
}

describe('broker ownership policy: a cluster writes only objects labelled with its own ID', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });
  let admin: KubeConfig;
  let east: KubernetesObjectApi;
  let west: KubernetesObjectApi;
  const testBindingName = `clusterset-dns-broker-ownership-${NS}`;

  const create = (client: KubernetesObjectApi, obj: Obj, dryRun?: 'All') => attempt(() => client.create(obj, undefined, dryRun));

  beforeAll(async () => {
    const broker = clusters().broker!;
    admin = broker.kubeConfig;
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    const adminClient = KubernetesObjectApi.makeApiClient(admin);
    const binding = ours('ValidatingAdmissionPolicyBinding', 'clusterset-dns-broker-ownership');
    binding.metadata!.name = testBindingName;
    binding.spec.matchResources.namespaceSelector.matchLabels = { 'kubernetes.io/metadata.name': NS };
    for (const obj of [ours('ValidatingAdmissionPolicy', 'clusterset-dns-broker-ownership'), binding, ...memberIdentity('east'), ...memberIdentity('west')]) {
      await adminClient.patch(obj, undefined, undefined, 'clusterset-dns-ownership-test', true, PatchStrategy.ServerSideApply);
    }
    const token = async (name: string) => serviceAccountToken(admin, { namespace: NS, name, create: false });
    east = KubernetesObjectApi.makeApiClient(kubeConfigForToken(broker, 'member-east', await token('member-east'), NS));
    west = KubernetesObjectApi.makeApiClient(kubeConfigForToken(broker, 'member-west', await token('member-west'), NS));
    // The API server loads new policies asynchronously: wait (bounded) until the rule bites, using
    // dry-run so that nothing is created while it does not yet.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const probe = await create(east, record('probe.ns.west', 'west'), 'All');
      if (!probe.ok && probe.code === 403 && /may only write/.test(probe.message ?? '')) break;
      if (Date.now() > deadline) throw new Error(`the ownership policy is not enforced after 60 s (last: ${JSON.stringify(probe)})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    if (admin === undefined) return;
    const client = KubernetesObjectApi.makeApiClient(admin);
    await attempt(() => client.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: testBindingName } }));
    await attempt(() => admin.makeApiClient(CoreV1Api).deleteNamespace({ name: NS }));
  });

  it("east's token cannot create an object labelled source-cluster: west, and can create its own", async () => {
    const denied = await create(east, record('web.shop.west', 'west'));
    expect(denied).toMatchObject({ ok: false, code: 403 });
    expect(denied.message).toContain(`cluster east may only write broker objects labelled ${LABEL_MCS_SOURCE_CLUSTER}=east`);
    expect(await create(east, record('web.shop.east', 'east'))).toEqual({ ok: true });
    expect(await create(east, slice('web.shop.east.ipv4', 'east'))).toEqual({ ok: true });
    expect(await create(east, slice('web.shop.west.ipv4', 'west'))).toMatchObject({ ok: false, code: 403 });
  });

  it('unlabelled objects are refused too', async () => {
    expect(await create(east, record('nolabel.shop.east', undefined))).toMatchObject({ ok: false, code: 403 });
    expect(await create(east, slice('nolabel.shop.east.ipv4', undefined))).toMatchObject({ ok: false, code: 403 });
  });

  it("east cannot change, relabel or delete west's objects, nor take over its own by relabelling", async () => {
    expect(await create(west, record('api.shop.west', 'west'))).toEqual({ ok: true });
    const westRecord = (await west.read(record('api.shop.west', 'west'))) as Obj;

    const takeover = structuredClone(westRecord);
    takeover.metadata.labels = { ...takeover.metadata.labels, [LABEL_MCS_SOURCE_CLUSTER]: 'east' };
    const relabel = await attempt(() => east.replace(takeover));
    expect(relabel).toMatchObject({ ok: false, code: 403 });
    expect(relabel.message).toContain('may only change or delete');

    const edit = structuredClone(westRecord);
    edit.ports = [{ port: 8080, protocol: 'TCP' }];
    expect(await attempt(() => east.replace(edit))).toMatchObject({ ok: false, code: 403 });
    expect(await attempt(() => east.delete(westRecord))).toMatchObject({ ok: false, code: 403 });

    const own = (await east.read(record('web.shop.east', 'east'))) as Obj;
    own.metadata.labels = { ...own.metadata.labels, [LABEL_MCS_SOURCE_CLUSTER]: 'west' };
    expect(await attempt(() => east.replace(own))).toMatchObject({ ok: false, code: 403 });

    // West's object is untouched; east can still change and delete its own.
    expect(((await west.read(westRecord)) as Obj).ports).toMatchObject([{ port: 80, protocol: 'TCP' }]);
    const mine = (await east.read(record('web.shop.east', 'east'))) as Obj;
    mine.ports = [{ port: 8080, protocol: 'TCP' }];
    expect(await attempt(() => east.replace(mine))).toEqual({ ok: true });
    expect(await attempt(() => east.delete(mine))).toEqual({ ok: true });
  });

  it('a cluster renews only its own heartbeat Lease', async () => {
    expect(await create(east, lease('east', 'east'))).toEqual({ ok: true });
    // Labelled as its own but named as west's heartbeat: refused by the policy.
    expect(await create(east, lease('west', 'east'))).toMatchObject({ ok: false, code: 403 });
    expect(await create(west, lease('west', 'west'))).toEqual({ ok: true });
    const westLease = (await west.read(lease('west', 'west'))) as Obj;
    westLease.spec.holderIdentity = 'east';
    // RBAC (resourceNames) already stops this one.
    expect(await attempt(() => east.replace(westLease))).toMatchObject({ ok: false, code: 403 });
  });

  it('other identities (an admin) are not restricted by the policy', async () => {
    expect(await create(KubernetesObjectApi.makeApiClient(admin), record('fixup.shop.west', 'west'))).toEqual({ ok: true });
  });
});
