// Kubeconfig files and in-memory KubeConfig objects for harness clusters.
import { writeFileSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeconfigTarget {
  /** Cluster (and context) name. */
  name: string;
  server: string;
  /** PEM of the CA that signed the server certificate. */
  caPem: string;
}

/** Kubeconfig YAML for a bearer-token user; `user` names the user entry (e.g. "admin"). */
export function kubeconfigYaml(target: KubeconfigTarget, user: string, token: string, namespace = 'default'): string {
  const caData = Buffer.from(target.caPem).toString('base64');
  const userName = `${target.name}-${user}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - name: ${target.name}`,
    '    cluster:',
    `      server: ${target.server}`,
    `      certificate-authority-data: ${caData}`,
    'users:',
    `  - name: ${userName}`,
    '    user:',
    `      token: ${token}`,
    'contexts:',
    `  - name: ${target.name}`,
    '    context:',
    `      cluster: ${target.name}`,
    `      user: ${userName}`,
    `      namespace: ${namespace}`,
    `current-context: ${target.name}`,
    '',
  ].join('\n');
}

export function writeKubeconfig(path: string, target: KubeconfigTarget, user: string, token: string): void {
  writeFileSync(path, kubeconfigYaml(target, user, token), { mode: 0o600 });
}

/** A KubeConfig that talks to `target` with a bearer token (e.g. a service-account token). */
export function kubeConfigForToken(target: KubeconfigTarget, user: string, token: string, namespace = 'default'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(target, user, token, namespace));
  return kc;
}

export function loadKubeConfigFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(readFileSync(path, 'utf8'));
  return kc;
}
