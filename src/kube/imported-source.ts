/**
 * ImportedStateSource over a member cluster's API server, for `clusterset-dns dns`: informers on
 * ServiceImports and MCS EndpointSlices (labelled multicluster.kubernetes.io/service-name), from
 * any MCS implementation. Objects are shrunk to model types on arrival; the DNS side never sees a
 * Kubernetes object. Not synced (SERVFAIL) until both informers listed once; while either fails,
 * the last state stays served and `staleSource` says why (fail static).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ImportedState, ImportedStateSource } from '../model/imported-state.ts';
import type { ImportedService, ImportedSlice } from '../model/types.ts';
import { Informer, objectKey, type InformerEventType, type InformerRestartReason } from './informer.ts';
import { LABEL_MCS_SERVICE_NAME } from './labels.ts';
import { parseImportedSlice } from './kinds/mcs-endpoint-slice.ts';
import { mcsApiVersion } from './kinds/object-meta.ts';
import { parseImportedServiceImport } from './kinds/service-import.ts';
import { DISCOVERY_API_VERSION, KIND_ENDPOINT_SLICE, KIND_SERVICE_IMPORT } from './objects.ts';

export interface KubeImportedSourceOptions {
  kubeConfig: KubeConfig;
  mcsVersion: string;
  logger: Logger;
  onInformerRestart?: (informer: string, reason: InformerRestartReason) => void;
  /** Objects that are not valid ServiceImports / MCS slices (ignored, counted). */
  onInvalidObject?: (kind: 'ServiceImport' | 'EndpointSlice') => void;
  now?: () => number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export class KubeImportedStateSource implements ImportedStateSource {
  private readonly opts: KubeImportedSourceOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly imports: Informer;
  private readonly slices: Informer;
  private readonly services = new Map<string, ImportedService>();
  private readonly sliceOf = new Map<string, ImportedSlice>();
  private readonly listeners = new Set<() => void>();
  private readonly invalid = new Map<string, string>();
  private cached: ImportedState | undefined;
  private stale: { reason: string; since: number } | undefined;

  constructor(options: KubeImportedSourceOptions) {
    this.opts = options;
    this.logger = options.logger.child({ component: 'imported-source' });
    this.now = options.now ?? Date.now;
    const common = {
      kubeConfig: options.kubeConfig,
      logger: this.logger,
      onSynced: () => this.refreshHealth(),
      ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    };
    this.imports = new Informer({
      ...common,
      resource: { apiVersion: mcsApiVersion(options.mcsVersion), kind: KIND_SERVICE_IMPORT, plural: 'serviceimports' },
      onEvent: (t, o) => this.onImport(t, o),
      onRestart: (reason) => {
        options.onInformerRestart?.('serviceimports', reason);
        this.refreshHealth();
      },
    });
    this.slices = new Informer({
      ...common,
      resource: { apiVersion: DISCOVERY_API_VERSION, kind: KIND_ENDPOINT_SLICE, plural: 'endpointslices', labelSelector: LABEL_MCS_SERVICE_NAME },
      onEvent: (t, o) => this.onSlice(t, o),
      onRestart: (reason) => {
        options.onInformerRestart?.('endpointslices', reason);
        this.refreshHealth();
      },
    });
  }

  start(): void {
    this.imports.start();
    this.slices.start();
  }

  stop(): void {
    this.imports.stop();
    this.slices.stop();
    this.listeners.clear();
  }

  private invalidObject(kind: 'ServiceImport' | 'EndpointSlice', obj: KubernetesObject, problems: string[]): void {
    const key = `${kind}/${objectKey(obj)}`;
    const version = obj.metadata?.resourceVersion ?? '';
    if (this.invalid.get(key) === version) return;
    this.invalid.set(key, version);
    this.opts.onInvalidObject?.(kind);
    this.logger.warn({ object: key, problems }, 'ignoring an object that is not a valid MCS import');
  }

  private onImport(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    this.services.delete(key);
    if (type !== 'DELETED') {
      const parsed = parseImportedServiceImport(obj);
      if (parsed.ok) this.services.set(key, parsed.value);
      else this.invalidObject('ServiceImport', obj, parsed.problems);
    }
    this.changed();
  }

  private onSlice(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    this.sliceOf.delete(key);
    if (type !== 'DELETED') {
      const parsed = parseImportedSlice(obj, false);
      if (parsed.ok) {
        const p = parsed.value;
        const slice: ImportedSlice = { ...p.ref, sourceCluster: p.cluster, sliceName: obj.metadata?.name ?? '', endpoints: p.endpoints, ports: p.ports };
        if (p.excludedReason !== undefined) slice.excludedReason = p.excludedReason;
        if (p.rejectedAddresses !== undefined) slice.rejectedAddresses = p.rejectedAddresses;
        this.sliceOf.set(key, slice);
      } else this.invalidObject('EndpointSlice', obj, parsed.problems);
    }
    this.changed();
  }

  private refreshHealth(): void {
    const failing = [this.imports, this.slices].find((i) => {
      const s = i.status();
      return s.synced && !s.healthy;
    });
    const before = this.stale;
    if (failing === undefined) this.stale = undefined;
    else if (before === undefined) {
      const s = failing.status();
      this.stale = { reason: `API server unreachable (${failing.name}: ${s.lastError ?? 'failing'})`, since: s.failingSince ?? this.now() };
      this.logger.warn({ reason: this.stale.reason }, 'serving the last known state (fail static)');
    }
    if (before !== undefined && this.stale === undefined) this.logger.info({ downMs: this.now() - before.since }, 'API server reachable again');
    this.changed();
  }

  private changed(): void {
    this.cached = undefined;
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger.error({ err }, 'imported-state listener threw');
      }
    }
  }

  current(): ImportedState {
    if (this.cached !== undefined) return this.cached;
    const synced = this.imports.status().synced && this.slices.status().synced;
    const state: ImportedState = { synced, services: [...this.services.values()], slices: [...this.sliceOf.values()] };
    if (this.stale !== undefined) state.staleSource = { ...this.stale };
    this.cached = state;
    return state;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
