/**
 * Pure: Kubernetes objects read from an API server → model values, with validation. Objects on the
 * broker are written by other clusters, so nothing is trusted: each parser returns the problems it
 * found instead of a value, and the store counts and logs the rejection.
 */
import type { ExportCondition } from '../agent/stores.ts';
import { ConditionType, type ConditionTypeValue } from '../model/conflicts.ts';
import { parseIp } from '../model/ip.ts';
import { isDns1035Label, isDnsLabel, isValidClusterId } from '../model/names.ts';
import type {
  ClusterId,
  ClusterLease,
  Endpoint,
  ExportRecord,
  IPFamily,
  ImportType,
  ImportedService,
  Protocol,
  ServicePort,
  ServiceRef,
} from '../model/types.ts';
import {
  ANNOTATION_EXCLUDED_REASON,
  ANNOTATION_REJECTED_ADDRESSES,
  ANNOTATION_EXPORT_CREATED_AT,
  ANNOTATION_SERVICE_IPS,
  ANNOTATION_SOURCE_CLUSTER,
  LABEL_MANAGED_BY,
  LABEL_MCS_SERVICE_NAME,
  LABEL_MCS_SOURCE_CLUSTER,
  LABEL_SOURCE_NAMESPACE,
  MANAGED_BY_VALUE,
} from './labels.ts';
import { MAX_CHUNKS, MAX_ENDPOINTS_PER_SLICE, brokerRecordName, brokerSliceName, clusterLabelValue, importedSliceObjectName, leaseName } from './names.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

interface Meta {
  name: string;
  namespace: string;
  labels: Obj;
  annotations: Obj;
  generation: number;
}

function meta(obj: unknown): Meta {
  const m = asObj(asObj(obj)?.['metadata']) ?? {};
  const generation = m['generation'];
  return {
    name: str(m['name']) ?? '',
    namespace: str(m['namespace']) ?? '',
    labels: asObj(m['labels']) ?? {},
    annotations: asObj(m['annotations']) ?? {},
    generation: typeof generation === 'number' && Number.isInteger(generation) ? generation : 0,
  };
}

/** Whether an object carries our managed-by label (only such objects are ever updated or deleted). */
export function isManagedByUs(obj: unknown): boolean {
  return meta(obj).labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE;
}

/** The source cluster of an object: the full-ID annotation if present, else the label; checked against each other. */
function sourceCluster(m: Meta, out: string[]): ClusterId | undefined {
  const label = str(m.labels[LABEL_MCS_SOURCE_CLUSTER]);
  const annotated = str(m.annotations[ANNOTATION_SOURCE_CLUSTER]);
  const cluster = annotated ?? label;
  if (cluster === undefined) {
    out.push(`label ${LABEL_MCS_SOURCE_CLUSTER} is missing`);
    return undefined;
  }
  if (!isValidClusterId(cluster)) {
    out.push(`source cluster ${JSON.stringify(cluster)} is not one or two DNS labels`);
    return undefined;
  }
  if (label !== clusterLabelValue(cluster)) out.push(`label ${LABEL_MCS_SOURCE_CLUSTER} ${JSON.stringify(label)} does not match cluster ${cluster}`);
  return cluster;
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

function parsePorts(value: unknown, path: string, out: string[]): ServicePort[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    out.push(`${path} is not a list`);
    return [];
  }
  if (value.length > 100) {
    out.push(`${path} has ${value.length} entries (at most 100)`);
    return [];
  }
  const ports: ServicePort[] = [];
  value.forEach((raw, i) => {
    const p = asObj(raw);
    const port = p?.['port'];
    if (p === undefined || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      // A nil EndpointSlice port means "all ports": it cannot feed SRV, so it is skipped.
      if (p !== undefined && (port === undefined || port === null)) return;
      out.push(`${path}[${i}].port is not 1-65535`);
      return;
    }
    const name = str(p['name']) ?? '';
    if (name !== '' && !isDnsLabel(name)) out.push(`${path}[${i}].name ${JSON.stringify(name)} is not a DNS label`);
    const protocol = (str(p['protocol']) ?? 'TCP') as Protocol;
    if (!PROTOCOLS.includes(protocol)) out.push(`${path}[${i}].protocol ${JSON.stringify(protocol)} is unknown`);
    const appProtocol = str(p['appProtocol']);
    ports.push(appProtocol === undefined ? { name, protocol, port } : { name, protocol, port, appProtocol });
  });
  return ports;
}

function isIP(v: unknown): v is string {
  return typeof v === 'string' && parseIp(v).ok;
}

/** Addresses are canonicalised on arrival (model/ip.ts), so every later comparison agrees. */
function canonical(addresses: readonly string[]): string[] {
  return addresses.map((a) => {
    const r = parseIp(a);
    return r.ok ? r.ip.canonical : a;
  });
}

/** The canonical address if `v` is an address of `family`. */
function addressOf(v: unknown, family: IPFamily): string | undefined {
  if (typeof v !== 'string') return undefined;
  const r = parseIp(v);
  return r.ok && r.ip.family === family ? r.ip.canonical : undefined;
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

function parseType(value: unknown, out: string[]): ImportType {
  if (value === 'ClusterSetIP' || value === 'Headless') return value;
  out.push(`spec.type ${JSON.stringify(value)} is not ClusterSetIP or Headless`);
  return 'ClusterSetIP';
}

function parseIps(value: unknown, path: string, out: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 2 || !value.every(isIP)) {
    out.push(`${path} must be at most 2 IP addresses`);
    return [];
  }
  return canonical(value as string[]);
}

/** The (service, namespace) a broker object is about, from its labels. */
function brokerRef(m: Meta, out: string[]): ServiceRef | undefined {
  const name = str(m.labels[LABEL_MCS_SERVICE_NAME]);
  const namespace = str(m.labels[LABEL_SOURCE_NAMESPACE]);
  if (name === undefined || !isDns1035Label(name)) out.push(`label ${LABEL_MCS_SERVICE_NAME} ${JSON.stringify(name)} is not a Service name`);
  if (namespace === undefined || !isDnsLabel(namespace)) out.push(`label ${LABEL_SOURCE_NAMESPACE} ${JSON.stringify(namespace)} is not a namespace name`);
  return name !== undefined && namespace !== undefined ? { name, namespace } : undefined;
}

function checkManaged(m: Meta, out: string[]): void {
  if (m.labels[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) out.push(`label ${LABEL_MANAGED_BY} is not ${MANAGED_BY_VALUE}`);
}

/** Broker: a cluster's record (ServiceImport kind) → ExportRecord. */
export function parseBrokerRecord(obj: unknown): Parsed<ExportRecord> {
  const out: string[] = [];
  const m = meta(obj);
  checkManaged(m, out);
  const ref = brokerRef(m, out);
  const cluster = sourceCluster(m, out);
  if (ref !== undefined && cluster !== undefined && out.length === 0 && m.name !== brokerRecordName(ref, cluster)) {
    out.push(`name ${JSON.stringify(m.name)} is not ${JSON.stringify(brokerRecordName(ref, cluster))}`);
  }
  const spec = asObj(asObj(obj)?.['spec']) ?? {};
  const type = parseType(spec['type'], out);
  const ports = parsePorts(spec['ports'], 'spec.ports', out);
  const serviceIPs = type === 'Headless' ? [] : parseIps(spec['ips'], 'spec.ips', out);
  const ipFamilies = parseFamilies(spec['ipFamilies'], out);
  const sessionAffinity = parseAffinity(spec['sessionAffinity'], out);
  const created = str(m.annotations[ANNOTATION_EXPORT_CREATED_AT]);
  const exportCreatedAt = created === undefined ? Number.NaN : Date.parse(created);
  if (!Number.isFinite(exportCreatedAt)) out.push(`annotation ${ANNOTATION_EXPORT_CREATED_AT} is not a time`);
  if (out.length > 0 || ref === undefined || cluster === undefined) return { ok: false, problems: out };
  return { ok: true, value: { ...ref, cluster, type, ports, serviceIPs, ipFamilies, sessionAffinity, exportCreatedAt } };
}

/** One EndpointSlice of a (service, cluster) set, before the set is assembled. */
export interface ParsedSlice {
  ref: ServiceRef;
  cluster: ClusterId;
  family: IPFamily;
  chunk: number;
  endpoints: Endpoint[];
  ports: ServicePort[];
  joinedAddresses?: string[];
  excludedReason?: string;
  rejectedAddresses?: string;
}

function parseEndpoints(value: unknown, family: IPFamily, out: string[]): Endpoint[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    out.push('endpoints is not a list');
    return [];
  }
  if (value.length > MAX_ENDPOINTS_PER_SLICE) {
    out.push(`${value.length} endpoints (at most ${MAX_ENDPOINTS_PER_SLICE})`);
    return [];
  }
  const endpoints: Endpoint[] = [];
  value.forEach((raw, i) => {
    const e = asObj(raw);
    const addresses = e?.['addresses'];
    if (e === undefined || !Array.isArray(addresses) || addresses.length === 0 || addresses.length > 100) {
      out.push(`endpoints[${i}] must have 1-100 addresses`);
      return;
    }
    const parsed = addresses.map((a) => addressOf(a, family));
    if (!parsed.every((a): a is string => a !== undefined)) {
      out.push(`endpoints[${i}] has an address that is not ${family}`);
      return;
    }
    const hostname = str(e['hostname']);
    if (hostname !== undefined && !isDnsLabel(hostname)) out.push(`endpoints[${i}].hostname is not a DNS label`);
    const ready = asObj(e['conditions'])?.['ready'];
    // Kubernetes: a nil ready condition means ready.
    const isReady = typeof ready === 'boolean' ? ready : true;
    endpoints.push(hostname === undefined ? { addresses: parsed, ready: isReady } : { addresses: parsed, hostname, ready: isReady });
  });
  return endpoints;
}

function parseSliceBody(obj: unknown, m: Meta, out: string[]): { family: IPFamily; endpoints: Endpoint[]; ports: ServicePort[]; joined?: string[] } | undefined {
  const o = asObj(obj) ?? {};
  const family = o['addressType'];
  if (family !== 'IPv4' && family !== 'IPv6') {
    out.push(`addressType ${JSON.stringify(family)} is not IPv4 or IPv6`);
    return undefined;
  }
  const endpoints = parseEndpoints(o['endpoints'], family, out);
  const ports = parsePorts(o['ports'], 'ports', out);
  const joinedRaw = str(m.annotations[ANNOTATION_SERVICE_IPS]);
  let joined: string[] | undefined;
  if (joinedRaw !== undefined) {
    joined = joinedRaw.split(',');
    if (joined.length > 2 || !joined.every(isIP)) {
      out.push(`annotation ${ANNOTATION_SERVICE_IPS} must list at most 2 IP addresses`);
      joined = undefined;
    } else joined = canonical(joined);
  }
  return joined === undefined ? { family, endpoints, ports } : { family, endpoints, ports, joined };
}

/** Finds which chunk a slice name stands for, given the name function of its set. */
function chunkOf(name: string, family: IPFamily, nameFor: (family: IPFamily, chunk: number) => string): number | undefined {
  for (let chunk = 0; chunk < MAX_CHUNKS; chunk++) if (nameFor(family, chunk) === name) return chunk;
  return undefined;
}

/** Broker: one EndpointSlice of a cluster's exported service. */
export function parseBrokerSlice(obj: unknown): Parsed<ParsedSlice> {
  const out: string[] = [];
  const m = meta(obj);
  checkManaged(m, out);
  const ref = brokerRef(m, out);
  const cluster = sourceCluster(m, out);
  const body = parseSliceBody(obj, m, out);
  if (out.length > 0 || ref === undefined || cluster === undefined || body === undefined) return { ok: false, problems: out };
  const chunk = chunkOf(m.name, body.family, (f, c) => brokerSliceName(ref, cluster, f, c));
  if (chunk === undefined) return { ok: false, problems: [`name ${JSON.stringify(m.name)} does not match ${brokerSliceName(ref, cluster, body.family, 0)}`] };
  const value: ParsedSlice = { ref, cluster, family: body.family, chunk, endpoints: body.endpoints, ports: body.ports };
  if (body.joined !== undefined) value.joinedAddresses = body.joined;
  return { ok: true, value };
}

/**
 * Member cluster: one imported MCS EndpointSlice. `strictNames` (the agent reading its own
 * objects) also requires our naming; the DNS server accepts any MCS implementation's slices.
 */
export function parseImportedSlice(obj: unknown, strictNames: boolean): Parsed<ParsedSlice> {
  const out: string[] = [];
  const m = meta(obj);
  const name = str(m.labels[LABEL_MCS_SERVICE_NAME]);
  if (name === undefined || !isDns1035Label(name)) out.push(`label ${LABEL_MCS_SERVICE_NAME} ${JSON.stringify(name)} is not a Service name`);
  const cluster = sourceCluster(m, out);
  const body = parseSliceBody(obj, m, out);
  if (out.length > 0 || name === undefined || cluster === undefined || body === undefined) return { ok: false, problems: out };
  const ref = { namespace: m.namespace, name };
  let chunk = 0;
  if (strictNames) {
    const c = chunkOf(m.name, body.family, (f, k) => importedSliceObjectName(ref, cluster, f, k));
    if (c === undefined) return { ok: false, problems: [`name ${JSON.stringify(m.name)} is not one of ours`] };
    chunk = c;
  }
  const value: ParsedSlice = { ref, cluster, family: body.family, chunk, endpoints: body.endpoints, ports: body.ports };
  if (body.joined !== undefined) value.joinedAddresses = body.joined;
  const reason = str(m.annotations[ANNOTATION_EXCLUDED_REASON]);
  if (reason !== undefined) value.excludedReason = reason;
  const refused = str(m.annotations[ANNOTATION_REJECTED_ADDRESSES]);
  if (refused !== undefined) value.rejectedAddresses = refused;
  return { ok: true, value };
}

/**
 * Reassembles the parts of one (service, cluster) slice set, in family then chunk order: the
 * inverse of splitEndpoints for everything we write (a dual-stack service IP comes back as the one
 * endpoint it was).
 */
export function assembleSlices(parts: readonly ParsedSlice[]): { endpoints: Endpoint[]; ports: ServicePort[]; excludedReason?: string; rejectedAddresses?: string } {
  const sorted = [...parts].sort((a, b) => (a.family !== b.family ? (a.family === 'IPv4' ? -1 : 1) : a.chunk - b.chunk));
  const first = sorted[0];
  if (first === undefined) return { endpoints: [], ports: [] };
  let endpoints: Endpoint[];
  const joined = first.joinedAddresses;
  if (joined !== undefined && sorted.every((p) => p.endpoints.length === 1 && p.joinedAddresses?.join(',') === joined.join(','))) {
    endpoints = [{ addresses: [...joined], ready: sorted.every((p) => p.endpoints[0]!.ready) }];
  } else {
    endpoints = sorted.flatMap((p) => p.endpoints);
  }
  const result: { endpoints: Endpoint[]; ports: ServicePort[]; excludedReason?: string; rejectedAddresses?: string } = { endpoints, ports: first.ports };
  const reason = sorted.find((p) => p.excludedReason !== undefined)?.excludedReason;
  if (reason !== undefined) result.excludedReason = reason;
  const refused = sorted.find((p) => p.rejectedAddresses !== undefined)?.rejectedAddresses;
  if (refused !== undefined) result.rejectedAddresses = refused;
  return result;
}

/** Broker: a cluster's heartbeat Lease. */
export function parseLease(obj: unknown): Parsed<ClusterLease> {
  const out: string[] = [];
  const m = meta(obj);
  checkManaged(m, out);
  const cluster = sourceCluster(m, out);
  const spec = asObj(asObj(obj)?.['spec']) ?? {};
  if (cluster !== undefined && m.name !== leaseName(cluster)) out.push(`name ${JSON.stringify(m.name)} is not ${JSON.stringify(leaseName(cluster))}`);
  if (cluster !== undefined && spec['holderIdentity'] !== cluster) out.push(`spec.holderIdentity ${JSON.stringify(spec['holderIdentity'])} is not ${cluster}`);
  const seconds = spec['leaseDurationSeconds'];
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1) out.push('spec.leaseDurationSeconds is not a positive whole number');
  const renew = str(spec['renewTime']);
  const renewedAt = renew === undefined ? Number.NaN : Date.parse(renew);
  if (!Number.isFinite(renewedAt)) out.push('spec.renewTime is not a time');
  if (out.length > 0 || cluster === undefined) return { ok: false, problems: out };
  return { ok: true, value: { cluster, renewedAt, durationMs: (seconds as number) * 1000 } };
}

/** Member cluster: a ServiceImport (ours or any MCS implementation's) → ImportedService. */
export function parseImportedServiceImport(obj: unknown): Parsed<ImportedService> {
  const out: string[] = [];
  const m = meta(obj);
  if (!isDns1035Label(m.name)) out.push(`name ${JSON.stringify(m.name)} is not a Service name`);
  const spec = asObj(asObj(obj)?.['spec']) ?? {};
  const type = parseType(spec['type'], out);
  const ports = parsePorts(spec['ports'], 'spec.ports', out);
  const ips = parseIps(spec['ips'], 'spec.ips', out);
  const ipFamilies = parseFamilies(spec['ipFamilies'], out);
  const sessionAffinity = parseAffinity(spec['sessionAffinity'], out);
  const status = asObj(asObj(obj)?.['status']) ?? {};
  const rawClusters = status['clusters'];
  const clusters: ClusterId[] = [];
  if (Array.isArray(rawClusters)) {
    for (const c of rawClusters) {
      const id = str(asObj(c)?.['cluster']);
      if (id !== undefined && isValidClusterId(id)) clusters.push(id);
      else out.push(`status.clusters has an invalid cluster ${JSON.stringify(id)}`);
    }
  }
  if (out.length > 0) return { ok: false, problems: out };
  return { ok: true, value: { namespace: m.namespace, name: m.name, type, ips, ports, sessionAffinity, ipFamilies, clusters } };
}

const CONDITION_TYPES = new Set<string>(Object.values(ConditionType));

/** The Valid/Ready/Conflict conditions of a ServiceExport, with the generation they were written for. */
export function readExportConditions(obj: unknown): { conditions: ExportCondition[]; observedGeneration: number | undefined; generation: number } | undefined {
  const m = meta(obj);
  const raw = asObj(asObj(obj)?.['status'])?.['conditions'];
  if (!Array.isArray(raw)) return undefined;
  const conditions: ExportCondition[] = [];
  let observed: number | undefined;
  for (const c of raw) {
    const o = asObj(c);
    const type = str(o?.['type']);
    if (o === undefined || type === undefined || !CONDITION_TYPES.has(type)) continue;
    const status = o['status'];
    const time = Date.parse(str(o['lastTransitionTime']) ?? '');
    conditions.push({
      type: type as ConditionTypeValue,
      status: status === 'True' || status === 'False' ? status : 'Unknown',
      reason: str(o['reason']) ?? '',
      message: str(o['message']) ?? '',
      lastTransitionTime: Number.isFinite(time) ? time : 0,
    });
    const og = o['observedGeneration'];
    if (typeof og === 'number') observed = observed === undefined ? og : Math.min(observed, og);
  }
  if (conditions.length === 0) return undefined;
  return { conditions, observedGeneration: observed, generation: m.generation };
}
