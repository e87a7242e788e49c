/**
 * One member cluster kept in memory: the inputs loaded from its directory (Namespaces, Services,
 * EndpointSlices, ServiceExports, ServiceImport VIPs) plus what its agent writes (export
 * conditions, imported services and slices). Implements the agent's ExportSource and ImportSink with watch
 * semantics: listeners hear about every key whose content changed, and only those.
 */
import { serviceKey } from '../model/service-key.ts';
import type { ExportCondition, ExportSource, ImportSink, LocalChange } from '../agent/stores.ts';
import { deepEqual } from '../model/equal.ts';
import type { ClusterPropertyValue } from '../model/cluster-properties.ts';
import type { ClusterSetVip } from '../model/local-objects.ts';
import type {
  ClusterId,
  ImportedService,
  ImportedSlice,
  LocalEndpointSlice,
  LocalService,
  LocalServiceExport,
  ServiceRef,
} from '../model/types.ts';

/** Everything a cluster directory declares, already translated and validated. */
export interface ClusterInputs {
  namespaces: string[];
  services: LocalService[];
  endpointSlices: LocalEndpointSlice[];
  serviceExports: LocalServiceExport[];
  vips: ClusterSetVip[];
  /** KEP-2149 ClusterProperties (cluster ID, probe targets, topology). */
  properties: ClusterPropertyValue[];
}

export function emptyInputs(): ClusterInputs {
  return { namespaces: [], services: [], endpointSlices: [], serviceExports: [], vips: [], properties: [] };
}

export class MemoryLocalCluster implements ExportSource, ImportSink {
  readonly cluster: ClusterId;
  private namespaces = new Set<string>();
  private services = new Map<string, LocalService>();
  /** service key → slice name → slice */
  private slices = new Map<string, Map<string, LocalEndpointSlice>>();
  private exports = new Map<string, LocalServiceExport>();
  private vips = new Map<string, ClusterSetVip>();
  private properties: ReadonlyMap<string, string> = new Map();
  private readonly conditions = new Map<string, ExportCondition[]>();
  private readonly importedServices = new Map<string, ImportedService>();
  private readonly importedSlices = new Map<string, Map<ClusterId, ImportedSlice>>();
  private readonly listeners = new Set<(change: LocalChange) => void>();

  constructor(cluster: ClusterId) {
    this.cluster = cluster;
  }

  /**
   * Replaces the loaded inputs, emitting one change per key that differs (so an edit of one file
   * reprocesses only the services it touches, even with thousands loaded).
   */
  replaceInputs(inputs: ClusterInputs): void {
    const changes: LocalChange[] = [];

    const namespaces = new Set(inputs.namespaces);
    for (const ns of namespaces) if (!this.namespaces.has(ns)) changes.push({ kind: 'Namespace', namespace: ns });
    for (const ns of this.namespaces) if (!namespaces.has(ns)) changes.push({ kind: 'Namespace', namespace: ns });

    const services = new Map(inputs.services.map((s) => [serviceKey(s), s]));
    diffMaps(this.services, services, (k) => changes.push(refChange('Service', k)));

    const exports = new Map(inputs.serviceExports.map((e) => [serviceKey(e), e]));
    diffMaps(this.exports, exports, (k) => changes.push(refChange('ServiceExport', k)));
    for (const k of this.exports.keys()) if (!exports.has(k)) this.conditions.delete(k);

    const vips = new Map(inputs.vips.map((v) => [serviceKey(v), v]));
    diffMaps(this.vips, vips, (k) => changes.push(refChange('ClusterSetVip', k)));

    const slices = new Map<string, Map<string, LocalEndpointSlice>>();
    for (const s of inputs.endpointSlices) {
      const k = serviceKey(s);
      let m = slices.get(k);
      if (m === undefined) slices.set(k, (m = new Map()));
      m.set(s.sliceName, s);
    }
    diffMaps(this.slices, slices, (k) => changes.push(refChange('EndpointSlice', k)), sameSliceGroup);

    this.namespaces = namespaces;
    this.services = services;
    this.exports = exports;
    this.vips = vips;
    this.slices = slices;
    // Read by the lease renewer at each renewal: no change event needed.
    this.properties = new Map(inputs.properties.map((p) => [p.name, p.value]));
    for (const c of changes) this.emit(c);
  }

  /** The cluster's ClusterProperties (name → value), as its directory declares them. */
  clusterProperties(): ReadonlyMap<string, string> {
    return this.properties;
  }

  subscribe(listener: (change: LocalChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: LocalChange): void {
    for (const l of this.listeners) l(change);
  }

  // Export side.
  listServiceExports(): LocalServiceExport[] {
    return [...this.exports.values()];
  }
  getServiceExport(ref: ServiceRef): LocalServiceExport | undefined {
    return this.exports.get(serviceKey(ref));
  }
  getService(ref: ServiceRef): LocalService | undefined {
    return this.services.get(serviceKey(ref));
  }
  listEndpointSlices(ref: ServiceRef): LocalEndpointSlice[] {
    const m = this.slices.get(serviceKey(ref));
    return m === undefined ? [] : [...m.values()];
  }
  getExportConditions(ref: ServiceRef): readonly ExportCondition[] | undefined {
    return this.conditions.get(serviceKey(ref));
  }
  async writeExportConditions(ref: ServiceRef, conditions: ExportCondition[]): Promise<void> {
    // Like the status subresource: writing status of an export that does not exist fails.
    if (!this.exports.has(serviceKey(ref))) throw new Error(`ServiceExport ${serviceKey(ref)} not found`);
    this.conditions.set(serviceKey(ref), conditions);
  }

  // Import side.
  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }
  listNamespaces(): string[] {
    return [...this.namespaces];
  }
  getClusterSetVip(ref: ServiceRef): ClusterSetVip | undefined {
    return this.vips.get(serviceKey(ref));
  }
  listImportedServices(): ImportedService[] {
    return [...this.importedServices.values()];
  }
  getImportedService(ref: ServiceRef): ImportedService | undefined {
    return this.importedServices.get(serviceKey(ref));
  }
  listImportedSlices(ref: ServiceRef): ImportedSlice[] {
    const m = this.importedSlices.get(serviceKey(ref));
    return m === undefined ? [] : [...m.values()];
  }
  /** Every imported slice (for the ImportedStateSource). */
  allImportedSlices(): ImportedSlice[] {
    const out: ImportedSlice[] = [];
    for (const m of this.importedSlices.values()) out.push(...m.values());
    return out;
  }
  async applyImportedService(service: ImportedService): Promise<void> {
    const k = serviceKey(service);
    if (deepEqual(this.importedServices.get(k), service)) return;
    this.importedServices.set(k, service);
    this.emit({ kind: 'ImportedService', namespace: service.namespace, name: service.name });
  }
  async deleteImportedService(ref: ServiceRef): Promise<void> {
    if (this.importedServices.delete(serviceKey(ref))) this.emit({ kind: 'ImportedService', namespace: ref.namespace, name: ref.name });
  }
  async applyImportedSlice(slice: ImportedSlice): Promise<void> {
    const k = serviceKey(slice);
    let m = this.importedSlices.get(k);
    if (m === undefined) this.importedSlices.set(k, (m = new Map()));
    if (deepEqual(m.get(slice.sourceCluster), slice)) return;
    m.set(slice.sourceCluster, slice);
    this.emit({ kind: 'ImportedSlice', namespace: slice.namespace, name: slice.name });
  }
  async deleteImportedSlice(ref: ServiceRef, sourceCluster: ClusterId): Promise<void> {
    const k = serviceKey(ref);
    const m = this.importedSlices.get(k);
    if (m === undefined || !m.delete(sourceCluster)) return;
    if (m.size === 0) this.importedSlices.delete(k);
    this.emit({ kind: 'ImportedSlice', namespace: ref.namespace, name: ref.name });
  }
}

function refChange(kind: 'Service' | 'ServiceExport' | 'ClusterSetVip' | 'EndpointSlice', key: string): LocalChange {
  const i = key.indexOf('/');
  return { kind, namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Same slices under the same names; the loader hands back the same objects for unchanged files. */
function sameSliceGroup(a: ReadonlyMap<string, LocalEndpointSlice>, b: ReadonlyMap<string, LocalEndpointSlice>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, slice] of a) {
    const other = b.get(name);
    if (other === undefined || (other !== slice && !deepEqual(other, slice))) return false;
  }
  return true;
}

function diffMaps<V>(before: ReadonlyMap<string, V>, after: ReadonlyMap<string, V>, changed: (key: string) => void, equal: (a: V, b: V) => boolean = deepEqual): void {
  for (const [k, v] of after) {
    const old = before.get(k);
    // Identity first: objects of unchanged files are the very same objects as before.
    if (old === undefined || (old !== v && !equal(old, v))) changed(k);
  }
  for (const k of before.keys()) if (!after.has(k)) changed(k);
}
