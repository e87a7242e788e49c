/**
 * What `clusterset-dns doctor` reads from the Kubernetes API, shrunk to plain data at once (the
 * verdicts are made by the caller): CRD status, this cluster's settings, the agent's broker
 * credentials, the cluster's heartbeat Lease on the broker, a Service's IPs and ready endpoints,
 * and one exported name to test with. Every call is bounded by a timeout.
 */
import {
  ApiextensionsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import { LeanKubeConfig, type KubeConfig } from './kubeconfig.ts';
import { typedApi } from './typed-api.ts';
import { describeApiError, statusCodeOf } from './client.ts';
import { LABEL_SERVICE_NAME } from './labels.ts';
import { leaseName } from './kinds/lease.ts';
import { MCS_GROUP } from './objects.ts';
import type { ObjectRef } from './coredns-configmap.ts';

/** One API call bounded by `timeoutMs`; a failure names the call, the API's answer and the network cause. */
export async function bounded<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${what}:`)) throw err;
    throw new ApiCallError(`${what}: ${describeApiError(err)}${networkCause(err)}`, statusCodeOf(err));
  } finally {
    clearTimeout(timer);
  }
}

/** `fetch failed` says nothing: the network error under it does (`connect ECONNREFUSED 127.0.0.1:6443`). */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (!(cause instanceof Error)) return '';
  const code = (cause as NodeJS.ErrnoException).code;
  return ` (${cause.message}${code !== undefined && !cause.message.includes(code) ? `, ${code}` : ''})`;
}

/** Reaches an API server: its version. Throws ApiCallError naming the address and the network error. */
export async function probeApi(kc: KubeConfig, timeoutMs: number): Promise<{ server: string; gitVersion: string }> {
  const server = kc.getCurrentCluster()?.server ?? '(unknown)';
  const version = await bounded(`reaching the API server at ${server}`, timeoutMs, () => typedApi(kc, VersionApi).getCode());
  return { server, gitVersion: version.gitVersion };
}

/** An API call failed; `status` is the HTTP status when there was one (undefined: network, timeout). */
export class ApiCallError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'ApiCallError';
    this.status = status;
  }
}

export interface CrdStatus {
  name: string;
  found: boolean;
  established: boolean;
  servedVersions: string[];
}

export const MCS_CRDS = [`serviceexports.${MCS_GROUP}`, `serviceimports.${MCS_GROUP}`] as const;

export async function readCrdStatus(kc: KubeConfig, timeoutMs: number): Promise<CrdStatus[]> {
  const api = typedApi(kc, ApiextensionsV1Api);
  const out: CrdStatus[] = [];
  for (const name of MCS_CRDS) {
    try {
      const crd = await bounded(`reading CRD ${name}`, timeoutMs, () => api.readCustomResourceDefinition({ name }));
      const established = (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
      out.push({ name, found: true, established, servedVersions: crd.spec.versions.filter((v) => v.served).map((v) => v.name) });
    } catch (err) {
      if (err instanceof ApiCallError && err.status === 404) out.push({ name, found: false, established: false, servedVersions: [] });
      else throw err;
    }
  }
  return out;
}

/** The data of a ConfigMap, or undefined when it does not exist. */
export async function readConfigMapData(kc: KubeConfig, ref: ObjectRef, timeoutMs: number): Promise<Record<string, string> | undefined> {
  try {
    const cm = await bounded(`reading ConfigMap ${ref.namespace}/${ref.name}`, timeoutMs, () => typedApi(kc, CoreV1Api).readNamespacedConfigMap(ref));
    return cm.data ?? {};
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * The broker kubeconfig the agent uses: key `kubeconfig` of its Secret. Undefined when the Secret
 * does not exist; throws when it exists but holds no usable kubeconfig.
 */
export async function readBrokerKubeConfig(kc: KubeConfig, secret: ObjectRef, timeoutMs: number): Promise<KubeConfig | undefined> {
  let data: Record<string, string> | undefined;
  try {
    const s = await bounded(`reading Secret ${secret.namespace}/${secret.name}`, timeoutMs, () => typedApi(kc, CoreV1Api).readNamespacedSecret(secret));
    data = s.data ?? {};
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 404) return undefined;
    throw err;
  }
  const encoded = data['kubeconfig'];
  if (encoded === undefined) throw new Error(`Secret ${secret.namespace}/${secret.name} has no "kubeconfig" key`);
  const broker = new LeanKubeConfig();
  try {
    broker.loadFromString(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch (err) {
    throw new Error(`Secret ${secret.namespace}/${secret.name}: key "kubeconfig" is not a kubeconfig (${(err as Error).message})`);
  }
  if (broker.getCurrentCluster() === null) throw new Error(`Secret ${secret.namespace}/${secret.name}: the kubeconfig has no current cluster`);
  return broker;
}

export interface LeaseState {
  name: string;
  namespace: string;
  /** Undefined when the Lease does not exist. */
  renewedAt?: Date;
  durationSeconds?: number;
}

export async function readClusterLease(broker: KubeConfig, namespace: string, cluster: string, timeoutMs: number): Promise<LeaseState> {
  const name = leaseName(cluster);
  try {
    const lease = await bounded(`reading Lease ${namespace}/${name} on the broker`, timeoutMs, () =>
      typedApi(broker, CoordinationV1Api).readNamespacedLease({ namespace, name }));
    const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime;
    const state: LeaseState = { name, namespace };
    if (renew !== undefined) state.renewedAt = new Date(renew as unknown as string | Date);
    if (lease.spec?.leaseDurationSeconds !== undefined) state.durationSeconds = lease.spec.leaseDurationSeconds;
    return state;
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 404) return { name, namespace };
    throw err;
  }
}

export interface BrokerProbe {
  server: string;
  gitVersion: string;
  /** Leases the credentials can list in the broker namespace (proves reach and authorization). */
  leases: number;
}

/** Reaches the broker with the given credentials: its version, then a list in the broker namespace. */
export async function probeBroker(broker: KubeConfig, namespace: string, timeoutMs: number): Promise<BrokerProbe> {
  const server = broker.getCurrentCluster()?.server ?? '(unknown)';
  const version = await bounded(`reaching the broker at ${server}`, timeoutMs, () => typedApi(broker, VersionApi).getCode());
  const leases = await bounded(`listing Leases in ${namespace} on the broker`, timeoutMs, () =>
    typedApi(broker, CoordinationV1Api).listNamespacedLease({ namespace }));
  return { server, gitVersion: version.gitVersion, leases: leases.items.length };
}

export interface ServiceState {
  found: boolean;
  clusterIPs: string[];
  /** Ready endpoint addresses behind it (from its EndpointSlices). */
  readyAddresses: string[];
}

export async function readServiceState(kc: KubeConfig, ref: ObjectRef, timeoutMs: number): Promise<ServiceState> {
  let clusterIPs: string[];
  try {
    const svc = await bounded(`reading Service ${ref.namespace}/${ref.name}`, timeoutMs, () => typedApi(kc, CoreV1Api).readNamespacedService(ref));
    clusterIPs = (svc.spec?.clusterIPs ?? (svc.spec?.clusterIP !== undefined ? [svc.spec.clusterIP] : [])).filter((ip) => ip !== '' && ip !== 'None');
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 404) return { found: false, clusterIPs: [], readyAddresses: [] };
    throw err;
  }
  const slices = await bounded(`listing EndpointSlices of ${ref.namespace}/${ref.name}`, timeoutMs, () =>
    typedApi(kc, DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ref.namespace, labelSelector: `${LABEL_SERVICE_NAME}=${ref.name}` }));
  const readyAddresses = slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses));
  return { found: true, clusterIPs, readyAddresses };
}

/** One imported service (namespace/name) to ask about, or undefined when there is none. */
export async function firstServiceImport(kc: KubeConfig, version: string, timeoutMs: number): Promise<ObjectRef | undefined> {
  const list = (await bounded('listing ServiceImports', timeoutMs, () =>
    typedApi(kc, CustomObjectsApi).listClusterCustomObject({ group: MCS_GROUP, version, plural: 'serviceimports', limit: 50 }))) as {
    items?: Array<{ metadata?: { name?: string; namespace?: string } }>;
  };
  const refs = (list.items ?? [])
    .map((i) => ({ namespace: i.metadata?.namespace ?? '', name: i.metadata?.name ?? '' }))
    .filter((r) => r.namespace !== '' && r.name !== '')
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return refs[0];
}
