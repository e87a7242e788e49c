// End to end through the real CoreDNS, set up the way a cluster runs it: kubeadm's Corefile with
// the `kubernetes` plugin serving cluster.local from a real kube-apiserver, plus the stub block
// that `clusterset-dns coredns install` adds (computed by the same function), forwarding
// clusterset.local to our DNS server (the embedded default on a copy of examples/basic).
// `dig` asks CoreDNS only.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardTarget, installStub } from '../../src/corefile/index.ts';
import { runDig, showRecord } from '../helpers/dig.ts';
import { ensureBinary, freeDnsPort, freePort, startCoreDNS, type CoreDNSInstance } from '../harness/index.ts';
import { httpGet, sleep } from '../harness/net.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIG = 100;

/**
 * kubeadm's Corefile, minus what needs the internet here (forward to /etc/resolv.conf, loop) and
 * loadbalance (not in the slim CoreDNS build of test/peers/build.sh).
 */
function clusterCorefile(port: number, kubeconfig: string, ports: { health: number; ready: number; metrics: number }): string {
  return `.:${port} {
    errors
    health 127.0.0.1:${ports.health} {
       lameduck 5s
    }
    ready 127.0.0.1:${ports.ready}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       kubeconfig ${kubeconfig}
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus 127.0.0.1:${ports.metrics}
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    reload
}
`;
}

/** A headless service with BIG ready endpoints: its answer cannot fit a UDP response. */
function bigHeadless(): string {
  const endpoints = Array.from({ length: BIG }, (_, i) => `  - addresses: ["10.20.${Math.floor(i / 200)}.${(i % 200) + 1}"]`).join('\n');
  return `apiVersion: v1
kind: Service
metadata: { name: big, namespace: shop }
spec:
  clusterIP: None
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: big-east-1
  namespace: shop
  labels: { kubernetes.io/service-name: big }
addressType: IPv4
endpoints:
${endpoints}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: { name: big, namespace: shop, creationTimestamp: "2024-05-01T10:00:00Z" }
`;
}

describe('CoreDNS as a cluster runs it, with the clusterset.local stub', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });
  let dir: string;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let ourPort: number;
  let coredns: CoreDNSInstance;
  let corefile = '';
  let webIP: string;
  const NS = `coredns-e2e-${process.pid}`;

  beforeAll(async () => {
    const binary = await ensureBinary('coredns');
    const east = clusters().get('east');
    const core = east.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const svc = await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } } });
    webIP = svc.spec!.clusterIP!;

    // Our DNS server: the embedded default, run from source, on a copy of the example plus BIG.
    dir = mkdtempSync(join(tmpdir(), 'clusterset-dns-coredns-e2e-'));
    cpSync(join(REPO, 'examples/basic'), join(dir, 'clusters'), { recursive: true });
    writeFileSync(join(dir, 'clusters/east/big.yaml'), bigHeadless());
    ourPort = await freeDnsPort();
    const httpPort = await freePort();
    const entry = `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};
process.exit(await main(process.argv.slice(1), process.env, { stdout: process.stdout, stderr: process.stderr }));`;
    server = spawn(process.execPath, ['--input-type=module', '-e', entry, 'serve', '--from-dir', join(dir, 'clusters'), '--cluster-id', 'east',
      '--listen', `127.0.0.1:${ourPort}`, '--http-listen', `127.0.0.1:${httpPort}`, '--workers', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.setEncoding('utf8').on('data', (c: string) => { serverLog = (serverLog + c).slice(-20_000); });
    server.stderr!.setEncoding('utf8').on('data', (c: string) => { serverLog = (serverLog + c).slice(-20_000); });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`our DNS server exited (${server.exitCode}):\n${serverLog}`);
      if ((await httpGet(`http://127.0.0.1:${httpPort}/readyz`, { timeoutMs: 1000 }).catch(() => undefined))?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`our DNS server not ready within 60 s:\n${serverLog}`);
      await sleep(200);
    }

    coredns = await startCoreDNS({
      binary,
      corefile: (ports) => {
        // Exactly what `coredns install --dns-service-ip 127.0.0.1:<port>` would write.
        corefile = installStub(clusterCorefile(ports.dns, east.kubeconfigPath, ports), { zone: 'clusterset.local', upstreams: [forwardTarget('127.0.0.1', ourPort)] }).text;
        return corefile;
      },
      readyTimeoutMs: 60_000,
    });
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await coredns?.stop();
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([new Promise((r) => server!.once('exit', r)), sleep(10_000)]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await clusters().get('east').kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: NS }).catch(() => undefined);
  });

  it('the Corefile is the kubeadm one plus our marked stub', () => {
    expect(corefile).toContain('# BEGIN clusterset-dns zone clusterset.local');
    expect(corefile).toContain(`clusterset.local:${coredns.ports.dns} {\n    errors\n    forward . 127.0.0.1:${ourPort}\n}\n`);
  });

  it('cluster.local still resolves locally through the kubernetes plugin', async () => {
    const r = await runDig(coredns.ports.dns, `web.${NS}.svc.cluster.local`, 'A');
    expect(r.status).toBe('NOERROR');
    expect(r.answer.map(showRecord)).toEqual([`web.${NS}.svc.cluster.local. 30 A ${webIP}`]);
    expect((await runDig(coredns.ports.dns, `nope.${NS}.svc.cluster.local`, 'A')).status).toBe('NXDOMAIN');
  });

  // DESIGN.md's answers, seen by a pod through CoreDNS.
  const table: Array<{ qname: string; qtype: string; rcode: string; answer: string[]; ns?: RegExp }> = [
    { qname: 'checkout.shop.svc.clusterset.local', qtype: 'A', rcode: 'NOERROR', answer: ['checkout.shop.svc.clusterset.local. 5 A 10.255.0.30'] },
    { qname: 'web.shop.svc.clusterset.local', qtype: 'A', rcode: 'NOERROR', answer: ['web.shop.svc.clusterset.local. 5 A 10.10.0.10'] },
    { qname: 'db-0.north.db.shop.svc.clusterset.local', qtype: 'A', rcode: 'NOERROR', answer: ['db-0.north.db.shop.svc.clusterset.local. 5 A 10.30.3.10'] },
    { qname: 'dns-version.clusterset.local', qtype: 'TXT', rcode: 'NOERROR', answer: ['dns-version.clusterset.local. 28800 TXT "1.0.0"'] },
    { qname: 'internal.shop.svc.clusterset.local', qtype: 'A', rcode: 'NXDOMAIN', answer: [], ns: /^clusterset\.local\. 5 SOA / },
    { qname: 'checkout.shop.svc.clusterset.local', qtype: 'MX', rcode: 'NOERROR', answer: [], ns: /^clusterset\.local\. 5 SOA / },
  ];
  it.each(table)('$qname $qtype → $rcode', async ({ qname, qtype, rcode, answer, ns }) => {
    const r = await runDig(coredns.ports.dns, qname, qtype);
    expect(r.status).toBe(rcode);
    expect(r.answer.map(showRecord)).toEqual(answer);
    if (ns !== undefined) expect(r.authority.map(showRecord).some((rr) => ns.test(rr))).toBe(true);
  });

  it('a big answer: TC over UDP through CoreDNS, complete over TCP', async () => {
    const udp = await runDig(coredns.ports.dns, 'big.shop.svc.clusterset.local', 'A', { args: ['+ignore', '+bufsize=1232'] });
    expect(udp.flags).toContain('tc');
    expect(udp.answer.length).toBeLessThan(BIG);
    const tcp = await runDig(coredns.ports.dns, 'big.shop.svc.clusterset.local', 'A', { tcp: true });
    expect(tcp.status).toBe('NOERROR');
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answer).toHaveLength(BIG);
    expect(new Set(tcp.answer.map((r) => r.data)).size).toBe(BIG);
  });
});
