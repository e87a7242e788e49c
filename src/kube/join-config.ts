/**
 * A member's broker kubeconfig, as `clusterset-dns broker join-config` writes it: the broker's URL
 * and CA, and a bound, expiring token of ServiceAccount member-<cluster> from the TokenRequest API
 * (no long-lived token Secret). Before it hands anything out it checks that the broker namespace
 * is protected (labelled for the admission policies, the ownership binding present), so a
 * credential never silently comes without the rule that limits it.
 */
import { readFileSync } from 'node:fs';
import { AdmissionregistrationV1Api, CoreV1Api, dumpYaml } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import { typedApi } from './typed-api.ts';
import { describeApiError, statusCodeOf } from './client.ts';

/** The label the broker's policy bindings select the broker namespace by. */
export const BROKER_NAMESPACE_LABEL = 'clusterset-dns.io/broker';
/** The ownership policy's binding (manifests/overlays/broker/ownership-policy.yaml). */
export const OWNERSHIP_BINDING = 'clusterset-dns-broker-ownership';

export interface JoinConfigRequest {
  cluster: string;
  namespace: string;
  expirationSeconds: number;
  /** The URL members reach the broker at (default: the admin kubeconfig's). */
  server?: string;
}

export interface JoinConfig {
  /** The kubeconfig, YAML. */
  kubeconfig: string;
  serviceAccount: string;
  expiresAt: Date;
}

export function memberServiceAccount(cluster: string): string {
  return `member-${cluster}`;
}

async function mustExist<T>(what: string, fix: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (statusCodeOf(err) === 404) throw new Error(`${what} does not exist: ${fix}`);
    throw new Error(`reading ${what}: ${describeApiError(err)}`);
  }
}

function caData(kc: KubeConfig): string | undefined {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData) return cluster.caData;
  if (cluster?.caFile) return readFileSync(cluster.caFile).toString('base64');
  return undefined;
}

export async function buildJoinConfig(admin: KubeConfig, request: JoinConfigRequest): Promise<JoinConfig> {
  const core = typedApi(admin, CoreV1Api);
  const { namespace, cluster } = request;
  const ns = await mustExist(`broker namespace ${namespace}`, 'apply manifests/overlays/broker first (or pass --broker-namespace)', () => core.readNamespace({ name: namespace }));
  if (ns.metadata?.labels?.[BROKER_NAMESPACE_LABEL] !== 'true') {
    throw new Error(
      `broker namespace ${namespace} is not labelled ${BROKER_NAMESPACE_LABEL}=true, so the broker's admission policies do not protect it; ` +
        `label it (kubectl label namespace ${namespace} ${BROKER_NAMESPACE_LABEL}=true) or deploy it from manifests/overlays/broker`,
    );
  }
  await mustExist(`ValidatingAdmissionPolicyBinding ${OWNERSHIP_BINDING}`, 'apply manifests/overlays/broker: without it any member could write every other member\'s objects', () =>
    typedApi(admin, AdmissionregistrationV1Api).readValidatingAdmissionPolicyBinding({ name: OWNERSHIP_BINDING }),
  );
  const serviceAccount = memberServiceAccount(cluster);
  await mustExist(`ServiceAccount ${namespace}/${serviceAccount}`, `add manifests/overlays/broker/members/${cluster}.yaml (copy members/east.yaml) and apply the overlay`, () =>
    core.readNamespacedServiceAccount({ namespace, name: serviceAccount }),
  );
  let token: string | undefined;
  let expiresAt: Date | undefined;
  try {
    const tr = await core.createNamespacedServiceAccountToken({ namespace, name: serviceAccount, body: { spec: { expirationSeconds: request.expirationSeconds } } });
    token = tr.status?.token;
    expiresAt = tr.status?.expirationTimestamp === undefined ? undefined : new Date(tr.status.expirationTimestamp);
  } catch (err) {
    throw new Error(`requesting a token for ${namespace}/${serviceAccount}: ${describeApiError(err)}`);
  }
  if (token === undefined || token === '') throw new Error(`the TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  const adminCluster = admin.getCurrentCluster();
  const server = request.server ?? adminCluster?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster; pass --server');
  const ca = caData(admin);
  const name = 'clusterset-broker';
  const user = serviceAccount;
  const kubeconfig = dumpYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, ...(ca === undefined ? {} : { 'certificate-authority-data': ca }), ...(adminCluster?.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}) } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name, context: { cluster: name, user, namespace } }],
    'current-context': name,
  });
  return { kubeconfig, serviceAccount, expiresAt: expiresAt ?? new Date(Date.now() + request.expirationSeconds * 1000) };
}
