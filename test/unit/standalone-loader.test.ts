import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirLoader, formatProblem, listClusterIds } from '../../src/standalone/loader.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdns-loader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const goodService = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.0.0.1
  ports: [{ name: http, port: 80 }]
`;

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(dir, path, '..'), { recursive: true });
  await writeFile(join(dir, path), text);
}

function loader(): DirLoader {
  return new DirLoader({ dir, defaultCreatedAt: () => 42 });
}

describe('DirLoader', () => {
  it('an invalid object is reported with file, document, object and field, and skipped; the rest loads', async () => {
    await put(
      'west/web.yaml',
      `${goodService}---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop }
spec:
  clusterIP: 10.0.0.2
  ports: [{ name: grpc, port: 70000 }]
`,
    );
    const r = await loader().load();
    expect(r.clusters.get('west')!.inputs.services.map((s) => s.name)).toEqual(['web']);
    expect(r.problems.map(formatProblem)).toEqual([
      `${join(dir, 'west/web.yaml')}:8: document 2 (Service shop/api): spec.ports[0].port: must be 1-65535, got 70000; object skipped`,
    ]);
    expect(r.problems[0]).toMatchObject({ severity: 'error', document: 2, field: 'spec.ports[0].port' });
  });

  it('a YAML syntax error skips that file only', async () => {
    await put('west/broken.yaml', 'kind: Service\nmetadata: [oops\nspec: {}\n');
    await put('west/web.yaml', goodService);
    const r = await loader().load();
    expect(r.clusters.get('west')!.inputs.services.map((s) => s.name)).toEqual(['web']);
    expect(r.problems).toHaveLength(1);
    expect(formatProblem(r.problems[0]!)).toMatch(/broken\.yaml:\d+:\d+: YAML syntax error: .*; nothing loaded from it$/);
  });

  it('cluster directories: invalid names are reported, other files ignored, OFFLINE noticed', async () => {
    await put('east/web.yaml', goodService);
    await put('east/notes.txt', 'not yaml');
    await put('east/.web.yaml.swp', 'binary junk: [');
    await put('eu.west/web.yml', goodService);
    await put('south/OFFLINE', '');
    await put('Bad_Name/web.yaml', goodService);
    const r = await loader().load();
    expect([...r.clusters.keys()]).toEqual(['east', 'eu.west', 'south']);
    expect(r.clusters.get('south')!.offline).toBe(true);
    expect(r.clusters.get('east')!.offline).toBe(false);
    expect(r.problems.map((p) => p.file)).toEqual([join(dir, 'Bad_Name')]);
    expect(await listClusterIds(dir)).toEqual(['east', 'eu.west', 'south']);
  });

  it('namespaces: declared, implied by objects, and default', async () => {
    await put('east/ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: { name: analytics }\n');
    await put('east/web.yaml', goodService);
    const r = await loader().load();
    expect(r.clusters.get('east')!.inputs.namespaces).toEqual(['analytics', 'default', 'shop']);
  });

  it('other kinds are a warning, duplicates a warning naming the first', async () => {
    await put('east/a.yaml', `${goodService}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n`);
    await put('east/b.yaml', goodService);
    const r = await loader().load();
    expect(r.problems.map((p) => [p.severity, formatProblem(p)])).toEqual([
      ['warning', `${join(dir, 'east/a.yaml')}:8: document 2 (Deployment default/web): kind Deployment is not used by clusterset-dns; ignored`],
      ['warning', `${join(dir, 'east/b.yaml')}:1: document 1 (Service shop/web): duplicate of ${join(dir, 'east/a.yaml')}: document 1; this one is used`],
    ]);
  });

  it('exports without creationTimestamp get the default time, edits are re-read', async () => {
    const l = loader();
    await put('east/x.yaml', 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: web, namespace: shop }\n');
    expect((await l.load()).clusters.get('east')!.inputs.serviceExports[0]!.createdAt).toBe(42);
    await put('east/x.yaml', 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: web, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z" }\n');
    expect((await l.load()).clusters.get('east')!.inputs.serviceExports[0]!.createdAt).toBe(Date.parse('2024-01-01T00:00:00Z'));
  });

  it('ClusterProperties load (cluster-scoped: they imply no namespace); a bad probe target is an error naming it', async () => {
    await put(
      'west/properties.yaml',
      `apiVersion: about.k8s.io/v1alpha1
kind: ClusterProperty
metadata: { name: probe.clusterset-dns.io }
spec: { value: "tcp://127.0.0.1:4500" }
---
apiVersion: about.k8s.io/v1alpha1
kind: ClusterProperty
metadata: { name: zone.topology.clusterset-dns.io }
spec: { value: "a zone" }
`,
    );
    const r = await loader().load();
    const west = r.clusters.get('west')!.inputs;
    expect(west.properties).toEqual([{ name: 'probe.clusterset-dns.io', value: 'tcp://127.0.0.1:4500' }]);
    expect(west.namespaces).not.toContain('');
    expect(r.problems.map(formatProblem)).toEqual([
      `${join(dir, 'west/properties.yaml')}:6: document 2 (ClusterProperty zone.topology.clusterset-dns.io): spec.value: zone.topology.clusterset-dns.io: "a zone" is not a label value (letters, digits, '-', '_', '.'); object skipped`,
    ]);
  });

  it('a missing directory is a problem, not a crash', async () => {
    const r = await new DirLoader({ dir: join(dir, 'nope'), defaultCreatedAt: () => 0 }).load();
    expect(r.clusters.size).toBe(0);
    expect(r.problems[0]!.message).toMatch(/^cannot read directory/);
  });
});

describe('DirLoader: lists and JSON', () => {
  it('expands kind: List items (kubectl get -o yaml) and reports bad items by index', async () => {
    await put(
      'east/list.yaml',
      `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: { name: web, namespace: shop }
    spec: { clusterIP: 10.0.0.1, ports: [{ name: http, port: 80 }] }
  - apiVersion: v1
    kind: Service
    metadata: { name: bad, namespace: shop }
    spec: { clusterIP: 10.0.0.2, ports: [{ name: http, port: 0 }] }
`,
    );
    const r = await loader().load();
    expect(r.clusters.get('east')!.inputs.services.map((s) => s.name)).toEqual(['web']);
    expect(r.problems.map(formatProblem)).toEqual([
      `${join(dir, 'east/list.yaml')}:1: document 1 (items[1] Service shop/bad): spec.ports[0].port: must be 1-65535, got 0; object skipped`,
    ]);
  });

  it('a JSON file (YAML 1.2 superset) loads the same, YAML flow mappings still parse', async () => {
    await put('east/a.yaml', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'json' } }] }));
    await put('east/b.yaml', '{apiVersion: v1, kind: Namespace, metadata: {name: flow}}\n');
    const r = await loader().load();
    expect(r.problems).toEqual([]);
    expect(r.clusters.get('east')!.inputs.namespaces).toEqual(['default', 'flow', 'json']);
  });
});

const serviceYaml = (name: string, ip: string): string =>
  `apiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: shop }\nspec:\n  clusterIP: ${ip}\n  ports: [{ name: http, port: 80 }]\n`;

const ipsOf = (r: Awaited<ReturnType<DirLoader['load']>>, cluster: string): string[] =>
  r.clusters.get(cluster)!.inputs.services.map((s) => `${s.name}=${s.clusterIPs.join(',')}`).sort();

describe('DirLoader: fail static', () => {
  it('a file that stops parsing keeps its last good objects, and says so with file, line and column', async () => {
    const l = loader();
    await put('west/web.yaml', serviceYaml('web', '10.0.0.1'));
    expect(ipsOf(await l.load(), 'west')).toEqual(['web=10.0.0.1']);
    // Half written: the save was caught in the middle of a flow mapping.
    await put('west/web.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: sh');
    const r = await l.load();
    expect(ipsOf(r, 'west')).toEqual(['web=10.0.0.1']);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ severity: 'error', file: join(dir, 'west/web.yaml'), line: 3 });
    expect(formatProblem(r.problems[0]!)).toMatch(/web\.yaml:3:\d+: YAML syntax error: .*; keeping the 1 object\(s\) of its last good version$/);
    // Fixed: the new content is used and the problem is gone.
    await put('west/web.yaml', serviceYaml('web', '10.0.0.2'));
    const fixed = await l.load();
    expect(ipsOf(fixed, 'west')).toEqual(['web=10.0.0.2']);
    expect(fixed.problems).toEqual([]);
  });

  it('a file with an object turned invalid stays at its last good version, whole; deleting the file removes it', async () => {
    const l = loader();
    await put('west/web.yaml', `${serviceYaml('web', '10.0.0.1')}---\n${serviceYaml('api', '10.0.0.2')}`);
    await l.load();
    // web's IP changed too, but with api broken the file is not applied in part.
    await put('west/web.yaml', `${serviceYaml('web', '10.0.0.3')}---\n${serviceYaml('api', '10.0.0.2').replace('port: 80', 'port: 0')}`);
    const r = await l.load();
    expect(ipsOf(r, 'west')).toEqual(['api=10.0.0.2', 'web=10.0.0.1']);
    expect(r.problems.map(formatProblem)).toEqual([
      `${join(dir, 'west/web.yaml')}:8: document 2 (Service shop/api): spec.ports[0].port: must be 1-65535, got 0; file kept at its last good version (2 object(s))`,
    ]);
    await rm(join(dir, 'west/web.yaml'));
    expect(ipsOf(await l.load(), 'west')).toEqual([]);
  });

  it('a billion-laughs alias bomb is reported, bounded and named by file, without walking it', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    await put('east/bomb.yaml', `apiVersion: v1\nkind: Service\nmetadata: { name: bomb, namespace: shop }\n${levels.join('\n')}\nspec:\n  clusterIP: 10.0.0.9\n  ports: *l\n`);
    await put('east/web.yaml', goodService);
    const r = await loader().load();
    expect(r.clusters.get('east')!.inputs.services.map((s) => s.name)).toEqual(['web']);
    expect(r.problems).toHaveLength(1);
    const text = formatProblem(r.problems[0]!);
    expect(text.startsWith(`${join(dir, 'east/bomb.yaml')}:1: document 1 (Service shop/bomb): spec.ports[0]: must be an object, got [[[`)).toBe(true);
    expect(text.length).toBeLessThan(800);
  });
});

describe('DirLoader: symlinks, JSON and incremental reloads', () => {
  it('follows symlinked files and cluster directories; dangling links and loops are problems', async () => {
    const { symlink } = await import('node:fs/promises');
    await put('elsewhere/web.yaml', goodService);
    await mkdir(join(dir, 'set/east'), { recursive: true });
    await symlink(join(dir, 'elsewhere/web.yaml'), join(dir, 'set/east/web.yaml'));
    await symlink(join(dir, 'elsewhere'), join(dir, 'set/west'));
    await symlink(join(dir, 'nowhere.yaml'), join(dir, 'set/east/dangling.yaml'));
    await symlink(join(dir, 'set/east/loop-b.yaml'), join(dir, 'set/east/loop-a.yaml'));
    await symlink(join(dir, 'set/east/loop-a.yaml'), join(dir, 'set/east/loop-b.yaml'));
    const r = await new DirLoader({ dir: join(dir, 'set'), defaultCreatedAt: () => 0 }).load();
    expect([...r.clusters.keys()]).toEqual(['east', 'west']);
    expect(ipsOf(r, 'east')).toEqual(['web=10.0.0.1']);
    expect(ipsOf(r, 'west')).toEqual(['web=10.0.0.1']);
    // Polled by the watcher: a target that appears or changes raises no event in the set's directories.
    expect([...r.symlinkedFiles.keys()]).toEqual(['dangling.yaml', 'loop-a.yaml', 'loop-b.yaml', 'web.yaml'].map((f) => join(dir, 'set/east', f)));
    expect(r.problems.map(formatProblem).sort()).toEqual([
      `${join(dir, 'set/east/dangling.yaml')}: symlink target does not exist (dangling symlink); nothing loaded from it`,
      `${join(dir, 'set/east/loop-a.yaml')}: symlink loop (too many levels of symbolic links); nothing loaded from it`,
      `${join(dir, 'set/east/loop-b.yaml')}: symlink loop (too many levels of symbolic links); nothing loaded from it`,
    ]);
    expect(await listClusterIds(join(dir, 'set'))).toEqual(['east', 'west']);
  });

  it('loads .json manifests as kubectl get -o json writes them, List included', async () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [JSON.parse(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.0.0.1', ports: [{ name: 'http', port: 80 }] } }))] };
    await put('east/state.json', JSON.stringify(list, null, 4));
    await put('east/ns.json', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'json' } }));
    const r = await loader().load();
    expect(r.problems).toEqual([]);
    expect(ipsOf(r, 'east')).toEqual(['web=10.0.0.1']);
    expect(r.clusters.get('east')!.inputs.namespaces).toEqual(['default', 'json', 'shop']);
  });

  it('with a hint, only the hinted files are read; an unchanged cluster is the same object', async () => {
    const l = loader();
    for (let i = 0; i < 50; i++) await put(`east/s${i}.yaml`, serviceYaml(`s${i}`, `10.0.1.${i}`));
    await put('west/web.yaml', goodService);
    const first = await l.load();
    expect(first.readFiles).toHaveLength(51);
    await put('east/s7.yaml', serviceYaml('s7', '10.0.2.7'));
    const second = await l.load({ paths: new Set([join(dir, 'east/s7.yaml')]) });
    expect(second.readFiles).toEqual([join(dir, 'east/s7.yaml')]);
    expect(ipsOf(second, 'east')).toContain('s7=10.0.2.7');
    expect(second.clusters.get('west')).toBe(first.clusters.get('west'));
    // Without a hint every file is stat'ed, none re-read.
    expect((await l.load()).readFiles).toEqual([]);
  });
});

describe('DirLoader: incremental assembly', () => {
  it('an edit, an override by a later file, and its removal give the same objects as a fresh load', async () => {
    const l = loader();
    await put('east/a.yaml', `${serviceYaml('web', '10.0.0.1')}---\n${serviceYaml('api', '10.0.0.2')}`);
    await put('east/b.yaml', serviceYaml('db', '10.0.0.3'));
    await l.load();
    const path = (f: string) => join(dir, 'east', f);
    // b.yaml now also defines web: the later file wins, with a warning naming the earlier one.
    await put('east/b.yaml', `${serviceYaml('db', '10.0.0.3')}---\n${serviceYaml('web', '10.0.0.9')}`);
    let r = await l.load({ paths: new Set([path('b.yaml')]) });
    expect(ipsOf(r, 'east')).toEqual(['api=10.0.0.2', 'db=10.0.0.3', 'web=10.0.0.9']);
    expect(r.problems.map(formatProblem)).toEqual([`${path('b.yaml')}:8: document 2 (Service shop/web): duplicate of ${path('a.yaml')}: document 1; this one is used`]);
    expect(ipsOf(await loader().load(), 'east')).toEqual(ipsOf(r, 'east'));
    // The override goes away again: a.yaml's web is back, without re-reading a.yaml.
    await put('east/b.yaml', serviceYaml('db', '10.0.0.3'));
    r = await l.load({ paths: new Set([path('b.yaml')]) });
    expect(r.readFiles).toEqual([path('b.yaml')]);
    expect(ipsOf(r, 'east')).toEqual(['api=10.0.0.2', 'db=10.0.0.3', 'web=10.0.0.1']);
    expect(r.problems).toEqual([]);
    // Deleting a file removes its objects and the namespaces only it implied.
    await put('east/c.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: { name: extra }\n');
    expect((await l.load({ paths: new Set([path('c.yaml')]) })).clusters.get('east')!.inputs.namespaces).toEqual(['default', 'extra', 'shop']);
    await rm(path('c.yaml'));
    await rm(path('a.yaml'));
    r = await l.load({ paths: new Set([path('c.yaml'), path('a.yaml')]) });
    expect(ipsOf(r, 'east')).toEqual(['db=10.0.0.3']);
    expect(r.clusters.get('east')!.inputs.namespaces).toEqual(['default', 'shop']);
  });

  it('two definitions in one file: the later one is used, with a warning', async () => {
    await put('east/a.yaml', `${serviceYaml('web', '10.0.0.1')}---\n${serviceYaml('web', '10.0.0.2')}`);
    const r = await loader().load();
    expect(ipsOf(r, 'east')).toEqual(['web=10.0.0.2']);
    expect(r.problems.map(formatProblem)).toEqual([`${join(dir, 'east/a.yaml')}:8: document 2 (Service shop/web): duplicate of ${join(dir, 'east/a.yaml')}: document 1; this one is used`]);
  });
});
