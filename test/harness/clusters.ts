// Real Kubernetes control planes for tests, the way controller-runtime's envtest does it: one etcd
// and one kube-apiserver per cluster (members plus an optional broker), each apiserver with its own
// --etcd-prefix on the shared etcd, its own service CIDR, service-account key and admin token,
// RBAC authorization, listening on 127.0.0.1 only. No controllers run (no kube-controller-manager,
// no scheduler, no kubelet): tests create EndpointSlices, ServiceAccounts etc. themselves.
//
// Everything lives in one directory:
//   DIR/harness.json         state: PIDs, ports, clusters (read by `down` and `status`)
//   DIR/pki/                 CA and the 127.0.0.1 serving certificate
//   DIR/etcd/                etcd data and log
//   DIR/<name>/              service-account keys, token file, apiserver log
//   DIR/<name>.kubeconfig    admin kubeconfig (bearer token, group system:masters)
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ensureBinaries, type Binaries } from './binaries.ts';
import { createServiceAccountKeys, createServingPki, type ServingPki } from './certs.ts';
import { loadKubeConfigFile, writeKubeconfig } from './kubeconfig.ts';
import { applyCrds, applyObjects, loadKustomization, manifestPart } from './manifests.ts';
import { LOOPBACK, freePort, httpGet, sleep } from './net.ts';
import { isRunning, logTail, residentBytes, startProcess, stopProcess, type ProcessRecord } from './procs.ts';

export const STATE_FILE = 'harness.json';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export type ClusterRole = 'member' | 'broker';

/** Everything about a cluster that can be written to JSON (state file, vitest `provide`). */
export interface ClusterInfo {
  name: string;
  role: ClusterRole;
  /** https://127.0.0.1:<port> */
  server: string;
  kubeconfigPath: string;
  /** PEM file of the CA that signed the apiserver's serving certificate. */
  caFile: string;
  /** Bearer token of the admin user (group system:masters), also in the kubeconfig. */
  adminToken: string;
  /** Tokens of the extra static users from `tokenUsers`, by user name. */
  userTokens: Record<string, string>;
  serviceCIDR: string;
  etcdPrefix: string;
  /** --service-account-issuer, also the only --api-audiences entry. */
  serviceAccountIssuer: string;
  logFile: string;
}

export interface Cluster extends ClusterInfo {
  /** Admin client configuration. */
  kubeConfig: KubeConfig;
  caPem: string;
}

export interface ClusterSetInfo {
  dir: string;
  etcdEndpoint: string;
  clusters: ClusterInfo[];
}

export interface ClusterSet {
  dir: string;
  etcdEndpoint: string;
  /** Members first (in the order given), then the broker if any. */
  clusters: Cluster[];
  members: Cluster[];
  broker: Cluster | undefined;
  /** The cluster with that name; throws if unknown. */
  get(name: string): Cluster;
  /** JSON-safe description, e.g. for vitest's `provide`. */
  info(): ClusterSetInfo;
  /** Resident memory in bytes of each process ("etcd", "apiserver east", ...). */
  memory(): Record<string, number | undefined>;
  /** Stops every process (SIGTERM, then SIGKILL) and, unless keepDir, removes the harness files. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface StaticTokenUser {
  name: string;
  groups?: string[];
}

export interface StartClustersOptions {
  /** Member cluster names (DNS labels), e.g. ['east', 'west']. */
  names: string[];
  /** Also start a broker apiserver. Default false. */
  broker?: boolean;
  /** Name of the broker cluster. Default 'broker'. */
  brokerName?: string;
  /** State directory. Default: a new temporary directory. Stale harness state in it is stopped first. */
  dir?: string;
  /** Default: ensureBinaries() (builds on first use). */
  binaries?: Binaries;
  /** Apply manifests/crds everywhere, manifests/rbac to members, manifests/broker to the broker. Default true. */
  applyManifests?: boolean;
  /** Extra users in every apiserver's --token-auth-file (e.g. to bind with RBAC in tests). */
  tokenUsers?: StaticTokenUser[];
  /** Processes get their own process group and outlive this Node process (CLI `up`). Default false. */
  detached?: boolean;
  /** Bound on each wait for readiness. Default 60 s. */
  readyTimeoutMs?: number;
  /** Serve /debug/pprof on every apiserver (benchmarks' CPU profiles). Default false. */
  profiling?: boolean;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

interface HarnessState {
  version: 1;
  dir: string;
  startedAt: string;
  etcdEndpoint: string;
  processes: ProcessRecord[];
  clusters: ClusterInfo[];
}

function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

function writeState(state: HarnessState): void {
  const file = statePath(state.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(dir: string): HarnessState | undefined {
  const file = statePath(resolve(dir));
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
  if (state.version !== 1) throw new Error(`${file}: unknown state version ${String(state.version)}`);
  return state;
}

function validateNames(names: string[], brokerName: string | undefined): void {
  if (names.length === 0) throw new Error('startClusters: at least one member cluster name is needed');
  const all = brokerName === undefined ? names : [...names, brokerName];
  const seen = new Set<string>();
  for (const name of all) {
    if (!DNS_LABEL.test(name)) throw new Error(`startClusters: cluster name '${name}' is not a DNS label ([a-z0-9-], at most 63)`);
    if (seen.has(name)) throw new Error(`startClusters: cluster name '${name}' is used twice`);
    if (name === 'pki' || name === 'etcd') throw new Error(`startClusters: cluster name '${name}' is reserved`);
    seen.add(name);
  }
  if (all.length > 100) throw new Error('startClusters: at most 100 clusters');
}

function token(): string {
  return randomBytes(24).toString('hex');
}

async function waitUntil(what: string, timeoutMs: number, alive: () => boolean, logFile: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`${what} exited before it was ready; log ${logFile}:\n${logTail(logFile)}`);
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms (${lastError}); log ${logFile}:\n${logTail(logFile)}`);
}

function portInUse(logFile: string): boolean {
  return /address already in use/.test(logTail(logFile, 20_000));
}

/** Starts etcd plus one apiserver per cluster and waits until all are ready (see module comment). */
export async function startClusters(options: StartClustersOptions): Promise<ClusterSet> {
  const brokerName = options.broker === true ? (options.brokerName ?? 'broker') : undefined;
  validateNames(options.names, brokerName);
  const log = options.log ?? (() => {});
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const detached = options.detached ?? false;

  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'clusterset-dns-harness-')));
  if (readState(dir) !== undefined) {
    log(`stopping what a previous run left in ${dir}`);
    await stopClustersInDir(dir);
  }
  mkdirSync(dir, { recursive: true });

  const binaries = options.binaries ?? (await ensureBinaries({ log }));
  const started = Date.now();
  const state: HarnessState = {
    version: 1,
    dir,
    startedAt: new Date().toISOString(),
    etcdEndpoint: '',
    processes: [],
    clusters: [],
  };
  writeState(state);

  try {
    mkdirSync(join(dir, 'pki'), { recursive: true });
    const pki = await createServingPki(join(dir, 'pki'));
    const caPem = readFileSync(pki.caCert, 'utf8');

    state.etcdEndpoint = await startEtcd(dir, binaries.etcd, state, detached, readyTimeoutMs);
    log(`etcd ready at ${state.etcdEndpoint} (${Date.now() - started} ms)`);

    const specs: Array<{ name: string; role: ClusterRole }> = options.names.map((name) => ({ name, role: 'member' as const }));
    if (brokerName !== undefined) specs.push({ name: brokerName, role: 'broker' });

    const clusters = await Promise.all(specs.map(async (spec, index) => {
      const info = await startApiserver({
        dir, binaries, pki, caPem, state, detached, readyTimeoutMs, index,
        name: spec.name, role: spec.role, tokenUsers: options.tokenUsers ?? [], profiling: options.profiling ?? false,
      });
      log(`apiserver ${spec.name} ready at ${info.server} (${Date.now() - started} ms)`);
      return info;
    }));

    const result = attach(dir, state.etcdEndpoint, clusters, state);
    await Promise.all(result.clusters.map((c) => waitForDefaultNamespace(c, readyTimeoutMs)));
    if (options.applyManifests ?? true) {
      await Promise.all(result.clusters.map((c) => applyProjectManifests(c)));
      log(`manifests applied (${Date.now() - started} ms)`);
    }
    log(`${result.clusters.length} clusters ready in ${Date.now() - started} ms; state in ${dir}`);
    return result;
  } catch (err) {
    await stopAll(state);
    rmSync(statePath(dir), { force: true });
    throw new Error(`startClusters failed (logs kept in ${dir}): ${(err as Error).message}`, { cause: err });
  }
}

async function startEtcd(dir: string, binary: string, state: HarnessState, detached: boolean, timeoutMs: number): Promise<string> {
  const etcdDir = join(dir, 'etcd');
  mkdirSync(etcdDir, { recursive: true });
  const logFile = join(etcdDir, 'etcd.log');
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const client = `http://${LOOPBACK}:${clientPort}`;
    const peer = `http://${LOOPBACK}:${peerPort}`;
    rmSync(join(etcdDir, 'data'), { recursive: true, force: true });
    const record = startProcess({
      name: 'etcd',
      binary,
      marker: dir,
      logFile,
      detached,
      args: [
        '--name=harness',
        `--data-dir=${join(etcdDir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=harness=${peer}`,
        '--initial-cluster-state=new',
        // Test data only: skipping fsync makes etcd (and so every apiserver write) much faster.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
    });
    state.processes.push(record);
    writeState(state);
    try {
      await waitUntil('etcd', timeoutMs, () => isRunning(record), logFile, async () => {
        const res = await httpGet(`${client}/health`, { timeoutMs: 1000 });
        return res.status === 200 && /"health":\s*"true"/.test(res.body);
      });
      return client;
    } catch (err) {
      await stopProcess(record, 2000);
      if (attempt < 3 && portInUse(logFile)) continue;
      throw err;
    }
  }
}

interface ApiserverParams {
  dir: string;
  binaries: Binaries;
  pki: ServingPki;
  caPem: string;
  state: HarnessState;
  detached: boolean;
  readyTimeoutMs: number;
  index: number;
  name: string;
  role: ClusterRole;
  tokenUsers: StaticTokenUser[];
  profiling: boolean;
}

async function startApiserver(p: ApiserverParams): Promise<ClusterInfo> {
  const home = join(p.dir, p.name);
  mkdirSync(home, { recursive: true });
  const sa = await createServiceAccountKeys(home);
  const adminToken = token();
  const userTokens: Record<string, string> = {};
  const tokenLines = [`${adminToken},admin,admin,"system:masters"`];
  for (const user of p.tokenUsers) {
    if (!DNS_LABEL.test(user.name) || user.name === 'admin') throw new Error(`token user name '${user.name}' is not allowed`);
    const t = token();
    userTokens[user.name] = t;
    tokenLines.push(`${t},${user.name},${user.name}${user.groups?.length ? `,"${user.groups.join(',')}"` : ''}`);
  }
  const tokenFile = join(home, 'tokens.csv');
  writeFileSync(tokenFile, `${tokenLines.join('\n')}\n`, { mode: 0o600 });
  const logFile = join(home, 'apiserver.log');
  const serviceCIDR = `10.${96 + p.index}.0.0/16`;
  const etcdPrefix = `/${p.name}`;
  const issuer = `https://${p.name}.clusterset-dns.test`;

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = `https://${LOOPBACK}:${port}`;
    const record = startProcess({
      name: `apiserver ${p.name}`,
      binary: p.binaries.kubeApiserver,
      marker: p.dir,
      logFile,
      detached: p.detached,
      args: [
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${port}`,
        `--tls-cert-file=${p.pki.cert}`,
        `--tls-private-key-file=${p.pki.key}`,
        `--client-ca-file=${p.pki.caCert}`,
        `--cert-dir=${home}`,
        `--etcd-servers=${p.state.etcdEndpoint}`,
        `--etcd-prefix=${etcdPrefix}`,
        `--service-cluster-ip-range=${serviceCIDR}`,
        `--service-account-issuer=${issuer}`,
        `--api-audiences=${issuer}`,
        `--service-account-key-file=${sa.publicKey}`,
        `--service-account-signing-key-file=${sa.privateKey}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        // No controller-manager creates default ServiceAccounts, so this plugin would reject Pods.
        '--disable-admission-plugins=ServiceAccount',
        // The lease reconciler would publish 127.0.0.1 as the kubernetes Service endpoint, which the
        // API rejects (loopback) and retries forever; with none, that Service has no endpoints.
        '--endpoint-reconciler-type=none',
        '--enable-priority-and-fairness=false',
        `--profiling=${String(p.profiling)}`,
        '--allow-privileged=true',
      ],
    });
    p.state.processes.push(record);
    writeState(p.state);
    try {
      await waitUntil(`apiserver ${p.name}`, p.readyTimeoutMs, () => isRunning(record), logFile, async () => {
        const res = await httpGet(`${server}/readyz`, { ca: p.caPem, token: adminToken, timeoutMs: 2000 });
        return res.status === 200;
      });
    } catch (err) {
      await stopProcess(record, 2000);
      if (attempt < 3 && portInUse(logFile)) continue;
      throw err;
    }
    const kubeconfigPath = join(p.dir, `${p.name}.kubeconfig`);
    writeKubeconfig(kubeconfigPath, { name: p.name, server, caPem: p.caPem }, 'admin', adminToken);
    const info: ClusterInfo = {
      name: p.name,
      role: p.role,
      server,
      kubeconfigPath,
      caFile: p.pki.caCert,
      adminToken,
      userTokens,
      serviceCIDR,
      etcdPrefix,
      serviceAccountIssuer: issuer,
      logFile,
    };
    p.state.clusters.push(info);
    writeState(p.state);
    return info;
  }
}

async function waitForDefaultNamespace(cluster: Cluster, timeoutMs: number): Promise<void> {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await core.readNamespace({ name: 'default' });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`namespace default not created in ${cluster.name} within ${timeoutMs} ms: ${(err as Error).message}`);
      await sleep(100);
    }
  }
}

/** CRDs everywhere; member RBAC on members; the broker namespace and Role on the broker. */
export async function applyProjectManifests(cluster: Cluster): Promise<void> {
  await applyCrds(cluster.kubeConfig);
  const part = cluster.role === 'broker' ? 'broker' : 'rbac';
  await applyObjects(cluster.kubeConfig, loadKustomization(manifestPart(part)));
}

function attach(dir: string, etcdEndpoint: string, infos: ClusterInfo[], state: HarnessState | undefined): ClusterSet {
  const clusters: Cluster[] = infos.map((info) => ({
    ...info,
    kubeConfig: loadKubeConfigFile(info.kubeconfigPath),
    caPem: readFileSync(info.caFile, 'utf8'),
  }));
  const members = clusters.filter((c) => c.role === 'member');
  const broker = clusters.find((c) => c.role === 'broker');
  const ordered = broker === undefined ? members : [...members, broker];
  return {
    dir,
    etcdEndpoint,
    clusters: ordered,
    members,
    broker,
    get(name: string): Cluster {
      const found = clusters.find((c) => c.name === name);
      if (found === undefined) throw new Error(`no cluster named '${name}' (have ${clusters.map((c) => c.name).join(', ')})`);
      return found;
    },
    info(): ClusterSetInfo {
      return { dir, etcdEndpoint, clusters: ordered.map(({ kubeConfig: _k, caPem: _c, ...info }) => info) };
    },
    memory(): Record<string, number | undefined> {
      const current = state ?? readState(dir);
      const out: Record<string, number | undefined> = {};
      for (const record of current?.processes ?? []) {
        if (isRunning(record)) out[record.name] = residentBytes(record.pid);
      }
      return out;
    },
    async stop(options?: { keepDir?: boolean }): Promise<void> {
      if (state === undefined) return; // attached to clusters someone else owns
      await stopAll(state);
      if (options?.keepDir === true) rmSync(statePath(dir), { force: true });
      else removeHarnessFiles(dir, state);
    },
  };
}

/**
 * A ClusterSet for clusters started elsewhere (vitest globalSetup, `npm run clusters -- up`):
 * its stop() does nothing; the owner stops them.
 */
export function attachClusterSet(info: ClusterSetInfo): ClusterSet {
  return attach(info.dir, info.etcdEndpoint, info.clusters, undefined);
}

async function stopAll(state: HarnessState): Promise<void> {
  const etcd = state.processes.filter((r) => r.name === 'etcd');
  const others = state.processes.filter((r) => r.name !== 'etcd');
  await Promise.all(others.map((r) => stopProcess(r)));
  await Promise.all(etcd.map((r) => stopProcess(r)));
}

function removeHarnessFiles(dir: string, state: HarnessState): void {
  const names = new Set<string>(['pki', 'etcd']);
  for (const r of state.processes) {
    const m = /^apiserver (.+)$/.exec(r.name);
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  for (const c of state.clusters) names.add(c.name);
  for (const name of names) {
    rmSync(join(dir, name), { recursive: true, force: true });
    rmSync(join(dir, `${name}.kubeconfig`), { force: true });
  }
  rmSync(statePath(dir), { force: true });
  try {
    rmdirSync(dir); // only if now empty: never delete files the harness did not create
  } catch {
    /* not empty or already gone */
  }
}

export interface StopResult {
  name: string;
  pid: number;
  outcome: 'not-running' | 'terminated' | 'killed';
}

/** Stops what the state file in `dir` lists (stale PIDs are skipped) and removes the harness files. */
export async function stopClustersInDir(dir: string): Promise<StopResult[]> {
  const abs = resolve(dir);
  const state = readState(abs);
  if (state === undefined) return [];
  const results: StopResult[] = [];
  const etcd = state.processes.filter((r) => r.name === 'etcd');
  const others = state.processes.filter((r) => r.name !== 'etcd');
  for (const group of [others, etcd]) {
    const outcomes = await Promise.all(group.map((r) => stopProcess(r)));
    group.forEach((r, i) => results.push({ name: r.name, pid: r.pid, outcome: outcomes[i] ?? 'not-running' }));
  }
  removeHarnessFiles(abs, state);
  return results;
}

export interface ProcessStatus {
  name: string;
  pid: number;
  running: boolean;
  residentBytes: number | undefined;
  logFile: string;
}

export interface HarnessStatus {
  dir: string;
  startedAt: string;
  etcdEndpoint: string;
  processes: ProcessStatus[];
  clusters: ClusterInfo[];
}

/** What the state file in `dir` says, checked against /proc; undefined if nothing was started there. */
export function clusterStatus(dir: string): HarnessStatus | undefined {
  const state = readState(dir);
  if (state === undefined) return undefined;
  return {
    dir: state.dir,
    startedAt: state.startedAt,
    etcdEndpoint: state.etcdEndpoint,
    processes: state.processes.map((r) => {
      const running = isRunning(r);
      return { name: r.name, pid: r.pid, running, residentBytes: running ? residentBytes(r.pid) : undefined, logFile: r.logFile };
    }),
    clusters: state.clusters,
  };
}

/** Attach to clusters that `npm run clusters -- up --dir DIR` started. */
export function attachToDir(dir: string): ClusterSet {
  const state = readState(dir);
  if (state === undefined) throw new Error(`no harness state in ${resolve(dir)}`);
  return attachClusterSet({ dir: state.dir, etcdEndpoint: state.etcdEndpoint, clusters: state.clusters });
}
