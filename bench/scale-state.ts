/**
 * The scale benchmark's state: N services, each exported by every one of C clusters (the first is
 * local), one in twenty headless, three pods per service and cluster. Written as (1) a YAML
 * directory for the embedded default and (2) the objects an MCS implementation keeps in the local
 * cluster (one ServiceImport per service, one MCS EndpointSlice per service and cluster) for
 * `clusterset-dns dns`; plus the answers expected for a sample of names under local-first.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';

export const SCALE_CLUSTERS = ['east', 'west', 'north', 'south', 'alpha', 'beta', 'gamma', 'delta'] as const;
const SERVICES_PER_NAMESPACE = 100;
const PODS = 3;
const MCS_LABEL_SERVICE = 'multicluster.kubernetes.io/service-name';
const MCS_LABEL_CLUSTER = 'multicluster.kubernetes.io/source-cluster';

export interface ScaleService {
  index: number;
  namespace: string;
  name: string;
  headless: boolean;
}

export function scaleServices(count: number): ScaleService[] {
  if (count > 300_000) throw new Error('at most 300,000 services (the address plan would overflow)');
  return Array.from({ length: count }, (_, index) => ({
    index,
    namespace: `scale-${Math.floor(index / SERVICES_PER_NAMESPACE)}`,
    name: `svc-${index}`,
    headless: index % 20 === 0,
  }));
}

export function scaleClusters(count: number): string[] {
  if (count < 1 || count > SCALE_CLUSTERS.length) throw new Error(`1-${SCALE_CLUSTERS.length} clusters`);
  return SCALE_CLUSTERS.slice(0, count);
}

const octets = (n: number): string => `${(n >> 8) & 255}.${n & 255}`;
/** 10.0-127.x.x: cluster c's service IP of service i (i < 2^20). */
export const serviceIp = (c: number, i: number): string => `10.${c * 16 + (i >> 16)}.${octets(i)}`;
/** 10.128-255.x.x: pod p of service i in cluster c. */
export const podIp = (c: number, i: number, pod: number): string => {
  const n = i * PODS + pod;
  return `10.${128 + c * 16 + (n >> 16)}.${octets(n)}`;
};

export const fqdn = (svc: ScaleService, zone: string): string => `${svc.name}.${svc.namespace}.svc.${zone}`;

/** The A records local-first answers: the local cluster's service IP, or every pod of every cluster (headless). */
export function expectedAddresses(svc: ScaleService, clusterCount: number): string[] {
  if (!svc.headless) return [serviceIp(0, svc.index)];
  const out: string[] = [];
  for (let c = 0; c < clusterCount; c++) for (let p = 0; p < PODS; p++) out.push(podIp(c, svc.index, p));
  return out.sort();
}

/** Evenly spread over the services, headless ones included. */
export function sampleServices(services: readonly ScaleService[], count: number): ScaleService[] {
  const step = Math.max(1, Math.floor(services.length / count));
  const out: ScaleService[] = [];
  for (let i = 0; i < services.length && out.length < count; i += step) out.push(services[i]!);
  return out;
}

const HTTP_PORT_YAML = '  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n';

/** One sub-directory per cluster, one multi-document file per namespace: Service, EndpointSlice, ServiceExport. */
export function writeScaleYaml(dir: string, services: readonly ScaleService[], clusters: readonly string[]): void {
  clusters.forEach((cluster, c) => {
    const byNamespace = new Map<string, string[]>();
    for (const svc of services) {
      let docs = byNamespace.get(svc.namespace);
      if (docs === undefined) byNamespace.set(svc.namespace, (docs = [`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${svc.namespace}\n`]));
      const meta = `metadata:\n  name: ${svc.name}\n  namespace: ${svc.namespace}\n`;
      const ip = serviceIp(c, svc.index);
      docs.push(
        svc.headless
          ? `apiVersion: v1\nkind: Service\n${meta}spec:\n  clusterIP: None\n${HTTP_PORT_YAML}`
          : `apiVersion: v1\nkind: Service\n${meta}spec:\n  type: ClusterIP\n  clusterIP: ${ip}\n  clusterIPs: ["${ip}"]\n${HTTP_PORT_YAML}`,
      );
      const eps = Array.from({ length: PODS }, (_, p) => `  - addresses: ["${podIp(c, svc.index, p)}"]\n    hostname: pod-${p}\n    conditions:\n      ready: true\n`).join('');
      docs.push(
        `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${svc.name}-a\n  namespace: ${svc.namespace}\n  labels:\n    kubernetes.io/service-name: ${svc.name}\naddressType: IPv4\nendpoints:\n${eps}ports:\n- name: http\n  protocol: TCP\n  port: 80\n`,
      );
      docs.push(`apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n${meta}`);
    }
    const clusterDir = path.join(dir, cluster);
    mkdirSync(clusterDir, { recursive: true });
    for (const [namespace, docs] of byNamespace) writeFileSync(path.join(clusterDir, `${namespace}.yaml`), docs.join('---\n'));
  });
}

export function scaleNamespaces(services: readonly ScaleService[]): KubernetesObject[] {
  return [...new Set(services.map((s) => s.namespace))].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
}

const HTTP_PORT = [{ name: 'http', protocol: 'TCP', port: 80 }];

/** The ServiceImport an MCS implementation keeps for `svc` (its status is a subresource, written apart). */
export function scaleServiceImport(svc: ScaleService, mcsApiVersion: string): KubernetesObject {
  return {
    apiVersion: mcsApiVersion,
    kind: 'ServiceImport',
    metadata: { name: svc.name, namespace: svc.namespace },
    spec: { type: svc.headless ? 'Headless' : 'ClusterSetIP', ports: HTTP_PORT, ipFamilies: ['IPv4'], sessionAffinity: 'None' },
  } as KubernetesObject;
}

export function scaleServiceImportStatus(clusters: readonly string[]): { clusters: { cluster: string }[] } {
  return { clusters: clusters.map((cluster) => ({ cluster })) };
}

/** Cluster c's MCS EndpointSlice for `svc`: its service IP (ClusterSetIP) or its pods (headless). */
export function scaleSlice(svc: ScaleService, cluster: string, c: number): KubernetesObject {
  const endpoints = svc.headless
    ? Array.from({ length: PODS }, (_, p) => ({ addresses: [podIp(c, svc.index, p)], hostname: `pod-${p}`, conditions: { ready: true } }))
    : [{ addresses: [serviceIp(c, svc.index)], conditions: { ready: true } }];
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc.name}-${cluster}`,
      namespace: svc.namespace,
      labels: { [MCS_LABEL_SERVICE]: svc.name, [MCS_LABEL_CLUSTER]: cluster, 'endpointslice.kubernetes.io/managed-by': 'bench-scale' },
    },
    addressType: 'IPv4',
    endpoints,
    ports: HTTP_PORT,
  } as KubernetesObject;
}
