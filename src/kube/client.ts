/**
 * Kubernetes client configuration: a kubeconfig file when one is given, the pod's in-cluster
 * service-account config otherwise, and API discovery of which MCS versions a cluster serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ApiException, ApisApi, HttpMethod, KubeConfig, RequestContext, ServerConfiguration, createConfiguration, type Configuration } from '@kubernetes/client-node';
import { ABOUT_GROUP, MCS_GROUP, PREFERRED_ABOUT_VERSIONS, type AboutVersion } from './objects.ts';

/** Loads a kubeconfig file, or the in-cluster config (service-account token + CA) when `path` is unset. */
export function loadKubeConfig(path: string | undefined, what: string): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new Error(`${what} ${path}: no such file`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new Error(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    kc.loadFromCluster();
    if (kc.getCurrentCluster()?.server === 'https://undefined:undefined') {
      throw new Error(`${what}: not running in a pod (KUBERNETES_SERVICE_HOST unset); pass a kubeconfig file`);
    }
  }
  if (kc.getCurrentCluster() === null) throw new Error(`${what}: the kubeconfig has no current cluster`);
  return kc;
}

/**
 * Follows a kubeconfig file whose token is renewed in place (a bound, expiring ServiceAccount token
 * from `clusterset-dns broker join-config`, in a Secret the kubelet updates in the pod): when the
 * file's content changes, the users of `kc` are replaced by the file's, so every client made from
 * `kc` authenticates with the new token from its next request on (pooled clients within
 * AUTH_REUSE_MS). The server and CA stay as loaded; a file that does not parse is reported and the
 * old credentials kept.
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
    const fresh = new KubeConfig();
    try {
      fresh.loadFromString(text);
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

/**
 * How long one computation of the kubeconfig's request authentication is reused. Rotated
 * service-account tokens are refreshed by the kubelet long before they expire (minutes ahead),
 * so reading them at most this often loses nothing.
 */
const AUTH_REUSE_MS = 10_000;

/**
 * A client configuration whose requests share one connection pool. client-node 2.0.1 builds a new
 * undici Agent for every request when TLS options are set (a CA, client certificates), so each write
 * paid a TCP + TLS handshake, on both ends; under load that was most of an agent's write cost.
 * Computing the authentication itself is not free either (it re-reads the CA and token, and
 * builds that Agent each time): its headers are reused for AUTH_REUSE_MS, then computed again
 * (rotated tokens are picked up); the dispatcher is kept — so a rotated client certificate needs
 * a restart.
 *
 * One configuration per KubeConfig (pooledConfiguration): the writer's applies and deletes, every
 * informer's list pages and the status reads of one API server all reuse the same keep-alive
 * connections. Watches hold a connection of their own while they stream (client-node's Watch
 * builds its own dispatcher): one handshake per watch (about every 25 s per informer), not per
 * request.
 */
function makePooledConfiguration(kc: KubeConfig): Configuration {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  let dispatcher: ReturnType<RequestContext['getDispatcher']>;
  let auth: { headers: Record<string, string>; at: number } | undefined;
  const method = {
    getName: (): string => 'pooled kubeconfig authentication',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      const now = Date.now();
      if (auth === undefined || now - auth.at >= AUTH_REUSE_MS || now < auth.at) {
        const probe = new RequestContext(cluster.server, HttpMethod.GET);
        await kc.applySecurityAuthentication(probe);
        dispatcher ??= probe.getDispatcher();
        auth = { headers: probe.getHeaders(), at: now };
      }
      for (const [name, value] of Object.entries(auth.headers)) context.setHeaderParam(name, value);
      if (dispatcher !== undefined) context.setDispatcher(dispatcher);
    },
  };
  return createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: method } });
}

const pooled = new WeakMap<KubeConfig, Configuration>();

/** The one pooled configuration of `kc` (made on first use). */
function pooledConfiguration(kc: KubeConfig): Configuration {
  let config = pooled.get(kc);
  if (config === undefined) pooled.set(kc, (config = makePooledConfiguration(kc)));
  return config;
}

/** An API client of `apiType` on the pooled configuration of `kc` (see makePooledConfiguration). */
export function makePooledApiClient<T>(kc: KubeConfig, apiType: new (config: Configuration) => T): T {
  return new apiType(pooledConfiguration(kc));
}

/** A GET whose JSON body is returned exactly as the API server sent it. */
export type RawGet = (path: string, query: Record<string, string | number | undefined>, timeoutMs: number) => Promise<unknown>;

/**
 * GET requests that bypass client-node's typed models, on the same pooled connections. Typed
 * models rename fields (a list's `metadata.continue` becomes `_continue` for built-in kinds, but
 * stays `continue` for custom resources, whose lists have no model), turn times into Date objects
 * and drop fields the model does not know. The watch delivers raw JSON; reading lists raw too means
 * list and watch objects have one shape, the one the API documents. A non-2xx answer throws
 * client-node's ApiException (so `statusCodeOf` reads its code); every request is bounded by
 * `timeoutMs`.
 */
export function makeRawGet(kc: KubeConfig): RawGet {
  const config = pooledConfiguration(kc);
  return async (path, query, timeoutMs) => {
    const context = config.baseServer.makeRequestContext(path, HttpMethod.GET);
    context.setHeaderParam('Accept', 'application/json');
    for (const [name, value] of Object.entries(query)) if (value !== undefined) context.setQueryParam(name, String(value));
    context.setSignal(AbortSignal.timeout(timeoutMs));
    await config.authMethods.default?.applySecurityAuthentication(context);
    const response = await config.httpApi.send(context).toPromise();
    const text = await response.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the error message.
    }
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new ApiException(response.httpStatusCode, `GET ${path}`, body, response.headers);
    }
    if (typeof body !== 'object' || body === null) throw new Error(`GET ${path}: the API server answered ${response.httpStatusCode} with a body that is not a JSON object`);
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
  const apis = kc.makeApiClient(ApisApi);
  const groups = await withTimeout(apis.getAPIVersions(), timeoutMs, 'API discovery');
  const group = groups.groups.find((g) => g.name === MCS_GROUP);
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
  const apis = kc.makeApiClient(ApisApi);
  const groups = await withTimeout(apis.getAPIVersions(), timeoutMs, 'API discovery');
  const group = groups.groups.find((g) => g.name === ABOUT_GROUP);
  if (group === undefined) return undefined;
  const served = new Set(group.versions.map((v) => v.version));
  return PREFERRED_ABOUT_VERSIONS.find((v) => served.has(v));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** HTTP status of a client-node ApiException, if it is one. */
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
export type { KubeConfig } from '@kubernetes/client-node';
