// The deployment manifests (kustomize layout: manifests/base + overlays/member + overlays/broker):
// rendered with the harness's small kustomize loader, checked for the wiring a real cluster relies
// on (selectors, ports, ServiceAccounts, ConfigMap keys, probes, security), and applied to real
// apiservers with server-side dry-run, so the API server itself validates every object.
import { join } from 'node:path';
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeError, loadKustomization, manifestsDir } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { leaseName } from '../../src/kube/kinds/lease.ts';
import { LABEL_MCS_SOURCE_CLUSTER } from '../../src/kube/labels.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are plain YAML data */
type Obj = KubernetesObject & Record<string, any>;

const member = loadKustomization(join(manifestsDir, 'overlays/member')) as Obj[];
const broker = loadKustomization(join(manifestsDir, 'overlays/broker')) as Obj[];

function find(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const deployments = member.filter((o) => o.kind === 'Deployment');
const dns = find(member, 'Deployment', 'clusterset-dns-server');
const agent = find(member, 'Deployment', 'clusterset-dns-agent');

describe('member overlay: wiring a cluster relies on', () => {
  it('renders the CRDs, identities and workloads', () => {
    const kinds = new Set(member.map((o) => o.kind));
    for (const kind of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget']) {
      expect(kinds, kind).toContain(kind);
    }
    const ids = member.map((o) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`);
    expect(new Set(ids).size, 'no object twice').toBe(ids.length);
  });

  it('DNS server: /debug stays loopback-only, a NetworkPolicy admits only CoreDNS DNS and metrics, memory follows the budget', () => {
    const container = dns.spec.template.spec.containers[0];
    expect(container.args).not.toContain('--debug-remote');
    const policy = find(member, 'NetworkPolicy', 'clusterset-dns-server');
    expect(matches(policy.spec.podSelector.matchLabels, dns.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const admitted = policy.spec.ingress.map((rule: any) => rule.ports.map((p: any) => `${p.port}/${p.protocol}`).join(','));
    expect(admitted).toEqual(['dns/UDP,dns-tcp/TCP', 'http/TCP']);
    // client-node's YAML loader renames `from` (a TypeScript keyword) to `_from`.
    const from = policy.spec.ingress[0].from ?? policy.spec.ingress[0]._from;
    expect(from[0].podSelector.matchLabels).toEqual({ 'k8s-app': 'kube-dns' });
    // Primary 256 MiB + workers x (2 x cache + 128 heap + 48 young generation + 40 native), in MiB.
    const flag = (name: string) => Number(String(container.args.find((a: string) => a.startsWith(`--${name}=`))).split('=')[1]);
    const budget = 256 + flag('workers') * (2 * flag('cache-size') + 128 + 48 + 40);
    expect(container.resources.limits.memory).toBe(`${budget}Mi`);
  });

  it.each(deployments.map((d) => [d.metadata!.name!, d] as const))('%s: selector, ServiceAccount, ConfigMap keys and probe ports exist', (_name, d) => {
    expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    const sa = d.spec.template.spec.serviceAccountName;
    expect(member.some((o) => o.kind === 'ServiceAccount' && o.metadata?.name === sa && o.metadata?.namespace === d.metadata?.namespace), `ServiceAccount ${sa}`).toBe(true);
    for (const container of d.spec.template.spec.containers) {
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.configMapKeyRef;
        if (ref === undefined) continue;
        expect(find(member, 'ConfigMap', ref.name).data, `ConfigMap ${ref.name} key ${ref.key}`).toHaveProperty(ref.key);
      }
      const portNames = new Set((container.ports ?? []).map((p: any) => p.name));
      for (const probe of [container.readinessProbe, container.livenessProbe]) expect(portNames).toContain(probe.httpGet.port);
      // Every $(VAR) in args is defined in env (Kubernetes leaves unknown ones as literal text).
      for (const arg of container.args) {
        for (const m of String(arg).matchAll(/\$\(([A-Z_]+)\)/g)) expect((container.env ?? []).map((e: any) => e.name)).toContain(m[1]);
      }
    }
  });

  it.each(deployments.map((d) => [d.metadata!.name!, d] as const))('%s: non-root, read-only root, no capability but NET_BIND_SERVICE, resource requests, /readyz and /healthz', (_name, d) => {
    const pod = d.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    for (const c of pod.containers) {
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      for (const cap of c.securityContext.capabilities.add ?? []) expect(cap).toBe('NET_BIND_SERVICE');
      expect(c.resources.requests.cpu).toBeDefined();
      expect(c.resources.requests.memory).toBeDefined();
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    }
  });

  it('the DNS server runs 2 replicas behind a Service on 53/UDP and 53/TCP, guarded by a PodDisruptionBudget', () => {
    expect(dns.spec.replicas).toBe(2);
    expect(agent.spec.replicas).toBe(1);
    const podLabels = dns.spec.template.metadata.labels;
    const service = find(member, 'Service', 'clusterset-dns-server');
    expect(matches(service.spec.selector, podLabels)).toBe(true);
    expect(matches(service.spec.selector, agent.spec.template.metadata.labels), 'the Service must not select the agent').toBe(false);
    const containerPorts = dns.spec.template.spec.containers[0].ports as Array<{ name: string; protocol: string; containerPort: number }>;
    expect(service.spec.ports.map((p: any) => `${p.port}/${p.protocol}`).sort()).toEqual(['53/TCP', '53/UDP']);
    for (const port of service.spec.ports) {
      const target = containerPorts.find((c) => c.name === port.targetPort);
      expect(target?.protocol, `targetPort ${port.targetPort}`).toBe(port.protocol);
    }
    // What the server listens on is what the container declares.
    const listen = dns.spec.template.spec.containers[0].args.find((a: string) => a.startsWith('--listen='));
    expect(containerPorts.filter((p) => p.name.startsWith('dns')).every((p) => listen.endsWith(`:${p.containerPort}`))).toBe(true);
    const pdb = find(member, 'PodDisruptionBudget', 'clusterset-dns-server');
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(dns.spec.replicas);
  });
});

describe('broker overlay: one identity per member cluster and the ownership rule', () => {
  const accounts = broker.filter((o) => o.kind === 'ServiceAccount');
  it('has a ServiceAccount member-<id>, its own Role and RoleBinding per member cluster', () => {
    expect(accounts.map((a) => a.metadata!.name).sort()).toEqual(['member-east', 'member-west']);
    for (const account of accounts) {
      const id = account.metadata!.name!.slice('member-'.length);
      const role = find(broker, 'Role', `clusterset-dns:member-${id}`);
      const binding = find(broker, 'RoleBinding', `clusterset-dns:member-${id}`);
      expect(binding.roleRef.name).toBe(role.metadata!.name);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata!.name, namespace: account.metadata!.namespace }]);
      // Updates to Leases only for the agent's own heartbeat (name as the agent writes it).
      const leaseRules = role.rules.filter((r: any) => r.resources.includes('leases') && r.verbs.includes('update'));
      expect(leaseRules.map((r: any) => r.resourceNames)).toEqual([[leaseName(id)]]);
      expect(role.rules.flatMap((r: any) => r.resources)).not.toContain('secrets');
    }
  });

  it('the policy checks the label the agent writes, in the broker namespace', () => {
    const policy = find(broker, 'ValidatingAdmissionPolicy', 'clusterset-dns-broker-ownership');
    expect(JSON.stringify(policy.spec.variables)).toContain(LABEL_MCS_SOURCE_CLUSTER);
    // The heartbeat Lease name, as the agent builds it (src/kube/names.ts).
    expect(JSON.stringify(policy.spec.validations)).toContain(`'${leaseName('')}' + variables.clusterId`);
    const binding = find(broker, 'ValidatingAdmissionPolicyBinding', 'clusterset-dns-broker-ownership');
    expect(binding.spec.policyName).toBe(policy.metadata!.name);
    const ns = broker.find((o) => o.kind === 'Namespace')!;
    const namespace = ns.metadata!.name;
    // Bound by the broker namespace's label, not its name, so it follows a renamed namespace.
    expect(binding.spec.matchResources.namespaceSelector.matchLabels).toEqual({ 'clusterset-dns.io/broker': 'true' });
    expect(matches(binding.spec.matchResources.namespaceSelector.matchLabels, ns.metadata!.labels ?? {})).toBe(true);
    for (const account of accounts) expect(account.metadata!.namespace).toBe(namespace);
  });
});

describe('server-side dry-run on real apiservers', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });

  async function dryRunApply(kc: Parameters<typeof KubernetesObjectApi.makeApiClient>[0], objects: Obj[]): Promise<string[]> {
    const client = KubernetesObjectApi.makeApiClient(kc);
    const failures: string[] = [];
    for (const obj of objects) {
      try {
        const result = await client.patch(obj, undefined, 'All', 'clusterset-dns-deploy-test', true, PatchStrategy.ServerSideApply);
        expect(result.metadata?.name).toBe(obj.metadata?.name);
      } catch (err) {
        failures.push(`${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}: ${describeError(err)}`);
      }
    }
    return failures;
  }

  it('the member overlay is accepted by a member apiserver', async () => {
    expect(await dryRunApply(clusters().get('east').kubeConfig, member)).toEqual([]);
  }, HARNESS_SETUP_TIMEOUT_MS);

  it('the broker overlay (with the ValidatingAdmissionPolicy and its CEL) is accepted by the broker apiserver', async () => {
    const set = clusters();
    expect(await dryRunApply(set.broker!.kubeConfig, broker)).toEqual([]);
  });

  it('dry-run catches a broken object (the test can fail)', async () => {
    const broken = structuredClone(dns);
    broken.spec.template.spec.containers[0].securityContext.capabilities.add = ['NET BIND'];
    broken.spec.replicas = -1;
    const failures = await dryRunApply(clusters().get('east').kubeConfig, [broken]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/replicas/);
    const badPolicy = structuredClone(find(broker, 'ValidatingAdmissionPolicy', 'clusterset-dns-broker-ownership'));
    badPolicy.spec.validations[0].expression = 'object.metadata.labels[variables.nope] ==';
    const policyFailures = await dryRunApply(clusters().broker!.kubeConfig, [badPolicy]);
    expect(policyFailures).toHaveLength(1);
    expect(policyFailures[0]).toMatch(/compil|Syntax/i);
  });
});
