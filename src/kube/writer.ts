/**
 * Writes to one API server. Creates and updates are server-side applies with our field manager
 * (force: we own these fields; concurrent writers cannot lose each other's updates, the API server
 * merges per field). Deletes carry uid + resourceVersion preconditions, so we only ever delete the
 * exact object we judged orphaned — never one recreated or changed since.
 *
 * Every write goes over the kubeconfig's one pooled connection set (client.ts) through a gate
 * whose limit of requests in flight adapts to the server's latency and overload answers
 * (request-gate.ts): as many as the server absorbs, not more. Heartbeats (`urgent`) pass the
 * gate: a lease renewal must never wait behind a burst of a thousand exports.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { LimitChange } from './adaptive-limit.ts';
import { makePooledApiClient, statusCodeOf } from './client.ts';
import { FIELD_MANAGER } from './labels.ts';
import type { KubeObject } from './kinds/object-meta.ts';
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

/** Every write is a server-side apply patch. */
const APPLY_PATCH = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

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
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;
  private readonly target: ApiTarget;
  private readonly metrics: WriterMetrics;
  private readonly gate: RequestGate;

  constructor(kubeConfig: KubeConfig, options: KubeWriterOptions = {}) {
    this.api = makePooledApiClient(kubeConfig, CustomObjectsApi);
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
      () => this.api.patchNamespacedCustomObject(this.applyRequest(resource, object), APPLY_PATCH),
      `apply ${resource.plural} ${object.metadata.namespace}/${object.metadata.name}`,
      options,
    )) as KubeObject;
  }

  /** Server-side apply of the status subresource (fails with 404 when the object does not exist). */
  async applyStatus(resource: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await this.send(
      () => this.api.patchNamespacedCustomObjectStatus(this.applyRequest(resource, object), APPLY_PATCH),
      `apply ${resource.plural}/status ${object.metadata.namespace}/${object.metadata.name}`,
    )) as KubeObject;
  }

  /** One request: through the gate (unless urgent), bounded in time, counted and timed. */
  private async send<T>(request: () => Promise<T>, what: string, options: WriteOptions = {}): Promise<T> {
    const started = performance.now();
    const bounded = (): Promise<T> => timed(request(), what);
    try {
      const result = await (options.urgent ? bounded() : this.gate.run(bounded, isOverload));
      this.metrics.apiRequest?.(this.target, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      this.metrics.apiRequest?.(this.target, outcomeOf(err), (performance.now() - started) / 1000);
      throw err;
    }
  }

  /** The request of a forced server-side apply under our field manager (object and status alike). */
  private applyRequest(resource: ResourceType, object: KubeObject) {
    return {
      ...resource,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name,
      body: object,
      fieldManager: this.fieldManager,
      force: true,
    };
  }

  /** Deletes with preconditions; an object already gone counts as deleted. Returns false on a precondition conflict. */
  async delete(resource: ResourceType, namespace: string, name: string, preconditions: DeletePreconditions): Promise<boolean> {
    try {
      await this.send(
        () => this.api.deleteNamespacedCustomObject({ ...resource, namespace, name, body: { preconditions } }),
        `delete ${resource.plural} ${namespace}/${name}`,
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

/** A request that got no answer in time. */
class RequestTimeout extends Error {}

async function timed<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RequestTimeout(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server says it is overloaded (429: priority and fairness; 5xx), or did not answer in time. */
export function isOverload(err: unknown): boolean {
  if (err instanceof RequestTimeout) return true;
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
