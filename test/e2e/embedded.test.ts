/**
 * The embedded default end to end on a copy of examples/basic: files → exporters → in-memory
 * broker → importer → ImportedState, with live edits through the directory watcher.
 */
import { cp, mkdtemp, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportedState } from '../../src/model/imported-state.ts';
import { type EmbeddedDefault, startEmbedded } from '../../src/standalone/embedded.ts';
import { formatProblem } from '../../src/standalone/loader.ts';

const EXAMPLE = new URL('../../examples/basic/', import.meta.url).pathname;

let dir: string;
let embedded: EmbeddedDefault;
const logLines: Record<string, unknown>[] = [];

/** Resolves with the elapsed ms once `pred` holds for the current state; fails after `timeoutMs`. */
function waitFor(pred: (s: ImportedState) => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (!pred(embedded.source.current())) return false;
      cleanup();
      resolve(Date.now() - started);
      return true;
    };
    const unsubscribe = embedded.source.subscribe(() => void check());
    const poll = setInterval(() => void check(), 25);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`condition not met within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      unsubscribe();
      clearInterval(poll);
      clearTimeout(timer);
    };
    check();
  });
}

const slice = (s: ImportedState, name: string, cluster: string) => s.slices.find((x) => x.namespace === 'shop' && x.name === name && x.sourceCluster === cluster);
const service = (s: ImportedState, name: string) => s.services.find((x) => x.namespace === 'shop' && x.name === name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdns-embedded-'));
  await cp(EXAMPLE, dir, { recursive: true });
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line));
      cb();
    },
  });
  embedded = await startEmbedded({
    dir,
    localCluster: 'east',
    logger: pino({ level: 'info' }, stream),
    leaseDurationMs: 1_500,
    leaseRenewMs: 200,
    gcGraceMs: 600_000,
  });
});

afterAll(async () => {
  await embedded?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded default on examples/basic, served as east', () => {
  it('is synced after start and imports every exported shop service (own exports included)', () => {
    const s = embedded.source.current();
    expect(s.synced).toBe(true);
    expect(s.staleSource).toBeUndefined();
    expect(s.services.map((x) => `${x.namespace}/${x.name}`)).toEqual(['shop/api', 'shop/cache', 'shop/checkout', 'shop/db', 'shop/search', 'shop/web']);
    expect(embedded.clusterIds()).toEqual(['east', 'north', 'south', 'west']);
    expect(embedded.problems()).toEqual([]);
  });

  it('ClusterSetIP web: one slice per cluster with its service IPs; the oldest (dual-stack west) sets the families', () => {
    const s = embedded.source.current();
    expect(service(s, 'web')).toMatchObject({ type: 'ClusterSetIP', ips: [], ipFamilies: ['IPv4', 'IPv6'], clusters: ['east', 'south', 'west'] });
    expect(slice(s, 'web', 'east')!.endpoints).toEqual([{ addresses: ['10.10.0.10'], ready: true }]);
    expect(slice(s, 'web', 'west')!.endpoints).toEqual([{ addresses: ['10.20.0.10', 'fd00:20::10'], ready: true }]);
  });

  it('api: west’s older export wins the port conflict', () => {
    expect(service(embedded.source.current(), 'api')!.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 8080 },
      { name: 'grpc', protocol: 'TCP', port: 9000 },
    ]);
  });

  it('db: headless pods with hostnames; not-ready pods kept as not ready', () => {
    const s = embedded.source.current();
    expect(service(s, 'db')!.type).toBe('Headless');
    expect(slice(s, 'db', 'north')!.endpoints).toEqual([
      { addresses: ['10.30.3.10'], hostname: 'db-0', ready: true },
      { addresses: ['10.30.3.11'], hostname: 'db-1', ready: true },
    ]);
    expect(slice(s, 'db', 'west')!.endpoints.map((e) => [e.hostname, e.ready])).toEqual([
      ['db-0', true],
      ['db-1', false],
    ]);
  });

  it('cache: north has no ready backend; search: north is excluded by the type conflict; checkout has the VIP', () => {
    const s = embedded.source.current();
    expect(slice(s, 'cache', 'north')!.endpoints).toEqual([{ addresses: ['10.30.0.40'], ready: false }]);
    expect(slice(s, 'cache', 'north')!.excludedReason).toBeUndefined();
    expect(slice(s, 'search', 'north')!.excludedReason).toBe('type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)');
    expect(service(s, 'checkout')!.ips).toEqual(['10.255.0.30']);
  });

  it('an edited file changes the imported state within a second, without restart', async () => {
    const path = join(dir, 'west/cache.yaml');
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('10.20.0.40', '10.20.0.41'));
    const elapsed = await waitFor((s) => slice(s, 'cache', 'west')?.endpoints[0]?.addresses[0] === '10.20.0.41', 5_000);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('OFFLINE: the cluster turns stale when its lease expires, and comes back when the file is removed', async () => {
    // south started OFFLINE: one lease at start, never renewed (1.5 s lease here).
    await waitFor((s) => /^lease expired at \d{4}-\d{2}-\d{2}T/.test(slice(s, 'web', 'south')?.excludedReason ?? ''), 10_000);
    expect(slice(embedded.source.current(), 'web', 'south')!.endpoints.every((e) => !e.ready)).toBe(true);

    await unlink(join(dir, 'south/OFFLINE'));
    await waitFor((s) => slice(s, 'web', 'south')?.excludedReason === undefined, 5_000);
    expect(slice(embedded.source.current(), 'web', 'south')!.endpoints[0]!.ready).toBe(true);

    await writeFile(join(dir, 'west/OFFLINE'), '');
    await waitFor((s) => (slice(s, 'web', 'west')?.excludedReason ?? '').startsWith('lease expired at '), 10_000);
    await unlink(join(dir, 'west/OFFLINE'));
    await waitFor((s) => slice(s, 'web', 'west')?.excludedReason === undefined, 5_000);
  });

  it('a broken file is reported with file and field, while everything else keeps serving', async () => {
    await writeFile(
      join(dir, 'east/broken.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: { name: extra, namespace: shop }\nspec:\n  clusterIP: 10.10.0.99\n  ports: [{ name: http, port: 70000 }]\n',
    );
    await writeFile(join(dir, 'east/syntax.yaml'), 'kind: [unclosed\n');
    await waitFor(() => embedded.problems().length === 2, 5_000);
    const texts = embedded.problems().map(formatProblem);
    expect(texts).toContain(`${join(dir, 'east/broken.yaml')}:1: document 1 (Service shop/extra): spec.ports[0].port: must be 1-65535, got 70000; object skipped`);
    expect(texts.some((t) => new RegExp(`^${join(dir, 'east/syntax.yaml')}:\\d+:\\d+: YAML syntax error: `).test(t))).toBe(true);
    expect(logLines.some((l) => l['level'] === 50 && l['field'] === 'spec.ports[0].port')).toBe(true);
    expect(embedded.source.current().services.length).toBe(6);

    await unlink(join(dir, 'east/broken.yaml'));
    await unlink(join(dir, 'east/syntax.yaml'));
    await waitFor(() => embedded.problems().length === 0, 5_000);
  });

  it('a cluster directory added or removed joins or leaves the clusterset', async () => {
    await mkdir(join(dir, 'eu.central'));
    await writeFile(
      join(dir, 'eu.central/web.yaml'),
      [
        'apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { clusterIP: 10.50.0.10, ports: [{ name: http, port: 80 }] }',
        'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: web, namespace: shop, creationTimestamp: "2024-06-01T00:00:00Z" }',
      ].join('\n---\n'),
    );
    await waitFor((s) => service(s, 'web')?.clusters.includes('eu.central') === true, 5_000);
    expect(slice(embedded.source.current(), 'web', 'eu.central')!.endpoints).toEqual([{ addresses: ['10.50.0.10'], ready: false }]);

    await rm(join(dir, 'eu.central'), { recursive: true });
    await waitFor((s) => service(s, 'web')?.clusters.includes('eu.central') === false, 5_000);
    expect(embedded.clusterIds()).not.toContain('eu.central');
  });

  it('a file with metadata, loopback or multicast addresses: they are refused (logged once), the rest serves', async () => {
    await mkdir(join(dir, 'rogue'));
    await writeFile(
      join(dir, 'rogue/db.yaml'),
      [
        'apiVersion: v1\nkind: Service\nmetadata: { name: vault, namespace: shop }\nspec: { clusterIP: None, ports: [{ name: http, port: 80 }] }',
        'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: vault-1, namespace: shop, labels: { kubernetes.io/service-name: vault } }\naddressType: IPv4\n' +
          'endpoints: [{ addresses: [169.254.169.254] }, { addresses: [127.0.0.1] }, { addresses: [224.0.0.251] }, { addresses: [10.60.0.7] }]',
        'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: vault, namespace: shop }',
      ].join('\n---\n'),
    );
    await waitFor((s) => slice(s, 'vault', 'rogue') !== undefined, 5_000);
    expect(slice(embedded.source.current(), 'vault', 'rogue')!.endpoints.map((e) => e.addresses)).toEqual([['10.60.0.7']]);
    const refusals = logLines.filter((l) => l['msg'] === 'refused addresses: they are never served' && l['sourceCluster'] === 'rogue');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!['refused']).toBe('127.0.0.1: loopback address; 169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here); 224.0.0.251: multicast address');
    await rm(join(dir, 'rogue'), { recursive: true });
    await waitFor((s) => service(s, 'vault') === undefined, 5_000);
  });

  it('fail static: with the broker cut, the state is kept and marked stale', async () => {
    const before = embedded.source.current();
    embedded.localBrokerConnection.setReachable(false, 'test partition');
    await waitFor((s) => s.staleSource !== undefined, 2_000);
    const during = embedded.source.current();
    expect(during.staleSource!.reason).toBe('test partition');
    expect(during.services).toEqual(before.services);
    expect(during.slices).toEqual(before.slices);
    embedded.localBrokerConnection.setReachable(true);
    await waitFor((s) => s.staleSource === undefined, 2_000);
  });
});
