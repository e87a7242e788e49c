/**
 * The local cluster store (ExportSource and ImportSink, agent/stores.ts) over a member cluster's
 * API server: informers on Namespaces, ServiceExports, Services, the Services' EndpointSlices,
 * ServiceImports and our imported MCS EndpointSlices (in every namespace, or in a configured set),
 * translated into the model on arrival.
 *
 * Writes: ServiceExport conditions through the status subresource; imported ServiceImports and MCS
 * EndpointSlices by server-side apply, skipped when the cached object already holds the desired
 * content. Only objects carrying our managed-by label are ever updated or deleted.
 */
import { serviceKey } from '../model/service-key.ts';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from 'pino';
import type { ExportCondition, ExportSource, ImportSink, LocalChange } from '../agent/stores.ts';
import { ConditionType } from '../model/conflicts.ts';
import type { ClusterSetVip } from '../model/local-objects.ts';
import type { ClusterId, ImportedService, ImportedSlice, LocalEndpointSlice, LocalService, LocalServiceExport, ServiceRef } from '../model/types.ts';
import { importedSliceName } from '../agent/imports.ts';
import type { KubeStoreMetrics } from './broker-store.ts';
import { Informer, objectKey, type InformerEventType, type ResourceRef } from './informer.ts';
import { withoutBulkMetadata } from './projections.ts';
import { LABEL_ENDPOINTSLICE_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY_VALUE } from './labels.ts';
import { assembleSlices, buildImportedSlices, parseImportedSlice, type ParsedSlice } from './kinds/mcs-endpoint-slice.ts';
import { isManagedByUs, mcsApiVersion } from './kinds/object-meta.ts';
import { buildExportStatus, readExportConditions } from './kinds/service-export-status.ts';
import { buildImportedServiceImport, parseImportedServiceImport } from './kinds/service-import.ts';
import { CORE_API_VERSION, DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, KIND_NAMESPACE, KIND_SERVICE, KIND_SERVICE_EXPORT, KIND_SERVICE_IMPORT } from './objects.ts';
import { sameContent } from './same-content.ts';
import { translateObject } from './translate.ts';
import { KubeWriter, resourceOf, type ResourceType } from './writer.ts';

export interface KubeLocalClusterStoreOptions {
  kubeConfig: KubeConfig;
  cluster: ClusterId;
  /** multicluster.x-k8s.io version the cluster serves (discoverMcsVersion). */
  mcsVersion: string;
  /** Watch only these namespaces (undefined: all). */
  namespaces?: readonly string[];
  logger: Logger;
  metrics?: KubeStoreMetrics;
  now?: () => number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Label selectors that split a cluster's EndpointSlices into "a Service's own" and "ours". */
export const LOCAL_SLICES_SELECTOR = `${LABEL_SERVICE_NAME},${LABEL_ENDPOINTSLICE_MANAGED_BY}!=${MANAGED_BY_VALUE}`;
export const IMPORTED_SLICES_SELECTOR = `${LABEL_ENDPOINTSLICE_MANAGED_BY}=${MANAGED_BY_VALUE}`;

const OUR_CONDITIONS = new Set<string>(Object.values(ConditionType));

export class KubeLocalClusterStore implements ExportSource, ImportSink {
  private readonly opts: KubeLocalClusterStoreOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly writer: KubeWriter;
  private readonly exportResource: ResourceType;
  private readonly importResource: ResourceType;
  private readonly sliceResource: ResourceType;
  private readonly informers: Informer[] = [];
  /** The informers our own writes go through (observeWritten), per watched namespace ('' = all). */
  private readonly exportInformers = new Map<string, Informer>();
  private readonly importInformers = new Map<string, Informer>();
  private readonly importedSliceInformers = new Map<string, Informer>();
  private readonly namespaceScope: ReadonlySet<string> | undefined;
  private readonly listeners = new Set<(change: LocalChange) => void>();

  private readonly namespaces = new Set<string>();
  private readonly exportRaw = new Map<string, KubernetesObject>();
  private readonly exports = new Map<string, LocalServiceExport>();
  private readonly services = new Map<string, LocalService>();
  private readonly localSliceOf = new Map<string, LocalEndpointSlice>();
  private readonly localSliceIndex = new Map<string, Map<string, LocalEndpointSlice>>();
  private readonly importRaw = new Map<string, KubernetesObject>();
  private readonly importedSliceOf = new Map<string, ParsedSlice>();
  /** service key → cluster → object key → parsed slice */
  private readonly importedSliceIndex = new Map<string, Map<ClusterId, Map<string, ParsedSlice>>>();
  private readonly importedSliceRaw = new Map<string, KubernetesObject>();
  /** Objects that failed translation (logged once per version). */
  private readonly invalid = new Map<string, string>();

  constructor(options: KubeLocalClusterStoreOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'local-store', cluster: options.cluster });
    this.now = options.now ?? Date.now;
    this.writer = new KubeWriter(options.kubeConfig, { target: 'local', ...(options.metrics === undefined ? {} : { metrics: options.metrics }) });
    const mcs = mcsApiVersion(options.mcsVersion);
    this.exportResource = resourceOf(mcs, 'serviceexports');
    this.importResource = resourceOf(mcs, 'serviceimports');
    this.sliceResource = resourceOf(DISCOVERY_API_VERSION, 'endpointslices');
    this.namespaceScope = options.namespaces === undefined ? undefined : new Set(options.namespaces);

    const add = (resource: ResourceRef, onEvent: (t: InformerEventType, o: KubernetesObject) => void): Informer => {
      const informer = new Informer({
          kubeConfig: options.kubeConfig,
          resource,
          // Objects are translated, compared with what we would write and deleted by uid: no managedFields.
          project: withoutBulkMetadata,
          onEvent,
          logger: this.logger,
          onRestart: (reason) => options.metrics?.informerRestart?.(`local-${resource.plural}`, reason),
          ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
          ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
        });
      this.informers.push(informer);
      return informer;
    };
    add({ apiVersion: CORE_API_VERSION, kind: KIND_NAMESPACE, plural: 'namespaces' }, (t, o) => this.onNamespace(t, o));
    for (const namespace of options.namespaces ?? [undefined]) {
      const ns = namespace === undefined ? {} : { namespace };
      this.exportInformers.set(namespace ?? '', add({ apiVersion: mcs, kind: KIND_SERVICE_EXPORT, plural: 'serviceexports', ...ns }, (t, o) => this.onExport(t, o)));
      add({ apiVersion: CORE_API_VERSION, kind: KIND_SERVICE, plural: 'services', ...ns }, (t, o) => this.onService(t, o));
      add({ apiVersion: DISCOVERY_API_VERSION, kind: KIND_ENDPOINT_SLICE, plural: 'endpointslices', labelSelector: LOCAL_SLICES_SELECTOR, ...ns }, (t, o) => this.onLocalSlice(t, o));
      this.importInformers.set(namespace ?? '', add({ apiVersion: mcs, kind: KIND_SERVICE_IMPORT, plural: 'serviceimports', ...ns }, (t, o) => this.onServiceImport(t, o)));
      this.importedSliceInformers.set(
        namespace ?? '',
        add({ apiVersion: DISCOVERY_API_VERSION, kind: KIND_ENDPOINT_SLICE, plural: 'endpointslices', labelSelector: IMPORTED_SLICES_SELECTOR, ...ns }, (t, o) => this.onImportedSlice(t, o)),
      );
    }
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  stop(): void {
    for (const i of this.informers) i.stop();
    this.listeners.clear();
  }

  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(timeoutMs)));
  }

  /**
   * Announces every imported slice set as changed, so that the importer (after its own resync of
   * broker records and ServiceImports) also visits slices whose ServiceImport is gone — orphans
   * left by a crash between two writes — and removes them if nothing on the broker wants them.
   */
  replayImportedSlices(): void {
    for (const byCluster of this.importedSliceIndex.values()) {
      const first = byCluster.values().next().value?.values().next().value;
      if (first !== undefined) this.emit({ kind: 'ImportedSlice', ...first.ref });
    }
  }

  /** Whether every local informer is currently watching (for readiness and logs). */
  healthy(): boolean {
    return this.informers.every((i) => i.status().healthy);
  }

  subscribe(listener: (change: LocalChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: LocalChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.logger.error({ err }, 'local change listener threw');
      }
    }
  }

  private translate(obj: KubernetesObject): ReturnType<typeof translateObject> {
    const result = translateObject(obj, { defaultCreatedAt: () => this.now() });
    const key = `${obj.kind}/${objectKey(obj)}`;
    if (result.status === 'invalid') {
      const version = obj.metadata?.resourceVersion ?? '';
      if (this.invalid.get(key) !== version) {
        this.invalid.set(key, version);
        this.logger.warn({ object: key, errors: result.errors }, 'ignoring an object that does not translate');
      }
    } else this.invalid.delete(key);
    return result;
  }

  // ---- events -------------------------------------------------------------------------------

  private onNamespace(type: InformerEventType, obj: KubernetesObject): void {
    const name = obj.metadata?.name ?? '';
    if (this.namespaceScope !== undefined && !this.namespaceScope.has(name)) return;
    if (type === 'DELETED') {
      if (this.namespaces.delete(name)) this.emit({ kind: 'Namespace', namespace: name });
    } else if (!this.namespaces.has(name)) {
      this.namespaces.add(name);
      this.emit({ kind: 'Namespace', namespace: name });
    }
  }

  private onExport(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const ref = refOf(obj);
    if (type === 'DELETED') {
      this.exportRaw.delete(key);
      this.exports.delete(key);
    } else {
      this.exportRaw.set(key, obj);
      const t = this.translate(obj);
      if (t.status === 'ok' && t.object.kind === 'ServiceExport') this.exports.set(key, t.object.serviceExport);
      else this.exports.delete(key);
    }
    this.emit({ kind: 'ServiceExport', ...ref });
  }

  private onService(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const before = this.services.get(key);
    if (type === 'DELETED') this.services.delete(key);
    else {
      const t = this.translate(obj);
      if (t.status === 'ok' && t.object.kind === 'Service') this.services.set(key, t.object.service);
      else this.services.delete(key);
    }
    // Services change often in ways we do not use (status, annotations): only real changes go on.
    if (type === 'MODIFIED' && before !== undefined && JSON.stringify(before) === JSON.stringify(this.services.get(key))) return;
    this.emit({ kind: 'Service', ...refOf(obj) });
  }

  private onLocalSlice(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.localSliceOf.get(key);
    let next: LocalEndpointSlice | undefined;
    if (type !== 'DELETED') {
      const t = this.translate(obj);
      if (t.status === 'ok' && t.object.kind === 'EndpointSlice') next = t.object.slice;
    }
    if (old !== undefined) {
      const m = this.localSliceIndex.get(serviceKey(old));
      m?.delete(key);
      if (m !== undefined && m.size === 0) this.localSliceIndex.delete(serviceKey(old));
    }
    if (next !== undefined) {
      this.localSliceOf.set(key, next);
      let m = this.localSliceIndex.get(serviceKey(next));
      if (m === undefined) this.localSliceIndex.set(serviceKey(next), (m = new Map()));
      m.set(key, next);
    } else this.localSliceOf.delete(key);
    const refs = new Set([old, next].filter((s) => s !== undefined).map((s) => serviceKey(s)));
    for (const k of refs) {
      const i = k.indexOf('/');
      this.emit({ kind: 'EndpointSlice', namespace: k.slice(0, i), name: k.slice(i + 1) });
    }
  }

  private onServiceImport(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    if (type === 'DELETED') this.importRaw.delete(key);
    else this.importRaw.set(key, obj);
    const ref = refOf(obj);
    this.emit({ kind: 'ClusterSetVip', ...ref });
    this.emit({ kind: 'ImportedService', ...ref });
  }

  private onImportedSlice(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const old = this.importedSliceOf.get(key);
    let next: ParsedSlice | undefined;
    if (type !== 'DELETED') {
      this.importedSliceRaw.set(key, obj);
      const parsed = parseImportedSlice(obj, true);
      if (parsed.ok) next = parsed.value;
      else this.logger.warn({ object: key, problems: parsed.problems }, 'ignoring an EndpointSlice labelled as ours that we did not write');
    } else this.importedSliceRaw.delete(key);
    if (old !== undefined) {
      const set = this.importedSliceIndex.get(serviceKey(old.ref))?.get(old.cluster);
      set?.delete(key);
      if (set !== undefined && set.size === 0) {
        const byCluster = this.importedSliceIndex.get(serviceKey(old.ref))!;
        byCluster.delete(old.cluster);
        if (byCluster.size === 0) this.importedSliceIndex.delete(serviceKey(old.ref));
      }
    }
    if (next !== undefined) {
      this.importedSliceOf.set(key, next);
      let byCluster = this.importedSliceIndex.get(serviceKey(next.ref));
      if (byCluster === undefined) this.importedSliceIndex.set(serviceKey(next.ref), (byCluster = new Map()));
      let set = byCluster.get(next.cluster);
      if (set === undefined) byCluster.set(next.cluster, (set = new Map()));
      set.set(key, next);
    } else this.importedSliceOf.delete(key);
    const refs = new Map<string, ServiceRef>();
    for (const s of [old, next]) if (s !== undefined) refs.set(serviceKey(s.ref), s.ref);
    for (const ref of refs.values()) this.emit({ kind: 'ImportedSlice', ...ref });
  }

  // ---- export side --------------------------------------------------------------------------

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
    return [...(this.localSliceIndex.get(serviceKey(ref))?.values() ?? [])];
  }

  getExportConditions(ref: ServiceRef): readonly ExportCondition[] | undefined {
    const raw = this.exportRaw.get(serviceKey(ref));
    if (raw === undefined) return undefined;
    const read = readExportConditions(raw);
    if (read === undefined) return undefined;
    if (read.observedGeneration !== read.generation) {
      // Written for an older generation: report the conditions as different (same status, so the
      // transition times are kept) so that the exporter rewrites them with the new generation.
      return read.conditions.map((c) => ({ ...c, reason: `${c.reason}(generation ${String(read.observedGeneration)})` }));
    }
    return read.conditions;
  }

  async writeExportConditions(ref: ServiceRef, conditions: ExportCondition[]): Promise<void> {
    const raw = this.exportRaw.get(serviceKey(ref));
    if (raw === undefined) throw new Error(`ServiceExport ${serviceKey(ref)} not found`);
    const generation = typeof raw.metadata?.generation === 'number' ? raw.metadata.generation : 1;
    const ours = conditions.filter((c) => OUR_CONDITIONS.has(c.type));
    const written = await this.writer.applyStatus(this.exportResource, buildExportStatus(ref, ours, generation, this.opts.mcsVersion));
    informerOf(this.exportInformers, ref.namespace)?.observeWritten(written);
  }

  // ---- import side --------------------------------------------------------------------------

  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  getClusterSetVip(ref: ServiceRef): ClusterSetVip | undefined {
    const spec = (this.importRaw.get(serviceKey(ref)) as { spec?: { ips?: unknown } } | undefined)?.spec;
    const ips = Array.isArray(spec?.ips) ? spec.ips.filter((ip): ip is string => typeof ip === 'string') : [];
    return ips.length === 0 ? undefined : { ...ref, ips };
  }

  listImportedServices(): ImportedService[] {
    const out: ImportedService[] = [];
    for (const raw of this.importRaw.values()) {
      if (!isManagedByUs(raw)) continue;
      const parsed = parseImportedServiceImport(raw);
      if (parsed.ok) out.push(parsed.value);
    }
    return out;
  }

  getImportedService(ref: ServiceRef): ImportedService | undefined {
    const raw = this.importRaw.get(serviceKey(ref));
    if (raw === undefined || !isManagedByUs(raw)) return undefined;
    const parsed = parseImportedServiceImport(raw);
    return parsed.ok ? parsed.value : undefined;
  }

  listImportedSlices(ref: ServiceRef): ImportedSlice[] {
    const byCluster = this.importedSliceIndex.get(serviceKey(ref));
    if (byCluster === undefined) return [];
    const out: ImportedSlice[] = [];
    for (const [cluster, set] of byCluster) {
      out.push({ ...ref, sourceCluster: cluster, sliceName: importedSliceName(ref, cluster), ...assembleSlices([...set.values()]) });
    }
    return out;
  }

  async applyImportedService(service: ImportedService): Promise<void> {
    const current = this.importRaw.get(serviceKey(service));
    if (current !== undefined && !isManagedByUs(current)) {
      throw new Error(`ServiceImport ${serviceKey(service)} exists and is not managed by clusterset-dns; leaving it alone`);
    }
    const { object, status } = buildImportedServiceImport(service, this.opts.mcsVersion);
    const informer = informerOf(this.importInformers, service.namespace);
    let latest: unknown = current;
    if (!sameContent(object, current)) {
      const written = await this.writer.write(this.importResource, object, current);
      informer?.observeWritten(written);
      latest = written;
    }
    // The status goes as a patch against the object as it is now (a new one has none yet).
    if (!sameContent(status, latest, false)) informer?.observeWritten(await this.writer.writeStatus(this.importResource, status, latest));
  }

  async deleteImportedService(ref: ServiceRef): Promise<void> {
    const current = this.importRaw.get(serviceKey(ref));
    if (current === undefined || !isManagedByUs(current)) return;
    await this.deleteExact(this.importResource, current, informerOf(this.importInformers, ref.namespace));
  }

  async applyImportedSlice(slice: ImportedSlice): Promise<void> {
    const desired = buildImportedSlices(slice);
    for (const obj of desired) {
      const key = `${slice.namespace}/${obj.metadata.name}`;
      const current = this.importedSliceRaw.get(key);
      if (!sameContent(obj, current)) informerOf(this.importedSliceInformers, slice.namespace)?.observeWritten(await this.writer.write(this.sliceResource, obj, current));
    }
    const wanted = new Set(desired.map((o) => `${slice.namespace}/${o.metadata.name}`));
    for (const key of [...(this.importedSliceIndex.get(serviceKey(slice))?.get(slice.sourceCluster)?.keys() ?? [])]) {
      const raw = this.importedSliceRaw.get(key);
      if (!wanted.has(key) && raw !== undefined) await this.deleteExact(this.sliceResource, raw, informerOf(this.importedSliceInformers, slice.namespace));
    }
  }

  async deleteImportedSlice(ref: ServiceRef, sourceCluster: ClusterId): Promise<void> {
    for (const key of [...(this.importedSliceIndex.get(serviceKey(ref))?.get(sourceCluster)?.keys() ?? [])]) {
      const raw = this.importedSliceRaw.get(key);
      if (raw !== undefined) await this.deleteExact(this.sliceResource, raw, informerOf(this.importedSliceInformers, ref.namespace));
    }
  }

  /** Deletes only an object we manage, and only the version we saw (uid + resourceVersion preconditions). */
  private async deleteExact(resource: ResourceType, obj: KubernetesObject, informer: Informer | undefined): Promise<void> {
    if (!isManagedByUs(obj)) throw new Error(`refusing to delete ${objectKey(obj)}: not managed by clusterset-dns`);
    const preconditions = { ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}), ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) };
    const done = await this.writer.delete(resource, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '', preconditions);
    if (!done) throw new Error(`${objectKey(obj)} changed while being deleted; retrying`);
    informer?.observeDeleted(objectKey(obj));
  }
}

/** The informer watching `namespace` (or the one watching all namespaces). */
function informerOf(byNamespace: ReadonlyMap<string, Informer>, namespace: string): Informer | undefined {
  return byNamespace.get(namespace) ?? byNamespace.get('');
}

function refOf(obj: KubernetesObject): ServiceRef {
  return { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
}
