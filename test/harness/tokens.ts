// Least-privilege credentials for tests: service-account tokens minted through the TokenRequest
// API of a real apiserver (no controllers run, so the ServiceAccount is created here when missing).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface ServiceAccountTokenOptions {
  namespace: string;
  name: string;
  /** Token lifetime; the apiserver enforces at least 600 s. Default 3600. */
  expirationSeconds?: number;
  /** Default: the apiserver's --api-audiences. */
  audiences?: string[];
  /** Create the ServiceAccount (and its namespace) when missing. Default true. */
  create?: boolean;
}

function isConflict(err: unknown): boolean {
  return (err as { code?: number })?.code === 409;
}

/** A bearer token for system:serviceaccount:<namespace>:<name>, from the TokenRequest API. */
export async function serviceAccountToken(admin: KubeConfig, options: ServiceAccountTokenOptions): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  if (options.create ?? true) {
    try {
      await core.createNamespace({ body: { metadata: { name: options.namespace } } });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    try {
      await core.createNamespacedServiceAccount({
        namespace: options.namespace,
        body: { metadata: { name: options.name, namespace: options.namespace } },
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  const request = await core.createNamespacedServiceAccountToken({
    namespace: options.namespace,
    name: options.name,
    body: {
      spec: {
        expirationSeconds: options.expirationSeconds ?? 3600,
        ...(options.audiences !== undefined ? { audiences: options.audiences } : {}),
      },
    },
  });
  const token = request.status?.token;
  if (token === undefined || token === '') throw new Error(`TokenRequest for ${options.namespace}/${options.name} returned no token`);
  return token;
}
