/**
 * The body of an EndpointSlice as both of our slice kinds (broker slices and imported MCS slices)
 * carry it: endpoints split by address family and into chunks of 1,000, ports, and the joined
 * address list of a dual-stack service IP; read back into the model. Reading converts shapes
 * only (types, families, bounds of one object); what the values may be is the one validator's
 * job (model/broker-validation.ts).
 */
import { parseIp } from '../../model/ip.ts';
import type { ClusterId, Endpoint, IPFamily, Protocol, ServicePort, ServiceRef } from '../../model/types.ts';
import { DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE } from '../objects.ts';
import { asObj, str, type KubeObject, type Meta } from './object-meta.ts';

/** Chunks of one (family) slice set: the API server allows at most 1,000 endpoints per EndpointSlice. */
export const MAX_ENDPOINTS_PER_SLICE = 1000;
/** Enough chunks for the validator's 10,000-endpoint bound. */
export const MAX_CHUNKS = 10;
const MAX_PORTS_READ = 100;

/**
 * Annotation on the per-family EndpointSlices of one dual-stack service-IP endpoint (a ClusterSetIP
 * cluster's single endpoint holds its IPv4 and IPv6 service IPs, but an EndpointSlice holds one
 * family): the endpoint's full address list in order, so readers rebuild the one endpoint exactly.
 */
export const ANNOTATION_SERVICE_IPS = 'clusterset-dns.io/service-ips';

export function familySuffix(family: IPFamily, chunk: number): string {
  const f = family === 'IPv4' ? 'ipv4' : 'ipv6';
  return chunk === 0 ? f : `${f}-${chunk}`;
}

function familyOf(address: string): IPFamily {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}

/** One EndpointSlice's worth of endpoints: a single family, at most 1,000 endpoints. */
export interface SlicePart {
  family: IPFamily;
  chunk: number;
  endpoints: Endpoint[];
  /** Set when the parts hold ONE endpoint whose addresses span both families (a dual-stack service IP). */
  joinedAddresses?: string[];
}

/** What every parsed slice says, broker or MCS: whose it is, its part of the set, and its body. */
export interface ParsedSliceBody extends SlicePart {
  ref: ServiceRef;
  cluster: ClusterId;
  ports: ServicePort[];
}

/**
 * Splits endpoints by address family (an EndpointSlice has one addressType) and into chunks of
 * 1,000. A service without endpoints still gets one (empty) IPv4 slice, so that "exported, no
 * endpoints" differs from "not exported".
 */
export function splitEndpoints(endpoints: readonly Endpoint[]): SlicePart[] {
  const byFamily = new Map<IPFamily, Endpoint[]>([
    ['IPv4', []],
    ['IPv6', []],
  ]);
  for (const e of endpoints) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const addresses = e.addresses.filter((a) => familyOf(a) === family);
      if (addresses.length === 0) continue;
      byFamily.get(family)!.push(e.hostname === undefined ? { addresses, ready: e.ready } : { addresses, hostname: e.hostname, ready: e.ready });
    }
  }
  const only = endpoints.length === 1 ? endpoints[0] : undefined;
  const joined = only !== undefined && only.hostname === undefined && new Set(only.addresses.map(familyOf)).size > 1 ? [...only.addresses] : undefined;
  const parts: SlicePart[] = [];
  for (const [family, list] of byFamily) {
    for (let chunk = 0; chunk * MAX_ENDPOINTS_PER_SLICE < list.length; chunk++) {
      const part: SlicePart = { family, chunk, endpoints: list.slice(chunk * MAX_ENDPOINTS_PER_SLICE, (chunk + 1) * MAX_ENDPOINTS_PER_SLICE) };
      if (joined !== undefined) part.joinedAddresses = joined;
      parts.push(part);
    }
  }
  if (parts.length === 0) parts.push({ family: 'IPv4', chunk: 0, endpoints: [] });
  return parts;
}

export function kubePorts(ports: readonly ServicePort[]): Record<string, unknown>[] {
  return ports.map((p) => (p.appProtocol === undefined ? { name: p.name, protocol: p.protocol, port: p.port } : { name: p.name, protocol: p.protocol, port: p.port, appProtocol: p.appProtocol }));
}

function kubeEndpoints(endpoints: readonly Endpoint[]): Record<string, unknown>[] {
  return endpoints.map((e) =>
    e.hostname === undefined
      ? { addresses: [...e.addresses], conditions: { ready: e.ready } }
      : { addresses: [...e.addresses], hostname: e.hostname, conditions: { ready: e.ready } },
  );
}

/** One EndpointSlice object of a set. */
export function sliceObject(name: string, namespace: string, part: SlicePart, ports: readonly ServicePort[], labels: Record<string, string>, annotations: Record<string, string>): KubeObject {
  const ann = { ...annotations };
  if (part.joinedAddresses !== undefined) ann[ANNOTATION_SERVICE_IPS] = part.joinedAddresses.join(',');
  const metadata: KubeObject['metadata'] = { name, namespace, labels };
  if (Object.keys(ann).length > 0) metadata.annotations = ann;
  return {
    apiVersion: DISCOVERY_API_VERSION,
    kind: KIND_ENDPOINT_SLICE,
    metadata,
    addressType: part.family,
    endpoints: kubeEndpoints(part.endpoints),
    ports: kubePorts(ports),
  };
}

// ---- reading --------------------------------------------------------------------------------

/** Ports as written; a nil EndpointSlice port means "all ports" and cannot feed SRV, so it is skipped. */
export function readPorts(value: unknown, path: string, out: string[]): ServicePort[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    out.push(`${path} is not a list`);
    return [];
  }
  if (value.length > MAX_PORTS_READ) {
    out.push(`${path} has ${value.length} entries (at most ${MAX_PORTS_READ})`);
    return [];
  }
  const ports: ServicePort[] = [];
  value.forEach((raw, i) => {
    const p = asObj(raw);
    const port = p?.['port'];
    if (p !== undefined && (port === undefined || port === null)) return;
    if (p === undefined || typeof port !== 'number') {
      out.push(`${path}[${i}].port is not 1-65535`);
      return;
    }
    const name = str(p['name']) ?? '';
    const protocol = (str(p['protocol']) ?? 'TCP') as Protocol;
    const appProtocol = str(p['appProtocol']);
    ports.push(appProtocol === undefined ? { name, protocol, port } : { name, protocol, port, appProtocol });
  });
  return ports;
}

/** Addresses are canonicalised on arrival (model/ip.ts), so every later comparison agrees. */
function canonical(address: string): string {
  const r = parseIp(address);
  return r.ok ? r.ip.canonical : address;
}

function readEndpoints(value: unknown, family: IPFamily, out: string[]): Endpoint[] {
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
    if (e === undefined || !Array.isArray(addresses) || !addresses.every((a): a is string => typeof a === 'string')) {
      out.push(`endpoints[${i}] must have a list of addresses`);
      return;
    }
    // Every address must be one of the slice's family (addressType); zone IDs and the like are not addresses.
    if (addresses.some((a) => { const r = parseIp(a); return !r.ok || r.ip.family !== family; })) {
      out.push(`endpoints[${i}] has an address that is not ${family}`);
      return;
    }
    const hostname = str(e['hostname']);
    const ready = asObj(e['conditions'])?.['ready'];
    // Kubernetes: a nil ready condition means ready.
    const isReady = typeof ready === 'boolean' ? ready : true;
    const list = addresses.map(canonical);
    endpoints.push(hostname === undefined ? { addresses: list, ready: isReady } : { addresses: list, hostname, ready: isReady });
  });
  return endpoints;
}

export interface SliceBody {
  family: IPFamily;
  endpoints: Endpoint[];
  ports: ServicePort[];
  joined?: string[];
}

export function readSliceBody(obj: unknown, m: Meta, out: string[]): SliceBody | undefined {
  const o = asObj(obj) ?? {};
  const family = o['addressType'];
  if (family !== 'IPv4' && family !== 'IPv6') {
    out.push(`addressType ${JSON.stringify(family)} is not IPv4 or IPv6`);
    return undefined;
  }
  const endpoints = readEndpoints(o['endpoints'], family, out);
  const ports = readPorts(o['ports'], 'ports', out);
  const joinedRaw = str(m.annotations[ANNOTATION_SERVICE_IPS]);
  if (joinedRaw === undefined) return { family, endpoints, ports };
  const joined = joinedRaw.split(',');
  if (joined.length > 2 || !joined.every((a) => parseIp(a).ok)) {
    out.push(`annotation ${ANNOTATION_SERVICE_IPS} must list at most 2 IP addresses`);
    return { family, endpoints, ports };
  }
  return { family, endpoints, ports, joined: joined.map(canonical) };
}

/** Which chunk a slice name stands for, given the name function of its set. */
export function chunkOf(name: string, family: IPFamily, nameFor: (family: IPFamily, chunk: number) => string): number | undefined {
  for (let chunk = 0; chunk < MAX_CHUNKS; chunk++) if (nameFor(family, chunk) === name) return chunk;
  return undefined;
}

/** The body-level part of one parsed slice, what assembleParts needs. */
export interface BodyPart {
  family: IPFamily;
  chunk: number;
  endpoints: Endpoint[];
  ports: ServicePort[];
  joinedAddresses?: string[];
}

/**
 * Reassembles the parts of one (service, cluster) slice set, in family then chunk order: the
 * inverse of splitEndpoints for everything we write (a dual-stack service IP comes back as the one
 * endpoint it was). Returns the parts sorted too, so callers read per-set fields from the first.
 */
export function assembleParts<P extends BodyPart>(parts: readonly P[]): { endpoints: Endpoint[]; ports: ServicePort[]; sorted: P[] } {
  const sorted = [...parts].sort((a, b) => (a.family !== b.family ? (a.family === 'IPv4' ? -1 : 1) : a.chunk - b.chunk));
  const first = sorted[0];
  if (first === undefined) return { endpoints: [], ports: [], sorted };
  const joined = first.joinedAddresses;
  if (joined !== undefined && sorted.every((p) => p.endpoints.length === 1 && p.joinedAddresses?.join(',') === joined.join(','))) {
    return { endpoints: [{ addresses: [...joined], ready: sorted.every((p) => p.endpoints[0]!.ready) }], ports: first.ports, sorted };
  }
  return { endpoints: sorted.flatMap((p) => p.endpoints), ports: first.ports, sorted };
}
