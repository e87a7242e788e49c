/**
 * Writes to one API server. Objects we own wholly (broker slices, imported ServiceImports and
 * their status, MCS EndpointSlices) are created with a plain create and changed with a JSON merge
 * patch of our fields only (merge-patch.ts: alone, up to half the API server's CPU of an apply).
 * Objects we share (a user's ServiceExport status, where other controllers may keep conditions of
 * their own) and our leases are server-side applies with our field manager (force: we own these
 * fields; the API server merges per field). Deletes carry uid + resourceVersion preconditions, so we
 * only ever delete the exact object we judged orphaned — never one recreated or changed since.
 *
 * Every write goes over the kubeconfig's one pooled connection set (client.ts) through a gate
 * whose limit of requests in flight adapts to the server's latency and overload answers
 * (request-gate.ts): as many as the server absorbs, not more. Heartbeats (`urgent`) pass the
 * gate: a lease renewal must never wait behind a burst of a thousand exports.
 */
import type { LimitChange } from './adaptive-limit.ts';
import { RequestTimeoutError, connectionOf, type ApiConnection } from './api-connection.ts';
import { statusCodeOf } from './client.ts';
import type { KubeConfig } from './kubeconfig.ts';
import { FIELD_MANAGER } from './labels.ts';
import type { KubeObject } from './kinds/object-meta.ts';
import { mergePatchFor } from './merge-patch.ts';
import { RequestGate, type RequestGateOptions } from './request-gate.ts';

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
}

export function resourceOf(apiVersion: string, plural: string): ResourceType {
  const i = apiVersion.indexOf('/');
  return { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1), plural };
}

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

/** Bounded time for one API request: a hung connection must not stall a reconciler forever. */
const REQUEST_TIMEOUT_MS = 15_000;

/** A server-side apply patch (its body JSON, which is YAML). */
const APPLY_PATCH = 'application/apply-patch+yaml';
const MERGE_PATCH = 'application/merge-patch+json';

/** The path of the namespaced collection of `resource`. */
function collectionPath(resource: ResourceType, namespace: string): string {
  const base = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
}

/** The path of a namespaced object of `resource`, or of one of its subresources. */
function objectPath(resource: ResourceType, namespace: string, name: string, subresource?: string): string {
  const path = `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
  return subresource === undefined ? path : `${path}/${subresource}`;
}

/** Which API server a writer talks to, as metrics label it (a bounded set). */
export type ApiTarget = 'local' | 'broker';

/** How one write ended: `overload` is 429, 5xx or no answer in time (the gate backs off). */
export type WriteOutcome = 'ok' | 'conflict' | 'not-found' | 'overload' | 'error';

/** Hooks for the agent's metrics (observability/api-metrics.ts). */
export interface WriterMetrics {
  apiRequest?(target: ApiTarget, outcome: WriteOutcome, seconds: number): void;
  apiLimit?(target: ApiTarget, limit: number, why: LimitChange | 'initial'): void;
}

export interface KubeWriterOptions {
  target?: ApiTarget;
  fieldManager?: string;
  metrics?: WriterMetrics;
  /** Limits and clock of the adaptive gate (tests). */
  gate?: Omit<RequestGateOptions, 'onLimit'>;
}

/** Per-write choices: `urgent` writes (heartbeats) do not wait for the gate. */
export interface WriteOptions {
  urgent?: boolean;
}

export class KubeWriter {
  private readonly api: ApiConnection;
  private readonly fieldManager: string;
  private readonly target: ApiTarget;
  private readonly metrics: WriterMetrics;
  private readonly gate: RequestGate;

  constructor(kubeConfig: KubeConfig, options: KubeWriterOptions = {}) {
    this.api = connectionOf(kubeConfig);
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.target = options.target ?? 'local';
    this.metrics = options.metrics ?? {};
    const target = this.target;
    const metrics = this.metrics;
    this.gate = new RequestGate({ ...options.gate, onLimit: (limit, why) => metrics.apiLimit?.(target, limit, why) });
    metrics.apiLimit?.(target, this.gate.limit, 'initial');
  }

  /** Requests in flight the gate allows now (it adapts). */
  get concurrencyLimit(): number {
    return this.gate.limit;
  }

  /** Server-side apply of a namespaced object (spec, labels, annotations). */
  async apply(resource: ResourceType, object: KubeObject, options: WriteOptions = {}): Promise<KubeObject> {
    return (await this.send(
      () => this.applyRequest(resource, object),
      options,
    )) as KubeObject;
  }

  /** Server-side apply of the status subresource (fails with 404 when the object does not exist). */
  async applyStatus(resource: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await this.send(
      () => this.applyRequest(resource, object, 'status'),
    )) as KubeObject;
  }

  /**
   * Makes an object we own wholly hold `desired`: created when `current` (our cache's copy, or what
   * the API server last returned) is undefined, else merge-patched on our fields; no request when
   * nothing of ours differs (returns `current` then). A create that finds the object already there
   * (our cache was behind) patches the live object instead.
   */
  async write(resource: ResourceType, desired: KubeObject, current: unknown): Promise<KubeObject> {
    if (current === undefined) {
      try {
        return (await this.send(() => this.createRequest(resource, desired))) as KubeObject;
      } catch (err) {
        if (statusCodeOf(err) !== 409) throw err;
        current = await this.send(() => this.api.get(objectPath(resource, desired.metadata.namespace ?? '', desired.metadata.name), {}, REQUEST_TIMEOUT_MS));
      }
    }
    return this.patch(resource, desired, current);
  }

  /**
   * Makes the status subresource of an object we own hold `desired.status`, by a merge patch
   * against `current` (the object as cached or as the last write returned it); the object must
   * exist (404 otherwise). No request when the status already holds it.
   */
  async writeStatus(resource: ResourceType, desired: KubeObject, current: unknown): Promise<KubeObject> {
    return this.patch(resource, desired, current, 'status');
  }

  private async patch(resource: ResourceType, desired: KubeObject, current: unknown, subresource?: string): Promise<KubeObject> {
    const patch = mergePatchFor(desired, current, subresource === undefined);
    if (patch === undefined) return current as KubeObject;
    const path = objectPath(resource, desired.metadata.namespace ?? '', desired.metadata.name, subresource);
    return (await this.send(
      () => this.api.request('PATCH', path, { query: { fieldManager: this.fieldManager }, body: patch, contentType: MERGE_PATCH, timeoutMs: REQUEST_TIMEOUT_MS }),
    )) as KubeObject;
  }

  private createRequest(resource: ResourceType, object: KubeObject): Promise<unknown> {
    return this.api.request('POST', collectionPath(resource, object.metadata.namespace ?? ''), {
      query: { fieldManager: this.fieldManager },
      body: object,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
  }

  /** One request: through the gate (unless urgent), bounded in time, counted and timed. */
  private async send<T>(request: () => Promise<T>, options: WriteOptions = {}): Promise<T> {
    const started = performance.now();
    try {
      const result = await (options.urgent ? request() : this.gate.run(request, isOverload));
      this.metrics.apiRequest?.(this.target, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      this.metrics.apiRequest?.(this.target, outcomeOf(err), (performance.now() - started) / 1000);
      throw err;
    }
  }

  /** A forced server-side apply under our field manager (object and status alike), bounded in time. */
  private applyRequest(resource: ResourceType, object: KubeObject, subresource?: string): Promise<unknown> {
    return this.api.request('PATCH', objectPath(resource, object.metadata.namespace ?? '', object.metadata.name, subresource), {
      query: { fieldManager: this.fieldManager, force: 'true' },
      body: object,
      contentType: APPLY_PATCH,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
  }

  /** Deletes with preconditions; an object already gone counts as deleted. Returns false on a precondition conflict. */
  async delete(resource: ResourceType, namespace: string, name: string, preconditions: DeletePreconditions): Promise<boolean> {
    try {
      await this.send(
        () => this.api.request('DELETE', objectPath(resource, namespace, name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions }, timeoutMs: REQUEST_TIMEOUT_MS }),
      );
      return true;
    } catch (err) {
      const code = statusCodeOf(err);
      if (code === 404) return true;
      // 409: the object changed (or was recreated) since we decided; the next event re-decides.
      if (code === 409) return false;
      throw err;
    }
  }
}

/** The server says it is overloaded (429: priority and fairness; 5xx), or did not answer in time. */
export function isOverload(err: unknown): boolean {
  if (err instanceof RequestTimeoutError) return true;
  const code = statusCodeOf(err);
  return code === 429 || (code !== undefined && code >= 500);
}

function outcomeOf(err: unknown): WriteOutcome {
  if (isOverload(err)) return 'overload';
  const code = statusCodeOf(err);
  if (code === 409) return 'conflict';
  if (code === 404) return 'not-found';
  return 'error';
}

/** Keys of objects in an informer cache. */
export function objectRef(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
