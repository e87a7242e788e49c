/**
 * ImportedStateSource over a member cluster's API server, for `clusterset-dns dns`: informers on
 * ServiceImports and MCS EndpointSlices (labelled multicluster.kubernetes.io/service-name), from
 * any MCS implementation. Objects are shrunk to model types on arrival (the informers' projection
 * is the parse, so their caches hold the model values and identities, never a Kubernetes object);
 * the DNS side never sees a Kubernetes object. Not synced (SERVFAIL) until both informers listed once; while either fails,
 * the last state stays served and `staleSource` says why (fail static).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from 'pino';
import type { ImportedState, ImportedStateSource } from '../model/imported-state.ts';
import type { Place } from '../model/snapshot.ts';
import { placeFromProperties, samePlace } from '../model/traffic-policy.ts';
import type { ImportedService, ImportedSlice } from '../model/types.ts';
import { Informer, objectKey, type InformerEventType, type InformerRestartReason } from './informer.ts';
import { LABEL_MCS_SERVICE_NAME } from './labels.ts';
import { importedSliceOf, parseImportedSlice } from './kinds/mcs-endpoint-slice.ts';
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
  /**
   * This cluster's own ClusterProperties (src/kube/cluster-properties.ts), for where it is (policy
   * `nearest`); absent where the API serves no ClusterProperties (the place is then unknown).
   */
  properties?: { current(): ReadonlyMap<string, string>; subscribe(listener: () => void): () => void };
}

/** What the informer keeps of an object: its identity and what it parsed into (or why it did not). */
export type Shrunk<V> = KubernetesObject & { parsed: { ok: true; value: V } | { ok: false; problems: string[] } };

export function shrinkImport(obj: KubernetesObject): Shrunk<ImportedService> {
  return { metadata: {}, parsed: parseImportedServiceImport(obj) };
}

export function shrinkSlice(obj: KubernetesObject): Shrunk<ImportedSlice> {
  const parsed = parseImportedSlice(obj, false);
  if (!parsed.ok) return { metadata: {}, parsed };
  return { metadata: {}, parsed: { ok: true, value: importedSliceOf(parsed.value, obj.metadata?.name ?? '') } };
}

export class KubeImportedStateSource implements ImportedStateSource {
  private readonly opts: KubeImportedSourceOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly imports: Informer<Shrunk<ImportedService>>;
  private readonly slices: Informer<Shrunk<ImportedSlice>>;
  private readonly services = new Map<string, ImportedService>();
  private readonly sliceOf = new Map<string, ImportedSlice>();
  private readonly listeners = new Set<() => void>();
  private readonly invalid = new Map<string, string>();
  private cached: ImportedState | undefined;
  private stale: { reason: string; since: number } | undefined;
  private place: Place = {};
  private unsubscribeProperties: (() => void) | undefined;

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
      project: shrinkImport,
      onEvent: (t, o) => this.onImport(t, o),
      onRestart: (reason) => {
        options.onInformerRestart?.('serviceimports', reason);
        this.refreshHealth();
      },
    });
    this.slices = new Informer({
      ...common,
      resource: { apiVersion: DISCOVERY_API_VERSION, kind: KIND_ENDPOINT_SLICE, plural: 'endpointslices', labelSelector: LABEL_MCS_SERVICE_NAME },
      project: shrinkSlice,
      onEvent: (t, o) => this.onSlice(t, o),
      onRestart: (reason) => {
        options.onInformerRestart?.('endpointslices', reason);
        this.refreshHealth();
      },
    });
  }

  start(): void {
    const properties = this.opts.properties;
    if (properties !== undefined) {
      this.place = placeFromProperties(properties.current());
      // Only a new region or zone is a new state: other properties do not change answers.
      this.unsubscribeProperties = properties.subscribe(() => {
        const place = placeFromProperties(properties.current());
        if (samePlace(place, this.place)) return;
        this.place = place;
        this.logger.info({ region: place.region, zone: place.zone }, 'this cluster moved (region/zone ClusterProperties changed)');
        this.changed();
      });
    }
    this.imports.start();
    this.slices.start();
  }

  stop(): void {
    this.unsubscribeProperties?.();
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

  private onImport(type: InformerEventType, obj: Shrunk<ImportedService>): void {
    const key = objectKey(obj);
    this.services.delete(key);
    if (type !== 'DELETED') {
      if (obj.parsed.ok) this.services.set(key, obj.parsed.value);
      else this.invalidObject('ServiceImport', obj, obj.parsed.problems);
    }
    this.changed();
  }

  private onSlice(type: InformerEventType, obj: Shrunk<ImportedSlice>): void {
    const key = objectKey(obj);
    this.sliceOf.delete(key);
    if (type !== 'DELETED') {
      if (obj.parsed.ok) this.sliceOf.set(key, obj.parsed.value);
      else this.invalidObject('EndpointSlice', obj, obj.parsed.problems);
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

  private synced(): boolean {
    return this.imports.status().synced && this.slices.status().synced;
  }

  private changed(): void {
    this.cached = undefined;
    // Until both informers listed once, every snapshot would answer SERVFAIL whatever it held:
    // rebuilding (and shipping to every worker) one per burst of a 60,000-object first list only
    // made garbage, and the cost-based pacing of rebuilds then delayed the first useful one.
    if (!this.synced()) return;
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
    const state: ImportedState = { synced: this.synced(), services: [...this.services.values()], slices: [...this.sliceOf.values()], localPlace: this.place };
    if (this.stale !== undefined) state.staleSource = { ...this.stale };
    this.cached = state;
    return state;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
