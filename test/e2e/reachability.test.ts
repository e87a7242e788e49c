/**
 * Reachability on the embedded default, end to end through the real launcher and dig: west and
 * north export web; each folder announces `probe.clusterset-dns.io` pointing at a loopback listener
 * this test owns. Closing west's listener takes west out of web's answer within
 * interval × failures + one interval (its cluster-specific name still answers, explain says why);
 * reopening it brings west back after the success threshold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDig } from '../helpers/dig.ts';
import { freeDnsPort, freePort, httpGet, sleep } from '../harness/net.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');
const INTERVAL_S = 1;
const FAILURES = 3;
const SUCCESSES = 2;
const NAME = 'web.shop.svc.clusterset.local';
const WEST_IP = '10.20.0.10';
const NORTH_IP = '10.30.0.10';

function web(cluster: string, ip: string, probePort: number): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: ${ip}
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-${cluster}, namespace: shop, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
endpoints: [{ addresses: ["10.${cluster === 'west' ? 20 : 30}.1.10"], conditions: { ready: true } }]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: { name: web, namespace: shop, creationTimestamp: "2024-05-01T09:00:00Z" }
---
apiVersion: about.k8s.io/v1alpha1
kind: ClusterProperty
metadata: { name: probe.clusterset-dns.io }
spec: { value: "tcp://127.0.0.1:${probePort}" }
`;
}

async function listen(port = 0): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => r());
  });
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

async function answers(port: number): Promise<string[]> {
  const r = await runDig(port, NAME, 'A');
  return r.answer.map((a) => a.data).sort();
}

/** Polls dig until `pred` holds; resolves with the ms it took from `since`. */
async function until(port: number, pred: (ips: string[]) => boolean, since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Before the server listens dig fails: that is "no answer yet".
    if (pred(await answers(port).catch(() => ['(no answer)']))) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`answer still ${JSON.stringify(await answers(port))} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

describe('serve: a cluster whose announced probe target stops answering leaves the answer', () => {
  let dir: string;
  let child: ChildProcess;
  let dnsPort: number;
  let httpPort: number;
  let westListener: Server | undefined;
  let northListener: Server;
  let westPort: number;
  let stderr = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'csdns-reach-'));
    westListener = await listen();
    northListener = await listen();
    westPort = (westListener.address() as { port: number }).port;
    for (const [cluster, ip, server] of [['west', WEST_IP, westListener], ['north', NORTH_IP, northListener]] as const) {
      mkdirSync(join(dir, cluster));
      writeFileSync(join(dir, cluster, 'web.yaml'), web(cluster, ip, (server.address() as { port: number }).port));
    }
    // api: exported by west alone, so west's exclusion leaves no healthy cluster (EDE says why).
    writeFileSync(join(dir, 'west', 'api.yaml'), `apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop }
spec:
  clusterIP: 10.20.0.20
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: api-west, namespace: shop, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
endpoints: [{ addresses: ["10.20.1.20"], conditions: { ready: true } }]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: { name: api, namespace: shop, creationTimestamp: "2024-05-01T09:00:00Z" }
`);
    mkdirSync(join(dir, 'east'));
    writeFileSync(join(dir, 'east', 'namespace.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n');
    dnsPort = await freeDnsPort();
    httpPort = await freePort();
    child = spawn(process.execPath, [BIN, 'serve', '--from-dir', dir, '--cluster-id', 'east', '--listen', `127.0.0.1:${dnsPort}`, '--http-listen', `127.0.0.1:${httpPort}`,
      '--workers', '1', '--log-level', 'warn', '--probe-interval', String(INTERVAL_S), '--probe-timeout', '0.5', '--probe-failures', String(FAILURES), '--probe-successes', String(SUCCESSES)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await until(dnsPort, (ips) => ips.length === 2, Date.now(), 30_000);
  });

  afterAll(async () => {
    if (child !== undefined) await stopChild(child);
    for (const s of [westListener, northListener]) if (s?.listening) await close(s);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers both clusters while both paths work', async () => {
    expect(await answers(dnsPort)).toEqual([WEST_IP, NORTH_IP].sort());
  });

  it('west leaves within interval × failures + one interval of its listener closing; its own name still answers; explain says why', async () => {
    await close(westListener!);
    westListener = undefined;
    const closedAt = Date.now();
    const took = await until(dnsPort, (ips) => ips.length === 1 && ips[0] === NORTH_IP, closedAt, 10_000);
    console.log(`west left web's answer ${took} ms after its probe target closed (bound ${INTERVAL_S * 1000 * (FAILURES + 1)} ms)`);
    expect(took).toBeLessThanOrEqual(INTERVAL_S * 1000 * (FAILURES + 1));
    // The cluster-specific name is an explicit request: it still answers.
    expect((await runDig(dnsPort, `west.${NAME}`, 'A')).answer.map((a) => a.data)).toEqual([WEST_IP]);
    const report = JSON.parse((await httpGet(`http://127.0.0.1:${httpPort}/debug/explain?name=${NAME}&type=A`)).body) as { service: { clusters: Array<{ cluster: string; healthy: boolean; reason: string }> } };
    const west = report.service.clusters.find((c) => c.cluster === 'west')!;
    expect(west.healthy).toBe(false);
    expect(west.reason).toMatch(new RegExp(`^unreachable since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z: tcp://127\\.0\\.0\\.1:${westPort} failed ${FAILURES} times \\(connection refused\\)$`));
    // A service only west exports: NODATA, and the EDE names the reason and since when.
    const api = await runDig(dnsPort, 'api.shop.svc.clusterset.local', 'A');
    expect(api.status).toBe('NOERROR');
    expect(api.answer).toEqual([]);
    expect(api.ede.map((e) => e.text).join(' ')).toMatch(new RegExp(`no healthy cluster: west: unreachable since \\S+Z: tcp://127\\.0\\.0\\.1:${westPort} failed ${FAILURES} times \\(connection refused\\)`));
  });

  it('west comes back after the success threshold once its listener answers again', async () => {
    westListener = await listen(westPort);
    const reopenedAt = Date.now();
    const took = await until(dnsPort, (ips) => ips.length === 2, reopenedAt, 10_000);
    console.log(`west back in web's answer ${took} ms after its probe target reopened (${SUCCESSES} good rounds needed)`);
    // One good round is not enough: at least the second round (≥ 0.9 interval later) brings it back.
    expect(took).toBeGreaterThanOrEqual(INTERVAL_S * 1000 * 0.9 * (SUCCESSES - 1));
    expect(took).toBeLessThanOrEqual(INTERVAL_S * 1000 * (SUCCESSES + 1));
    expect(stderr).not.toContain('"level":50');
  });
});
