/**
 * Reads and updates the Corefile inside a ConfigMap (kube-system/coredns, kube-system/node-local-dns)
 * without losing anyone else's update: every write carries the resourceVersion it was computed
 * from, and on a 409 Conflict the edit is recomputed from a fresh read (bounded attempts).
 * The edit itself is a pure function passed in by the caller.
 */
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import { typedApi } from './typed-api.ts';
import { statusCodeOf } from './client.ts';

export interface ObjectRef {
  namespace: string;
  name: string;
}

export const COREFILE_KEY = 'Corefile';

export interface CorefileEdit {
  text: string;
  changed: boolean;
  notes: string[];
}

export interface CorefileUpdate {
  ref: ObjectRef;
  /** False when the ConfigMap does not exist (nothing was done). */
  found: boolean;
  changed: boolean;
  /** The Corefile before and after (after === before when unchanged). */
  before: string;
  after: string;
  notes: string[];
  /** resourceVersion written (or read, when unchanged). */
  resourceVersion: string | undefined;
  /** Writes attempted (more than one when another writer got in between). */
  attempts: number;
}

export interface UpdateCorefileOptions {
  /** Compute, but do not write. */
  dryRun?: boolean;
  /** Bound on read-edit-write rounds when writes conflict. Default 5. */
  maxAttempts?: number;
  key?: string;
}

function refText(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

async function readConfigMap(core: CoreV1Api, ref: ObjectRef): Promise<V1ConfigMap | undefined> {
  try {
    return await core.readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name });
  } catch (err) {
    if (statusCodeOf(err) === 404) return undefined;
    throw new Error(`reading ConfigMap ${refText(ref)}: ${describe(err)}`, { cause: err });
  }
}

function describe(err: unknown): string {
  const code = statusCodeOf(err);
  const body = (err as { body?: unknown }).body;
  let message = err instanceof Error ? err.message : String(err);
  try {
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
    if (parsed?.message !== undefined) message = parsed.message;
  } catch {
    /* keep the error's own message */
  }
  return code === undefined ? message : `HTTP ${code}: ${message}`;
}

/** The Corefile in a ConfigMap, or undefined when the ConfigMap does not exist. */
export async function readCorefile(kc: KubeConfig, ref: ObjectRef, key = COREFILE_KEY): Promise<string | undefined> {
  const cm = await readConfigMap(typedApi(kc, CoreV1Api), ref);
  if (cm === undefined) return undefined;
  const text = cm.data?.[key];
  if (text === undefined) throw new Error(`ConfigMap ${refText(ref)} has no "${key}" key`);
  return text;
}

/**
 * Applies `edit` to the Corefile of `ref` and writes the result with a resourceVersion
 * precondition (replace), retrying from a fresh read on conflict. `edit` may throw (for example
 * a conflict in the Corefile); that error propagates and nothing is written.
 */
export async function updateCorefile(
  kc: KubeConfig,
  ref: ObjectRef,
  edit: (corefile: string) => CorefileEdit | Promise<CorefileEdit>,
  options: UpdateCorefileOptions = {},
): Promise<CorefileUpdate> {
  const core = typedApi(kc, CoreV1Api);
  const key = options.key ?? COREFILE_KEY;
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const cm = await readConfigMap(core, ref);
    if (cm === undefined) {
      return { ref, found: false, changed: false, before: '', after: '', notes: [], resourceVersion: undefined, attempts: attempt - 1 };
    }
    const before = cm.data?.[key];
    if (before === undefined) throw new Error(`ConfigMap ${refText(ref)} has no "${key}" key`);
    const result = await edit(before);
    const outcome: CorefileUpdate = {
      ref, found: true, changed: result.changed, before, after: result.text, notes: result.notes,
      resourceVersion: cm.metadata?.resourceVersion, attempts: attempt - 1,
    };
    if (!result.changed || options.dryRun === true) return outcome;
    // Only the one key changes; the read object (with its resourceVersion) is the precondition.
    const body: V1ConfigMap = { ...cm, data: { ...cm.data, [key]: result.text } };
    try {
      const written = await core.replaceNamespacedConfigMap({ namespace: ref.namespace, name: ref.name, body });
      return { ...outcome, resourceVersion: written.metadata?.resourceVersion, attempts: attempt };
    } catch (err) {
      if (statusCodeOf(err) === 409 && attempt < maxAttempts) continue; // someone else wrote: recompute
      if (statusCodeOf(err) === 409) throw new Error(`ConfigMap ${refText(ref)} kept changing under us; gave up after ${attempt} attempts`, { cause: err });
      throw new Error(`updating ConfigMap ${refText(ref)}: ${describe(err)}`, { cause: err });
    }
  }
}

/** The ClusterIP(s) of a Service (dual-stack: one per family); throws for headless or missing Services. */
export async function serviceClusterIPs(kc: KubeConfig, ref: ObjectRef): Promise<string[]> {
  const core = typedApi(kc, CoreV1Api);
  let ips: string[];
  try {
    const svc = await core.readNamespacedService({ namespace: ref.namespace, name: ref.name });
    ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP !== undefined ? [svc.spec.clusterIP] : []);
  } catch (err) {
    if (statusCodeOf(err) === 404) throw new Error(`Service ${refText(ref)} not found: deploy the DNS server first (manifests/overlays/member) or pass --dns-service-ip`);
    throw new Error(`reading Service ${refText(ref)}: ${describe(err)}`, { cause: err });
  }
  const usable = ips.filter((ip) => ip !== '' && ip !== 'None');
  if (usable.length === 0) throw new Error(`Service ${refText(ref)} has no ClusterIP (headless?); CoreDNS must forward to a stable IP`);
  return usable;
}
