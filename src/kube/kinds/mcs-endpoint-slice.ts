/**
 * A member cluster's imported MCS EndpointSlice: one source cluster's endpoints of one imported
 * service, written by the importer (with why that cluster is excluded, and which of its addresses
 * were refused) and read by the DNS server (ours or any MCS implementation's).
 */
import { validateEndpointList, validatePorts } from '../../model/broker-validation.ts';
import { isDns1035Label } from '../../model/names.ts';
import type { ClusterId, Endpoint, IPFamily, ImportedSlice, ServicePort, ServiceRef } from '../../model/types.ts';
import { publishedPropertiesProblems } from '../../model/cluster-properties.ts';
import { parseWeight } from '../../model/traffic-policy.ts';
import { ANNOTATION_REGION, ANNOTATION_ZONE } from './lease.ts';
import { ANNOTATION_WEIGHT, LABEL_ENDPOINTSLICE_MANAGED_BY, LABEL_MANAGED_BY, LABEL_MCS_SERVICE_NAME, MANAGED_BY_VALUE } from '../labels.ts';
import { boundedName, clusterMeta, meta, sourceCluster, str, type KubeObject, type Parsed } from './object-meta.ts';
import { assembleParts, chunkOf, familySuffix, readSliceBody, sliceObject, splitEndpoints, type ParsedSliceBody } from './slice-body.ts';

/** Why the importer excluded that cluster (stale lease, type conflict, ...). */
export const ANNOTATION_EXCLUDED_REASON = 'clusterset-dns.io/excluded-reason';
/** Addresses of that cluster the importer refused, and why (one bounded line). */
export const ANNOTATION_REJECTED_ADDRESSES = 'clusterset-dns.io/rejected-addresses';
/** A reachability fact that did not exclude the cluster (the fail-safe held the exclusion back). */
export const ANNOTATION_REACHABILITY_NOTE = 'clusterset-dns.io/reachability-note';

/** An imported MCS EndpointSlice (in the service's namespace), per family and chunk. */
export function importedSliceObjectName(ref: ServiceRef, cluster: ClusterId, family: IPFamily, chunk: number): string {
  return boundedName(`${ref.name}.${cluster}.${familySuffix(family, chunk)}`);
}

/** The MCS EndpointSlices of one source cluster of one imported service. */
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
  if (slice.reachabilityNote !== undefined) annotations[ANNOTATION_REACHABILITY_NOTE] = slice.reachabilityNote;
  if (slice.weight !== undefined) annotations[ANNOTATION_WEIGHT] = String(slice.weight);
  // The source cluster's place, as its lease announced it (the same annotation keys as there).
  if (slice.region !== undefined) annotations[ANNOTATION_REGION] = slice.region;
  if (slice.zone !== undefined) annotations[ANNOTATION_ZONE] = slice.zone;
  return splitEndpoints(slice.endpoints).map((part) =>
    sliceObject(importedSliceObjectName(slice, slice.sourceCluster, part.family, part.chunk), slice.namespace, part, slice.ports, labels, annotations),
  );
}

/** One imported MCS EndpointSlice, before its (service, cluster) set is assembled. */
export interface ParsedSlice extends ParsedSliceBody {
  excludedReason?: string;
  rejectedAddresses?: string;
  reachabilityNote?: string;
  weight?: number;
  region?: string;
  zone?: string;
}

/**
 * `strictNames` (the agent reading its own objects) also requires our naming; the DNS server
 * accepts any MCS implementation's slices.
 */
export function parseImportedSlice(obj: unknown, strictNames: boolean): Parsed<ParsedSlice> {
  const out: string[] = [];
  const m = meta(obj);
  const name = str(m.labels[LABEL_MCS_SERVICE_NAME]);
  if (name === undefined || !isDns1035Label(name)) out.push(`label ${LABEL_MCS_SERVICE_NAME} ${JSON.stringify(name)} is not a Service name`);
  const cluster = sourceCluster(m, out);
  const body = readSliceBody(obj, m, out);
  if (body !== undefined) out.push(...validatePorts(body.ports), ...validateEndpointList(body.endpoints));
  const weightText = m.annotations[ANNOTATION_WEIGHT];
  const weight = weightText === undefined ? undefined : parseWeight(typeof weightText === 'string' ? weightText : String(weightText));
  if (weight !== undefined && !weight.ok) out.push(`annotation ${ANNOTATION_WEIGHT}: ${weight.message}`);
  const region = str(m.annotations[ANNOTATION_REGION]);
  const zone = str(m.annotations[ANNOTATION_ZONE]);
  out.push(...publishedPropertiesProblems({ probeTargets: [], ...(region === undefined ? {} : { region }), ...(zone === undefined ? {} : { zone }) }).map((x) => `annotation ${x}`));
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
  const note = str(m.annotations[ANNOTATION_REACHABILITY_NOTE]);
  if (note !== undefined) value.reachabilityNote = note;
  if (weight?.ok === true) value.weight = weight.value;
  if (region !== undefined) value.region = region;
  if (zone !== undefined) value.zone = zone;
  return { ok: true, value };
}

/** What every slice of a (service, cluster) set carries for the whole set, besides endpoints and ports. */
const SET_FIELDS = ['excludedReason', 'rejectedAddresses', 'reachabilityNote', 'weight', 'region', 'zone'] as const;
type SetFields = Pick<ParsedSlice, (typeof SET_FIELDS)[number]>;

/** Copies each set field `pick` finds a value for (absent fields stay absent, not undefined). */
function copySetFields(to: SetFields, pick: <K extends keyof SetFields>(key: K) => SetFields[K]): void {
  for (const key of SET_FIELDS) {
    const value = pick(key);
    if (value !== undefined) (to as Record<string, unknown>)[key] = value;
  }
}

/** One parsed slice as the DNS side's model value (readers that do not reassemble sets). */
export function importedSliceOf(p: ParsedSlice, sliceName: string): ImportedSlice {
  const slice: ImportedSlice = { ...p.ref, sourceCluster: p.cluster, sliceName, endpoints: p.endpoints, ports: p.ports };
  copySetFields(slice, (key) => p[key]);
  return slice;
}

export type AssembledSlices = Pick<ImportedSlice, 'endpoints' | 'ports' | (typeof SET_FIELDS)[number]>;

/** Reassembles one (service, cluster) set: endpoints, ports, and each set field from the first slice (in order) that has it. */
export function assembleSlices(parts: readonly ParsedSlice[]): AssembledSlices {
  const { endpoints, ports, sorted } = assembleParts(parts);
  const result: AssembledSlices = { endpoints, ports };
  copySetFields(result, (key) => sorted.find((p) => p[key] !== undefined)?.[key]);
  return result;
}

