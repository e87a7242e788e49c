// `clusterset-dns doctor` on real apiservers, with the real agent (its broker credentials in the
// Secret the member overlay mounts, least-privilege broker identity from manifests/overlays/broker)
// and the real `dns` server, all run from source. First everything passes; then each link of the
// chain is broken in turn and doctor must name it (FAIL + fix) and exit 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, KubernetesObjectApi, PatchStrategy, V1MicroTime, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { forwardIp, leaseVerdict } from '../../src/cli/doctor.ts';
import { buildQuery, readReply } from '../../src/cli/doctor-probe.ts';
import { leaseName } from '../../src/kube/kinds/lease.ts';
import { freeDnsPort, freePort, loadKustomization, manifestsDir, serviceAccountToken, startClusters, type ClusterSet } from '../harness/index.ts';
import { kubeconfigYaml } from '../harness/kubeconfig.ts';
import { httpGet, sleep } from '../harness/net.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const ENTRY = `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};
process.exit(await main(process.argv.slice(1), process.env, { stdout: process.stdout, stderr: process.stderr }));`;

interface Proc {
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** Runs a clusterset-dns command from source in a child process. */
function runFromSource(args: string[]): Proc {
  let log = '';
  const child = spawn(process.execPath, ['--input-type=module', '-e', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { log = (log + c).slice(-50_000); });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { log = (log + c).slice(-50_000); });
  return {
    child,
    log: () => log,
    stop: () => stopChild(child),
  };
}

async function waitReady(proc: Proc, httpPort: number, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited (${proc.child.exitCode}):\n${proc.log()}`);
    if ((await httpGet(`http://127.0.0.1:${httpPort}/readyz`, { timeoutMs: 1000 }).catch(() => undefined))?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within 90 s:\n${proc.log()}`);
    await sleep(250);
  }
}

async function doctor(...argv: string[]): Promise<{ code: number; out: string; lines: Record<string, string> }> {
  let out = '';
  const sink = new Writable({ write(chunk, _e, done) { out += String(chunk); done(); } });
  const code = await main(['doctor', ...argv], {}, { stdout: sink, stderr: sink });
  // "STATUS  title: detail" → { title: "STATUS detail" }
  const lines: Record<string, string> = {};
  for (const m of out.matchAll(/^(PASS|FAIL|SKIP)\s+([^:]+): (.*)$/gm)) lines[m[2]!] = `${m[1]} ${m[3]}`;
  return { code, out, lines };
}

const KUBEADM = `.:53 {
    errors
    health
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
}
`;

describe('doctor walks the resolution chain', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });
  const id = randomBytes(3).toString('hex');
  const NS = `doctor-${id}`; // where "the agent and DNS server run" in east (ConfigMap, Secret, Service)
  const APP = `doctor-app-${id}`; // the exported service's namespace
  const BROKER_NS = `doctor-broker-${id}`;
  const COREDNS_CM = `coredns-${id}`;
  const NODELOCAL_CM = `node-local-dns-${id}`;
  let dir: string;
  let agent: Proc | undefined;
  let dns: Proc | undefined;
  let dnsPort: number;
  let bare: ClusterSet | undefined;
  let bareStart: Promise<ClusterSet> | undefined;
  let eastKubeconfig: string;
  let base: string[];

  const apply = async (kc: Parameters<typeof KubernetesObjectApi.makeApiClient>[0], ...objects: KubernetesObject[]) => {
    const client = KubernetesObjectApi.makeApiClient(kc);
    for (const o of objects) await client.patch(o, undefined, undefined, 'doctor-test', true, PatchStrategy.ServerSideApply);
  };
  const configMap = (name: string, namespace: string, data: Record<string, string>): KubernetesObject & { data: Record<string, string> } => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });

  async function startAgent(args: string[] = []): Promise<void> {
    const httpPort = await freePort();
    agent = runFromSource(['agent', '--cluster-id', 'east', '--kubeconfig', eastKubeconfig, '--broker-kubeconfig', join(dir, 'broker.kubeconfig'),
      '--broker-namespace', BROKER_NS, '--namespaces', APP, '--lease-duration', '4', '--lease-renew', '1', '--http-listen', `127.0.0.1:${httpPort}`, ...args]);
    await waitReady(agent, httpPort, 'agent');
  }

  beforeAll(async () => {
    // A cluster without the CRDs, started alongside (the shared ones must keep theirs).
    bareStart = startClusters({ names: ['bare'], applyManifests: false });
    const set = clusters();
    const east = set.get('east');
    const broker = set.broker!;
    eastKubeconfig = east.kubeconfigPath;
    dir = mkdtempSync(join(tmpdir(), 'clusterset-dns-doctor-'));

    // Broker: a namespace of our own with east's identity exactly as manifests/overlays/broker ships it.
    const rendered = loadKustomization(join(manifestsDir, 'overlays/broker')) as Array<KubernetesObject & Record<string, any>>;
    const identity = rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind!) && o.metadata?.name?.endsWith('member-east')).map((o) => structuredClone(o));
    expect(identity).toHaveLength(3);
    for (const o of identity) o.metadata!.namespace = BROKER_NS;
    for (const s of identity.find((o) => o.kind === 'RoleBinding')!.subjects) s.namespace = BROKER_NS;
    await broker.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: BROKER_NS } } });
    await apply(broker.kubeConfig, ...identity);
    const token = await serviceAccountToken(broker.kubeConfig, { namespace: BROKER_NS, name: 'member-east', create: false });
    const brokerKubeconfig = kubeconfigYaml(broker, 'member-east', token, BROKER_NS);
    writeFileSync(join(dir, 'broker.kubeconfig'), brokerKubeconfig, { mode: 0o600 });
    writeFileSync(join(dir, 'bad-broker.kubeconfig'), kubeconfigYaml(broker, 'member-east', 'not-a-valid-token', BROKER_NS), { mode: 0o600 });

    // East: the member overlay's ConfigMap and broker Secret (in NS), the DNS Service with a ready
    // endpoint (no pods here: slices are written by hand, as envtest users do), and an export.
    const core = east.kubeConfig.makeApiClient(CoreV1Api);
    for (const ns of [NS, APP]) await core.createNamespace({ body: { metadata: { name: ns } } });
    await apply(east.kubeConfig,
      configMap('clusterset-dns-config', NS, { 'cluster-id': 'east', 'broker-namespace': BROKER_NS }),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'clusterset-dns-broker', namespace: NS }, stringData: { kubeconfig: brokerKubeconfig } } as KubernetesObject,
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'clusterset-dns-server', namespace: NS }, spec: { selector: { app: 'dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } } as KubernetesObject,
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'dns-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'clusterset-dns-server' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.53'], conditions: { ready: true } }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } as KubernetesObject,
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: APP }, spec: { ports: [{ name: 'http', port: 80 }] } } as KubernetesObject,
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: APP, labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.10'], conditions: { ready: true } }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } as KubernetesObject,
      { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: APP } } as KubernetesObject,
    );
    await apply(east.kubeConfig, configMap(COREDNS_CM, 'kube-system', { Corefile: KUBEADM }));
    const installed = await (async () => {
      let out = '';
      const sink = new Writable({ write(c, _e, d) { out += String(c); d(); } });
      const code = await main(['coredns', 'install', '--kubeconfig', eastKubeconfig, '--coredns-configmap', `kube-system/${COREDNS_CM}`, '--nodelocal-configmap', `kube-system/${NODELOCAL_CM}`, '--dns-service', `${NS}/clusterset-dns-server`], {}, { stdout: sink, stderr: sink });
      return { code, out };
    })();
    expect(installed.code, installed.out).toBe(0);

    await startAgent();
    dnsPort = await freeDnsPort();
    const dnsHttp = await freePort();
    dns = runFromSource(['dns', '--cluster-id', 'east', '--kubeconfig', eastKubeconfig, '--listen', `127.0.0.1:${dnsPort}`, '--http-listen', `127.0.0.1:${dnsHttp}`, '--workers', '0']);
    await waitReady(dns, dnsHttp, 'dns server');
    bare = await bareStart;

    base = ['--kubeconfig', eastKubeconfig, '--namespace', NS, '--dns-service', `${NS}/clusterset-dns-server`, '--coredns-configmap', `kube-system/${COREDNS_CM}`,
      '--nodelocal-configmap', `kube-system/${NODELOCAL_CM}`, '--resolver', `127.0.0.1:${dnsPort}`, '--name', `web.${APP}.svc.clusterset.local`];
    // The export travels east → broker → east and the DNS server sees it (bounded wait).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await doctor(...base);
      if (r.lines['test query']?.startsWith('PASS')) break;
      if (Date.now() > deadline) throw new Error(`the exported name never answered:\n${r.out}\nagent:\n${agent!.log()}\ndns:\n${dns!.log()}`);
      await sleep(500);
    }
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await agent?.stop();
    await dns?.stop();
    // Stopped even when beforeAll failed before awaiting it.
    await (bare ?? (await bareStart?.catch(() => undefined)))?.stop();
    const set = clusters();
    const core = set.get('east').kubeConfig.makeApiClient(CoreV1Api);
    for (const ns of [NS, APP]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    for (const cm of [COREDNS_CM, NODELOCAL_CM]) await core.deleteNamespacedConfigMap({ namespace: 'kube-system', name: cm }).catch(() => undefined);
    await set.broker?.kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: BROKER_NS }).catch(() => undefined);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a healthy chain: every check passes (NodeLocal DNS absent is skipped), exit 0', async () => {
    const r = await doctor(...base);
    expect(r.code, r.out).toBe(0);
    expect(Object.fromEntries(Object.entries(r.lines).map(([k, v]) => [k, v.slice(0, 4)]))).toEqual({
      'API reachable': 'PASS',
      'CRDs installed': 'PASS',
      'agent lease fresh': 'PASS',
      'broker reachable': 'PASS',
      'DNS server ready': 'PASS',
      'CoreDNS routes the zone': 'PASS',
      'NodeLocal DNS forwards the zone': 'SKIP',
      'test query': 'PASS',
    });
    expect(r.lines['agent lease fresh']).toContain(`Lease ${BROKER_NS}/${leaseName('east')} renewed`);
    expect(r.out).toContain('All checks passed.');
  });

  it('DNS server ready also judges a DNS server directly (--dns-server)', async () => {
    const r = await doctor(...base, '--dns-server', `127.0.0.1:${dnsPort}`);
    expect(r.lines['DNS server ready']).toBe(`PASS 127.0.0.1:${dnsPort} answers SOA for clusterset.local (authoritative)`);
  });

  it('planted: CRDs missing', async () => {
    const r = await doctor('--kubeconfig', bare!.get('bare').kubeconfigPath, '--cluster-id', 'bare', '--broker-kubeconfig', join(dir, 'broker.kubeconfig'), '--resolver', `127.0.0.1:${dnsPort}`);
    expect(r.code).toBe(1);
    expect(r.lines['CRDs installed']).toMatch(/^FAIL missing serviceexports\.multicluster\.x-k8s\.io, serviceimports\.multicluster\.x-k8s\.io/);
    expect(r.out).toContain('fix: kubectl apply -k manifests/overlays/member');
  });

  it('planted: the agent stops, its lease goes stale', async () => {
    await agent!.stop();
    try {
      const deadline = Date.now() + 30_000;
      let r = await doctor(...base);
      while (!r.lines['agent lease fresh']?.startsWith('FAIL') && Date.now() < deadline) {
        await sleep(500);
        r = await doctor(...base);
      }
      expect(r.code).toBe(1);
      expect(r.lines['agent lease fresh']).toMatch(/^FAIL Lease .* renewed \d+s ago \(duration 4s\): east counts as stale/);
      expect(r.out).toContain(`fix: is the agent running and reaching the broker? kubectl -n ${NS} logs deploy/clusterset-dns-agent`);
      expect(r.lines['broker reachable']).toMatch(/^PASS/);
    } finally {
      await startAgent();
    }
    expect((await doctor(...base)).lines['agent lease fresh']).toMatch(/^PASS/);
  });

  it('planted: broker credentials rejected, and missing', async () => {
    const rejected = await doctor(...base, '--broker-kubeconfig', join(dir, 'bad-broker.kubeconfig'));
    expect(rejected.code).toBe(1);
    expect(rejected.lines['broker reachable']).toMatch(/^FAIL .*HTTP 401/);
    expect(rejected.out).toContain('fix: the broker: the credentials were rejected');
    // One cause, one FAIL: the lease check needs the broker and is skipped.
    expect(rejected.lines['agent lease fresh']).toBe('SKIP needs "broker reachable", which did not pass');

    const elsewhere = base.map((a) => (a === NS ? APP : a)).map((a, i, all) => (all[i - 1] === '--dns-service' ? `${NS}/clusterset-dns-server` : a));
    const missing = await doctor(...elsewhere); // --namespace APP: no Secret (nor ConfigMap) there
    expect(missing.code).toBe(1);
    expect(missing.lines['agent lease fresh']).toMatch(/^FAIL cluster ID unknown/);
    expect(missing.lines['broker reachable']).toBe(`FAIL no broker credentials: Secret ${APP}/clusterset-dns-broker not found (the agent cannot start without it)`);
  });

  it('planted: the DNS server has no ready endpoint, or does not answer', async () => {
    const east = clusters().get('east').kubeConfig;
    const slice = await east.makeApiClient(DiscoveryV1Api).readNamespacedEndpointSlice({ namespace: NS, name: 'dns-1' });
    const endpoints = slice.endpoints ?? [];
    endpoints[0]!.conditions = { ready: false };
    await east.makeApiClient(DiscoveryV1Api).replaceNamespacedEndpointSlice({ namespace: NS, name: 'dns-1', body: slice });
    try {
      const r = await doctor(...base);
      expect(r.code).toBe(1);
      expect(r.lines['DNS server ready']).toBe(`FAIL Service ${NS}/clusterset-dns-server has no ready endpoints`);
    } finally {
      endpoints[0]!.conditions = { ready: true };
      const fresh = await east.makeApiClient(DiscoveryV1Api).readNamespacedEndpointSlice({ namespace: NS, name: 'dns-1' });
      await east.makeApiClient(DiscoveryV1Api).replaceNamespacedEndpointSlice({ namespace: NS, name: 'dns-1', body: { ...fresh, endpoints } });
    }
    const silent = await freeDnsPort();
    const r = await doctor(...base, '--dns-server', `127.0.0.1:${silent}`, '--timeout', '1');
    expect(r.code).toBe(1);
    expect(r.lines['DNS server ready']).toMatch(new RegExp(`^FAIL no answer from 127.0.0.1:${silent}`));
  });

  it('planted: CoreDNS does not route the zone, or routes it to the wrong IP', async () => {
    const east = clusters().get('east').kubeConfig;
    const routed = (await east.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'kube-system', name: COREDNS_CM })).data!.Corefile!;
    try {
      await apply(east, configMap(COREDNS_CM, 'kube-system', { Corefile: KUBEADM }));
      let r = await doctor(...base);
      expect(r.code).toBe(1);
      expect(r.lines['CoreDNS routes the zone']).toBe(`FAIL kube-system/${COREDNS_CM} has no server block for clusterset.local: its queries go to the root block, which cannot answer it`);
      expect(r.out).toContain(`fix: clusterset-dns coredns install --kubeconfig ${eastKubeconfig} --dns-service ${NS}/clusterset-dns-server`);

      await apply(east, configMap(COREDNS_CM, 'kube-system', { Corefile: `${KUBEADM}clusterset.local:53 {\n    forward . 10.99.99.99\n}\n` }));
      r = await doctor(...base);
      expect(r.code).toBe(1);
      expect(r.lines['CoreDNS routes the zone']).toMatch(/^FAIL kube-system\/.* forwards clusterset\.local to 10\.99\.99\.99, but the DNS Service's IP is /);
    } finally {
      await apply(east, configMap(COREDNS_CM, 'kube-system', { Corefile: routed }));
    }
  });

  it('planted: NodeLocal DNS present but not forwarding the zone; then fixed by coredns install', async () => {
    const east = clusters().get('east').kubeConfig;
    const nodeLocal = 'cluster.local:53 {\n    errors\n    bind 169.254.20.10\n    forward . __PILLAR__CLUSTER__DNS__ {\n        force_tcp\n    }\n}\n.:53 {\n    errors\n    bind 169.254.20.10\n    forward . __PILLAR__UPSTREAM__SERVERS__\n}\n';
    await apply(east, configMap(NODELOCAL_CM, 'kube-system', { Corefile: nodeLocal }));
    try {
      let r = await doctor(...base);
      expect(r.code).toBe(1);
      expect(r.lines['NodeLocal DNS forwards the zone']).toBe(`FAIL kube-system/${NODELOCAL_CM} has no server block for clusterset.local: its queries go to the node's upstream resolvers`);
      const sink = new Writable({ write(_c, _e, d) { d(); } });
      expect(await main(['coredns', 'install', '--kubeconfig', eastKubeconfig, '--coredns-configmap', `kube-system/${COREDNS_CM}`, '--nodelocal-configmap', `kube-system/${NODELOCAL_CM}`, '--dns-service', `${NS}/clusterset-dns-server`], {}, { stdout: sink, stderr: sink })).toBe(0);
      r = await doctor(...base);
      expect(r.lines['NodeLocal DNS forwards the zone']).toMatch(/^PASS/);
      expect(r.code).toBe(0);
    } finally {
      await east.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ namespace: 'kube-system', name: NODELOCAL_CM }).catch(() => undefined);
    }
  });

  it('planted: the test name is not exported', async () => {
    const r = await doctor(...base.slice(0, -2), '--name', `nope.${APP}.svc.clusterset.local`);
    expect(r.code).toBe(1);
    expect(r.lines['test query']).toBe(`FAIL nope.${APP}.svc.clusterset.local A via 127.0.0.1:${dnsPort}: NXDOMAIN`);
    expect(r.out).toContain(`fix: is the service exported (ServiceExport) and its namespace present in this cluster? clusterset-dns explain nope.${APP}.svc.clusterset.local --type A`);
  });

  it('a stale lease written by hand is judged by its renewTime and duration', async () => {
    // Independent of the agent's timing: an old renewTime on a Lease doctor reads (west's name, our namespace).
    const broker = clusters().broker!.kubeConfig;
    await broker.makeApiClient(CoordinationV1Api).createNamespacedLease({
      namespace: BROKER_NS,
      body: { metadata: { name: leaseName('west') }, spec: { holderIdentity: 'west', leaseDurationSeconds: 30, renewTime: new V1MicroTime(Date.now() - 95_000) } },
    });
    const r = await doctor(...base, '--cluster-id', 'west');
    expect(r.lines['agent lease fresh']).toMatch(new RegExp(`^FAIL Lease ${BROKER_NS}/${leaseName('west').replaceAll('.', '\\.')} renewed 9\\ds ago \\(duration 30s\\)`));
  });

  it('doctor service follows one service: a complete chain, then where a missing export breaks it (-o json)', async () => {
    const svcArgs = ['--kubeconfig', eastKubeconfig, '--namespace', NS, '--resolver', `127.0.0.1:${dnsPort}`];
    let out = '';
    const sink = new Writable({ write(c, _e, d) { out += String(c); d(); } });
    const code = await main(['doctor', 'service', 'web', '-n', APP, ...svcArgs], {}, { stdout: sink, stderr: sink });
    expect(code, out).toBe(0);
    expect(out).toMatch(/^PASS\s+source ServiceExport: Valid=True\(Valid\) Ready=True\(Exported\) Conflict=False\(NoConflicts\)$/m);
    expect(out).toMatch(/^PASS\s+broker has the service: exported by east \(lease fresh, 1\/1 endpoints ready\)$/m);
    expect(out).toMatch(/^PASS\s+ServiceImport here: ClusterSetIP, clusters east$/m);
    expect(out).toMatch(/^PASS\s+EndpointSlices here: east: 1\/1 ready$/m);
    expect(out).toMatch(new RegExp(`^PASS\\s+DNS answer: web\\.${APP}\\.svc\\.clusterset\\.local A via 127\\.0\\.0\\.1:${dnsPort}: 1 record\\(s\\)$`, 'm'));
    expect(out).toContain('The chain is complete.');

    let json = '';
    const jsonSink = new Writable({ write(c, _e, d) { json += String(c); d(); } });
    expect(await main(['doctor', 'service', 'nope', '-n', APP, '-o', 'json', ...svcArgs], {}, { stdout: jsonSink, stderr: jsonSink })).toBe(1);
    const report = JSON.parse(json) as { breaksAt: string; checks: Array<{ title: string; status: string }> };
    expect(report.breaksAt).toBe('broker has the service');
    expect(report.checks.map((c) => [c.title, c.status])).toEqual([
      ['API reachable', 'PASS'],
      ['source ServiceExport', 'SKIP'],
      ['broker has the service', 'FAIL'],
      ['ServiceImport here', 'FAIL'],
      ['EndpointSlices here', 'SKIP'],
      ['DNS answer', 'FAIL'],
    ]);
  });
});

describe('doctor verdicts (pure)', () => {
  it.each([
    ['10.96.0.53', '10.96.0.53'],
    ['10.96.0.53:53', '10.96.0.53'],
    ['dns://10.96.0.53', '10.96.0.53'],
    ['10.96.0.53:5353', undefined],
    ['[fd00::53]:53', 'fd00::53'],
    ['[fd00::53]:5353', undefined],
    ['fd00::53', 'fd00::53'],
    ['/etc/resolv.conf', undefined],
    ['tls://10.96.0.53', undefined],
  ])('forward target %s points at %s on port 53', (target, ip) => {
    expect(forwardIp(target)).toBe(ip);
  });

  it.each([
    { renewedAgoS: 10, duration: 30, fresh: true },
    { renewedAgoS: 30, duration: 30, fresh: true },
    { renewedAgoS: 31, duration: 30, fresh: false },
    { renewedAgoS: 0, duration: 0, fresh: true },
  ])('a lease renewed $renewedAgoS s ago with duration $duration s: fresh=$fresh', ({ renewedAgoS, duration, fresh }) => {
    const now = Date.parse('2025-01-01T00:10:00Z');
    const verdict = leaseVerdict({ name: 'clusterset-dns.east', namespace: 'b', renewedAt: new Date(now - renewedAgoS * 1000), durationSeconds: duration }, now);
    expect(verdict.fresh).toBe(fresh);
    expect(verdict.detail).toBe(`Lease b/clusterset-dns.east renewed ${renewedAgoS}s ago (duration ${duration}s)`);
  });

  it('a lease never renewed is not fresh', () => {
    expect(leaseVerdict({ name: 'l', namespace: 'b' }, Date.now())).toEqual({ fresh: false, detail: 'Lease b/l has never been renewed' });
  });

  it('the probe query is a plain RD query with EDNS, and only a matching reply is read', () => {
    const q = buildQuery(0xbeef, 'Web.Shop.svc.clusterset.local.', 1);
    expect(q.readUInt16BE(0)).toBe(0xbeef);
    expect([q[2], q[3], q.readUInt16BE(4), q.readUInt16BE(10)]).toEqual([0x01, 0, 1, 1]);
    expect(q.subarray(12, 16).toString('latin1')).toBe('\x03Web');
    const reply = Buffer.from(q);
    reply[2] = 0x80 | 0x04 | 0x02; // QR, AA, TC
    reply[3] = 0x03; // NXDOMAIN
    reply.writeUInt16BE(2, 6);
    expect(readReply(0xbeef, reply)).toEqual({ rcode: 3, rcodeName: 'NXDOMAIN', answers: 2, truncated: true, authoritative: true });
    expect(readReply(0xbeee, reply)).toBeUndefined();
    expect(readReply(0xbeef, q)).toBeUndefined(); // a query (QR=0) is not a reply
  });
});
