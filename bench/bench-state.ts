/**
 * The benchmark's state: N services in namespaces across 3 clusters (east is local), as
 * (1) an ImportedState for the in-process mode, (2) a directory of Kubernetes YAML for the embedded
 * default (`serve --from-dir`), (3) a dnsperf query file with the mix and (4) the same
 * records as an NSD zone file (taken from our own answer(), so both servers serve the same data).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DnsOptions } from '../src/config/options.ts';
import { answer } from '../src/dns/answer.ts';
import type { ResourceRecord } from '../src/dns/types.ts';
import type { ImportedState } from '../src/model/imported-state.ts';
import type { Snapshot } from '../src/model/snapshot.ts';
import type { Endpoint, ImportedService, ImportedSlice } from '../src/model/types.ts';

export const CLUSTERS = ['east', 'west', 'north'] as const;
export const LOCAL_CLUSTER = 'east';
export const ZONE = 'clusterset.local';
const SERVICES_PER_NAMESPACE = 100;
/**
 * `--weights` (issue 14): west's exports carry this weight (the others keep the default 100), so
 * every answer with west and another cluster is rotated by weight instead of evenly.
 */
export const WEIGHTED_CLUSTER = 'west';
export const WEIGHTED_VALUE = 300;

export interface BenchService {
  namespace: string;
  name: string;
  headless: boolean;
  /** Clusters exporting it. */
  clusters: string[];
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function benchServices(count: number): BenchService[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: `ns-${Math.floor(i / SERVICES_PER_NAMESPACE)}`,
    name: `svc-${i}`,
    // One in twenty is headless (three pods per cluster); the rest ClusterSetIP, dual-stack.
    headless: i % 20 === 0,
    // Everyone: all three; a third: east+west; a third: only remotes (local-first falls back).
    clusters: i % 3 === 0 ? [...CLUSTERS] : i % 3 === 1 ? ['east', 'west'] : ['west', 'north'],
  }));
}

function serviceIPv4(cluster: number, i: number): string {
  return `10.${cluster * 64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}
function serviceIPv6(cluster: number, i: number): string {
  return `fd00:${cluster + 1}::${i.toString(16)}`;
}
function podIPv4(cluster: number, i: number, pod: number): string {
  const n = i * 4 + pod;
  return `10.${192 + cluster * 16 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}
const clusterIndex = (cluster: string) => CLUSTERS.indexOf(cluster as (typeof CLUSTERS)[number]);
const indexOf = (svc: BenchService) => Number(svc.name.slice(4));

const HTTP = { name: 'http', protocol: 'TCP' as const, port: 80 };

/** What the import side would hold after exporting the generated YAML (for the in-process mode). */
export function benchImportedState(services: BenchService[], weighted = false): ImportedState {
  const imported: ImportedService[] = [];
  const slices: ImportedSlice[] = [];
  for (const svc of services) {
    const i = indexOf(svc);
    imported.push({
      namespace: svc.namespace,
      name: svc.name,
      type: svc.headless ? 'Headless' : 'ClusterSetIP',
      ips: [],
      ports: [HTTP],
      sessionAffinity: 'None',
      ipFamilies: svc.headless ? ['IPv4'] : ['IPv4', 'IPv6'],
      clusters: svc.clusters,
    });
    for (const cluster of svc.clusters) {
      const c = clusterIndex(cluster);
      const endpoints: Endpoint[] = svc.headless
        ? [0, 1, 2].map((pod) => ({ addresses: [podIPv4(c, i, pod)], hostname: `pod-${pod}`, ready: true }))
        : [
            { addresses: [serviceIPv4(c, i)], ready: true },
            { addresses: [serviceIPv6(c, i)], ready: true },
          ];
      const slice: ImportedSlice = { namespace: svc.namespace, name: svc.name, sourceCluster: cluster, sliceName: `${svc.name}-${cluster}`, endpoints, ports: [HTTP] };
      if (weighted && cluster === WEIGHTED_CLUSTER) slice.weight = WEIGHTED_VALUE;
      slices.push(slice);
    }
  }
  return { synced: true, services: imported, slices };
}

/** One sub-directory per cluster, one multi-document file per namespace. */
export function writeYamlDir(dir: string, services: BenchService[], weighted = false): void {
  for (const cluster of CLUSTERS) {
    const c = clusterIndex(cluster);
    const byNamespace = new Map<string, string[]>();
    for (const svc of services) {
      if (!svc.clusters.includes(cluster)) continue;
      const i = indexOf(svc);
      const docs = byNamespace.get(svc.namespace) ?? [`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${svc.namespace}\n`];
      const meta = `metadata:\n  name: ${svc.name}\n  namespace: ${svc.namespace}\n`;
      if (svc.headless) {
        docs.push(`apiVersion: v1\nkind: Service\n${meta}spec:\n  clusterIP: None\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n`);
        const eps = [0, 1, 2].map((pod) => `  - addresses: ["${podIPv4(c, i, pod)}"]\n    hostname: pod-${pod}\n    conditions:\n      ready: true\n`).join('');
        docs.push(
          `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${svc.name}-a\n  namespace: ${svc.namespace}\n  labels:\n    kubernetes.io/service-name: ${svc.name}\naddressType: IPv4\nendpoints:\n${eps}ports:\n- name: http\n  protocol: TCP\n  port: 80\n`,
        );
      } else {
        docs.push(
          `apiVersion: v1\nkind: Service\n${meta}spec:\n  type: ClusterIP\n  clusterIP: ${serviceIPv4(c, i)}\n  clusterIPs: ["${serviceIPv4(c, i)}", "${serviceIPv6(c, i)}"]\n  ipFamilies: [IPv4, IPv6]\n  ipFamilyPolicy: RequireDualStack\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n`,
        );
        docs.push(
          `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${svc.name}-a\n  namespace: ${svc.namespace}\n  labels:\n    kubernetes.io/service-name: ${svc.name}\naddressType: IPv4\nendpoints:\n  - addresses: ["${podIPv4(c, i, 0)}"]\n    conditions:\n      ready: true\nports:\n- name: http\n  protocol: TCP\n  port: 8080\n`,
        );
      }
      const weight = weighted && cluster === WEIGHTED_CLUSTER ? `  annotations:\n    clusterset-dns.io/weight: "${WEIGHTED_VALUE}"\n` : '';
      docs.push(`apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n${meta}${weight}`);
      byNamespace.set(svc.namespace, docs);
    }
    const clusterDir = path.join(dir, cluster);
    mkdirSync(clusterDir, { recursive: true });
    for (const [namespace, docs] of byNamespace) writeFileSync(path.join(clusterDir, `${namespace}.yaml`), docs.join('---\n'));
  }
}

/** The mix: 80% existing A/AAAA, 10% SRV, 10% NXDOMAIN, shuffled with a fixed seed. */
export function writeQueryFile(file: string, services: BenchService[], lines = 100_000): void {
  const rand = rng(42);
  const pick = () => services[Math.floor(rand() * services.length)]!;
  const out: string[] = [];
  for (let n = 0; n < lines; n++) {
    const r = rand();
    if (r < 0.4) {
      const s = pick();
      out.push(`${s.name}.${s.namespace}.svc.${ZONE} A`);
    } else if (r < 0.8) {
      let s = pick();
      while (s.headless) s = pick(); // headless pods are IPv4 only: AAAA there would be NODATA
      out.push(`${s.name}.${s.namespace}.svc.${ZONE} AAAA`);
    } else if (r < 0.9) {
      const s = pick();
      out.push(`_http._tcp.${s.name}.${s.namespace}.svc.${ZONE} SRV`);
    } else {
      const s = pick();
      out.push(`missing-${Math.floor(rand() * 1e6)}.${s.namespace}.svc.${ZONE} A`);
    }
  }
  writeFileSync(file, `${out.join('\n')}\n`);
}

/** A zone file holding exactly the records our server answers for every name in the query mix. */
export function writeZoneFile(file: string, snapshot: Snapshot, services: BenchService[], opts: DnsOptions): void {
  const records = new Map<string, string>();
  const add = (rr: ResourceRecord) => {
    const line = zoneLine(rr);
    records.set(line, line);
  };
  const ask = (name: string, qtype: number) => {
    const result = answer(snapshot, { labels: name.split('.'), qtype, qclass: 1 }, opts);
    for (const rr of [...result.answer, ...result.additional]) add(rr);
  };
  const apex = answer(snapshot, { labels: ZONE.split('.'), qtype: 6, qclass: 1 }, opts);
  const soa = apex.answer.find((rr) => rr.type === 'SOA');
  if (!soa) throw new Error('our server has no SOA at the apex');
  ask(ZONE, 2);
  for (const svc of services) {
    const name = `${svc.name}.${svc.namespace}.svc.${ZONE}`;
    ask(name, 1);
    ask(name, 28);
    ask(`_http._tcp.${name}`, 33);
  }
  records.delete(zoneLine(soa));
  writeFileSync(file, `$ORIGIN ${ZONE}.\n${zoneLine(soa)}\n${[...records.values()].join('\n')}\n`);
}

function zoneLine(rr: ResourceRecord): string {
  const owner = `${rr.name}.`;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return `${owner} ${rr.ttl} IN ${rr.type} ${rr.address}`;
    case 'SRV':
      return `${owner} ${rr.ttl} IN SRV ${rr.priority} ${rr.weight} ${rr.port} ${rr.target}.`;
    case 'TXT':
      return `${owner} ${rr.ttl} IN TXT "${rr.text.replace(/"/g, '\\"')}"`;
    case 'NS':
      return `${owner} ${rr.ttl} IN NS ${rr.ns}.`;
    case 'SOA':
      return `${owner} ${rr.ttl} IN SOA ${rr.mname}. ${rr.rname}. ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
  }
}
