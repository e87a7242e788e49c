// The project's manifests (manifests/<part>/kustomization.yaml) applied to a real apiserver with
// server-side apply. Only the `resources` list of a kustomization is understood (files and nested
// directories); anything else is refused rather than silently ignored.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  loadYaml,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { sleep } from './net.ts';

export const manifestsDir = fileURLToPath(new URL('../../manifests/', import.meta.url));
export const FIELD_MANAGER = 'clusterset-dns-harness';

const SUPPORTED_KEYS = new Set(['apiVersion', 'kind', 'resources']);

/** The objects of a kustomization directory, in `resources` order. */
export function loadKustomization(dir: string): KubernetesObject[] {
  const file = join(dir, 'kustomization.yaml');
  const doc = loadYaml<Record<string, unknown>>(readFileSync(file, 'utf8'));
  for (const key of Object.keys(doc)) {
    if (!SUPPORTED_KEYS.has(key)) throw new Error(`${file}: the harness does not support kustomization field '${key}'`);
  }
  const resources = doc.resources;
  if (!Array.isArray(resources)) throw new Error(`${file}: 'resources' must be a list`);
  const objects: KubernetesObject[] = [];
  for (const entry of resources) {
    if (typeof entry !== 'string') throw new Error(`${file}: resource entries must be strings`);
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) objects.push(...loadKustomization(path));
    else objects.push(...loadManifestFile(path));
  }
  return objects;
}

export function loadManifestFile(path: string): KubernetesObject[] {
  const docs = loadAllYaml(readFileSync(path, 'utf8')) as unknown[];
  return docs.filter((d): d is KubernetesObject => d !== null && typeof d === 'object').map((obj) => {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new Error(`${path}: every document needs apiVersion, kind and metadata.name`);
    }
    return obj;
  });
}

/** Names of the manifest parts under manifests/ (crds, rbac, broker). */
export function manifestPart(part: 'crds' | 'rbac' | 'broker'): string {
  return join(manifestsDir, part);
}

/** Server-side apply of every object, in order (cluster-scoped and namespaces first is up to the caller). */
export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[], fieldManager = FIELD_MANAGER): Promise<void> {
  // A fresh client per call: KubernetesObjectApi caches discovery, which goes stale after CRDs appear.
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    try {
      await client.patch(obj, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new Error(`server-side apply of ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name} failed: ${describeError(err)}`);
    }
  }
}

/** Waits until each named CRD reports Established=True (and NamesAccepted=True). */
export async function waitForCrds(kc: KubeConfig, names: string[], timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const conditions = crd.status?.conditions ?? [];
      const ok = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
      if (ok('Established') && ok('NamesAccepted')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established after ${timeoutMs} ms: ${JSON.stringify(conditions)}`);
      await sleep(100);
    }
  }
}

/**
 * Waits until every served version of each CRD answers a list. Right after Established a fresh
 * apiserver still answers 429 "storage is (re)initializing" while the watch cache fills.
 */
export async function waitForCrdStorage(kc: KubeConfig, names: string[], timeoutMs = 30_000): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    const crd = await ext.readCustomResourceDefinition({ name });
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      for (;;) {
        try {
          await custom.listClusterCustomObject({ group: crd.spec.group, version: version.name, plural: crd.spec.names.plural, limit: 1 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${crd.spec.names.plural}.${crd.spec.group}/${version.name} not listable after ${timeoutMs} ms: ${describeError(err)}`);
          await sleep(100);
        }
      }
    }
  }
}

/** Applies manifests/crds and waits until the custom resources can be used. */
export async function applyCrds(kc: KubeConfig): Promise<void> {
  const objects = loadKustomization(manifestPart('crds'));
  await applyObjects(kc, objects);
  const names = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata?.name ?? '');
  await waitForCrds(kc, names);
  await waitForCrdStorage(kc, names);
}

/** A readable message from a client-node ApiException (status + the API server's message). */
export function describeError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e?.code === 'number') {
    let message = '';
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      message = (body as { message?: string })?.message ?? '';
    } catch {
      message = String(e.body);
    }
    return `HTTP ${e.code}: ${message}`;
  }
  return e?.message ?? String(err);
}

