/**
 * Traffic policy per service (issue 14) through the embedded default and the real `dig`: the
 * annotations and ClusterProperties are written in the cluster folders' YAML, travel through the
 * in-memory broker and importer exactly as in production, and shape the answers on the wire
 * (answered by a DNS worker process, as by default, so the snapshot they need reaches workers too).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../src/config/serve-config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/index.ts';
import { type RunningServe, startServe } from '../../src/runtime/serve.ts';
import { runDig, showRecord } from '../helpers/dig.ts';
import { sleep } from '../harness/net.ts';

const Z = 'clusterset.local';
/** Weights written on the ServiceExports of `split` (north has none: the default 100). */
const WEIGHTS = { east: 300, west: 100, north: 100 } as const;
const QUERIES = 10_000;

function cluster(name: string, ip: string, exportAnnotations: Record<string, string>, createdAt: string, place?: { region: string; zone: string }): string {
  const annotations = Object.entries(exportAnnotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n');
  const properties = place === undefined
    ? ''
    : ['region', 'zone'].map((k) => `---
apiVersion: about.k8s.io/v1alpha1
kind: ClusterProperty
metadata:
  name: ${k}.topology.clusterset-dns.io
spec:
  value: ${place[k as 'region' | 'zone']}
`).join('');
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: traffic
spec:
  type: ClusterIP
  clusterIP: ${ip}
  ports:
    - name: http
      port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: traffic
  labels:
    kubernetes.io/service-name: ${name}
addressType: IPv4
endpoints:
  - addresses: ["${ip.replace(/\.0\.(\d+)$/, '.1.$1')}"]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata:
  name: ${name}
  namespace: traffic
  creationTimestamp: "${createdAt}"
${annotations === '' ? '' : `  annotations:\n${annotations}\n`}${properties}`;
}

/** Runs `dig -f` over a file of `count` identical questions and returns the first A record of each answer. */
function firstAddresses(port: number, name: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const file = join(dir, 'batch.txt');
    void writeFile(file, `${name} A\n`.repeat(count)).then(() => {
      // +noall +answer +stats: each answer's records, then a ";; Query time" line closing it.
      execFile(
        'dig',
        [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', '+noall', '+answer', '+stats', '-f', file],
        { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout) => {
          if (err) return reject(err);
          const firsts: string[] = [];
          let first: string | undefined;
          for (const line of stdout.split('\n')) {
            if (line.startsWith(';; Query time')) {
              firsts.push(first ?? '(none)');
              first = undefined;
            } else if (first === undefined && /\sIN\s+A\s/.test(line)) first = line.trim().split(/\s+/).pop();
          }
          resolve(firsts);
        },
      );
    }, reject);
  });
}

let dir: string;
let serve: RunningServe;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdns-traffic-'));
  const files: Record<string, string[]> = {
    // split: east 300, west 100, north 100 (default), south drained; east's export is the oldest and
    // names policy `all`, so the local cluster does not take every query.
    east: [
      cluster('split', '10.21.0.1', { 'clusterset-dns.io/policy': 'all', 'clusterset-dns.io/weight': String(WEIGHTS.east) }, '2024-05-01T10:00:00Z', { region: 'eu-west', zone: 'eu-west-1a' }),
      cluster('near', '10.21.0.2', { 'clusterset-dns.io/policy': 'nearest' }, '2024-05-01T10:00:00Z'),
    ],
    west: [
      cluster('split', '10.22.0.1', { 'clusterset-dns.io/weight': String(WEIGHTS.west), 'clusterset-dns.io/policy': 'round-robin' }, '2024-05-01T11:00:00Z', { region: 'eu-west', zone: 'eu-west-1b' }),
      cluster('near', '10.22.0.2', {}, '2024-05-01T11:00:00Z'),
    ],
    north: [cluster('split', '10.23.0.1', {}, '2024-05-01T11:00:00Z', { region: 'eu-north', zone: 'eu-north-1a' }), cluster('near', '10.23.0.2', {}, '2024-05-01T11:00:00Z')],
    south: [cluster('split', '10.24.0.1', { 'clusterset-dns.io/weight': '0' }, '2024-05-01T11:00:00Z')],
  };
  for (const [name, docs] of Object.entries(files)) {
    await mkdir(join(dir, name));
    // `near` is not ready in east, so nearest must look further (same region: west).
    const text = ['apiVersion: v1\nkind: Namespace\nmetadata:\n  name: traffic\n', ...docs].join('---\n');
    await writeFile(join(dir, name, 'traffic.yaml'), name === 'east' ? text.replace('addresses: ["10.21.1.2"]', 'addresses: ["10.21.1.2"]\n    conditions: { ready: false }') : text);
  }
  const { config } = parseServeConfig(
    ['--from-dir', dir, '--cluster-id', 'east', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--workers', '1', '--lease-duration', '3', '--lease-renew', '1'],
    {},
  );
  serve = await startServe(config!, { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), logFormat: 'json' });
  // Bounded wait for every cluster's export to be imported and its place announced.
  for (let i = 0; i < 100; i++) {
    const s = serve.snapshot();
    const split = s.services.get('traffic/split');
    if (s.synced && split?.backends.length === 4 && split.backends.some((b) => b.zone === 'eu-west-1b') && s.localPlace?.zone === 'eu-west-1a') break;
    await sleep(100);
  }
}, 60_000);

afterAll(async () => {
  await serve?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('weights through dig', () => {
  it(`first positions over ${QUERIES} UDP queries follow the weights within ±3 points; the drained cluster never answers`, async () => {
    const firsts = await firstAddresses(serve.dnsPort, `split.traffic.svc.${Z}`, QUERIES);
    expect(firsts.length).toBe(QUERIES);
    const total = WEIGHTS.east + WEIGHTS.west + WEIGHTS.north;
    const share = (ip: string): number => firsts.filter((f) => f === ip).length / QUERIES;
    expect(Math.abs(share('10.21.0.1') - WEIGHTS.east / total)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(share('10.22.0.1') - WEIGHTS.west / total)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(share('10.23.0.1') - WEIGHTS.north / total)).toBeLessThanOrEqual(0.03);
    expect(share('10.24.0.1')).toBe(0);
  }, 150_000);

  it('the drained cluster still answers its cluster-specific name; SRV carries the weights', async () => {
    const south = await runDig(serve.dnsPort, `south.split.traffic.svc.${Z}`, 'A');
    expect(south.answer.map(showRecord)).toEqual([`south.split.traffic.svc.${Z}. 5 A 10.24.0.1`]);
    const srv = await runDig(serve.dnsPort, `_http._tcp.east.split.traffic.svc.${Z}`, 'SRV');
    expect(srv.answer.map(showRecord)).toEqual([`_http._tcp.east.split.traffic.svc.${Z}. 5 SRV 0 300 80 east.split.traffic.svc.${Z}.`]);
    const wide = await runDig(serve.dnsPort, `_http._tcp.split.traffic.svc.${Z}`, 'SRV');
    expect(wide.answer.map((r) => r.data)).toEqual([`0 300 80 east.split.traffic.svc.${Z}.`, `0 100 80 north.split.traffic.svc.${Z}.`, `0 100 80 west.split.traffic.svc.${Z}.`]);
  });

  it('the winner\'s policy applies (east: all), not west\'s round-robin: every usable cluster in each answer', async () => {
    const split = await runDig(serve.dnsPort, `split.traffic.svc.${Z}`, 'A');
    expect(split.answer.map((r) => r.data).sort()).toEqual(['10.21.0.1', '10.22.0.1', '10.23.0.1']);
  });
});

describe('nearest through dig', () => {
  it('with the local cluster not ready, the same region answers, not the other one', async () => {
    const near = await runDig(serve.dnsPort, `near.traffic.svc.${Z}`, 'A');
    expect(near.answer.map(showRecord)).toEqual([`near.traffic.svc.${Z}. 5 A 10.22.0.2`]);
    expect(near.ede.map((e) => e.text).join(' ')).toContain('answering the nearest clusters (region eu-west)');
  });
});
