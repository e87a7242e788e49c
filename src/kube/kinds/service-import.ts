/**
 * A member cluster's MCS ServiceImport: what the importer writes (spec, and status.clusters
 * through the status subresource: two requests, the fewest the API allows at creation) and what
 * the DNS server reads (ours or any MCS implementation's). spec.ips is not ours: a clusterset VIP
 * is assigned by whoever manages VIPs and is only read back (LocalClusterStore.getClusterSetVip).
 */
import { validatePorts } from '../../model/broker-validation.ts';
import { parseIp } from '../../model/ip.ts';
import { isDns1035Label, isValidClusterId } from '../../model/names.ts';
import type { ClusterId, IPFamily, ImportType, ImportedService } from '../../model/types.ts';
import { ANNOTATION_POLICY, LABEL_MANAGED_BY, LABEL_MCS_SERVICE_NAME, MANAGED_BY_VALUE } from '../labels.ts';
import { type PolicyName, parsePolicy } from '../../model/traffic-policy.ts';
import { KIND_SERVICE_IMPORT } from '../objects.ts';
import { asObj, mcsApiVersion, meta, str, type KubeObject, type Parsed } from './object-meta.ts';
import { kubePorts, readPorts } from './slice-body.ts';

/** The ServiceImport (spec) and its status, applied separately since status is a subresource. */
export function buildImportedServiceImport(service: ImportedService, mcsVersion: string): { object: KubeObject; status: KubeObject } {
  const metadata: KubeObject['metadata'] = {
    name: service.name,
    namespace: service.namespace,
    labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_MCS_SERVICE_NAME]: service.name },
  };
  if (service.policy !== undefined) metadata.annotations = { [ANNOTATION_POLICY]: service.policy };
  return {
    object: {
      apiVersion: mcsApiVersion(mcsVersion),
      kind: KIND_SERVICE_IMPORT,
      metadata,
      spec: { type: service.type, ports: kubePorts(service.ports), sessionAffinity: service.sessionAffinity, ipFamilies: [...service.ipFamilies] },
    },
    status: {
      apiVersion: mcsApiVersion(mcsVersion),
      kind: KIND_SERVICE_IMPORT,
      metadata: { name: service.name, namespace: service.namespace },
      status: { clusters: service.clusters.map((cluster) => ({ cluster })) },
    },
  };
}

function parseType(value: unknown, out: string[]): ImportType {
  if (value === 'ClusterSetIP' || value === 'Headless') return value;
  out.push(`spec.type ${JSON.stringify(value)} is not ClusterSetIP or Headless`);
  return 'ClusterSetIP';
}

function parseIps(value: unknown, out: string[]): string[] {
  if (value === undefined || value === null) return [];
  const parsed = Array.isArray(value) && value.length <= 2 ? value.map((v) => (typeof v === 'string' ? parseIp(v) : undefined)) : undefined;
  if (parsed === undefined || !parsed.every((r) => r?.ok === true)) {
    out.push('spec.ips must be at most 2 IP addresses');
    return [];
  }
  return parsed.map((r) => (r as Extract<typeof r, { ok: true }>).ip.canonical);
}

function parseFamilies(value: unknown, out: string[]): IPFamily[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 2 || !value.every((f) => f === 'IPv4' || f === 'IPv6')) {
    out.push('spec.ipFamilies must list IPv4/IPv6');
    return [];
  }
  return [...(value as IPFamily[])];
}

function parseAffinity(value: unknown, out: string[]): 'None' | 'ClientIP' {
  if (value === undefined || value === null || value === 'None') return 'None';
  if (value === 'ClientIP') return 'ClientIP';
  out.push(`spec.sessionAffinity ${JSON.stringify(value)} is unknown`);
  return 'None';
}

/** A ServiceImport (ours or any MCS implementation's) → ImportedService. */
export function parseImportedServiceImport(obj: unknown): Parsed<ImportedService> {
  const out: string[] = [];
  const m = meta(obj);
  if (!isDns1035Label(m.name)) out.push(`name ${JSON.stringify(m.name)} is not a Service name`);
  const spec = asObj(asObj(obj)?.['spec']) ?? {};
  const type = parseType(spec['type'], out);
  const ports = readPorts(spec['ports'], 'spec.ports', out);
  out.push(...validatePorts(ports).map((p) => `spec.${p}`));
  const ips = parseIps(spec['ips'], out);
  const ipFamilies = parseFamilies(spec['ipFamilies'], out);
  const sessionAffinity = parseAffinity(spec['sessionAffinity'], out);
  const rawClusters = (asObj(asObj(obj)?.['status']) ?? {})['clusters'];
  const clusters: ClusterId[] = [];
  if (Array.isArray(rawClusters)) {
    for (const c of rawClusters) {
      const id = str(asObj(c)?.['cluster']);
      if (id !== undefined && isValidClusterId(id)) clusters.push(id);
      else out.push(`status.clusters has an invalid cluster ${JSON.stringify(id)}`);
    }
  }
  const policy = readPolicy(m.annotations[ANNOTATION_POLICY], out);
  if (out.length > 0) return { ok: false, problems: out };
  const value: ImportedService = { namespace: m.namespace, name: m.name, type, ips, ports, sessionAffinity, ipFamilies, clusters };
  if (policy !== undefined) value.policy = policy;
  return { ok: true, value };
}

/** The service's policy annotation; an unknown one refuses the object (never served under a guess). */
function readPolicy(value: unknown, out: string[]): PolicyName | undefined {
  if (value === undefined) return undefined;
  const parsed = parsePolicy(typeof value === 'string' ? value : String(value));
  if (parsed.ok) return parsed.value;
  out.push(`annotation ${ANNOTATION_POLICY}: ${parsed.message}`);
  return undefined;
}
