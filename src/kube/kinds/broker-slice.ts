/**
 * The broker's one object kind per export: one cluster's EndpointSlice(s) for one exported service
 * (one per address family and 1,000-endpoint chunk), each carrying the export's record fields
 * (type, ports, service IPs, IP families, session affinity, ServiceExport creation time) in one
 * annotation, so that publishing an export is one write, not a record plus its slices.
 *
 * Every slice of a set carries the same record and the size of its set. A reader takes the set
 * only once it is whole (as many slices as each declares, all with the same record): a set being
 * rewritten slice by slice is never read half old, half new. A service with no endpoints still
 * has one (empty) slice, so "exported, nothing ready" differs from "not exported".
 */
import { isDns1035Label, isDnsLabel } from '../../model/names.ts';
import { clusterServiceKey } from '../../model/service-key.ts';
import type { PolicyName } from '../../model/traffic-policy.ts';
import type { ClusterId, Endpoint, ExportEndpoints, ExportRecord, IPFamily, ImportType, ServicePort, ServiceRef } from '../../model/types.ts';
import { LABEL_ENDPOINTSLICE_MANAGED_BY, LABEL_MANAGED_BY, LABEL_MCS_SERVICE_NAME, LABEL_MCS_SOURCE_CLUSTER, LABEL_SOURCE_NAMESPACE, MANAGED_BY_VALUE } from '../labels.ts';
import { asObj, boundedName, checkManaged, clusterLabelValue, clusterMeta, isoMillis, meta, sourceCluster, str, type KubeObject, type Meta, type Parsed } from './object-meta.ts';
import { assembleParts, chunkOf, familySuffix, kubePorts, readPorts, readSliceBody, sliceObject, splitEndpoints, type ParsedSliceBody } from './slice-body.ts';

/** Annotation holding the export record (JSON) on every broker slice of the export. */
export const ANNOTATION_EXPORT = 'clusterset-dns.io/export';
/** Bound on the annotation before it is parsed (100 ports with long names fit many times over). */
const MAX_EXPORT_ANNOTATION = 32_768;

/** One cluster's EndpointSlice for one service, per address family and 1,000-endpoint chunk. */
export function brokerSliceName(ref: ServiceRef, cluster: ClusterId, family: IPFamily, chunk: number): string {
  return boundedName(`${ref.name}.${ref.namespace}.${cluster}.${familySuffix(family, chunk)}`);
}

/** The labels of every broker slice of one export (what importers select and the admission policies check). */
export function brokerSliceLabels(ref: ServiceRef, cluster: ClusterId): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_ENDPOINTSLICE_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_MCS_SERVICE_NAME]: ref.name,
    [LABEL_SOURCE_NAMESPACE]: ref.namespace,
    [LABEL_MCS_SOURCE_CLUSTER]: clusterLabelValue(cluster),
  };
}

/** The record fields as carried in ANNOTATION_EXPORT, plus the size of the slice set. */
interface ExportAnnotation {
  type: ImportType;
  ports: Record<string, unknown>[];
  ips?: string[];
  ipFamilies: IPFamily[];
  sessionAffinity: 'None' | 'ClientIP';
  exportCreatedAt: string;
  slices: number;
  /** The traffic annotations of the ServiceExport (absent when it has none). */
  policy?: string;
  weight?: number;
}

function exportAnnotation(record: ExportRecord, slices: number): string {
  const a: ExportAnnotation = {
    type: record.type,
    ports: kubePorts(record.ports),
    ipFamilies: [...record.ipFamilies],
    sessionAffinity: record.sessionAffinity,
    exportCreatedAt: isoMillis(record.exportCreatedAt),
    slices,
  };
  if (record.serviceIPs.length > 0) a.ips = [...record.serviceIPs];
  if (record.policy !== undefined) a.policy = record.policy;
  if (record.weight !== undefined) a.weight = record.weight;
  return JSON.stringify(a);
}

/** Broker: the slices of one cluster's export of one service (record and endpoints together). */
export function buildBrokerSlices(record: ExportRecord, endpoints: ExportEndpoints, namespace: string): KubeObject[] {
  const parts = splitEndpoints(endpoints.endpoints);
  const labels = brokerSliceLabels(record, record.cluster);
  const annotations = { ...clusterMeta(record.cluster).annotations, [ANNOTATION_EXPORT]: exportAnnotation(record, parts.length) };
  return parts.map((part) => sliceObject(brokerSliceName(record, record.cluster, part.family, part.chunk), namespace, part, endpoints.ports, labels, annotations));
}

/** One parsed broker slice, before its set is assembled. */
export interface BrokerSlicePart extends ParsedSliceBody {
  record: ExportRecord;
  /** How many slices the set has, as this slice declares. */
  sliceCount: number;
  /** The record annotation as written: the slices of a whole set carry the same text. */
  recordText: string;
}

/** The (service, namespace) a broker object is about, from its labels. */
function brokerRef(m: Meta, out: string[]): ServiceRef | undefined {
  const name = str(m.labels[LABEL_MCS_SERVICE_NAME]);
  const namespace = str(m.labels[LABEL_SOURCE_NAMESPACE]);
  if (name === undefined || !isDns1035Label(name)) out.push(`label ${LABEL_MCS_SERVICE_NAME} ${JSON.stringify(name)} is not a Service name`);
  if (namespace === undefined || !isDnsLabel(namespace)) out.push(`label ${LABEL_SOURCE_NAMESPACE} ${JSON.stringify(namespace)} is not a namespace name`);
  return name !== undefined && namespace !== undefined ? { name, namespace } : undefined;
}

function readType(value: unknown, out: string[]): ImportType {
  if (value === 'ClusterSetIP' || value === 'Headless') return value;
  out.push(`type ${JSON.stringify(value)} is not ClusterSetIP or Headless`);
  return 'ClusterSetIP';
}

function stringList(value: unknown, path: string, out: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    out.push(`${path} is not a list of strings`);
    return [];
  }
  return [...(value as string[])];
}

/** The record fields of ANNOTATION_EXPORT (shapes only; the validator judges the values). */
function readExportAnnotation(text: string | undefined, ref: ServiceRef, cluster: ClusterId, out: string[]): { record: ExportRecord; slices: number } | undefined {
  if (text === undefined) {
    // Slices of agents before the one-object broker had no record on them (it was a separate object).
    out.push(`annotation ${ANNOTATION_EXPORT} is missing (a slice of an older agent: ignored until that cluster's agent is upgraded)`);
    return undefined;
  }
  if (text.length > MAX_EXPORT_ANNOTATION) {
    out.push(`annotation ${ANNOTATION_EXPORT} is ${text.length} characters (at most ${MAX_EXPORT_ANNOTATION})`);
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    out.push(`annotation ${ANNOTATION_EXPORT} is not JSON`);
    return undefined;
  }
  const a = asObj(raw);
  if (a === undefined) {
    out.push(`annotation ${ANNOTATION_EXPORT} is not an object`);
    return undefined;
  }
  const type = readType(a['type'], out);
  const ports = readPorts(a['ports'], `${ANNOTATION_EXPORT}.ports`, out);
  const serviceIPs = type === 'Headless' ? [] : stringList(a['ips'], `${ANNOTATION_EXPORT}.ips`, out);
  const ipFamilies = stringList(a['ipFamilies'], `${ANNOTATION_EXPORT}.ipFamilies`, out) as IPFamily[];
  const affinity = a['sessionAffinity'] ?? 'None';
  const created = str(a['exportCreatedAt']);
  const exportCreatedAt = created === undefined ? Number.NaN : Date.parse(created);
  if (!Number.isFinite(exportCreatedAt)) out.push(`${ANNOTATION_EXPORT}.exportCreatedAt is not a time`);
  const slices = a['slices'];
  if (typeof slices !== 'number' || !Number.isInteger(slices) || slices < 1 || slices > 20) out.push(`${ANNOTATION_EXPORT}.slices is not 1-20`);
  const record: ExportRecord = { ...ref, cluster, type, ports, serviceIPs, ipFamilies, sessionAffinity: affinity as 'None', exportCreatedAt };
  // Shapes only, like the fields above: the broker validator judges the values.
  if (a['policy'] !== undefined) record.policy = a['policy'] as PolicyName;
  if (a['weight'] !== undefined) record.weight = a['weight'] as number;
  return { record, slices: slices as number };
}

/** Broker: one EndpointSlice of a cluster's export, with the record it carries. */
export function parseBrokerSlice(obj: unknown): Parsed<BrokerSlicePart> {
  const out: string[] = [];
  const m = meta(obj);
  checkManaged(m, out);
  const ref = brokerRef(m, out);
  const cluster = sourceCluster(m, out);
  const body = readSliceBody(obj, m, out);
  const recordText = str(m.annotations[ANNOTATION_EXPORT]);
  const carried = ref !== undefined && cluster !== undefined ? readExportAnnotation(recordText, ref, cluster, out) : undefined;
  if (out.length > 0 || ref === undefined || cluster === undefined || body === undefined || carried === undefined || recordText === undefined) return { ok: false, problems: out };
  const chunk = chunkOf(m.name, body.family, (f, c) => brokerSliceName(ref, cluster, f, c));
  if (chunk === undefined) return { ok: false, problems: [`name ${JSON.stringify(m.name)} does not match ${brokerSliceName(ref, cluster, body.family, 0)}`] };
  const value: BrokerSlicePart = { ref, cluster, family: body.family, chunk, endpoints: body.endpoints, ports: body.ports, record: carried.record, sliceCount: carried.slices, recordText };
  if (body.joined !== undefined) value.joinedAddresses = body.joined;
  return { ok: true, value };
}

export type AssembledExport =
  | { whole: true; record: ExportRecord; endpoints: ExportEndpoints }
  /** Some slices are missing or disagree (a set being rewritten, or a writer that stopped half way). */
  | { whole: false; reason: string };

/** One cluster's export of one service from the parts of its slice set. */
export function assembleBrokerExport(parts: readonly BrokerSlicePart[]): AssembledExport {
  const { endpoints, ports, sorted } = assembleParts(parts);
  const first = sorted[0];
  if (first === undefined) return { whole: false, reason: 'no slices' };
  if (!sorted.every((p) => p.recordText === first.recordText)) return { whole: false, reason: 'slices carry different records' };
  if (sorted.length !== first.sliceCount) return { whole: false, reason: `${sorted.length} of ${first.sliceCount} slices present` };
  return { whole: true, record: first.record, endpoints: { ...first.ref, cluster: first.cluster, endpoints, ports } };
}

/**
 * The whole exports among a list of broker slices (one-shot readers: status, doctor). Slices that
 * do not parse, and sets that are not whole, are counted and left out.
 */
export function exportsOfSlices(objects: readonly unknown[]): { exports: Array<{ record: ExportRecord; endpoints: ExportEndpoints }>; invalid: number } {
  const sets = new Map<string, BrokerSlicePart[]>();
  let invalid = 0;
  for (const obj of objects) {
    const p = parseBrokerSlice(obj);
    if (!p.ok) {
      invalid++;
      continue;
    }
    const key = clusterServiceKey(p.value.cluster, p.value.ref);
    const set = sets.get(key);
    if (set === undefined) sets.set(key, [p.value]);
    else set.push(p.value);
  }
  const exports: Array<{ record: ExportRecord; endpoints: ExportEndpoints }> = [];
  for (const parts of sets.values()) {
    const assembled = assembleBrokerExport(parts);
    if (assembled.whole) exports.push({ record: assembled.record, endpoints: assembled.endpoints });
    else invalid++;
  }
  return { exports, invalid };
}
