/**
 * A list+watch cache that never stops silently.
 *
 * client-node's own informer stops for good on any error but 410, resolves start() even when the
 * first list fails, and turns a throwing handler into an unhandled rejection. This one:
 * - relists and rewatches after every error, with capped exponential backoff (jitter passed in);
 * - lists through every page, raw JSON like the watch (list-pages.ts): a relist is complete or it
 *   fails and retries, so its diff never reports a live object past the last page as deleted;
 * - on relist, diffs against its cache so consumers also see deletions missed while disconnected;
 * - resumes a cleanly ended watch from the last resourceVersion (no relist);
 * - isolates the handler: a throw is logged and counted, never propagated;
 * - reports `synced` (first list done) and `healthy` (last attempt worked) for fail-static answers;
 * - keeps only each object's projection (informer-cache.ts): pages are shrunk as they arrive, so
 *   not even a relist holds whole objects beyond the page being read.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { connectionOf } from './api-connection.ts';
import { makeRawGet, type RawGet } from './client.ts';
import type { KubeConfig } from './kubeconfig.ts';
import { listAllPages, type ListPage } from './list-pages.ts';
import { ProjectedCache, objectKey, type InformerEventType, type Projection } from './informer-cache.ts';

export { objectKey, type InformerEventType, type Projection } from './informer-cache.ts';

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  /** Lowercase plural resource name, e.g. `endpointslices`. */
  plural: string;
  /** Limit to one namespace; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
}

export interface InformerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  kubeConfig: KubeConfig;
  resource: ResourceRef;
  /**
   * Shrinks every arriving object to what the consumer reads later (from events, get() and
   * list()); the informer keeps only this plus the object's identity. Pure and cheap: it runs
   * for every object of every list and watch event. A throw leaves that object out (counted).
   */
  project: Projection<T>;
  /** Called for every change with the projection; should only enqueue work. Throws are caught and counted. */
  onEvent: (type: InformerEventType, obj: T) => void;
  /** Called after every successful (re)list, once its events were delivered. */
  onSynced?: () => void;
  logger: InformerLogger;
  /** Counts restarts by a bounded reason (InformerRestartReason). */
  onRestart?: (reason: InformerRestartReason) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** In [0, 1); the backoff is multiplied by (0.5 + random()) to spread reconnect storms. */
  random?: () => number;
  /** Server-side watch timeout: watches end cleanly this often and resume (the stream fails after 15 s more of silence). */
  watchTimeoutSeconds?: number;
  /** Objects per list page (the API's `limit`); lists of any length are read through every page. */
  pageSize?: number;
  /** Bound on one list page request; a hung request fails the list (and retries) instead of stalling it. */
  pageTimeoutMs?: number;
}

/**
 * `expired`: the watch's resourceVersion was compacted away (410), a relist follows;
 * `list-expired`: a continue token expired mid-list (410), the list starts again from page one.
 */
export type InformerRestartReason = 'list-error' | 'list-expired' | 'watch-error' | 'expired' | 'handler-error';

export interface InformerStatus {
  synced: boolean;
  healthy: boolean;
  lastError?: string;
  /** Epoch ms since when the informer has been failing (unset while healthy). */
  failingSince?: number;
  restarts: number;
}

function resourcePath(r: ResourceRef): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return r.namespace ? `${base}/namespaces/${encodeURIComponent(r.namespace)}/${r.plural}` : `${base}/${r.plural}`;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; statusCode?: unknown }).statusCode ?? (err as { code?: unknown }).code;
    return code !== undefined ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}

export class Informer<T extends KubernetesObject = KubernetesObject> {
  private readonly opts: Required<Omit<InformerOptions<T>, 'onSynced' | 'onRestart'>> & Pick<InformerOptions<T>, 'onSynced' | 'onRestart'>;
  private readonly cache: ProjectedCache<T>;
  private readonly emitBound = (type: InformerEventType, obj: T): void => this.emit(type, obj);
  private readonly rawGet: RawGet;
  private resourceVersion = '';
  private stopped = true;
  private abort: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private readonly state: InformerStatus = { synced: false, healthy: false, restarts: 0 };
  private firstSync: { promise: Promise<void>; resolve: () => void };

  constructor(options: InformerOptions<T>) {
    this.opts = {
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      random: Math.random,
      watchTimeoutSeconds: 25,
      pageSize: 500,
      pageTimeoutMs: 60_000,
      ...options,
    };
    this.backoffMs = this.opts.initialBackoffMs;
    this.cache = new ProjectedCache(options.project, (key, err) => {
      this.opts.logger.error({ informer: this.name, object: key, err: describe(err) }, 'informer projection threw; object left out');
      this.opts.onRestart?.('handler-error');
    });
    // Pooled: a relist of many pages, and many informers relisting at once, reuse connections.
    this.rawGet = makeRawGet(options.kubeConfig);
    let resolve!: () => void;
    this.firstSync = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }

  get name(): string {
    const r = this.opts.resource;
    return r.namespace ? `${r.plural}@${r.namespace}` : r.plural;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.abort?.();
    this.abort = undefined;
  }

  /** Resolves after the first successful list, or rejects after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name}: not synced after ${timeoutMs} ms (last error: ${this.state.lastError ?? 'none'})`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.firstSync.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  status(): InformerStatus {
    return { ...this.state };
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** How many objects are cached. */
  get size(): number {
    return this.cache.size;
  }

  /**
   * Takes the API server's answer to our own write into the cache at once, delivered like a watch
   * event, instead of waiting for the watch to bring it; the watch event of that version (and any
   * older one still on its way) is then dropped when it comes. See own-writes.ts for why and when.
   */
  observeWritten(obj: KubernetesObject): void {
    if (this.stopped) return;
    this.cache.written(this.withType(obj), this.emitBound);
  }

  /**
   * Our own delete of the cached object `key` succeeded (or found it gone): drop it from the
   * cache now, delivered like a DELETED event; the watch's DELETED event and older events still
   * on their way are dropped when they come.
   */
  observeDeleted(key: string): void {
    if (this.stopped) return;
    this.cache.deleted(key, this.emitBound);
  }

  /** Items of a list (and some write answers) omit apiVersion and kind; the watch's objects carry them. */
  private withType(obj: KubernetesObject): KubernetesObject {
    if (obj.apiVersion !== undefined && obj.kind !== undefined) return obj;
    return { ...obj, apiVersion: obj.apiVersion ?? this.opts.resource.apiVersion, kind: obj.kind ?? this.opts.resource.kind };
  }

  private emit(type: InformerEventType, obj: T): void {
    try {
      this.opts.onEvent(type, obj);
    } catch (err) {
      this.opts.logger.error({ informer: this.name, err: describe(err) }, 'informer event handler threw; event dropped');
      this.opts.onRestart?.('handler-error');
    }
  }

  private fail(reason: InformerRestartReason, err: unknown): void {
    if (this.stopped) return;
    const message = describe(err);
    this.state.healthy = false;
    this.state.lastError = message;
    this.state.failingSince ??= Date.now();
    this.state.restarts += 1;
    this.opts.onRestart?.(reason);
    const delay = Math.min(this.opts.maxBackoffMs, this.backoffMs) * (0.5 + this.opts.random());
    this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs * 2);
    this.opts.logger.warn({ informer: this.name, reason, err: message, retryInMs: Math.round(delay) }, 'informer failed; relisting after backoff');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.relist();
    }, delay);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    const r = this.opts.resource;
    const fresh = new Map<string, T>();
    const listStarted = Date.now();
    let listVersion: string;
    let pages = 0;
    try {
      // Read to the end or not at all: a prefix would be diffed below into false DELETED events.
      // Each page is shrunk as it arrives: only one page of whole objects is alive at a time.
      const list = await listAllPages<T>(
        async (token) => {
          const page = (await this.rawGet(resourcePath(r), { labelSelector: r.labelSelector, limit: this.opts.pageSize, continue: token }, this.opts.pageTimeoutMs)) as ListPage<KubernetesObject>;
          // Anything but an array is left for listAllPages to refuse.
          if (!Array.isArray(page.items)) return page as ListPage<unknown> as ListPage<T>;
          const items: T[] = [];
          for (const obj of page.items) {
            const slim = this.cache.shrink(this.withType(obj));
            if (slim !== undefined) items.push(slim);
          }
          return { ...page, items };
        },
        {
          onRestart: (pagesRead) => {
            this.opts.logger.warn({ informer: this.name, pagesRead }, 'list continue token expired (etcd compacted mid-list); listing again from the first page');
            this.opts.onRestart?.('list-expired');
          },
        },
      );
      for (const obj of list.items) fresh.set(objectKey(obj), obj);
      listVersion = list.resourceVersion;
      pages = list.pages;
    } catch (err) {
      this.fail('list-error', err);
      return;
    }
    if (this.stopped) return;

    // Deliver the difference, so a consumer sees exactly what changed while we were away.
    this.cache.replaceAll(fresh, this.emitBound);
    this.resourceVersion = listVersion;
    this.markHealthy();
    if (!this.state.synced) {
      this.state.synced = true;
      // How long the first list took (at scale, most of a start): said once, not on every relist.
      this.opts.logger.info({ informer: this.name, objects: fresh.size, pages, listMs: Date.now() - listStarted }, 'informer synced');
      this.firstSync.resolve();
    }
    try {
      this.opts.onSynced?.();
    } catch (err) {
      this.opts.logger.error({ informer: this.name, err: describe(err) }, 'informer onSynced threw');
    }
    void this.watch();
  }

  private markHealthy(): void {
    if (!this.state.healthy && this.state.failingSince !== undefined) {
      this.opts.logger.info({ informer: this.name, downMs: Date.now() - this.state.failingSince }, 'informer recovered');
    }
    this.state.healthy = true;
    this.state.failingSince = undefined;
    this.state.lastError = undefined;
    this.backoffMs = this.opts.initialBackoffMs;
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const r = this.opts.resource;
    let expired = false;
    let errorEvent: string | undefined;
    let finished = false;
    const onDone = (err: unknown): void => {
      if (finished) return;
      finished = true;
      if (this.stopped) return;
      if (expired) {
        this.opts.onRestart?.('expired');
        void this.relist();
      } else if (err || errorEvent) {
        this.fail('watch-error', err ?? new Error(errorEvent));
      } else {
        // A clean server-side end (timeoutSeconds): resume from where we are, no relist needed.
        void this.watch();
      }
    };
    try {
      this.abort = await connectionOf(this.opts.kubeConfig).watch(
        resourcePath(r),
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: this.opts.watchTimeoutSeconds,
          labelSelector: r.labelSelector,
        },
        {
          onEvent: (type, raw) => {
            if (this.stopped) return;
            const obj = raw as KubernetesObject & { code?: number; message?: string };
            if (type === 'ERROR') {
              // 410 Gone: our resourceVersion is too old; anything else is a real failure.
              if (obj.code === 410) expired = true;
              else errorEvent = obj.message ?? 'watch ERROR event';
              this.abort?.();
              return;
            }
            const version = obj.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.cache.applyWatchEvent(type, obj, this.emitBound);
          },
          onDone,
        },
        { idleTimeoutMs: (this.opts.watchTimeoutSeconds + 15) * 1000 },
      );
      // Stopped while the watch was being opened: close it now.
      if (this.stopped) this.abort();
    } catch (err) {
      onDone(err);
    }
  }
}
