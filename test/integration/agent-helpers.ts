/**
 * Helpers for the agent / DNS tests on real apiservers: least-privilege credentials from the
 * manifests' roles, workload objects, a really stoppable and restartable apiserver, and bounded
 * polling.
 */
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, RbacAuthorizationV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { kubeConfigForToken, serviceAccountToken, type Cluster } from '../harness/index.ts';
import { readState } from '../harness/clusters.ts';
import { isRunning, startProcess, stopProcess, type ProcessRecord } from '../harness/procs.ts';
import { httpGet } from '../harness/net.ts';
import { runDig } from '../helpers/dig.ts';

export const BROKER_NAMESPACE = 'clusterset-broker';

function isConflict(err: unknown): boolean {
  return (err as { code?: number })?.code === 409;
}

/** A kubeconfig for the manifests' agent ServiceAccount in a member cluster (ClusterRole clusterset-dns:agent). */
export async function agentLocalConfig(member: Cluster): Promise<KubeConfig> {
  const token = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-agent', create: false });
  return kubeConfigForToken(member, 'agent', token);
}

/** A kubeconfig for the manifests' DNS-server ServiceAccount (ClusterRole clusterset-dns:dns-server). */
export async function dnsServerConfig(member: Cluster): Promise<KubeConfig> {
  const token = await serviceAccountToken(member.kubeConfig, { namespace: 'clusterset-dns-system', name: 'clusterset-dns-server', create: false });
  return kubeConfigForToken(member, 'dns', token);
}

/**
 * A broker identity for one member: a ServiceAccount in the broker namespace bound to the
 * manifests' Role clusterset-dns:broker-member, as manifests/broker tells operators to do.
 */
export async function agentBrokerConfig(broker: Cluster, cluster: string): Promise<KubeConfig> {
  return kubeConfigForToken(broker, `agent-${cluster}`, await agentBrokerToken(broker, cluster), BROKER_NAMESPACE);
}

/** The bearer token behind agentBrokerConfig (for kubeconfig files of agent processes). */
export async function agentBrokerToken(broker: Cluster, cluster: string): Promise<string> {
  const name = `agent-${cluster}`;
  const rbac = broker.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  try {
    await rbac.createNamespacedRoleBinding({
      namespace: BROKER_NAMESPACE,
      body: {
        metadata: { name, namespace: BROKER_NAMESPACE },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'clusterset-dns:broker-member' },
        subjects: [{ kind: 'ServiceAccount', name, namespace: BROKER_NAMESPACE }],
      },
    });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  return serviceAccountToken(broker.kubeConfig, { namespace: BROKER_NAMESPACE, name });
}

/** What an API call came to: ok, or the HTTP code and the API server's own message. */
export interface Outcome {
  ok: boolean;
  code?: number;
  message?: string;
}

/** Runs one API call and reports its outcome instead of throwing (for tests of what is refused). */
export async function attempt(action: () => Promise<unknown>): Promise<Outcome> {
  try {
    await action();
    return { ok: true };
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    let message = String((err as Error).message);
    try {
      message = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body)?.message ?? message;
    } catch {
      /* keep the error's own message */
    }
    return { ok: false, ...(e.code === undefined ? {} : { code: e.code }), message };
  }
}

/** Server-side apply as a user would (field manager "test"). */
export async function apply(kc: KubeConfig, ...objects: object[]): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) await client.patch(obj as KubernetesObject, undefined, undefined, 'test', true, PatchStrategy.ServerSideApply);
}

export async function remove(kc: KubeConfig, obj: KubernetesObject): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  try {
    await client.delete(obj);
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

export async function read<T = Record<string, any>>(kc: KubeConfig, apiVersion: string, kind: string, namespace: string, name: string): Promise<T | undefined> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  try {
    return JSON.parse(JSON.stringify(await client.read({ apiVersion, kind, metadata: { name, namespace } }))) as T;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function list(kc: KubeConfig, apiVersion: string, kind: string, namespace: string | undefined, labelSelector?: string): Promise<Array<Record<string, any>>> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const result = await client.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
  return JSON.parse(JSON.stringify(result.items)) as Array<Record<string, any>>;
}

export async function serviceIP(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name });
  const ip = svc.spec?.clusterIP;
  if (ip === undefined || ip === 'None') throw new Error(`service ${namespace}/${name} has no cluster IP`);
  return ip;
}

/** Polls `check` until it returns without throwing; fails with its last error after timeoutMs. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Answer {
  status: string;
  /** Sorted record data of the answer section. */
  data: string[];
}

export async function ask(port: number, name: string, type = 'A'): Promise<Answer> {
  const r = await runDig(port, name, type);
  return { status: r.status, data: r.answer.filter((a) => a.type === type).map((a) => a.data).sort() };
}

export async function expectAnswer(port: number, name: string, type: string, data: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...data].sort();
  await eventually(`${type} ${name} @${port} = ${want.join(', ')}`, timeoutMs, async () => {
    const got = await ask(port, name, type);
    if (got.status !== 'NOERROR' || JSON.stringify(got.data) !== JSON.stringify(want)) throw new Error(`got ${got.status} ${got.data.join(', ')}`);
  });
}

/**
 * A harness apiserver that tests can really stop and start again: same binary, same flags (read
 * from /proc before stopping), so it comes back on the same port with the same etcd prefix.
 */
export class RestartableApiserver {
  private record: ProcessRecord;
  private readonly args: string[];
  private readonly cluster: Cluster;
  private frozen = false;

  constructor(dir: string, cluster: Cluster) {
    const state = readState(dir);
    const record = state?.processes.find((p) => p.name === `apiserver ${cluster.name}`);
    if (record === undefined) throw new Error(`no apiserver ${cluster.name} in ${dir}`);
    this.record = record;
    this.cluster = cluster;
    this.args = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '').slice(1);
  }

  get running(): boolean {
    return isRunning(this.record);
  }

  async stop(): Promise<void> {
    this.thaw();
    await stopProcess(this.record, 10_000);
  }

  /**
   * SIGSTOP: the process keeps its sockets open but answers nothing, as a hung or overloaded API
   * server does (watches look healthy, nothing arrives). Undo with thaw(); stop() thaws first.
   */
  freeze(): void {
    process.kill(this.record.pid, 'SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    if (isRunning(this.record)) process.kill(this.record.pid, 'SIGCONT');
  }

  async start(timeoutMs = 60_000): Promise<void> {
    this.record = startProcess({ name: this.record.name, binary: this.record.binary, args: this.args, logFile: this.record.logFile, marker: this.record.marker, detached: false });
    await eventually(`apiserver ${this.cluster.name} ready again`, timeoutMs, async () => {
      if (!isRunning(this.record)) throw new Error('exited');
      const res = await httpGet(`${this.cluster.server}/readyz`, { ca: this.cluster.caPem, token: this.cluster.adminToken, timeoutMs: 2000 });
      if (res.status !== 200) throw new Error(`readyz ${res.status}`);
    }, 250);
  }
}
