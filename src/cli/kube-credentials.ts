/** The commands' one way to get API credentials: kubectl's lookup order (src/kube/kubeconfig-resolve.ts). */
import type { KubeConfig } from '../kube/client.ts';
import { resolveKubeConfig } from '../kube/kubeconfig-resolve.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** This cluster's credentials from --kubeconfig / --context. */
export function clusterCredentials(config: { kubeconfig?: string; context?: string }, env: Env): KubeConfig {
  return resolveKubeConfig(
    { ...(config.kubeconfig === undefined ? {} : { file: config.kubeconfig }), ...(config.context === undefined ? {} : { context: config.context }), fileFlag: '--kubeconfig', contextFlag: '--context' },
    { env },
  ).kc;
}

/** The broker's credentials from --broker-kubeconfig / --broker-context. */
export function brokerCredentials(config: { brokerKubeconfig?: string; brokerContext?: string }, env: Env): KubeConfig {
  return resolveKubeConfig(
    {
      ...(config.brokerKubeconfig === undefined ? {} : { file: config.brokerKubeconfig }),
      ...(config.brokerContext === undefined ? {} : { context: config.brokerContext }),
      fileFlag: '--broker-kubeconfig',
      contextFlag: '--broker-context',
    },
    { env },
  ).kc;
}
