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

/** Objects per page, and pages per list at most (a larger list is reported as cut, never silently). */
const LIST_LIMIT = 5000;
const MAX_PAGES = 40;

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
  /** `continue` in raw JSON (custom objects); `_continue` in client-node's typed lists. */
  metadata?: { continue?: string; _continue?: string };
}

/** Every page of a list (bounded); `cut` is true when MAX_PAGES were not enough. */
async function listAll(what: string, timeoutMs: number, page: (token: string | undefined) => Promise<ListResult>): Promise<{ items: unknown[]; cut: boolean }> {
  const items: unknown[] = [];
  let token: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const result = await bounded(what, timeoutMs, () => page(token));
    items.push(...(result.items ?? []));
    token = result.metadata?.continue ?? result.metadata?._continue;
    if (token === undefined || token === '') return { items, cut: false };
  }
  return { items, cut: true };
}

export interface MemberReadout {
  state: ImportedState;
  localExports: Array<{ namespace: string; name: string; conditions: ExportCondition[] }>;
  /** Objects that did not parse, by kind (they are left out). */
  invalid: number;
  /** True when a list had more pages than read (the report says so). */
  cut: boolean;
}

export async function readMemberForStatus(kc: KubeConfig, mcsVersion: string, timeoutMs: number): Promise<MemberReadout> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const cont = (token: string | undefined) => (token === undefined ? {} : { _continue: token });
  const [imports, exports, slices] = await Promise.all([
    listAll('listing ServiceImports', timeoutMs, (t) => custom.listClusterCustomObject({ group: MCS_GROUP, version: mcsVersion, plural: 'serviceimports', limit: LIST_LIMIT, ...cont(t) }) as Promise<ListResult>),
    listAll('listing ServiceExports', timeoutMs, (t) => custom.listClusterCustomObject({ group: MCS_GROUP, version: mcsVersion, plural: 'serviceexports', limit: LIST_LIMIT, ...cont(t) }) as Promise<ListResult>),
    listAll('listing MCS EndpointSlices', timeoutMs, (t) => discovery.listEndpointSliceForAllNamespaces({ labelSelector: LABEL_MCS_SERVICE_NAME, limit: LIST_LIMIT, ...cont(t) }) as Promise<ListResult>),
  ]);
  const cut = [imports, exports, slices].some((l) => l.cut);
  let invalid = 0;
  const services: ImportedService[] = [];
  for (const obj of imports.items) {
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
    const name = (obj as { metadata?: { name?: unknown } }).metadata?.name;
    const slice: ImportedSlice = { ...p.value.ref, sourceCluster: p.value.cluster, sliceName: typeof name === 'string' ? name : '', endpoints: p.value.endpoints, ports: p.value.ports };
    if (p.value.excludedReason !== undefined) slice.excludedReason = p.value.excludedReason;
    sliceList.push(slice);
  }
  const localExports = exports.items.flatMap((obj) => {
    const m = (obj as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    if (typeof m?.name !== 'string' || typeof m.namespace !== 'string') return [];
    return [{ namespace: m.namespace, name: m.name, conditions: readExportConditions(obj)?.conditions ?? [] }];
  });
  return { state: { synced: true, services, slices: sliceList }, localExports, invalid, cut };
}

export interface BrokerReadout {
  leases: ClusterLease[];
  records: ExportRecord[];
  /** True when a list had more pages than read. */
  cut: boolean;
}

export async function readBrokerForStatus(broker: KubeConfig, namespace: string, mcsVersion: string, timeoutMs: number): Promise<BrokerReadout> {
  const cont = (token: string | undefined) => (token === undefined ? {} : { _continue: token });
  const coordination = broker.makeApiClient(CoordinationV1Api);
  const custom = broker.makeApiClient(CustomObjectsApi);
  const [leases, records] = await Promise.all([
    listAll(`listing Leases in ${namespace} on the broker`, timeoutMs, (t) => coordination.listNamespacedLease({ namespace, limit: LIST_LIMIT, ...cont(t) }) as Promise<ListResult>),
    listAll(`listing export records in ${namespace} on the broker`, timeoutMs, (t) =>
      custom.listNamespacedCustomObject({ group: MCS_GROUP, version: mcsVersion, namespace, plural: 'serviceimports', limit: LIST_LIMIT, ...cont(t) }) as Promise<ListResult>),
  ]);
  const out: BrokerReadout = { leases: [], records: [], cut: leases.cut || records.cut };
  for (const l of leases.items) {
    const p = parseLease(l);
    if (p.ok) out.leases.push(p.value);
  }
  for (const r of records.items) {
    const p = parseBrokerRecord(r);
    if (p.ok) out.records.push(p.value);
  }
  return out;
}
