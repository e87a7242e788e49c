/**
 * Writes to one API server. Creates and updates are server-side applies with our field manager
 * (force: we own these fields; concurrent writers cannot lose each other's updates, the API server
 * merges per field). Deletes carry uid + resourceVersion preconditions, so we only ever delete the
 * exact object we judged orphaned — never one recreated or changed since.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { makePooledApiClient, statusCodeOf } from './client.ts';
import { FIELD_MANAGER } from './labels.ts';
import type { KubeObject } from './kinds/object-meta.ts';

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

export class KubeWriter {
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;

  constructor(kubeConfig: KubeConfig, fieldManager = FIELD_MANAGER) {
    this.api = makePooledApiClient(kubeConfig, CustomObjectsApi);
    this.fieldManager = fieldManager;
  }

  /** Server-side apply of a namespaced object (spec, labels, annotations). */
  async apply(resource: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await timed(
      this.api.patchNamespacedCustomObject(this.applyRequest(resource, object), APPLY_PATCH),
      `apply ${resource.plural} ${object.metadata.namespace}/${object.metadata.name}`,
    )) as KubeObject;
  }

  /** Server-side apply of the status subresource (fails with 404 when the object does not exist). */
  async applyStatus(resource: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await timed(
      this.api.patchNamespacedCustomObjectStatus(this.applyRequest(resource, object), APPLY_PATCH),
      `apply ${resource.plural}/status ${object.metadata.namespace}/${object.metadata.name}`,
    )) as KubeObject;
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
      await timed(
        this.api.deleteNamespacedCustomObject({
          ...resource,
          namespace,
          name,
          body: { preconditions },
        }),
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

async function timed<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Keys of objects in an informer cache. */
export function objectRef(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
