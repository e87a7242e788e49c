/**
 * Kubernetes client configuration: a kubeconfig file when one is given, the pod's in-cluster
 * service-account config otherwise, and API discovery of which MCS versions a cluster serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RequestTimeoutError, connectionOf } from './api-connection.ts';
import { LeanKubeConfig, type KubeConfig } from './kubeconfig.ts';
import { ABOUT_GROUP, MCS_GROUP, pickAboutVersion, type AboutVersion } from './objects.ts';

/** Loads a kubeconfig file, or the in-cluster config (service-account token + CA) when `path` is unset. */
export function loadKubeConfig(path: string | undefined, what: string, env: Readonly<Record<string, string | undefined>>): LeanKubeConfig {
  const kc = new LeanKubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new Error(`${what} ${path}: no such file`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new Error(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    if ((env['KUBERNETES_SERVICE_HOST'] ?? '') === '') {
      throw new Error(`${what}: not running in a pod (KUBERNETES_SERVICE_HOST unset); pass a kubeconfig file`);
    }
    kc.loadFromCluster(env);
  }
  if (kc.getCurrentCluster() === null) throw new Error(`${what}: the kubeconfig has no current cluster`);
  return kc;
}

/**
 * Follows a kubeconfig file whose token is renewed in place (a bound, expiring ServiceAccount token
 * from `clusterset-dns broker join-config`, in a Secret the kubelet updates in the pod): when the
 * file's content changes, the users of `kc` are replaced by the file's, so every request made with
 * `kc` authenticates with the new token within the connection's reuse of its headers
 * (api-connection.ts, AUTH_REUSE_MS). The server and CA stay as loaded; a file that does not parse
 * is reported and the old credentials kept.
 */
export function followKubeConfigFile(
  kc: KubeConfig,
  path: string,
  options: { intervalMs?: number; onReload?: () => void; onError?: (message: string) => void } = {},
): { stop(): void } {
  let last = safeRead(path);
  const timer = setInterval(() => {
    const text = safeRead(path);
    if (text === undefined || text === last) return;
    last = text;
    const fresh = new LeanKubeConfig();
    try {
      fresh.loadFromString(text, dirname(path));
    } catch (err) {
      options.onError?.(`${path}: ${err instanceof Error ? err.message : String(err)}; keeping the previous credentials`);
      return;
    }
    kc.users = fresh.users;
    options.onReload?.();
  }, options.intervalMs ?? 5_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A GET whose JSON body is returned exactly as the API server sent it. */
export type RawGet = (path: string, query: Record<string, string | number | undefined>, timeoutMs: number) => Promise<unknown>;

/**
 * GET requests on the kubeconfig's pooled connections (api-connection.ts), answered as the API
 * documents its JSON: lists and watches have one object shape. A non-2xx answer throws
 * KubeApiError (so `statusCodeOf` reads its code); every request is bounded by `timeoutMs`.
 */
export function makeRawGet(kc: KubeConfig): RawGet {
  const connection = connectionOf(kc);
  return async (path, query, timeoutMs) => {
    const body = await connection.get(path, query, timeoutMs);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`GET ${path}: the API server answered with a body that is not a JSON object`);
    return body;
  };
}

/** The API server a config talks to, for logs. */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(unknown)';
}

/** The MCS API versions this project can read, in order of preference. */
export const PREFERRED_MCS_VERSIONS = ['v1beta1', 'v1alpha1'] as const;
export type McsVersion = (typeof PREFERRED_MCS_VERSIONS)[number];

/**
 * Which MCS version (`multicluster.x-k8s.io/<v>`) the cluster serves: v1beta1 when served,
 * v1alpha1 otherwise. Both versions have the same shape (conversion None), so one watch on the
 * preferred version sees every object whichever version it was written with.
 */
export async function discoverMcsVersion(kc: KubeConfig, timeoutMs = 10_000): Promise<McsVersion> {
  const group = (await apiGroups(kc, timeoutMs)).find((g) => g.name === MCS_GROUP);
  if (group === undefined) {
    throw new Error(`the API server does not serve ${MCS_GROUP}: apply the CRDs from manifests/crds first`);
  }
  const served = new Set(group.versions.map((v) => v.version));
  const version = PREFERRED_MCS_VERSIONS.find((v) => served.has(v));
  if (version === undefined) {
    throw new Error(`${MCS_GROUP} is served in versions ${[...served].join(', ')}; clusterset-dns needs v1beta1 or v1alpha1`);
  }
  return version;
}

/**
 * Which ClusterProperty version (`about.k8s.io/<v>`) the cluster serves: v1 when served, v1alpha1
 * otherwise, undefined when the group is not served at all (no CRD installed: nothing to read).
 */
export async function discoverAboutVersion(kc: KubeConfig, timeoutMs = 10_000): Promise<AboutVersion | undefined> {
  const served = await servedVersions(kc, ABOUT_GROUP, timeoutMs);
  return served === undefined ? undefined : pickAboutVersion(served);
}

/** The versions of an API group the server serves; undefined when it does not serve the group. */
export async function servedVersions(kc: KubeConfig, groupName: string, timeoutMs = 10_000): Promise<string[] | undefined> {
  return (await apiGroups(kc, timeoutMs)).find((g) => g.name === groupName)?.versions.map((v) => v.version);
}

interface ApiGroup {
  name: string;
  versions: { version: string }[];
}

/** The API groups the server serves (`GET /apis`, an APIGroupList), checked for shape. */
async function apiGroups(kc: KubeConfig, timeoutMs: number): Promise<ApiGroup[]> {
  let list: unknown;
  try {
    list = await connectionOf(kc).get('/apis', {}, timeoutMs);
  } catch (err) {
    if (err instanceof RequestTimeoutError) throw new Error(`API discovery timed out after ${timeoutMs} ms`);
    throw err;
  }
  const groups = (list as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups)) throw new Error('API discovery: GET /apis did not answer an APIGroupList');
  return groups.flatMap((g: { name?: unknown; versions?: unknown }) =>
    typeof g?.name === 'string' && Array.isArray(g.versions)
      ? [{ name: g.name, versions: (g.versions as { version?: unknown }[]).filter((v) => typeof v?.version === 'string') as { version: string }[] }]
      : [],
  );
}

/** HTTP status of an API error (KubeApiError, or client-node's ApiException), if it is one. */
export function statusCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A short, readable message for an API error (status and the API server's own message). */
export function describeApiError(err: unknown): string {
  const code = statusCodeOf(err);
  if (code !== undefined) {
    const body = (err as { body?: unknown }).body;
    let message = '';
    try {
      const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: unknown }) : (body as { message?: unknown } | undefined);
      message = typeof parsed?.message === 'string' ? parsed.message : '';
    } catch {
      message = typeof body === 'string' ? body.slice(0, 200) : '';
    }
    return message === '' ? `HTTP ${code}` : `HTTP ${code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
export type { KubeConfig } from './kubeconfig.ts';
export { KubeApiError } from './api-connection.ts';
