/**
 * client-node typed API clients whose requests share one connection pool, for the tests and
 * benchmarks that create thousands of objects. client-node 2.0.1 builds a new undici Agent (a new
 * TCP + TLS handshake) for every request when TLS options are set; here the authentication and its
 * dispatcher are computed once per kubeconfig and reused. (The product's own requests go through
 * src/kube/api-connection.ts, which pools on its own.)
 */
import { HttpMethod, RequestContext, ServerConfiguration, createConfiguration, type ApiType, type Configuration, type KubeConfig } from '@kubernetes/client-node';

const pooled = new WeakMap<KubeConfig, Configuration>();

function pooledConfiguration(kc: KubeConfig): Configuration {
  const existing = pooled.get(kc);
  if (existing !== undefined) return existing;
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  let shared: { headers: Record<string, string>; dispatcher: ReturnType<RequestContext['getDispatcher']> } | undefined;
  const method = {
    getName: (): string => 'pooled kubeconfig authentication',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      if (shared === undefined) {
        const probe = new RequestContext(cluster.server, HttpMethod.GET);
        await kc.applySecurityAuthentication(probe);
        shared = { headers: probe.getHeaders(), dispatcher: probe.getDispatcher() };
      }
      for (const [name, value] of Object.entries(shared.headers)) context.setHeaderParam(name, value);
      if (shared.dispatcher !== undefined) context.setDispatcher(shared.dispatcher);
    },
  };
  const config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: method } });
  pooled.set(kc, config);
  return config;
}

/** An API client of `apiType` on the one pooled configuration of `kc`. */
export function makePooledApiClient<T extends ApiType>(kc: KubeConfig, apiType: new (config: Configuration) => T): T {
  return new apiType(pooledConfiguration(kc));
}
