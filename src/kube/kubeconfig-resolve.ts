/**
 * Finds the credentials of a command the way kubectl does:
 *   1. the file given with the flag (--kubeconfig, --broker-kubeconfig), alone;
 *   2. else $KUBECONFIG, a colon-separated list of files, merged: for each cluster, user and context
 *      name the first file that defines it wins, and so does the first current-context (missing
 *      files in the list are skipped, as kubectl does);
 *   3. else ~/.kube/config;
 *   4. else the pod's service account, only inside a pod (KUBERNETES_SERVICE_HOST set and the token
 *      file mounted).
 * Then --context (or --broker-context) selects a context. Every failure is a KubeconfigError whose
 * one-line message names the file or context and says what to do.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LeanKubeConfig, SERVICE_ACCOUNT_TOKEN, type KubeConfig } from './kubeconfig.ts';

export { SERVICE_ACCOUNT_TOKEN } from './kubeconfig.ts';

/** An expected, user-fixable problem with the credentials (printed as one line, exit code 1). */
export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

export interface KubeconfigRequest {
  /** The file flag's value, if given. */
  file?: string;
  /** The context flag's value, if given. */
  context?: string;
  /** Names for messages, e.g. `--kubeconfig` and `--context`. */
  fileFlag: string;
  contextFlag: string;
}

export interface ResolveEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; default: the real file system. */
  fileExists?: (path: string) => boolean;
}

export interface ResolvedKubeConfig {
  kc: LeanKubeConfig;
  /** Where the credentials came from, for logs and doctor: `--kubeconfig /x`, `$KUBECONFIG a:b`, `~/.kube/config`, `in-cluster`. */
  source: string;
  /** The selected context ('' for in-cluster). */
  context: string;
}

function loadFile(path: string, what: string): LeanKubeConfig {
  const kc = new LeanKubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
    throw new KubeconfigError(`${what} ${path}: not a readable kubeconfig (${reason})`);
  }
  return kc;
}

/** kubectl's merge of several kubeconfig files: the first definition of each name wins. */
export function mergeKubeConfigs(configs: readonly KubeConfig[]): LeanKubeConfig {
  const byName = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  const merged = new LeanKubeConfig();
  merged.loadFromOptions({
    clusters: byName(configs.map((c) => c.clusters)),
    users: byName(configs.map((c) => c.users)),
    contexts: byName(configs.map((c) => c.contexts)),
    currentContext: configs.map((c) => c.currentContext).find((name) => name !== undefined && name !== '') ?? '',
  });
  return merged;
}

function selectContext(kc: KubeConfig, request: KubeconfigRequest, source: string): string {
  const names = kc.getContexts().map((c) => c.name);
  const wanted = request.context ?? kc.getCurrentContext();
  if (wanted === undefined || wanted === '') {
    throw new KubeconfigError(`${source}: no current context; pass ${request.contextFlag} NAME (contexts: ${names.join(', ') || 'none'})`);
  }
  if (!names.includes(wanted)) {
    const how = request.context !== undefined ? `${request.contextFlag} ${wanted}` : `current-context ${wanted}`;
    throw new KubeconfigError(`${how}: no such context in ${source} (contexts: ${names.join(', ') || 'none'})`);
  }
  kc.setCurrentContext(wanted);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeconfigError(`context ${wanted} in ${source} names a cluster that is not defined there`);
  if (kc.getCurrentUser() === null) throw new KubeconfigError(`context ${wanted} in ${source} names a user that is not defined there`);
  return wanted;
}

export function resolveKubeConfig(request: KubeconfigRequest, environment: ResolveEnvironment): ResolvedKubeConfig {
  const exists = environment.fileExists ?? existsSync;
  const { env } = environment;
  if (request.file !== undefined) {
    if (!exists(request.file)) throw new KubeconfigError(`${request.fileFlag} ${request.file}: no such file`);
    const kc = loadFile(request.file, request.fileFlag);
    const source = `${request.fileFlag} ${request.file}`;
    return { kc, source, context: selectContext(kc, request, source) };
  }
  const list = (env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
  if (list.length > 0) {
    const present = list.filter((p) => exists(p));
    const source = `$KUBECONFIG ${list.join(delimiter)}`;
    if (present.length === 0) throw new KubeconfigError(`${source}: none of these files exists; fix KUBECONFIG or pass ${request.fileFlag} FILE`);
    const kc = mergeKubeConfigs(present.map((p) => loadFile(p, '$KUBECONFIG file')));
    return { kc, source, context: selectContext(kc, request, source) };
  }
  const home = env['HOME'];
  if (home !== undefined && home !== '') {
    const path = join(home, '.kube', 'config');
    if (exists(path)) {
      const kc = loadFile(path, 'kubeconfig');
      return { kc, source: path, context: selectContext(kc, request, path) };
    }
  }
  if (env['KUBERNETES_SERVICE_HOST'] !== undefined && env['KUBERNETES_SERVICE_HOST'] !== '' && exists(SERVICE_ACCOUNT_TOKEN)) {
    if (request.context !== undefined) throw new KubeconfigError(`${request.contextFlag} ${request.context}: there are no contexts in a pod's in-cluster credentials; pass ${request.fileFlag} FILE`);
    const kc = new LeanKubeConfig();
    kc.loadFromCluster(env);
    return { kc, source: 'in-cluster service account', context: '' };
  }
  throw new KubeconfigError(
    `no kubeconfig found: pass ${request.fileFlag} FILE, set KUBECONFIG, or create ~/.kube/config (in-cluster credentials are used only inside a pod)`,
  );
}
