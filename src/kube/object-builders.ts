/**
 * Pure: model values → the Kubernetes objects we write (as server-side-apply bodies). Every object
 * carries our managed-by label, so readers (and garbage collection) only ever act on objects that
 * are provably ours. See DESIGN.md "Broker objects" for what goes where.
 */
import type { ExportCondition } from '../agent/stores.ts';
import type {
  ClusterId,
  ClusterLease,
  Endpoint,
  ExportEndpoints,
  ExportRecord,
  IPFamily,
  ImportedService,
  ImportedSlice,
  ServicePort,
  ServiceRef,
} from '../model/types.ts';
import {
  ANNOTATION_EXCLUDED_REASON,
  ANNOTATION_REJECTED_ADDRESSES,
  ANNOTATION_EXPORT_CREATED_AT,
  ANNOTATION_SERVICE_IPS,
  ANNOTATION_SOURCE_CLUSTER,
  LABEL_ENDPOINTSLICE_MANAGED_BY,
  LABEL_MANAGED_BY,
  LABEL_MCS_SERVICE_NAME,
  LABEL_MCS_SOURCE_CLUSTER,
  LABEL_SOURCE_NAMESPACE,
  MANAGED_BY_VALUE,
} from './labels.ts';
import {
  MAX_ENDPOINTS_PER_SLICE,
  brokerRecordName,
  brokerSliceName,
  clusterLabelValue,
  importedSliceObjectName,
  leaseName,
} from './names.ts';
import { COORDINATION_API_VERSION, DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, KIND_LEASE, KIND_SERVICE_EXPORT, KIND_SERVICE_IMPORT, MCS_GROUP } from './objects.ts';

/** A plain Kubernetes object as sent to / received from the API. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export function mcsApiVersion(version: string): string {
  return `${MCS_GROUP}/${version}`;
}

/** RFC 3339 with milliseconds (annotations): exact round trip of epoch ms. */
export function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** metav1.Time has second precision. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime wants exactly six fractional digits. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

function clusterMeta(cluster: ClusterId): { labels: Record<string, string>; annotations: Record<string, string> } {
  const value = clusterLabelValue(cluster);
  return { labels: { [LABEL_MCS_SOURCE_CLUSTER]: value }, annotations: value === cluster ? {} : { [ANNOTATION_SOURCE_CLUSTER]: cluster } };
}

function kubePorts(ports: readonly ServicePort[]): Record<string, unknown>[] {
  return ports.map((p) => (p.appProtocol === undefined ? { name: p.name, protocol: p.protocol, port: p.port } : { name: p.name, protocol: p.protocol, port: p.port, appProtocol: p.appProtocol }));
}

/** Broker: one cluster's record of one exported service. */
export function buildBrokerRecord(record: ExportRecord, namespace: string, mcsVersion: string): KubeObject {
  const cm = clusterMeta(record.cluster);
  const spec: Record<string, unknown> = {
    type: record.type,
    ports: kubePorts(record.ports),
    sessionAffinity: record.sessionAffinity,
    ipFamilies: [...record.ipFamilies],
  };
  if (record.serviceIPs.length > 0) spec['ips'] = [...record.serviceIPs];
  return {
    apiVersion: mcsApiVersion(mcsVersion),
    kind: KIND_SERVICE_IMPORT,
    metadata: {
      name: brokerRecordName(record, record.cluster),
      namespace,
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_MCS_SERVICE_NAME]: record.name,
        [LABEL_SOURCE_NAMESPACE]: record.namespace,
        ...cm.labels,
      },
      annotations: { [ANNOTATION_EXPORT_CREATED_AT]: isoMillis(record.exportCreatedAt), ...cm.annotations },
    },
    spec,
  };
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

function kubeEndpoints(endpoints: readonly Endpoint[]): Record<string, unknown>[] {
  return endpoints.map((e) =>
    e.hostname === undefined
      ? { addresses: [...e.addresses], conditions: { ready: e.ready } }
      : { addresses: [...e.addresses], hostname: e.hostname, conditions: { ready: e.ready } },
  );
}

function sliceObject(name: string, namespace: string, part: SlicePart, ports: readonly ServicePort[], labels: Record<string, string>, annotations: Record<string, string>): KubeObject {
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

/** Broker: one cluster's EndpointSlices for one exported service (one per family and chunk). */
export function buildBrokerSlices(endpoints: ExportEndpoints, namespace: string): KubeObject[] {
  const cm = clusterMeta(endpoints.cluster);
  const labels = {
    [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_ENDPOINTSLICE_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_MCS_SERVICE_NAME]: endpoints.name,
    [LABEL_SOURCE_NAMESPACE]: endpoints.namespace,
    ...cm.labels,
  };
  return splitEndpoints(endpoints.endpoints).map((part) =>
    sliceObject(brokerSliceName(endpoints, endpoints.cluster, part.family, part.chunk), namespace, part, endpoints.ports, labels, cm.annotations),
  );
}

/** Broker: the cluster's heartbeat Lease. Durations are whole seconds (leaseDurationSeconds). */
export function buildLease(lease: ClusterLease, namespace: string): KubeObject {
  const cm = clusterMeta(lease.cluster);
  const metadata: KubeObject['metadata'] = { name: leaseName(lease.cluster), namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, ...cm.labels } };
  if (Object.keys(cm.annotations).length > 0) metadata.annotations = cm.annotations;
  return {
    apiVersion: COORDINATION_API_VERSION,
    kind: KIND_LEASE,
    metadata,
    spec: {
      holderIdentity: lease.cluster,
      leaseDurationSeconds: Math.max(1, Math.ceil(lease.durationMs / 1000)),
      renewTime: isoMicros(lease.renewedAt),
    },
  };
}

/**
 * Member cluster: the imported ServiceImport (spec) and its status (status.clusters), applied
 * separately since status is a subresource. spec.ips is not ours: a clusterset VIP is assigned by
 * whoever manages VIPs and is only read back (see LocalClusterStore.getClusterSetVip).
 */
export function buildImportedServiceImport(service: ImportedService, mcsVersion: string): { object: KubeObject; status: KubeObject } {
  const metadata = {
    name: service.name,
    namespace: service.namespace,
    labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_MCS_SERVICE_NAME]: service.name },
  };
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

/** Member cluster: the MCS EndpointSlices of one source cluster of one imported service. */
export function buildImportedSlices(slice: ImportedSlice): KubeObject[] {
  const cm = clusterMeta(slice.sourceCluster);
  const labels = {
    [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_ENDPOINTSLICE_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_MCS_SERVICE_NAME]: slice.name,
    ...cm.labels,
  };
  const annotations: Record<string, string> = { ...cm.annotations };
  if (slice.excludedReason !== undefined) annotations[ANNOTATION_EXCLUDED_REASON] = slice.excludedReason;
  if (slice.rejectedAddresses !== undefined) annotations[ANNOTATION_REJECTED_ADDRESSES] = slice.rejectedAddresses;
  return splitEndpoints(slice.endpoints).map((part) =>
    sliceObject(importedSliceObjectName(slice, slice.sourceCluster, part.family, part.chunk), slice.namespace, part, slice.ports, labels, annotations),
  );
}

/** The Valid/Ready/Conflict conditions as a status-subresource apply body for a ServiceExport. */
export function buildExportStatus(ref: ServiceRef, conditions: readonly ExportCondition[], generation: number, mcsVersion: string): KubeObject {
  return {
    apiVersion: mcsApiVersion(mcsVersion),
    kind: KIND_SERVICE_EXPORT,
    metadata: { name: ref.name, namespace: ref.namespace },
    status: {
      conditions: conditions.map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: isoSeconds(c.lastTransitionTime),
        observedGeneration: generation,
      })),
    },
  };
}
