/**
 * client-node's typed API clients (CoreV1Api, ...) for the short-lived CLI tools (doctor, status,
 * coredns install, broker join-config), from either kind of kubeconfig object. Only these tools
 * load client-node; the long-running commands speak to the API through api-connection.ts.
 */
import { KubeConfig as ClientNodeKubeConfig, type ApiType, type Configuration } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';

const converted = new WeakMap<KubeConfig, { users: KubeConfig['users']; real: ClientNodeKubeConfig }>();

/**
 * `kc` as a client-node KubeConfig: itself when it is one; otherwise one conversion, kept while
 * `kc.users` is the same list (followKubeConfigFile replaces it on a renewed file), with the lean
 * token file mapped to client-node's tokenFile auth provider. Keeping it keeps client-node's own
 * caches, such as an exec plugin's credential until it expires.
 */
export function clientNodeConfig(kc: KubeConfig): ClientNodeKubeConfig {
  if (kc instanceof ClientNodeKubeConfig) return kc;
  const cached = converted.get(kc);
  if (cached !== undefined && cached.users === kc.users) return cached.real;
  const real = new ClientNodeKubeConfig();
  real.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, skipTLSVerify: c.skipTLSVerify === true })) as never,
    users: kc.users.map(({ tokenFile, ...user }) =>
      tokenFile ? { ...user, authProvider: { name: 'tokenFile', config: { tokenFile } } } : user,
    ) as never,
    contexts: kc.contexts as never,
    currentContext: kc.getCurrentContext(),
  });
  converted.set(kc, { users: kc.users, real });
  return real;
}

/** A typed API client of `apiType` for the current context of `kc`. */
export function typedApi<T extends ApiType>(kc: KubeConfig, apiType: new (config: Configuration) => T): T {
  return clientNodeConfig(kc).makeApiClient(apiType);
}
