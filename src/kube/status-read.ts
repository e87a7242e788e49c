/**
 * What `clusterset-dns status` reads from real API servers, listed once (no watch) and shrunk to
 * model types with the same parsers the DNS server and the agent use: from the member cluster its
 * ServiceImports, MCS EndpointSlices and ServiceExports (with their conditions); from the broker
 * the cluster leases and the exports (their EndpointSlices carry the records). Every call is
 * bounded by a timeout.
 */
import type { KubeConfig } from './kubeconfig.ts';
import type { ExportCondition } from '../agent/stores.ts';
import type { ImportedState } from '../model/imported-state.ts';
import type { ClusterLease, ExportRecord, ImportedService, ImportedSlice } from '../model/types.ts';
import { placeFromProperties } from '../model/traffic-policy.ts';
import { makeRawGet, type RawGet } from './client.ts';
import { readClusterProperties } from './cluster-properties.ts';
import { bounded } from './doctor-checks.ts';
import { listAllPages, type ListPage } from './list-pages.ts';
import { LABEL_MCS_SERVICE_NAME, LABEL_SOURCE_NAMESPACE } from './labels.ts';
import { exportsOfSlices } from './kinds/broker-slice.ts';
import { parseLease } from './kinds/lease.ts';
import { importedSliceOf, parseImportedSlice } from './kinds/mcs-endpoint-slice.ts';
import { readExportConditions } from './kinds/service-export-status.ts';
import { parseImportedServiceImport } from './kinds/service-import.ts';
import { MCS_GROUP } from './objects.ts';

/** Objects per page, and pages per list at most (a larger list fails the read with a clear error). */
const PAGE_SIZE = 5000;
const MAX_PAGES = 40;

/**
 * Every object of one list, through every page (list-pages.ts: complete or an error, never a
 * prefix), read raw as the informers read it; each page bounded by `timeoutMs`.
 */
async function listAll(get: RawGet, what: string, timeoutMs: number, path: string, query: Record<string, string> = {}): Promise<unknown[]> {
  const list = await listAllPages<unknown>(
    (token) => bounded(what, timeoutMs, () => get(path, { ...query, limit: PAGE_SIZE, continue: token }, timeoutMs) as Promise<ListPage<unknown>>),
    { maxPages: MAX_PAGES },
  );
  return list.items;
}

export interface MemberReadout {
  state: ImportedState;
  localExports: Array<{ namespace: string; name: string; conditions: ExportCondition[] }>;
  /** Objects that did not parse, by kind (they are left out). */
  invalid: number;
}

export async function readMemberForStatus(kc: KubeConfig, mcsVersion: string, timeoutMs: number): Promise<MemberReadout> {
  const mcs = `/apis/${MCS_GROUP}/${mcsVersion}`;
  // One pooled client for the three lists (they run at once).
  const get = makeRawGet(kc);
  const [imports, exports, slices] = await Promise.all([
    listAll(get, 'listing ServiceImports', timeoutMs, `${mcs}/serviceimports`),
    listAll(get, 'listing ServiceExports', timeoutMs, `${mcs}/serviceexports`),
    listAll(get, 'listing MCS EndpointSlices', timeoutMs, '/apis/discovery.k8s.io/v1/endpointslices', { labelSelector: LABEL_MCS_SERVICE_NAME }),
  ]);
  let invalid = 0;
  const services: ImportedService[] = [];
  for (const obj of imports) {
    const p = parseImportedServiceImport(obj);
    if (p.ok) services.push(p.value);
    else invalid++;
  }
  const sliceList: ImportedSlice[] = [];
  for (const obj of slices) {
    const p = parseImportedSlice(obj, false);
    if (!p.ok) {
      invalid++;
      continue;
    }
    const name = (obj as { metadata?: { name?: unknown } }).metadata?.name;
    sliceList.push(importedSliceOf(p.value, typeof name === 'string' ? name : ''));
  }
  const localExports = exports.flatMap((obj) => {
    const m = (obj as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    if (typeof m?.name !== 'string' || typeof m.namespace !== 'string') return [];
    return [{ namespace: m.namespace, name: m.name, conditions: readExportConditions(obj)?.conditions ?? [] }];
  });
  // Where this cluster is (policy `nearest`): best effort, a cluster without ClusterProperties (or
  // credentials that may not read them) only leaves the place unknown.
  const properties = await readClusterProperties(kc, timeoutMs).catch(() => undefined);
  const localPlace = properties === undefined ? {} : placeFromProperties(properties.properties);
  return { state: { synced: true, services, slices: sliceList, localPlace }, localExports, invalid };
}

export interface BrokerReadout {
  leases: ClusterLease[];
  records: ExportRecord[];
}

export async function readBrokerForStatus(broker: KubeConfig, namespace: string, timeoutMs: number): Promise<BrokerReadout> {
  const ns = encodeURIComponent(namespace);
  const get = makeRawGet(broker);
  const [leases, records] = await Promise.all([
    listAll(get, `listing Leases in ${namespace} on the broker`, timeoutMs, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`),
    listAll(get, `listing exports (EndpointSlices) in ${namespace} on the broker`, timeoutMs, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { labelSelector: LABEL_SOURCE_NAMESPACE }),
  ]);
  const out: BrokerReadout = { leases: [], records: [] };
  for (const l of leases) {
    const p = parseLease(l);
    if (p.ok) out.leases.push(p.value);
  }
  for (const e of exportsOfSlices(records).exports) out.records.push(e.record);
  return out;
}
