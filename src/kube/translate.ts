/**
 * Translation of plain Kubernetes objects (as loaded from YAML or returned by the API) into the
 * small model types, with validation. Never throws on bad input: every problem is returned as a
 * field error with an exact path (`spec.ports[1].port: must be 1-65535, got 70000`).
 */
import { publishedPropertiesFrom, type ClusterPropertyValue } from '../model/cluster-properties.ts';
import { parseIp } from '../model/ip.ts';
import { parseClusterProperty } from './kinds/cluster-property.ts';
import type { ClusterSetVip } from '../model/local-objects.ts';
import { previewValue } from '../model/bounded-text.ts';
import { isDns1035Label, isDnsLabel, isDnsSubdomain } from '../model/names.ts';
import type {
  Endpoint,
  IPFamily,
  LocalEndpointSlice,
  LocalService,
  LocalServiceExport,
  LocalServiceType,
  Protocol,
  ServicePort,
} from '../model/types.ts';
import { ANNOTATION_POLICY, ANNOTATION_WEIGHT, LABEL_SERVICE_NAME } from './labels.ts';
import {
  CORE_API_VERSION,
  DISCOVERY_API_VERSION,
  KIND_CLUSTER_PROPERTY,
  KIND_ENDPOINT_SLICE,
  KIND_NAMESPACE,
  KIND_SERVICE,
  KIND_SERVICE_EXPORT,
  KIND_SERVICE_IMPORT,
  MCS_API_VERSIONS,
  type UnknownObject,
} from './objects.ts';

export interface FieldError {
  /** Field path in the object, e.g. `spec.ports[1].port`. */
  path: string;
  message: string;
}

export function formatFieldError(e: FieldError): string {
  return e.path === '' ? e.message : `${e.path}: ${e.message}`;
}

export type LocalObject =
  | { kind: 'Namespace'; name: string }
  | { kind: 'Service'; service: LocalService }
  | { kind: 'EndpointSlice'; slice: LocalEndpointSlice }
  | { kind: 'ServiceExport'; serviceExport: LocalServiceExport }
  | { kind: 'ServiceImport'; vip: ClusterSetVip }
  | { kind: 'ClusterProperty'; property: ClusterPropertyValue };

export type TranslateResult =
  /** `description` names the object for messages: `Service shop/web`. */
  | { status: 'ok'; description: string; object: LocalObject }
  | { status: 'invalid'; description: string; errors: FieldError[] }
  /** A kind we do not use (Deployment, ConfigMap, ...): skipped, not an error. */
  | { status: 'ignored'; description: string; reason: string };

export interface TranslateOptions {
  /**
   * creationTimestamp for a ServiceExport that has none (the load time). Called with the export's
   * namespace and name so a caller can keep the first load time stable across reloads.
   */
  defaultCreatedAt: (namespace: string, name: string) => number;
}

const MAX_ENDPOINTS_PER_SLICE = 1000;
const MAX_PORTS = 100;

/** Collects errors while reading an untrusted object. */
class Reader {
  readonly errors: FieldError[] = [];

  fail(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  object(value: unknown, path: string, required: boolean): UnknownObject | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'required');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `must be an object, got ${show(value)}`);
      return undefined;
    }
    return value as UnknownObject;
  }

  array(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.fail(path, `must be a list, got ${show(value)}`);
      return [];
    }
    return value;
  }

  string(value: unknown, path: string, required: boolean): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(path, `must be a string, got ${show(value)}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.fail(path, `must be true or false, got ${show(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], fallback: T): T {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(path, `must be one of ${allowed.join(', ')}, got ${show(value)}`);
      return fallback;
    }
    return value as T;
  }

  port(value: unknown, path: string): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      this.fail(path, `must be 1-65535, got ${show(value)}`);
      return undefined;
    }
    return value;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return value.toISOString();
  // Bounded by construction: an alias bomb from a YAML file must not be walked in full.
  return previewValue(value, 60);
}

function familyOf(ip: string): IPFamily | undefined {
  const r = parseIp(ip);
  return r.ok ? r.ip.family : undefined;
}

/** Why text is not an address (zone IDs, leading zeros, ...), for the error message. */
function whyNotIp(ip: string): string {
  const r = parseIp(ip);
  return r.ok ? '' : ` (${r.reason})`;
}

/** The zone-ID reason only: a scoped address looks valid to most tools, so say why it is not. */
function whyZoneId(ip: string): string {
  return ip.includes('%') ? whyNotIp(ip) : '';
}

/** Addresses are canonicalised at ingestion (RFC 5952), so every later comparison agrees. */
function canonicalAddress(ip: string): string {
  const r = parseIp(ip);
  return r.ok ? r.ip.canonical : ip;
}

interface Meta {
  name: string;
  namespace: string;
  labels: UnknownObject;
  annotations: UnknownObject;
  creationTimestamp: unknown;
  generation: unknown;
}

/** Reads metadata; `nameCheck` decides which DNS rule the name follows. */
function readMeta(r: Reader, obj: UnknownObject, namespaced: boolean, nameCheck: 'label' | '1035' | 'subdomain'): Meta {
  const meta = r.object(obj['metadata'], 'metadata', true) ?? {};
  const name = r.string(meta['name'], 'metadata.name', true) ?? '';
  if (name !== '') {
    const ok = nameCheck === '1035' ? isDns1035Label(name) : nameCheck === 'label' ? isDnsLabel(name) : isDnsSubdomain(name);
    if (!ok) {
      const rule =
        nameCheck === '1035'
          ? 'a DNS-1035 label (lowercase letters, digits and "-", starting with a letter, at most 63 characters)'
          : nameCheck === 'label'
            ? 'a DNS label (lowercase letters, digits and "-", at most 63 characters)'
            : 'a DNS subdomain (lowercase DNS labels joined by ".", at most 253 characters)';
      r.fail('metadata.name', `must be ${rule}, got ${show(name)}`);
    }
  }
  let namespace = '';
  if (namespaced) {
    namespace = r.string(meta['namespace'], 'metadata.namespace', false) ?? 'default';
    if (!isDnsLabel(namespace)) r.fail('metadata.namespace', `must be a DNS label, got ${show(namespace)}`);
  }
  const labels = r.object(meta['labels'], 'metadata.labels', false) ?? {};
  const annotations = r.object(meta['annotations'], 'metadata.annotations', false) ?? {};
  return { name, namespace, labels, annotations, creationTimestamp: meta['creationTimestamp'], generation: meta['generation'] };
}

function describe(obj: UnknownObject): string {
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : '(no kind)';
  const meta = obj['metadata'];
  if (meta === null || typeof meta !== 'object') return `${kind} (no metadata)`;
  const m = meta as UnknownObject;
  const name = typeof m['name'] === 'string' ? m['name'] : '(no name)';
  if (kind === KIND_NAMESPACE || kind === KIND_CLUSTER_PROPERTY) return `${kind} ${name}`;
  const ns = typeof m['namespace'] === 'string' ? m['namespace'] : 'default';
  return `${kind} ${ns}/${name}`;
}

function checkApiVersion(r: Reader, obj: UnknownObject, allowed: readonly string[]): void {
  const v = obj['apiVersion'];
  if (typeof v !== 'string' || !allowed.includes(v)) {
    r.fail('apiVersion', `must be ${allowed.join(' or ')}, got ${show(v)}`);
  }
}

/** Translates one object of any supported kind. */
export function translateObject(input: unknown, options: TranslateOptions): TranslateResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { status: 'invalid', description: 'document', errors: [{ path: '', message: `must be a Kubernetes object, got ${show(input)}` }] };
  }
  const obj = input as UnknownObject;
  const description = describe(obj);
  const kind = obj['kind'];
  const r = new Reader();
  let object: LocalObject | undefined;
  switch (kind) {
    case KIND_NAMESPACE:
      object = readNamespace(r, obj);
      break;
    case KIND_SERVICE:
      object = readService(r, obj);
      break;
    case KIND_ENDPOINT_SLICE:
      object = readEndpointSlice(r, obj);
      break;
    case KIND_SERVICE_EXPORT:
      object = readServiceExport(r, obj, options);
      break;
    case KIND_SERVICE_IMPORT:
      object = readServiceImport(r, obj);
      break;
    case KIND_CLUSTER_PROPERTY:
      object = readClusterProperty(r, obj);
      break;
    default:
      if (typeof kind !== 'string') {
        return { status: 'invalid', description, errors: [{ path: 'kind', message: 'required' }] };
      }
      return { status: 'ignored', description, reason: `kind ${kind} is not used by clusterset-dns` };
  }
  if (r.errors.length > 0 || object === undefined) return { status: 'invalid', description, errors: r.errors };
  return { status: 'ok', description, object };
}

function readNamespace(r: Reader, obj: UnknownObject): LocalObject {
  checkApiVersion(r, obj, [CORE_API_VERSION]);
  const meta = readMeta(r, obj, false, 'label');
  return { kind: 'Namespace', name: meta.name };
}

const SERVICE_TYPES: readonly LocalServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

function readServicePorts(r: Reader, value: unknown, path: string, requireNames: boolean): ServicePort[] {
  const raw = r.array(value, path);
  if (raw.length > MAX_PORTS) r.fail(path, `must have at most ${MAX_PORTS} ports, got ${raw.length}`);
  const ports: ServicePort[] = [];
  const names = new Set<string>();
  const numbers = new Set<string>();
  raw.slice(0, MAX_PORTS).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const o = r.object(item, p, true);
    if (o === undefined) return;
    const name = r.string(o['name'], `${p}.name`, false) ?? '';
    if (name === '' && requireNames && raw.length > 1) r.fail(`${p}.name`, 'required when a service has more than one port');
    if (name !== '' && !isDnsLabel(name)) r.fail(`${p}.name`, `must be a DNS label, got ${show(name)}`);
    if (name !== '' && names.has(name)) r.fail(`${p}.name`, `duplicate port name ${show(name)}`);
    names.add(name);
    const port = r.port(o['port'], `${p}.port`);
    const protocol = r.oneOf(o['protocol'], `${p}.protocol`, PROTOCOLS, 'TCP');
    const appProtocol = r.string(o['appProtocol'], `${p}.appProtocol`, false);
    if (port === undefined) return;
    const numberKey = `${protocol}/${port}`;
    if (numbers.has(numberKey)) r.fail(`${p}.port`, `duplicate port ${port}/${protocol}`);
    numbers.add(numberKey);
    ports.push(appProtocol === undefined ? { name, protocol, port } : { name, protocol, port, appProtocol });
  });
  return ports;
}

function readService(r: Reader, obj: UnknownObject): LocalObject | undefined {
  checkApiVersion(r, obj, [CORE_API_VERSION]);
  const meta = readMeta(r, obj, true, '1035');
  const spec = r.object(obj['spec'], 'spec', true);
  if (spec === undefined) return undefined;
  const type = r.oneOf(spec['type'], 'spec.type', SERVICE_TYPES, 'ClusterIP');

  const clusterIP = r.string(spec['clusterIP'], 'spec.clusterIP', false);
  const rawIPs = r.array(spec['clusterIPs'], 'spec.clusterIPs');
  const listed: string[] = [];
  rawIPs.forEach((v, i) => {
    const ip = r.string(v, `spec.clusterIPs[${i}]`, true);
    if (ip !== undefined) listed.push(ip);
  });
  if (clusterIP !== undefined && clusterIP !== '' && listed.length > 0 && listed[0] !== clusterIP) {
    r.fail('spec.clusterIPs[0]', `must equal spec.clusterIP ${show(clusterIP)}, got ${show(listed[0])}`);
  }
  const ips = listed.length > 0 ? listed : clusterIP !== undefined && clusterIP !== '' ? [clusterIP] : [];
  const headless = ips[0] === 'None';
  if (headless && ips.length > 1) r.fail('spec.clusterIPs', 'must hold only "None" for a headless service');
  if (headless && type !== 'ClusterIP') r.fail('spec.clusterIP', `"None" is only allowed for type ClusterIP, got ${type}`);
  const clusterIPs = headless || type === 'ExternalName' ? [] : ips;
  const ipPath = listed.length > 0 ? 'spec.clusterIPs' : 'spec.clusterIP';
  const ipFamiliesFromIPs: IPFamily[] = [];
  clusterIPs.forEach((ip, i) => {
    const fam = familyOf(ip);
    const p = listed.length > 0 ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
    if (fam === undefined) r.fail(p, `must be an IP address or "None", got ${show(ip)}${whyZoneId(ip)}`);
    else if (ipFamiliesFromIPs.includes(fam)) r.fail(p, `second ${fam} address: dual-stack needs one IPv4 and one IPv6 address`);
    else ipFamiliesFromIPs.push(fam);
  });
  if (clusterIPs.length > 2) r.fail(ipPath, `must have at most 2 addresses, got ${clusterIPs.length}`);

  const rawFamilies = r.array(spec['ipFamilies'], 'spec.ipFamilies');
  const declared: IPFamily[] = [];
  rawFamilies.forEach((v, i) => {
    const f = r.oneOf<IPFamily>(v, `spec.ipFamilies[${i}]`, ['IPv4', 'IPv6'], 'IPv4');
    if (declared.includes(f)) r.fail(`spec.ipFamilies[${i}]`, `duplicate family ${f}`);
    else declared.push(f);
  });
  if (declared.length > 0 && ipFamiliesFromIPs.length > 0) {
    ipFamiliesFromIPs.forEach((f, i) => {
      if (declared[i] !== f) r.fail(`spec.ipFamilies[${i}]`, `must match the family of ${ipPath} (${f}), got ${show(declared[i])}`);
    });
  }
  const ipFamilies = declared.length > 0 ? declared : ipFamiliesFromIPs;

  const requirePorts = type !== 'ExternalName' && !headless;
  const ports = readServicePorts(r, spec['ports'], 'spec.ports', true);
  if (requirePorts && r.array(spec['ports'], 'spec.ports').length === 0) r.fail('spec.ports', `required for a ${type} service`);

  const sessionAffinity = r.oneOf(spec['sessionAffinity'], 'spec.sessionAffinity', ['None', 'ClientIP'] as const, 'None');
  const publishNotReadyAddresses = r.boolean(spec['publishNotReadyAddresses'], 'spec.publishNotReadyAddresses') ?? false;
  if (type === 'ExternalName') r.string(spec['externalName'], 'spec.externalName', true);

  const service: LocalService = {
    namespace: meta.namespace,
    name: meta.name,
    type,
    clusterIPs,
    headless,
    ipFamilies,
    ports,
    sessionAffinity,
    publishNotReadyAddresses,
  };
  return { kind: 'Service', service };
}

function readEndpointSlice(r: Reader, obj: UnknownObject): LocalObject | undefined {
  checkApiVersion(r, obj, [DISCOVERY_API_VERSION]);
  const meta = readMeta(r, obj, true, 'subdomain');
  const labelPath = `metadata.labels["${LABEL_SERVICE_NAME}"]`;
  const serviceName = r.string(meta.labels[LABEL_SERVICE_NAME], labelPath, true);
  if (serviceName !== undefined && !isDns1035Label(serviceName)) {
    r.fail(labelPath, `must be a Service name (DNS-1035 label), got ${show(serviceName)}`);
  }
  const addressType = r.oneOf(obj['addressType'], 'addressType', ['IPv4', 'IPv6', 'FQDN'] as const, 'IPv4');
  if (obj['addressType'] === undefined) r.fail('addressType', 'required');

  const rawEndpoints = r.array(obj['endpoints'], 'endpoints');
  if (rawEndpoints.length > MAX_ENDPOINTS_PER_SLICE) {
    r.fail('endpoints', `must have at most ${MAX_ENDPOINTS_PER_SLICE} endpoints, got ${rawEndpoints.length}`);
  }
  const endpoints: Endpoint[] = [];
  rawEndpoints.slice(0, MAX_ENDPOINTS_PER_SLICE).forEach((item, i) => {
    const p = `endpoints[${i}]`;
    const o = r.object(item, p, true);
    if (o === undefined) return;
    const rawAddresses = r.array(o['addresses'], `${p}.addresses`);
    if (rawAddresses.length === 0) r.fail(`${p}.addresses`, 'must list at least one address');
    if (rawAddresses.length > 100) r.fail(`${p}.addresses`, `must have at most 100 addresses, got ${rawAddresses.length}`);
    const addresses: string[] = [];
    rawAddresses.slice(0, 100).forEach((a, j) => {
      const ap = `${p}.addresses[${j}]`;
      const addr = r.string(a, ap, true);
      if (addr === undefined) return;
      if (addressType === 'FQDN') {
        if (!isDnsSubdomain(addr)) r.fail(ap, `must be a DNS name for addressType FQDN, got ${show(addr)}`);
      } else if (familyOf(addr) !== addressType) {
        r.fail(ap, `must be an ${addressType} address (addressType ${addressType}), got ${show(addr)}${whyNotIp(addr)}`);
      }
      addresses.push(addressType === 'FQDN' ? addr : canonicalAddress(addr));
    });
    const conditions = r.object(o['conditions'], `${p}.conditions`, false);
    // Kubernetes: a nil `ready` means the endpoint is ready (the consumer must assume so).
    const ready = conditions === undefined ? true : (r.boolean(conditions['ready'], `${p}.conditions.ready`) ?? true);
    const hostname = r.string(o['hostname'], `${p}.hostname`, false);
    if (hostname !== undefined && !isDnsLabel(hostname)) r.fail(`${p}.hostname`, `must be a DNS label, got ${show(hostname)}`);
    endpoints.push(hostname === undefined ? { addresses, ready } : { addresses, hostname, ready });
  });

  const rawPorts = r.array(obj['ports'], 'ports');
  const ports: ServicePort[] = [];
  rawPorts.forEach((item, i) => {
    const p = `ports[${i}]`;
    const o = r.object(item, p, true);
    if (o === undefined) return;
    const name = r.string(o['name'], `${p}.name`, false) ?? '';
    if (name !== '' && !isDnsLabel(name)) r.fail(`${p}.name`, `must be a DNS label, got ${show(name)}`);
    const protocol = r.oneOf(o['protocol'], `${p}.protocol`, PROTOCOLS, 'TCP');
    // A nil port means "all ports" in EndpointSlice semantics; it cannot feed SRV, so it is dropped.
    if (o['port'] === undefined || o['port'] === null) return;
    const port = r.port(o['port'], `${p}.port`);
    if (port !== undefined) ports.push({ name, protocol, port });
  });

  const slice: LocalEndpointSlice = {
    namespace: meta.namespace,
    name: serviceName ?? '',
    sliceName: meta.name,
    addressType,
    endpoints,
    ports,
  };
  return { kind: 'EndpointSlice', slice };
}

/** Parses an RFC 3339 time (string from YAML/JSON, or a Date from some loaders) to epoch ms. */
function readTimestamp(r: Reader, value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.getTime();
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  r.fail(path, `must be an RFC 3339 time like 2024-05-01T10:00:00Z, got ${show(value)}`);
  return undefined;
}

function readServiceExport(r: Reader, obj: UnknownObject, options: TranslateOptions): LocalObject {
  checkApiVersion(r, obj, MCS_API_VERSIONS);
  const meta = readMeta(r, obj, true, '1035');
  const createdAt = readTimestamp(r, meta.creationTimestamp, 'metadata.creationTimestamp');
  let generation = 1;
  if (meta.generation !== undefined && meta.generation !== null) {
    if (typeof meta.generation !== 'number' || !Number.isInteger(meta.generation) || meta.generation < 0) {
      r.fail('metadata.generation', `must be a non-negative integer, got ${show(meta.generation)}`);
    } else {
      generation = meta.generation;
    }
  }
  // Read as written and judged by the exporter (Valid=False names a bad value); only the shape is
  // checked here, as the API server does: annotation values are strings.
  const policyText = r.string(meta.annotations[ANNOTATION_POLICY], `metadata.annotations[${ANNOTATION_POLICY}]`, false);
  const weightText = r.string(meta.annotations[ANNOTATION_WEIGHT], `metadata.annotations[${ANNOTATION_WEIGHT}]`, false);
  const serviceExport: LocalServiceExport = {
    namespace: meta.namespace,
    name: meta.name,
    createdAt: createdAt ?? (r.errors.length === 0 ? options.defaultCreatedAt(meta.namespace, meta.name) : 0),
    generation,
  };
  if (policyText !== undefined) serviceExport.policyText = policyText;
  if (weightText !== undefined) serviceExport.weightText = weightText;
  return { kind: 'ServiceExport', serviceExport };
}

function readServiceImport(r: Reader, obj: UnknownObject): LocalObject {
  checkApiVersion(r, obj, MCS_API_VERSIONS);
  const meta = readMeta(r, obj, true, '1035');
  const spec = r.object(obj['spec'], 'spec', false) ?? {};
  const ips: string[] = [];
  const families = new Set<IPFamily>();
  const raw = r.array(spec['ips'], 'spec.ips');
  if (raw.length > 2) r.fail('spec.ips', `must have at most 2 addresses (one per family), got ${raw.length}`);
  raw.forEach((v, i) => {
    const ip = r.string(v, `spec.ips[${i}]`, true);
    if (ip === undefined) return;
    const fam = familyOf(ip);
    if (fam === undefined) r.fail(`spec.ips[${i}]`, `must be an IP address, got ${show(ip)}${whyZoneId(ip)}`);
    else if (families.has(fam)) r.fail(`spec.ips[${i}]`, `second ${fam} address: at most one per family`);
    else {
      families.add(fam);
      ips.push(canonicalAddress(ip));
    }
  });
  return { kind: 'ServiceImport', vip: { namespace: meta.namespace, name: meta.name, ips } };
}

/** The kind's own parse, plus the meaning of the names we read (a bad probe target is an error here). */
function readClusterProperty(r: Reader, obj: UnknownObject): LocalObject | undefined {
  const parsed = parseClusterProperty(obj);
  if (!parsed.ok) {
    for (const p of parsed.problems) r.fail('', p);
    return undefined;
  }
  for (const p of publishedPropertiesFrom(new Map([[parsed.value.name, parsed.value.value]])).problems) r.fail('spec.value', p);
  return { kind: 'ClusterProperty', property: parsed.value };
}
