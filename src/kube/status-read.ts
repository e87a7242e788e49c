/**
 * What `clusterset-dns status` reads from real API servers, listed once (no watch) and shrunk to
 * model types with the same parsers the DNS server and the agent use: from the member cluster its
 * ServiceImports, MCS EndpointSlices and ServiceExports (with their conditions); from the broker
 * the cluster leases and export records. Every call is bounded by a timeout.
 */
import { CoordinationV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { ExportCondition } from '../agent/stores.ts';
import type { ImportedState } from '../model/imported-state.ts';
import type { ClusterLease, ExportRecord, ImportedService, ImportedSlice } from '../model/types.ts';
import { describeApiError } from './client.ts';
import { LABEL_MCS_SERVICE_NAME } from './labels.ts';
import { parseBrokerRecord, parseImportedServiceImport, parseImportedSlice, parseLease, readExportConditions } from './object-parsers.ts';
import { MCS_GROUP } from './objects.ts';

/** Objects listed per kind at most (a page); a clusterset larger than this is reported as cut. */
const LIST_LIMIT = 5000;

async function bounded<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${what}:`)) throw err;
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    throw new Error(`${what}: ${describeApiError(err)}${cause}`);
  } finally {
    clearTimeout(timer);
  }
}

interface ListResult {
  items?: unknown[];
}

export interface MemberReadout {
  state: ImportedState;
  localExports: Array<{ namespace: string; name: string; conditions: ExportCondition[] }>;
  /** Objects that did not parse, by kind (they are left out). */
  invalid: number;
}

export async function readMemberForStatus(kc: KubeConfig, mcsVersion: string, timeoutMs: number): Promise<MemberReadout> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const [imports, exports, slices] = await Promise.all([
    bounded('listing ServiceImports', timeoutMs, () => custom.listClusterCustomObject({ group: MCS_GROUP, version: mcsVersion, plural: 'serviceimports', limit: LIST_LIMIT }) as Promise<ListResult>),
    bounded('listing ServiceExports', timeoutMs, () => custom.listClusterCustomObject({ group: MCS_GROUP, version: mcsVersion, plural: 'serviceexports', limit: LIST_LIMIT }) as Promise<ListResult>),
    bounded('listing MCS EndpointSlices', timeoutMs, () => kc.makeApiClient(DiscoveryV1Api).listEndpointSliceForAllNamespaces({ labelSelector: LABEL_MCS_SERVICE_NAME, limit: LIST_LIMIT })),
  ]);
  let invalid = 0;
  const services: ImportedService[] = [];
  for (const obj of imports.items ?? []) {
    const p = parseImportedServiceImport(obj);
    if (p.ok) services.push(p.value);
    else invalid++;
  }
  const sliceList: ImportedSlice[] = [];
  for (const obj of slices.items) {
    const p = parseImportedSlice(obj, false);
    if (!p.ok) {
      invalid++;
      continue;
    }
    const slice: ImportedSlice = { ...p.value.ref, sourceCluster: p.value.cluster, sliceName: obj.metadata?.name ?? '', endpoints: p.value.endpoints, ports: p.value.ports };
    if (p.value.excludedReason !== undefined) slice.excludedReason = p.value.excludedReason;
    sliceList.push(slice);
  }
  const localExports = (exports.items ?? []).flatMap((obj) => {
    const m = (obj as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    if (typeof m?.name !== 'string' || typeof m.namespace !== 'string') return [];
    return [{ namespace: m.namespace, name: m.name, conditions: readExportConditions(obj)?.conditions ?? [] }];
  });
  return { state: { synced: true, services, slices: sliceList }, localExports, invalid };
}

export interface BrokerReadout {
  leases: ClusterLease[];
  records: ExportRecord[];
}

export async function readBrokerForStatus(broker: KubeConfig, namespace: string, mcsVersion: string, timeoutMs: number): Promise<BrokerReadout> {
  const [leases, records] = await Promise.all([
    bounded(`listing Leases in ${namespace} on the broker`, timeoutMs, () => broker.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace, limit: LIST_LIMIT })),
    bounded(`listing export records in ${namespace} on the broker`, timeoutMs, () =>
      broker.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: MCS_GROUP, version: mcsVersion, namespace, plural: 'serviceimports', limit: LIST_LIMIT }) as Promise<ListResult>),
  ]);
  const out: BrokerReadout = { leases: [], records: [] };
  for (const l of leases.items) {
    const p = parseLease(l);
    if (p.ok) out.leases.push(p.value);
  }
  for (const r of records.items ?? []) {
    const p = parseBrokerRecord(r);
    if (p.ok) out.records.push(p.value);
  }
  return out;
}
