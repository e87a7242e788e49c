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
      `${join(dir, 'west/web.yaml')}: document 2 (Service shop/api): spec.ports[0].port: must be 1-65535, got 70000; object skipped`,
    ]);
    expect(r.problems[0]).toMatchObject({ severity: 'error', document: 2, field: 'spec.ports[0].port' });
  });

  it('a YAML syntax error skips that file only', async () => {
    await put('west/broken.yaml', 'kind: Service\nmetadata: [oops\nspec: {}\n');
    await put('west/web.yaml', goodService);
    const r = await loader().load();
    expect(r.clusters.get('west')!.inputs.services.map((s) => s.name)).toEqual(['web']);
    expect(r.problems).toHaveLength(1);
    expect(formatProblem(r.problems[0]!)).toMatch(/broken\.yaml: YAML syntax error at line \d+, column \d+: .*; file skipped$/);
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
      ['warning', `${join(dir, 'east/a.yaml')}: document 2 (Deployment default/web): kind Deployment is not used by clusterset-dns; ignored`],
      ['warning', `${join(dir, 'east/b.yaml')}: document 1 (Service shop/web): duplicate of ${join(dir, 'east/a.yaml')}: document 1; this one is used`],
    ]);
  });

  it('exports without creationTimestamp get the default time, edits are re-read', async () => {
    const l = loader();
    await put('east/x.yaml', 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: web, namespace: shop }\n');
    expect((await l.load()).clusters.get('east')!.inputs.serviceExports[0]!.createdAt).toBe(42);
    await put('east/x.yaml', 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: web, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z" }\n');
    expect((await l.load()).clusters.get('east')!.inputs.serviceExports[0]!.createdAt).toBe(Date.parse('2024-01-01T00:00:00Z'));
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
      `${join(dir, 'east/list.yaml')}: document 1 (items[1] Service shop/bad): spec.ports[0].port: must be 1-65535, got 0; object skipped`,
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
