/**
 * The frame of a live, projected view of one kind of object in the local cluster (ClusterProperties,
 * Submariner Gateways): an informer that restarts with backoff like every other, listeners told of
 * every change, and an invalid object logged once per version, not on every relist. A subclass
 * keeps its own state up to date in `onEvent` and calls `notify()` when it has.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from 'pino';
import { Informer, type InformerEventType, type InformerRestartReason, type ResourceRef } from './informer.ts';
import type { Projection } from './informer-cache.ts';

/** What a caller of a watched view chooses (the kind itself is the subclass's). */
export interface WatchedObjectsOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  onRestart?: (reason: InformerRestartReason) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export abstract class WatchedObjects {
  private readonly informer: Informer;
  private readonly listeners = new Set<() => void>();
  /** Object key → the resourceVersion last logged as invalid. */
  private readonly rejected = new Map<string, string>();
  protected readonly logger: Logger;

  protected constructor(options: WatchedObjectsOptions, kind: { component: string; resource: ResourceRef; project: Projection<KubernetesObject> }) {
    this.logger = options.logger.child({ component: kind.component });
    this.informer = new Informer({
      kubeConfig: options.kubeConfig,
      resource: kind.resource,
      project: kind.project,
      // Events only arrive after start(), once the subclass's own fields exist.
      onEvent: (t, o) => this.onEvent(t, o),
      logger: this.logger,
      ...(options.onRestart === undefined ? {} : { onRestart: options.onRestart }),
      ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    });
  }

  start(): void {
    this.informer.start();
  }

  stop(): void {
    this.informer.stop();
    this.listeners.clear();
  }

  async waitForSync(timeoutMs: number): Promise<void> {
    await this.informer.waitForSync(timeoutMs);
  }

  /** Listeners hear about every change (and must not throw: a throw is logged by `notify`). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one informer event to the subclass's state, then calls notify(). */
  protected abstract onEvent(type: InformerEventType, obj: KubernetesObject): void;

  /** Tells every listener; `onError` logs one that throws. */
  protected notify(onError: (err: unknown) => void): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        onError(err);
      }
    }
  }

  /** True the first time this version of the object is found invalid: log it then, not again. */
  protected firstRejection(key: string, obj: KubernetesObject): boolean {
    const version = obj.metadata?.resourceVersion;
    if (this.rejected.get(key) === version) return false;
    this.rejected.set(key, version ?? '');
    return true;
  }

  /** The object is valid again, or gone: a later invalid version is logged anew. */
  protected forgetRejection(key: string): void {
    this.rejected.delete(key);
  }
}
