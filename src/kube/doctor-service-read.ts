/**
 * What `doctor service NAME -n NS` reads along one service's chain, shrunk to plain data with the
 * agent's own parsers: the source ServiceExport and its conditions, the broker's export slices
 * (which carry the records) for the service and the exporting clusters' leases, and the destination's
 * ServiceImport and MCS EndpointSlices. Every call is bounded (ApiCallError on failure).
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import { typedApi } from './typed-api.ts';
import type { ExportCondition } from '../agent/stores.ts';
import type { ClusterLease, ExportRecord } from '../model/types.ts';
import { ApiCallError, probeApi } from './doctor-checks.ts';
import { LABEL_MCS_SERVICE_NAME, LABEL_SOURCE_NAMESPACE } from './labels.ts';
import { exportsOfSlices } from './kinds/broker-slice.ts';
import { parseLease } from './kinds/lease.ts';
import { parseImportedSlice } from './kinds/mcs-endpoint-slice.ts';
import { readExportConditions } from './kinds/service-export-status.ts';
import { parseImportedServiceImport } from './kinds/service-import.ts';
import { MCS_GROUP } from './objects.ts';

export { probeApi };

async function call<T>(what: string, timeoutMs: number, run: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ApiCallError(`${what}: no answer within ${timeoutMs} ms`, undefined)), timeoutMs);
      }),
    ]);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 404) return undefined;
    if (err instanceof ApiCallError) throw err;
    const cause = (err as { cause?: unknown }).cause;
    throw new ApiCallError(`${what}: ${err instanceof Error ? err.message : String(err)}${cause instanceof Error ? ` (${cause.message})` : ''}`, typeof code === 'number' ? code : undefined);
  } finally {
    clearTimeout(timer);
  }
}

export interface ServiceRefInput {
  namespace: string;
  name: string;
}

export async function readServiceExport(kc: KubeConfig, mcsVersion: string, ref: ServiceRefInput, timeoutMs: number): Promise<{ found: boolean; conditions: ExportCondition[] }> {
  const obj = await call(`reading ServiceExport ${ref.namespace}/${ref.name}`, timeoutMs, () =>
    typedApi(kc, CustomObjectsApi).getNamespacedCustomObject({ group: MCS_GROUP, version: mcsVersion, namespace: ref.namespace, plural: 'serviceexports', name: ref.name }));
  if (obj === undefined) return { found: false, conditions: [] };
  return { found: true, conditions: readExportConditions(obj)?.conditions ?? [] };
}

export interface BrokerServiceState {
  records: ExportRecord[];
  /** Per source cluster: endpoints in its broker slices (ready ones). */
  endpoints: Map<string, { total: number; ready: number }>;
  leases: Map<string, ClusterLease>;
}

export async function readBrokerService(broker: KubeConfig, namespace: string, ref: ServiceRefInput, timeoutMs: number): Promise<BrokerServiceState> {
  const selector = `${LABEL_MCS_SERVICE_NAME}=${ref.name},${LABEL_SOURCE_NAMESPACE}=${ref.namespace}`;
  const [slices, leases] = await Promise.all([
    call(`listing the broker's EndpointSlices for ${ref.namespace}/${ref.name}`, timeoutMs, () => typedApi(broker, DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: selector })),
    call(`listing Leases in ${namespace} on the broker`, timeoutMs, () => typedApi(broker, CoordinationV1Api).listNamespacedLease({ namespace })),
  ]);
  const state: BrokerServiceState = { records: [], endpoints: new Map(), leases: new Map() };
  // One object kind per export: each cluster's slices carry its record and its endpoints.
  for (const { record, endpoints } of exportsOfSlices(slices?.items ?? []).exports) {
    state.records.push(record);
    state.endpoints.set(record.cluster, { total: endpoints.endpoints.length, ready: endpoints.endpoints.filter((x) => x.ready).length });
  }
  for (const l of leases?.items ?? []) {
    const p = parseLease(l);
    if (p.ok) state.leases.set(p.value.cluster, p.value);
  }
  return state;
}

export interface DestinationState {
  namespaceExists: boolean;
  serviceImport?: { type: string; clusters: string[]; ips: string[] };
  /** Per source cluster: endpoints of its MCS slices here, and why it is excluded if it is. */
  slices: Map<string, { total: number; ready: number; excludedReason?: string }>;
}

export async function readDestination(kc: KubeConfig, mcsVersion: string, ref: ServiceRefInput, timeoutMs: number): Promise<DestinationState> {
  const [ns, si, slices] = await Promise.all([
    call(`reading Namespace ${ref.namespace}`, timeoutMs, () => typedApi(kc, CoreV1Api).readNamespace({ name: ref.namespace })),
    call(`reading ServiceImport ${ref.namespace}/${ref.name}`, timeoutMs, () =>
      typedApi(kc, CustomObjectsApi).getNamespacedCustomObject({ group: MCS_GROUP, version: mcsVersion, namespace: ref.namespace, plural: 'serviceimports', name: ref.name })),
    call(`listing MCS EndpointSlices of ${ref.namespace}/${ref.name}`, timeoutMs, () =>
      typedApi(kc, DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ref.namespace, labelSelector: `${LABEL_MCS_SERVICE_NAME}=${ref.name}` })),
  ]);
  const state: DestinationState = { namespaceExists: ns !== undefined, slices: new Map() };
  if (si !== undefined) {
    const p = parseImportedServiceImport(si);
    state.serviceImport = p.ok ? { type: p.value.type, clusters: p.value.clusters, ips: p.value.ips } : { type: 'unreadable', clusters: [], ips: [] };
  }
  for (const s of slices?.items ?? []) {
    const p = parseImportedSlice(s, false);
    if (!p.ok) continue;
    const e = state.slices.get(p.value.cluster) ?? { total: 0, ready: 0 };
    e.total += p.value.endpoints.length;
    e.ready += p.value.endpoints.filter((x) => x.ready).length;
    if (p.value.excludedReason !== undefined) e.excludedReason = p.value.excludedReason;
    state.slices.set(p.value.cluster, e);
  }
  return state;
}
