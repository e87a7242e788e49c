/**
 * The embedded default never misses an edit: every way a file or directory changes reaches the
 * imported state within a second (in-place write, truncate + write, rename over the file and then
 * an in-place save, sed -i, delete, a new cluster folder, a directory moved in, a symlinked file's
 * target), and a broken or half-written file keeps its last good objects.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import promClient from 'prom-client';
import { createEmbeddedMetrics } from '../../src/observability/embedded-metrics.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportedState } from '../../src/model/imported-state.ts';
import { type EmbeddedDefault, startEmbedded } from '../../src/standalone/embedded.ts';
import { formatProblem } from '../../src/standalone/loader.ts';

const service = (name: string, ip: string, created = '2024-01-01T00:00:00Z'): string =>
  [
    `apiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: shop }\nspec:\n  clusterIP: ${ip}\n  ports: [{ name: http, port: 80 }]`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: ${name}-1, namespace: shop, labels: { kubernetes.io/service-name: ${name} } }\naddressType: IPv4\nendpoints: [{ addresses: [10.99.0.1] }]\nports: [{ name: http, port: 80 }]`,
    `apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: ${name}, namespace: shop, creationTimestamp: "${created}" }`,
  ].join('\n---\n') + '\n';

/** The IP a cluster serves `name` with, from the imported slice (ClusterSetIP: the service IP). */
const ipOf = (s: ImportedState, name: string, cluster: string): string | undefined =>
  s.slices.find((x) => x.namespace === 'shop' && x.name === name && x.sourceCluster === cluster)?.endpoints[0]?.addresses[0];

function startState(overrides: { forcePolling?: boolean; resyncMs?: number } = {}) {
  const registry = new promClient.Registry();
  const metrics = createEmbeddedMetrics(registry);
  const ctx = { dir: '', embedded: undefined as unknown as EmbeddedDefault, logs: [] as Record<string, unknown>[], registry };
  beforeAll(async () => {
    ctx.dir = await mkdtemp(join(tmpdir(), 'csdns-edits-'));
    await mkdir(join(ctx.dir, 'east'));
    await mkdir(join(ctx.dir, 'west'));
    await writeFile(join(ctx.dir, 'east/ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n');
    await writeFile(join(ctx.dir, 'west/web.yaml'), service('web', '10.20.0.1'));
    const stream = new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n')) if (line.trim() !== '') ctx.logs.push(JSON.parse(line));
        cb();
      },
    });
    ctx.embedded = await startEmbedded({ dir: ctx.dir, localCluster: 'east', logger: pino({ level: 'info' }, stream), leaseDurationMs: 5_000, leaseRenewMs: 500,
      onProblems: (p) => metrics.setFileProblems(p),
      onReload: (outcome, files) => metrics.reloaded(outcome, files),
      ...overrides,
    });
  });
  afterAll(async () => {
    await ctx.embedded?.stop();
    await rm(ctx.dir, { recursive: true, force: true });
  });
  /** Resolves with the elapsed ms once `pred` holds; fails after 5 s. */
  const waitFor = (pred: (s: ImportedState) => boolean): Promise<number> => {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const poll = setInterval(() => {
        if (pred(ctx.embedded.source.current())) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(Date.now() - started);
        }
      }, 10);
      const timer = setTimeout(() => {
        clearInterval(poll);
        reject(new Error('condition not met within 5 s'));
      }, 5_000);
    });
  };
  return { ctx, waitFor };
}

describe('embedded default: every kind of edit is picked up within a second (inotify on directories)', () => {
  const { ctx, waitFor } = startState();
  const web = () => join(ctx.dir, 'west/web.yaml');

  it('in-place write', async () => {
    await writeFile(web(), service('web', '10.20.0.2'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.2')).toBeLessThan(1_000);
  });

  it('truncate, pause, then write (one file handle)', async () => {
    const handle = await open(web(), 'r+');
    await handle.truncate(0);
    await new Promise((r) => setTimeout(r, 150));
    await handle.write(service('web', '10.20.0.3'), 0);
    await handle.close();
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.3')).toBeLessThan(1_000);
  });

  it('rename over the file (an editor save), then later in-place saves still count', async () => {
    await writeFile(join(ctx.dir, 'west/.web.yaml.tmp'), service('web', '10.20.0.4'));
    await rename(join(ctx.dir, 'west/.web.yaml.tmp'), web());
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.4')).toBeLessThan(1_000);
    await writeFile(web(), service('web', '10.20.0.5'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.5')).toBeLessThan(1_000);
    await writeFile(web(), service('web', '10.20.0.6'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.6')).toBeLessThan(1_000);
  });

  it('sed -i, twice', async () => {
    execFileSync('sed', ['-i', 's/10.20.0.6/10.20.0.7/', web()]);
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.7')).toBeLessThan(1_000);
    execFileSync('sed', ['-i', 's/10.20.0.7/10.20.0.8/', web()]);
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.8')).toBeLessThan(1_000);
  });

  it('a half-written file keeps its last good objects and names file and line; finishing the write applies it', async () => {
    const full = service('web', '10.20.0.9');
    await writeFile(web(), full.slice(0, full.indexOf('clusterIP') + 14));
    await new Promise((r) => setTimeout(r, 400));
    expect(ipOf(ctx.embedded.source.current(), 'web', 'west')).toBe('10.20.0.8');
    // The cut leaves "clusterIP: 10." and no EndpointSlice or export: the file still parses, but
    // its Service does not validate, so the whole file stays at its last good version.
    const problems = ctx.embedded.problems().map(formatProblem);
    expect(problems).toEqual([`${web()}:1: document 1 (Service shop/web): spec.clusterIP: must be a string, got 10; spec.ports: required for a ClusterIP service; file kept at its last good version (3 object(s))`]);
    expect(ctx.logs.some((l) => l['file'] === web() && l['line'] === 1 && (l['level'] === 50 || l['level'] === 40))).toBe(true);
    await writeFile(web(), full);
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.9')).toBeLessThan(1_000);
    expect(ctx.embedded.problems()).toEqual([]);
  });

  it('a syntax error mid-edit keeps the whole file', async () => {
    await writeFile(web(), `${service('web', '10.20.0.10')}kind: [unclosed\n`);
    await new Promise((r) => setTimeout(r, 400));
    expect(ipOf(ctx.embedded.source.current(), 'web', 'west')).toBe('10.20.0.9');
    expect(ctx.embedded.problems().map(formatProblem)).toEqual([expect.stringMatching(new RegExp(`^${web()}:\\d+:\\d+: YAML syntax error: .*keeping the 3 object\\(s\\) of its last good version$`))]);
    expect(await ctx.registry.metrics()).toContain('clusterset_dns_embedded_file_problems{severity="error"} 1');
    await writeFile(web(), service('web', '10.20.0.10'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.10')).toBeLessThan(1_000);
    expect(await ctx.registry.metrics()).toContain('clusterset_dns_embedded_file_problems{severity="error"} 0');
  });

  it('a new cluster folder joins; a file added to it later is seen too', async () => {
    await mkdir(join(ctx.dir, 'north'));
    await writeFile(join(ctx.dir, 'north/web.yaml'), service('web', '10.30.0.1', '2024-02-01T00:00:00Z'));
    expect(await waitFor((s) => ipOf(s, 'web', 'north') === '10.30.0.1')).toBeLessThan(1_000);
    await writeFile(join(ctx.dir, 'north/api.yaml'), service('api', '10.30.0.2'));
    expect(await waitFor((s) => ipOf(s, 'api', 'north') === '10.30.0.2')).toBeLessThan(1_000);
  });

  it('a directory moved in (prepared elsewhere) joins, and its files are watched', async () => {
    const staging = await mkdtemp(join(tmpdir(), 'csdns-staging-'));
    await writeFile(join(staging, 'web.yaml'), service('web', '10.40.0.1', '2024-03-01T00:00:00Z'));
    await rename(staging, join(ctx.dir, 'south'));
    expect(await waitFor((s) => ipOf(s, 'web', 'south') === '10.40.0.1')).toBeLessThan(1_000);
    await writeFile(join(ctx.dir, 'south/web.yaml'), service('web', '10.40.0.2', '2024-03-01T00:00:00Z'));
    expect(await waitFor((s) => ipOf(s, 'web', 'south') === '10.40.0.2')).toBeLessThan(1_000);
  });

  it('delete a file, then a cluster folder', async () => {
    await unlink(join(ctx.dir, 'north/api.yaml'));
    expect(await waitFor((s) => ipOf(s, 'api', 'north') === undefined)).toBeLessThan(1_000);
    await rm(join(ctx.dir, 'south'), { recursive: true });
    expect(await waitFor((s) => ipOf(s, 'web', 'south') === undefined)).toBeLessThan(1_000);
  });

  it('a symlinked file follows its target; a symlink loop is reported and reloads go on', async () => {
    const target = join(ctx.dir, '.shared-db.yaml');
    await writeFile(target, service('db', '10.20.5.1'));
    await symlink(target, join(ctx.dir, 'west/db.yaml'));
    expect(await waitFor((s) => ipOf(s, 'db', 'west') === '10.20.5.1')).toBeLessThan(1_000);
    await writeFile(target, service('db', '10.20.5.2'));
    expect(await waitFor((s) => ipOf(s, 'db', 'west') === '10.20.5.2')).toBeLessThan(1_000);

    await symlink(join(ctx.dir, 'west/loop-b.yaml'), join(ctx.dir, 'west/loop-a.yaml'));
    await symlink(join(ctx.dir, 'west/loop-a.yaml'), join(ctx.dir, 'west/loop-b.yaml'));
    await symlink(join(ctx.dir, 'west'), join(ctx.dir, 'west/self'));
    await writeFile(web(), service('web', '10.20.0.11'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.0.11')).toBeLessThan(1_000);
    expect(ctx.embedded.problems().map(formatProblem).filter((p) => p.includes('symlink loop'))).toHaveLength(2);
  });

  it('an export that turns conflicting is logged at info with its conditions and the winner', async () => {
    await writeFile(join(ctx.dir, 'north/web.yaml'), service('web', '10.30.0.1', '2024-02-01T00:00:00Z').replaceAll('port: 80', 'port: 8080'));
    const deadline = Date.now() + 5_000;
    const find = () => ctx.logs.find((l) => l['level'] === 30 && l['cluster'] === 'north' && l['name'] === 'web' && String(l['conditions']).includes('Conflict=True(PortConflict)'));
    while (find() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(find()).toMatchObject({ winner: 'west', msg: 'ServiceExport shop/web in north: Valid=True(Valid) Ready=True(Exported) Conflict=True(PortConflict)' });
  });

  it('reloads are logged at info with the file names', () => {
    const reloads = ctx.logs.filter((l) => l['level'] === 30 && typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('reloaded '));
    expect(reloads.some((l) => (l['files'] as string[]).includes(web()))).toBe(true);
  });
});

describe('embedded default: the polling fallback sees a rename over a file too', () => {
  const { ctx, waitFor } = startState({ forcePolling: true });
  it('rename over, then in-place write', async () => {
    const web = join(ctx.dir, 'west/web.yaml');
    await writeFile(join(ctx.dir, 'west/.tmp'), service('web', '10.20.1.1'));
    await rename(join(ctx.dir, 'west/.tmp'), web);
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.1.1')).toBeLessThan(1_000);
    await writeFile(web, service('web', '10.20.1.2'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.1.2')).toBeLessThan(1_000);
  });
});

describe('embedded default: the directory itself replaced (mv new DIR) is watched again', () => {
  const { ctx, waitFor } = startState({ resyncMs: 300 });
  afterAll(async () => {
    await rm(`${ctx.dir}.old`, { recursive: true, force: true });
  });
  it('the new directory\'s content is loaded, and later edits in it count', async () => {
    const staging = await mkdtemp(join(tmpdir(), 'csdns-newdir-'));
    await mkdir(join(staging, 'east'));
    await mkdir(join(staging, 'west'));
    await writeFile(join(staging, 'east/ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n');
    await writeFile(join(staging, 'west/web.yaml'), service('web', '10.20.2.1'));
    await rename(ctx.dir, `${ctx.dir}.old`);
    await rename(staging, ctx.dir);
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.2.1')).toBeLessThan(2_000);
    await writeFile(join(ctx.dir, 'west/web.yaml'), service('web', '10.20.2.2'));
    expect(await waitFor((s) => ipOf(s, 'web', 'west') === '10.20.2.2')).toBeLessThan(1_000);
  });
});
