/**
 * Kubeconfig files and in-cluster credentials, read without @kubernetes/client-node.
 *
 * Loading client-node costs every process ~85 MiB of resident memory and most of a second of
 * start-up (its entry module pulls in every generated API model). The long-running commands (`agent`,
 * `dns`) only list, watch and apply, which api-connection.ts does over node:https; they read their
 * credentials here. The field names are client-node's (caData, certFile, skipTLSVerify, ...), so a
 * client-node KubeConfig satisfies the `KubeConfig` interface below and either can be handed to
 * the same code (the tests and the CLI tools that use client-node's typed APIs do).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { load } from 'js-yaml';

export interface KubeCluster {
  name: string;
  server: string;
  caData?: string | null;
  caFile?: string | null;
  skipTLSVerify?: boolean;
  tlsServerName?: string | null;
  proxyUrl?: string | null;
}

export interface KubeUser {
  name: string;
  token?: string | null;
  /** Read again at every authentication refresh (a projected token is rotated in place). */
  tokenFile?: string | null;
  certData?: string | null;
  certFile?: string | null;
  keyData?: string | null;
  keyFile?: string | null;
  username?: string | null;
  password?: string | null;
  impersonateUser?: string | null;
  /** An exec credential plugin or an auth provider: handed to client-node, loaded only then. */
  exec?: unknown;
  authProvider?: unknown;
}

export interface KubeContext {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
}

/** What this project reads of a kubeconfig: satisfied by LeanKubeConfig and by client-node's KubeConfig. */
export interface KubeConfig {
  clusters: KubeCluster[];
  users: KubeUser[];
  contexts: KubeContext[];
  currentContext: string;
  getContexts(): KubeContext[];
  getCurrentContext(): string;
  setCurrentContext(name: string): void;
  getCurrentCluster(): KubeCluster | null;
  getCurrentUser(): KubeUser | null;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT_DIR}/token`;

export class LeanKubeConfig implements KubeConfig {
  clusters: KubeCluster[] = [];
  users: KubeUser[] = [];
  contexts: KubeContext[] = [];
  currentContext = '';

  getContexts(): KubeContext[] {
    return this.contexts;
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
  }

  getCurrentCluster(): KubeCluster | null {
    const context = this.contexts.find((c) => c.name === this.currentContext);
    return context === undefined ? null : (this.clusters.find((c) => c.name === context.cluster) ?? null);
  }

  getCurrentUser(): KubeUser | null {
    const context = this.contexts.find((c) => c.name === this.currentContext);
    return context === undefined ? null : (this.users.find((u) => u.name === context.user) ?? null);
  }

  loadFromOptions(options: { clusters: KubeCluster[]; users: KubeUser[]; contexts: KubeContext[]; currentContext: string }): void {
    this.clusters = options.clusters;
    this.users = options.users;
    this.contexts = options.contexts;
    this.currentContext = options.currentContext;
  }

  /** Parses kubeconfig YAML (or JSON); relative file paths are taken from `baseDir` when given. */
  loadFromString(text: string, baseDir?: string): void {
    const doc = load(text) as Record<string, unknown> | null | undefined;
    if (doc === null || doc === undefined || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a kubeconfig: the document is not a mapping');
    const path = (p: unknown): string | undefined => {
      if (typeof p !== 'string' || p === '') return undefined;
      return baseDir === undefined || isAbsolute(p) ? p : join(baseDir, p);
    };
    this.clusters = entries(doc['clusters'], 'clusters', 'cluster').map(({ name, body, at }) => {
      const server = body['server'];
      if (typeof server !== 'string' || server === '') throw new Error(`${at}.cluster.server is missing`);
      return {
        name,
        server: server.replace(/\/$/, ''),
        caData: str(body['certificate-authority-data']),
        caFile: path(body['certificate-authority']),
        skipTLSVerify: body['insecure-skip-tls-verify'] === true,
        tlsServerName: str(body['tls-server-name']),
        proxyUrl: str(body['proxy-url']),
      };
    });
    this.users = entries(doc['users'], 'users', 'user').map(({ name, body }) => ({
      name,
      token: str(body['token']),
      tokenFile: path(body['tokenFile'] ?? body['token-file']),
      certData: str(body['client-certificate-data']),
      certFile: path(body['client-certificate']),
      keyData: str(body['client-key-data']),
      keyFile: path(body['client-key']),
      username: str(body['username']),
      password: str(body['password']),
      impersonateUser: str(body['as']),
      exec: body['exec'] ?? undefined,
      authProvider: body['auth-provider'] ?? undefined,
    }));
    this.contexts = entries(doc['contexts'], 'contexts', 'context').map(({ name, body, at }) => {
      const cluster = body['cluster'];
      const user = body['user'];
      if (typeof cluster !== 'string') throw new Error(`${at}.context.cluster is missing`);
      return { name, cluster, user: typeof user === 'string' ? user : '', ...(typeof body['namespace'] === 'string' ? { namespace: body['namespace'] } : {}) };
    });
    const current = doc['current-context'];
    this.currentContext = typeof current === 'string' ? current : '';
  }

  loadFromFile(file: string): void {
    this.loadFromString(readFileSync(file, 'utf8'), dirname(file));
  }

  /**
   * The pod's service account: the API server from the environment the kubelet sets
   * (KUBERNETES_SERVICE_HOST/PORT, passed in), the mounted CA and (rotated) token.
   */
  loadFromCluster(env: Readonly<Record<string, string | undefined>>, dir = SERVICE_ACCOUNT_DIR): void {
    const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
    const port = env['KUBERNETES_SERVICE_PORT'] ?? '';
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const namespaceFile = `${dir}/namespace`;
    const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
    this.clusters = [{ name: 'inCluster', server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: `${dir}/ca.crt`, skipTLSVerify: false }];
    this.users = [{ name: 'inClusterUser', tokenFile: `${dir}/token` }];
    this.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', ...(namespace === undefined ? {} : { namespace }) }];
    this.currentContext = 'inClusterContext';
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The named entries of a kubeconfig list (`clusters`, `users`, `contexts`), each with its body. */
function entries(list: unknown, field: string, bodyField: string): { name: string; body: Record<string, unknown>; at: string }[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${field} is not a list`);
  return list.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    const entry = item as { name?: unknown; [k: string]: unknown } | null;
    if (entry === null || typeof entry !== 'object') throw new Error(`${at} is not a mapping`);
    if (typeof entry.name !== 'string' || entry.name === '') throw new Error(`${at}.name is missing`);
    const body = entry[bodyField];
    if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) throw new Error(`${at}.${bodyField} is not a mapping`);
    return { name: entry.name, body: (body ?? {}) as Record<string, unknown>, at };
  });
}
